//! What reports share: latency summaries, the machine, server usage, and
//! the plain-text table they print as.

use std::fmt::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::{self, Sample};

/// A new latency histogram in microseconds, 1 µs to 10 minutes, 3 digits.
pub fn histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| {
        Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant digits is valid"))
    })
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }

    /// `p50 / p90 / p99 / p99.9 / max` in ms.
    pub fn row(&self) -> String {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2} ms  (n={})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// The machine the run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_gib: f64,
    /// This process's open-file limit (soft).
    pub open_files: Option<u64>,
}

impl Machine {
    pub fn here() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: stats::machine_memory() as f64 / (1u64 << 30) as f64,
            open_files: stats::open_file_limit(),
        }
    }
}

/// Server CPU and memory over a measured window (when pids were given),
/// summed over every server process given (one per node).
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    /// Percent of one core (200 = both cores of a 2-core machine), summed
    /// over the processes.
    pub cpu_percent: f64,
    /// Resident memory at the end, summed over the processes.
    pub rss_mib: f64,
    /// The sum of each process's own peak (an upper bound on the peak of
    /// the total when there are several).
    pub peak_rss_mib: f64,
    /// How many server processes the figures add up.
    pub nodes: usize,
}

impl ServerUsage {
    /// Usage of one process between two of its samples.
    pub fn between(before: &Sample, after: &Sample) -> ServerUsage {
        ServerUsage::between_nodes(before, after, 1)
    }

    /// Usage between two summed samples of `nodes` processes (from
    /// [`sample_all`]).
    pub fn between_nodes(before: &Sample, after: &Sample, nodes: usize) -> ServerUsage {
        ServerUsage {
            cpu_percent: stats::cpu_percent(before, after),
            rss_mib: after.rss as f64 / (1u64 << 20) as f64,
            peak_rss_mib: after.hwm as f64 / (1u64 << 20) as f64,
            nodes,
        }
    }

    /// From two [`sample_all`] readings of `pids`, when both succeeded.
    pub fn from_samples(
        before: &Option<Sample>,
        after: &Option<Sample>,
        pids: &[u32],
    ) -> Option<ServerUsage> {
        match (before, after) {
            (Some(b), Some(a)) => Some(ServerUsage::between_nodes(b, a, pids.len())),
            _ => None,
        }
    }

    /// `CPU 120%  RSS 300 MiB`, with `over 3 processes` when several.
    pub fn row(&self) -> String {
        let mut row = format!("CPU {:.0}%  RSS {:.0} MiB", self.cpu_percent, self.rss_mib);
        if self.nodes > 1 {
            row.push_str(&format!("  (sum over {} processes)", self.nodes));
        }
        row
    }
}

/// Adds up samples of several processes: CPU seconds and memory are summed,
/// the time is the first reading's.
pub fn sum_samples(samples: &[Sample]) -> Option<Sample> {
    let first = samples.first()?;
    Some(Sample {
        at: first.at,
        cpu_secs: samples.iter().map(|s| s.cpu_secs).sum(),
        rss: samples.iter().map(|s| s.rss).sum(),
        hwm: samples.iter().map(|s| s.hwm).sum(),
    })
}

/// Samples every pid and sums them; `None` (logged) when there are no
/// pids or any of them cannot be read, so a total never silently leaves a
/// node out.
pub fn sample_all(pids: &[u32]) -> Option<Sample> {
    let mut samples = Vec::with_capacity(pids.len());
    for &pid in pids {
        samples.push(maybe_sample(Some(pid))?);
    }
    sum_samples(&samples)
}

/// `against 1 node` / `against 3 nodes`.
pub fn against(nodes: usize) -> String {
    format!("against {nodes} node{}", if nodes == 1 { "" } else { "s" })
}

/// A two-column table: one `label  value` row per entry.
pub fn table(title: &str, rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(out, "{}", "-".repeat(title.len().max(20)));
    for (k, v) in rows {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
    out
}

/// Samples `pid` if given, logging (not failing) when it cannot.
pub fn maybe_sample(pid: Option<u32>) -> Option<Sample> {
    let pid = pid?;
    match stats::sample(pid) {
        Ok(s) => Some(s),
        Err(err) => {
            tracing::warn!(%err, "cannot sample the server");
            None
        }
    }
}

/// A progress bar on stderr (hidden when stderr is not a terminal, or when
/// `quiet`).
pub fn progress(len: u64, message: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg:24} [{bar:30}] {pos}/{len} {per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_come_out_in_milliseconds() -> Result<(), hdrhistogram::RecordError> {
        let mut h = histogram();
        for us in 1..=1000u64 {
            h.record(us * 1000)?;
        }
        let l = Latency::from_histogram(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99_ms - 990.0).abs() < 2.0, "{l:?}");
        assert!((l.max_ms - 1000.0).abs() < 1.0, "{l:?}");
        assert_eq!(Latency::from_histogram(&histogram()).count, 0);
        Ok(())
    }

    #[test]
    fn server_usage_sums_over_processes() {
        let at = std::time::Instant::now();
        let later = at + std::time::Duration::from_secs(2);
        let mib = 1u64 << 20;
        let sample = |at, cpu_secs, rss_mib: u64| Sample {
            at,
            cpu_secs,
            rss: rss_mib * mib,
            hwm: rss_mib * mib * 2,
        };
        assert!(sum_samples(&[]).is_none());
        assert!(sample_all(&[]).is_none());
        let before = sum_samples(&[sample(at, 1.0, 10), sample(at, 2.0, 20)]);
        let after = sum_samples(&[sample(later, 2.0, 30), sample(later, 4.0, 50)]);
        let usage = ServerUsage::from_samples(&before, &after, &[1, 2]);
        let usage = usage.unwrap_or_else(|| unreachable!("both samples are there"));
        assert_eq!(usage.nodes, 2);
        assert!((usage.cpu_percent - 150.0).abs() < 1e-6, "{usage:?}");
        assert!((usage.rss_mib - 80.0).abs() < 1e-6, "{usage:?}");
        assert!((usage.peak_rss_mib - 160.0).abs() < 1e-6, "{usage:?}");
        assert!(usage.row().contains("sum over 2 processes"));
        assert!(ServerUsage::from_samples(&before, &None, &[1, 2]).is_none());
        // This process, given twice as two "nodes", reads as twice its RSS.
        let me = std::process::id();
        let one = sample_all(&[me]).map(|s| s.rss);
        let two = sample_all(&[me, me]).map(|s| s.rss);
        assert!(
            one.zip(two).is_some_and(|(one, two)| two >= one),
            "{one:?} {two:?}"
        );
        assert_eq!(against(1), "against 1 node");
        assert_eq!(against(3), "against 3 nodes");
    }
}
