//! Sandbox uids are allocated per host: jobs running at the same time never
//! share a uid, even when they run on two deployments (two Redis prefixes,
//! two worker processes) on one Docker engine and the range is tiny. A
//! shared uid would merge their RLIMIT_NPROC budgets and let one job's kill
//! sweep end the other's program.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

/// A range of three uids far from the default one, so other tests running
/// at the same time never hold these.
const FIRST_UID: u32 = 1_250_000_000;
const UIDS: u32 = 3;

fn deployment(slots: &str) -> Rce {
    start_rce_with(RceOptions {
        env: env(&[
            ("RCE_SANDBOX__SANDBOX_UID", &FIRST_UID.to_string()),
            ("RCE_SANDBOX__SANDBOX_UIDS", &UIDS.to_string()),
            // Every job in a container made for it (a warm container would
            // hold a uid while idle).
            ("RCE_SANDBOX__WARM_POOL_SIZE", "0"),
            ("RCE_WORKER__CONCURRENCY", slots),
        ]),
        ..Default::default()
    })
}

/// Three jobs at once (two on one deployment, one on the other) over a
/// range of three uids: each runs as a different uid of the range. Drawn
/// from the job id alone they would collide more often than not.
#[actix_rt::test]
async fn jobs_running_at_once_never_share_a_uid() {
    let (first, second) = (deployment("2"), deployment("1"));
    let job = || json!({"language": "bash", "source": "id -u\nsleep 4\n"});
    for round in 0..2 {
        let ids = [
            (&first, submit(&first, job()).await),
            (&first, submit(&first, job()).await),
            (&second, submit(&second, job()).await),
        ];
        let mut uids = HashSet::new();
        for (rce, id) in &ids {
            let done = wait_completed(rce, id, Duration::from_secs(120)).await;
            assert_eq!(done["result"]["verdict"], "ok", "{done}\n{}", rce.log());
            let uid: u32 = done["result"]["stdout"]
                .as_str()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or_else(|| panic!("no uid printed: {done}"));
            assert!(
                (FIRST_UID..FIRST_UID + UIDS).contains(&uid),
                "uid {uid} is outside the range"
            );
            uids.insert(uid);
        }
        assert_eq!(uids.len(), 3, "round {round}: jobs shared a uid: {uids:?}");
    }
}
