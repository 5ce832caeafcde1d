//! Which sandbox uid a container runs as, so that no two live containers on
//! a host share one. RLIMIT_NPROC counts processes per uid across the whole
//! host, and the runner's kill sweep ends every process of its uid, so a
//! shared uid would merge two jobs' process budgets and let one job's sweep
//! kill the other's program. The Docker engine is the host's allocator: a
//! container holding uid U is named `rce-uid-U`, and the engine refuses a
//! second container of that name (409 Conflict) until the first is removed,
//! whichever worker process or deployment asks. The first candidate comes
//! from the job id (a UUIDv7's random bits); on a conflict the next uids of
//! the range are tried. A range of one uid is shared on purpose (the
//! runner is then told it is not exclusive) and takes no name.

use crate::job::JobId;
use bollard::models::ContainerCreateBody;

/// Candidates tried before creating a container gives up (a retriable
/// failure): with a million uids and tens of live containers a second
/// conflict in a row is already a one-in-a-billion event; a small range
/// waits for removals once every uid was tried.
pub const MAX_ATTEMPTS: u32 = 16;

/// The environment variable that tells rce-runner its uid.
const UID_VARIABLE: &str = "RCE_SANDBOX_UID=";

/// The configured uid range: `count` uids from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    first: u32,
    count: u32,
}

impl UidRange {
    /// The range of `count` uids from `first` (never uid 0, never empty).
    pub fn new(first: u32, count: u32) -> UidRange {
        UidRange {
            first: first.max(1),
            count: count.max(1),
        }
    }

    /// Whether each container gets a uid of its own (the range has more
    /// than one).
    pub fn is_exclusive(&self) -> bool {
        self.count > 1
    }

    /// How many uids the range holds.
    pub fn size(&self) -> u32 {
        self.count
    }

    /// The first candidate for `job`.
    pub fn first_for(&self, job: &JobId) -> u32 {
        // The low bits of a UUIDv7 are random.
        let offset = (job.0.as_u128() % u128::from(self.count)) as u32;
        self.first.saturating_add(offset)
    }

    /// The candidate `attempt` uids after `uid`, wrapping within the range.
    pub fn after(&self, uid: u32, attempt: u32) -> u32 {
        let offset = u64::from(uid.saturating_sub(self.first)) + u64::from(attempt);
        self.first + (offset % u64::from(self.count)) as u32
    }
}

/// The container name that holds `uid` on its engine.
pub fn container_name(uid: u32) -> String {
    format!("rce-uid-{uid}")
}

/// The uid `body` runs its program as.
pub fn uid_of(body: &ContainerCreateBody) -> Option<u32> {
    body.env
        .as_ref()?
        .iter()
        .find_map(|entry| entry.strip_prefix(UID_VARIABLE)?.parse().ok())
}

/// Makes `body` run its program as `uid`.
pub fn assign(body: &mut ContainerCreateBody, uid: u32) {
    let env = body.env.get_or_insert_with(Vec::new);
    env.retain(|entry| !entry.starts_with(UID_VARIABLE));
    env.push(format!("{UID_VARIABLE}{uid}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_stay_in_the_range_and_wrap() {
        let range = UidRange::new(1000, 10);
        assert!(range.is_exclusive());
        assert_eq!(range.after(1000, 0), 1000);
        assert_eq!(range.after(1008, 1), 1009);
        assert_eq!(range.after(1008, 2), 1000);
        assert_eq!(range.after(1009, 25), 1004);
        let seen: std::collections::HashSet<u32> = (0..10).map(|a| range.after(1003, a)).collect();
        assert_eq!(seen.len(), 10, "every uid of the range is tried once");
        for _ in 0..100 {
            let uid = range.first_for(&JobId::new());
            assert!((1000..1010).contains(&uid), "{uid}");
        }
    }

    #[test]
    fn a_range_of_one_is_shared_and_never_root() {
        let shared = UidRange::new(0, 1);
        assert!(!shared.is_exclusive());
        assert_eq!(shared.first_for(&JobId::new()), 1);
        assert_eq!(shared.after(1, 5), 1);
        assert_eq!(UidRange::new(5, 0).after(5, 3), 5);
    }

    #[test]
    fn the_uid_is_read_and_rewritten_in_the_body() {
        let mut body = ContainerCreateBody {
            env: Some(vec!["A=1".into(), "RCE_SANDBOX_UID=7".into()]),
            ..Default::default()
        };
        assert_eq!(uid_of(&body), Some(7));
        assign(&mut body, 9);
        assert_eq!(uid_of(&body), Some(9));
        assert_eq!(body.env.as_ref().unwrap().len(), 2);
        assert_eq!(container_name(9), "rce-uid-9");
    }
}
