//! The reaper: removes sandbox containers whose worker process is gone (a
//! crash or kill -9 left them behind), and this worker's own containers whose
//! job no longer runs here (a removal that failed while the engine was away).
//! A worker's name is `<host>-<pid>`, so on the same host a dead owner is a
//! pid that no longer runs; containers of other live workers, and of other
//! hosts, are left alone. Runs at start-up and periodically.

use super::container::{LABEL_JOB, LABEL_WORKER};
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use bollard::Docker;
use std::collections::{HashMap, HashSet};

/// The consumer/worker name of this process.
pub fn worker_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether the worker named `name` is known to be dead: same host, pid not running.
fn is_dead_local_worker(name: &str, host: &str) -> bool {
    let Some((worker_host, pid)) = name.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    worker_host == host
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes containers left by dead workers of this host, and containers of
/// `own_worker` whose job is not in `running`; returns how many.
pub async fn reap_orphans(
    docker: &Docker,
    own_worker: &str,
    running: &HashSet<String>,
) -> Result<usize, bollard::errors::Error> {
    let filters = HashMap::from([("label", vec![LABEL_WORKER])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let host = host_name();
    let mut removed = 0;
    for container in docker.list_containers(Some(options)).await? {
        let labels = container.labels.unwrap_or_default();
        let (Some(id), Some(owner)) = (container.id.as_deref(), labels.get(LABEL_WORKER)) else {
            continue;
        };
        let stale_own = owner == own_worker
            && labels
                .get(LABEL_JOB)
                .is_none_or(|job| !running.contains(job));
        if stale_own || is_dead_local_worker(owner, &host) {
            let options = RemoveContainerOptionsBuilder::default().force(true).build();
            match docker.remove_container(id, Some(options)).await {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(container = %id, %error, "reaping an orphaned container failed")
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a same-host worker whose pid is gone counts as dead.
    #[test]
    fn recognises_dead_local_workers() {
        let me = std::process::id();
        assert!(!is_dead_local_worker(&format!("box-{me}"), "box"));
        assert!(is_dead_local_worker("box-4000000000", "box"));
        assert!(!is_dead_local_worker("other-4000000000", "box"));
        assert!(!is_dead_local_worker("garbage", "box"));
    }
}
