//! procfs: what /proc says about the processes of one uid — which exist
//! (so the kill sweep knows when it is done) and how much CPU they have used
//! so far (so a stage's whole process tree can be stopped at its CPU limit
//! while it runs). Processes are matched by their *real* uid from
//! `/proc/<pid>/status`, which a program cannot change (no CAP_SETUID) and
//! which, unlike the owner of `/proc/<pid>`, does not turn into root when the
//! program makes itself non-dumpable.

use std::fs;
use std::io;

/// One process of the uid, as /proc showed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    /// Exited, waiting to be reaped.
    pub zombie: bool,
    /// utime + stime of the process and of the children it has reaped
    /// (cutime + cstime), in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size now (VmRSS), KiB; 0 for zombies.
    pub rss_kb: u64,
}

/// Every process whose real uid is `uid`. Processes that vanish while being
/// read are skipped.
pub fn processes_of(uid: u32) -> io::Result<Vec<Proc>> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let Some(status) = parse_status(&status) else {
            continue;
        };
        if status.uid != uid {
            continue;
        }
        let cpu_ticks = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat_cpu(&s))
            .unwrap_or(0);
        found.push(Proc {
            pid,
            zombie: status.state == 'Z',
            cpu_ticks,
            rss_kb: status.rss_kb,
        });
    }
    Ok(found)
}

/// The fields of `/proc/<pid>/status` the runner uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// Real uid (the first of four).
    pub uid: u32,
    /// State letter (`R`, `S`, `Z`, …).
    pub state: char,
    /// VmRSS in KiB; absent (0) for zombies and kernel threads.
    pub rss_kb: u64,
}

/// Parses the text of `/proc/<pid>/status`; `None` without uid or state.
pub fn parse_status(status: &str) -> Option<Status> {
    let mut uid = None;
    let mut state = None;
    let mut rss_kb = 0;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("Uid:") {
            uid = rest.split_whitespace().next()?.parse().ok();
        } else if let Some(rest) = line.strip_prefix("State:") {
            state = rest.trim_start().chars().next();
        } else if let Some(rest) = line.strip_prefix("VmRSS:") {
            rss_kb = rest.split_whitespace().next()?.parse().unwrap_or(0);
        }
    }
    Some(Status {
        uid: uid?,
        state: state?,
        rss_kb,
    })
}

/// utime + stime + cutime + cstime (ticks) from the text of `/proc/<pid>/stat`.
/// The command name may contain spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat_cpu(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3 (state); utime is field 14.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> {
        let value: i64 = fields.get(n - 3)?.parse().ok()?;
        Some(value.max(0) as u64)
    };
    Some(field(14)? + field(15)? + field(16)? + field(17)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real uid (first of four), the state letter and VmRSS are read;
    /// a zombie has no VmRSS.
    #[test]
    fn status_gives_real_uid_state_and_rss() {
        let text = "Name:\tpython3\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t7\n\
                    Uid:\t61001\t0\t0\t0\nGid:\t1\nVmPeak:\t  9000 kB\nVmRSS:\t    8132 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Status {
                uid: 61001,
                state: 'S',
                rss_kb: 8132
            })
        );
        let zombie = "State:\tZ (zombie)\nUid:\t5\t5\t5\t5\n";
        assert_eq!(
            parse_status(zombie),
            Some(Status {
                uid: 5,
                state: 'Z',
                rss_kb: 0
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    /// CPU fields are found even when the command name contains `) (`.
    #[test]
    fn stat_cpu_sums_own_and_reaped_children_time() {
        let text =
            "42 (evil) (name 1 2) R 1 42 42 0 -1 4194304 100 0 0 0 70 30 5 1 20 0 1 0 1000 0 0";
        assert_eq!(parse_stat_cpu(text), Some(70 + 30 + 5 + 1));
        assert_eq!(parse_stat_cpu("42 (x) R 1"), None);
    }

    /// The scan finds this test process under its own uid and not under
    /// another one.
    #[test]
    fn scan_finds_own_process() {
        let me = std::process::id() as i32;
        let uid = fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| parse_status(&s))
            .map(|s| s.uid)
            .unwrap();
        assert!(processes_of(uid)
            .unwrap()
            .iter()
            .any(|p| p.pid == me && !p.zombie));
        assert!(!processes_of(uid.wrapping_add(4242))
            .unwrap()
            .iter()
            .any(|p| p.pid == me));
    }
}
