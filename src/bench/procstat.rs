//! Readings from /proc: CPU time (user + system) and resident memory of a
//! process, the summed CPU time of the Docker stack (dockerd, containerd,
//! the shims, runc), and the whole machine's busy CPU time, for CPU-per-job
//! figures.

use std::time::Duration;

/// Clock ticks per second of /proc/*/stat times (USER_HZ; 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// Process names that make up the Docker stack.
const DOCKER_STACK: &[&str] = &[
    "dockerd",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "runc",
    "docker-init",
];

/// CPU time the whole machine has been busy (every core, every process and
/// the kernel: user, nice, system, irq, softirq, steal) since boot. The
/// Docker stack's per-process figure misses runc's short-lived processes,
/// whose time is lost with the shims that reap them; this misses nothing.
pub fn machine_busy_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return Duration::ZERO;
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|value| value.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    ticks(busy)
}

/// CPU time of `pid` so far (user + system, its own threads only).
pub fn cpu_time(pid: u32) -> Duration {
    stat_fields(pid)
        .map(|(_, utime, stime)| ticks(utime + stime))
        .unwrap_or_default()
}

/// Resident memory of `pid` in KiB.
pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Summed resident size of the containerd shims serving `containers` (a
/// shim names its container in its command line: `-id <container id>`).
pub fn shims_rss_kb(containers: &[String]) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let is_shim = args
                .first()
                .is_some_and(|program| program.windows(15).any(|w| w == b"containerd-shim"));
            is_shim
                && args.windows(2).any(|pair| {
                    pair[0] == b"-id" && containers.iter().any(|id| id.as_bytes() == pair[1])
                })
        })
        .map(rss_kb)
        .sum()
}

/// Summed CPU time of every running Docker-stack process. Processes that
/// exit between two readings (runc, short-lived shims) are counted through
/// their parents' `cutime`/`cstime` where reaped, so take deltas over whole runs.
pub fn docker_stack_cpu() -> Duration {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    let mut total = Duration::ZERO;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some((name, utime, stime)) = stat_fields(pid) {
            if DOCKER_STACK.contains(&name.as_str()) {
                total += ticks(utime + stime) + children_cpu(pid, &name);
            }
        }
    }
    total
}

/// Reaped children's CPU for processes whose children are stack helpers
/// (containerd reaps the shims' runc calls, the shims reap runc).
fn children_cpu(pid: u32, name: &str) -> Duration {
    if !name.starts_with("containerd") {
        return Duration::ZERO;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is index 0, cutime 13, cstime 14.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    ticks(field(13) + field(14))
}

fn ticks(count: u64) -> Duration {
    Duration::from_secs_f64(count as f64 / TICKS_PER_SECOND)
}

/// (command name, utime, stime) of `pid`.
fn stat_fields(pid: u32) -> Option<(String, u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_string();
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    // After the command: state(0) ... utime(11) stime(12).
    Some((
        name,
        fields.get(11)?.parse().ok()?,
        fields.get(12)?.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our own process has a name, some RSS and non-decreasing CPU time.
    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(rss_kb(me) > 0);
        let before = cpu_time(me);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_time(me) >= before);
        assert!(stat_fields(me).is_some());
        assert!(machine_busy_cpu() > Duration::ZERO);
    }
}
