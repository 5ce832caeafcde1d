//! config: the runner's settings, read once from its own environment (set
//! by the worker on the container) with their defaults. None of this
//! environment reaches user code: stages run with `stage::ENV` only.

use crate::cgroup::Cgroup;
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
    pub cgroup: Cgroup,
}

impl Config {
    /// From `RCE_WORKDIR`, `RCE_SANDBOX_UID` (gid = uid) and `RCE_CGROUP_ROOT`.
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
        let cgroup_root = lookup("RCE_CGROUP_ROOT").unwrap_or_else(|| DEFAULT_CGROUP_ROOT.into());
        Ok(Config {
            workdir: workdir.into(),
            uid,
            gid: uid,
            cgroup: Cgroup::new(cgroup_root),
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
        let config =
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "61000".to_string())).unwrap();
        assert_eq!((config.uid, config.gid), (61000, 61000));
    }

    /// Root or garbage as the sandbox uid is a configuration error.
    #[test]
    fn root_or_garbage_uid_is_refused() {
        assert!(
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "0".to_string())).is_err()
        );
        assert!(
            Config::from_lookup(|k| (k == "RCE_SANDBOX_UID").then(|| "nobody".to_string()))
                .is_err()
        );
    }
}
