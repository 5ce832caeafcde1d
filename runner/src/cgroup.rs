//! cgroup: readings of the container's own cgroup, taken at the start and end
//! of each stage (and for CPU, while it runs): OOM kills recorded by the
//! memory controller and total CPU time of everything in the container.
//! Inside docker the container's cgroup is what `/sys/fs/cgroup` shows
//! (cgroup v2 with a private cgroupns; cgroup v1 bind-mounts the container's
//! directory of each controller). The root can be moved with
//! `RCE_CGROUP_ROOT` (tests point it at fake files). Any file that is absent
//! or unreadable simply gives no reading, and the stage is judged on the
//! runner's own measurements alone.

use std::fs;
use std::path::{Path, PathBuf};

/// Where the cgroup files are looked for.
#[derive(Debug, Clone)]
pub struct Cgroup {
    root: PathBuf,
}

/// One reading of the counters; `None` where the file is missing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// OOM kills so far (v2/v1 `oom_kill`, or v1 `memory.failcnt` on kernels
    /// older than 4.13 that lack it).
    pub oom_events: Option<u64>,
    /// CPU time of the whole cgroup so far, microseconds.
    pub cpu_us: Option<u64>,
}

impl Snapshot {
    /// OOM kills between `self` (earlier) and `later`.
    pub fn oom_kills_until(&self, later: &Snapshot) -> u64 {
        match (self.oom_events, later.oom_events) {
            (Some(before), Some(after)) => after.saturating_sub(before),
            _ => 0,
        }
    }

    /// Cgroup CPU microseconds between `self` (earlier) and `later`.
    pub fn cpu_us_until(&self, later: &Snapshot) -> Option<u64> {
        Some(later.cpu_us?.saturating_sub(self.cpu_us?))
    }
}

impl Cgroup {
    pub fn new(root: impl Into<PathBuf>) -> Cgroup {
        Cgroup { root: root.into() }
    }

    /// Reads both counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            oom_events: self.oom_events(),
            cpu_us: self.cpu_us(),
        }
    }

    fn oom_events(&self) -> Option<u64> {
        // cgroup v2
        if let Some(n) = read_key(&self.root.join("memory.events"), "oom_kill") {
            return Some(n);
        }
        // cgroup v1
        let memory = self.root.join("memory");
        read_key(&memory.join("memory.oom_control"), "oom_kill")
            .or_else(|| read_number(&memory.join("memory.failcnt")))
    }

    /// Only the CPU reading is taken while a stage runs (it is cheap: one
    /// small file).
    pub fn cpu_us(&self) -> Option<u64> {
        // cgroup v2: microseconds.
        if let Some(us) = read_key(&self.root.join("cpu.stat"), "usage_usec") {
            return Some(us);
        }
        // cgroup v1: nanoseconds.
        [
            "cpuacct/cpuacct.usage",
            "cpu,cpuacct/cpuacct.usage",
            "cpuacct.usage",
        ]
        .iter()
        .find_map(|p| read_number(&self.root.join(p)))
        .map(|ns| ns / 1000)
    }
}

fn read_key(path: &Path, key: &str) -> Option<u64> {
    parse_key(&fs::read_to_string(path).ok()?, key)
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat-keyed cgroup file (`key value` per line).
pub fn parse_key(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next()? == key {
            words.next()?.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are matched whole (`oom_kill`, not `oom_kill_disable`).
    #[test]
    fn keyed_files_match_whole_keys() {
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_key(v1, "oom_kill"), Some(3));
        let v2 = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\n";
        assert_eq!(parse_key(v2, "oom_kill"), Some(1));
        assert_eq!(
            parse_key("usage_usec 1500\nuser_usec 1000\n", "usage_usec"),
            Some(1500)
        );
        assert_eq!(parse_key("oom 2\n", "oom_kill"), None);
    }

    /// Deltas need both readings; a missing file never fakes an OOM.
    #[test]
    fn deltas_need_both_readings() {
        let a = Snapshot {
            oom_events: Some(1),
            cpu_us: Some(100),
        };
        let b = Snapshot {
            oom_events: Some(3),
            cpu_us: Some(350),
        };
        assert_eq!(a.oom_kills_until(&b), 2);
        assert_eq!(a.cpu_us_until(&b), Some(250));
        let none = Snapshot::default();
        assert_eq!(none.oom_kills_until(&b), 0);
        assert_eq!(a.cpu_us_until(&none), None);
    }

    /// v2 files win; v1 layouts (cpuacct or cpu,cpuacct, oom_control) are
    /// found under the root; a missing root reads as nothing.
    #[test]
    fn reads_v1_and_v2_layouts() {
        let dir =
            std::env::temp_dir().join(format!("rce-runner-cgroup-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("memory")).unwrap();
        fs::create_dir_all(dir.join("cpu,cpuacct")).unwrap();
        fs::write(
            dir.join("memory/memory.oom_control"),
            "oom_kill_disable 0\noom_kill 4\n",
        )
        .unwrap();
        fs::write(dir.join("cpu,cpuacct/cpuacct.usage"), "7000000\n").unwrap();
        let cg = Cgroup::new(&dir);
        assert_eq!(
            cg.snapshot(),
            Snapshot {
                oom_events: Some(4),
                cpu_us: Some(7000)
            }
        );
        fs::write(dir.join("memory.events"), "oom 1\noom_kill 1\n").unwrap();
        fs::write(dir.join("cpu.stat"), "usage_usec 42\n").unwrap();
        assert_eq!(
            cg.snapshot(),
            Snapshot {
                oom_events: Some(1),
                cpu_us: Some(42)
            }
        );
        assert_eq!(
            Cgroup::new(dir.join("absent")).snapshot(),
            Snapshot::default()
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
