//! config: the runner's settings, read once from its own environment (set
//! by the worker on the container) with their defaults. None of this
//! environment reaches user code: stages run with `stage::ENV` only.

use crate::cgroup::Cgroup;
use rce_protocol::{PreloadSpec, PRELOAD_ENV};
use std::path::PathBuf;

/// Work dir the files go to and the program runs in (a tmpfs in the image).
pub const DEFAULT_WORKDIR: &str = "/sandbox";
/// Unprivileged uid (and gid) of user code; must exist in no other role.
pub const DEFAULT_SANDBOX_UID: u32 = 1001;
/// Where the container's own cgroup is visible.
pub const DEFAULT_CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Everything a stage needs to know about the sandbox it runs in.
#[derive(Debug, Clone)]
pub struct Config {
    pub workdir: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// The sandbox uid belongs to this container alone (the worker picks one
    /// per job), so RLIMIT_NPROC, which the kernel counts per uid across the
    /// whole host, bounds exactly this job's processes and threads. With a
    /// uid shared between containers it would count all of them, so it is
    /// only set when the worker says so (`RCE_UID_EXCLUSIVE=1`).
    pub uid_exclusive: bool,
    pub cgroup: Cgroup,
    /// The runtime to start before the job arrives (warm containers of
    /// languages that have one; JSON in `RCE_PRELOAD`).
    pub preload: Option<PreloadSpec>,
}

impl Config {
    /// From `RCE_WORKDIR`, `RCE_SANDBOX_UID` (gid = uid), `RCE_UID_EXCLUSIVE`,
    /// `RCE_CGROUP_ROOT` and `RCE_PRELOAD`.
    pub fn from_env() -> Result<Config, String> {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let workdir = lookup("RCE_WORKDIR").unwrap_or_else(|| DEFAULT_WORKDIR.into());
        let uid = match lookup("RCE_SANDBOX_UID") {
            None => DEFAULT_SANDBOX_UID,
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| format!("RCE_SANDBOX_UID={text:?} is not a uid"))?,
        };
        if uid == 0 {
            return Err("RCE_SANDBOX_UID must not be 0: user code never runs as root".into());
        }
        let uid_exclusive = match lookup("RCE_UID_EXCLUSIVE").as_deref().map(str::trim) {
            None | Some("" | "0" | "false") => false,
            Some("1" | "true") => true,
            Some(other) => return Err(format!("RCE_UID_EXCLUSIVE={other:?} is not 0/1")),
        };
        let cgroup_root = lookup("RCE_CGROUP_ROOT").unwrap_or_else(|| DEFAULT_CGROUP_ROOT.into());
        let preload = match lookup(PRELOAD_ENV) {
            None => None,
            Some(json) => Some(
                serde_json::from_str(&json)
                    .map_err(|e| format!("{PRELOAD_ENV} is not a preload spec: {e}"))?,
            ),
        };
        Ok(Config {
            workdir: workdir.into(),
            uid,
            gid: uid,
            uid_exclusive,
            cgroup: Cgroup::new(cgroup_root),
            preload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Defaults apply when nothing is set; gid follows uid.
    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(
            (config.workdir.to_str(), config.uid, config.gid),
            (Some("/sandbox"), 1001, 1001)
        );
        assert!(!config.uid_exclusive);
        let config =
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "61000".to_string())).unwrap();
        assert_eq!((config.uid, config.gid), (61000, 61000));
        let config =
            Config::from_lookup(|k| (k == "RCE_UID_EXCLUSIVE").then(|| "1".to_string())).unwrap();
        assert!(config.uid_exclusive);
    }

    /// Root or garbage as the sandbox uid, or garbage as the exclusivity
    /// flag, is a configuration error.
    #[test]
    fn root_or_garbage_uid_is_refused() {
        assert!(
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "0".to_string())).is_err()
        );
        assert!(
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "nobody".to_string()))
                .is_err()
        );
        assert!(
            Config::from_lookup(|k| (k == "RCE_UID_EXCLUSIVE").then(|| "yes".to_string())).is_err()
        );
    }
}
