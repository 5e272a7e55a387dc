//! Reading a process's CPU time and memory from `/proc/<pid>/stat` and
//! `/proc/<pid>/status` (Linux), and the machine's size.

use std::time::Instant;

use crate::error::BenchError;

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux reports in
/// USER_HZ, which is 100 on every mainstream architecture.
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    /// User plus system CPU time, in seconds.
    pub cpu_secs: f64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Peak resident memory, bytes.
    pub hwm: u64,
}

fn proc_err(pid: u32, reason: impl ToString) -> BenchError {
    BenchError::Proc {
        pid,
        reason: reason.to_string(),
    }
}

/// Reads CPU time and memory of `pid`.
pub fn sample(pid: u32) -> Result<Sample, BenchError> {
    let at = Instant::now();
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| proc_err(pid, e))?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| proc_err(pid, "unexpected stat format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, so utime (14) and stime (15) are at 11, 12.
    let ticks = |i: usize| -> Result<f64, BenchError> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| proc_err(pid, "unexpected stat fields"))
    };
    let cpu_secs = (ticks(11)? + ticks(12)?) / TICKS_PER_SEC;
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| proc_err(pid, e))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok(Sample {
        at,
        cpu_secs,
        rss: kib("VmRSS:"),
        hwm: kib("VmHWM:"),
    })
}

/// CPU use between two samples, in percent of one core.
pub fn cpu_percent(before: &Sample, after: &Sample) -> f64 {
    let wall = after.at.duration_since(before.at).as_secs_f64();
    if wall <= 0.0 {
        return 0.0;
    }
    (after.cpu_secs - before.cpu_secs) / wall * 100.0
}

/// Total memory of the machine, bytes (from /proc/meminfo).
pub fn machine_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// The soft limit on open files of this process (from /proc/self/limits).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_can_be_sampled() -> Result<(), BenchError> {
        let before = sample(std::process::id())?;
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let after = sample(std::process::id())?;
        assert!(after.rss > 0 && after.hwm >= after.rss);
        assert!(after.cpu_secs >= before.cpu_secs);
        assert!(machine_memory() > 0);
        assert!(open_file_limit().is_some_and(|n| n > 0));
        Ok(())
    }
}
