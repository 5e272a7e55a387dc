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

/// Server CPU and memory over a measured window (when its pid was given).
#[derive(Debug, Clone, Serialize)]
pub struct ServerUsage {
    /// Percent of one core (200 = both cores of a 2-core machine).
    pub cpu_percent: f64,
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
}

impl ServerUsage {
    pub fn between(before: &Sample, after: &Sample) -> ServerUsage {
        ServerUsage {
            cpu_percent: stats::cpu_percent(before, after),
            rss_mib: after.rss as f64 / (1u64 << 20) as f64,
            peak_rss_mib: after.hwm as f64 / (1u64 << 20) as f64,
        }
    }
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
}
