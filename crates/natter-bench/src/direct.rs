//! `natter bench direct`: U online users in friend pairs, each sending at
//! rate R into their direct conversation for D seconds. Reports messages
//! acknowledged (durably stored) and delivered per second, and latency from
//! send to acknowledgement and from send to delivery on the peer's socket.
//!
//! Against several nodes of one cluster, the two users of every pair are on
//! different nodes ([`Cluster::pair_node`]), so every message crosses the
//! bus between nodes. Setup goes over HTTP to the first node.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use natter_client::protocol::ConversationId;
use serde::Serialize;
use tokio::sync::watch;

use crate::driver::{self, Counters, Job};
use crate::error::BenchError;
use crate::report::{self, Latency, Machine, ServerUsage};
use crate::setup;
use crate::wire::{self, Cluster, Sources, Ws};

/// How long to wait for deliveries after the last send.
const DRAIN: Duration = Duration::from_secs(10);
/// Sends decided just before the end are counted a moment later.
const SETTLE: Duration = Duration::from_millis(100);

/// Parameters of the direct scenario.
#[derive(Debug, Clone)]
pub struct DirectParams {
    /// Online users (rounded down to an even number).
    pub users: usize,
    /// Messages per second per user; several values make a sweep.
    pub rates: Vec<f64>,
    pub duration: Duration,
    pub source_ips: u8,
    pub quiet: bool,
}

/// One rate's result.
#[derive(Debug, Clone, Serialize)]
pub struct DirectRun {
    pub rate_per_user: f64,
    pub offered_per_sec: f64,
    pub duration_s: f64,
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub errors: u64,
    /// Own messages pushed back as events to the sending socket.
    pub echoes: u64,
    pub closed_sockets: u64,
    pub acked_per_sec: f64,
    pub delivered_per_sec: f64,
    pub ack_latency: Latency,
    pub delivery_latency: Latency,
    pub server: Option<ServerUsage>,
    /// CPU of the load generator itself, percent of one core.
    pub bench_cpu_percent: Option<f64>,
}

/// The result of a direct run (one entry per rate).
#[derive(Debug, Clone, Serialize)]
pub struct DirectReport {
    pub scenario: &'static str,
    pub machine: Machine,
    /// Server nodes the sockets were spread over.
    pub nodes: usize,
    pub users: usize,
    pub runs: Vec<DirectRun>,
}

impl DirectReport {
    pub fn table(&self) -> String {
        let mut out = format!(
            "natter bench direct: {} online users in {} pairs {}{} ({} cores, {:.1} GiB)\n",
            self.users,
            self.users / 2,
            report::against(self.nodes),
            if self.nodes > 1 {
                ", each pair split across two"
            } else {
                ""
            },
            self.machine.cores,
            self.machine.memory_gib
        );
        out.push_str(&format!(
            "{:>8} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7}\n",
            "R/user",
            "offered/s",
            "acked/s",
            "deliv/s",
            "errors",
            "ack p99",
            "d p50",
            "d p90",
            "d p99",
            "d p99.9",
            "d max",
            "srvCPU",
            "srvMiB"
        ));
        for r in &self.runs {
            let (cpu, mem) = r.server.as_ref().map_or(("-".into(), "-".into()), |s| {
                (
                    format!("{:.0}%", s.cpu_percent),
                    format!("{:.0}", s.rss_mib),
                )
            });
            out.push_str(&format!(
                "{:>8.1} {:>9.0} {:>9.0} {:>9.0} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>7}\n",
                r.rate_per_user,
                r.offered_per_sec,
                r.acked_per_sec,
                r.delivered_per_sec,
                r.errors + r.closed_sockets,
                r.ack_latency.p99_ms,
                r.delivery_latency.p50_ms,
                r.delivery_latency.p90_ms,
                r.delivery_latency.p99_ms,
                r.delivery_latency.p999_ms,
                r.delivery_latency.max_ms,
                cpu,
                mem
            ));
        }
        out.push_str("latencies in ms; acked = durably stored and acknowledged to the sender\n");
        if let Some(n) = self
            .runs
            .iter()
            .find_map(|r| r.server.as_ref().map(|s| s.nodes))
            .filter(|n| *n > 1)
        {
            out.push_str(&format!(
                "srvCPU and srvMiB are sums over {n} server processes\n"
            ));
        }
        out
    }
}

/// Runs every rate over the same users and sockets.
pub async fn run(
    cluster: impl Into<Cluster>,
    params: &DirectParams,
) -> Result<DirectReport, BenchError> {
    let cluster: Cluster = cluster.into();
    let users = params.users / 2 * 2;
    if users < 2 {
        return Err(BenchError::Params("--users must be at least 2".into()));
    }
    if params.rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) || params.rates.is_empty() {
        return Err(BenchError::Params("rates must be positive".into()));
    }
    let client = natter_client::Client::new(&cluster.first().http)?;
    let prefix = setup::run_prefix();
    let bar = report::progress(users as u64, "creating users", params.quiet);
    let sessions = setup::users(&client, &prefix, users, &bar).await?;
    bar.set_message("befriending pairs");
    let pairs = sessions
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let conversations = setup::befriend_all(pairs, &bar).await?;
    bar.set_message("opening sockets");
    bar.set_length(users as u64);
    bar.set_position(0);
    let sources = Sources::new(1, params.source_ips);
    let mut sockets: Vec<Ws> = Vec::with_capacity(users);
    for (i, session) in sessions.iter().enumerate() {
        sockets.push(
            wire::open(
                cluster.pair_node(i),
                sources.next(),
                session.token(),
                Duration::from_secs(30),
            )
            .await?,
        );
        bar.inc(1);
    }
    let pids = cluster.pids().to_vec();
    let mut runs = Vec::new();
    for &rate in &params.rates {
        let (back, run) =
            run_rate(sockets, &conversations, rate, params.duration, &pids, &bar).await;
        sockets = back;
        runs.push(run);
    }
    bar.finish_and_clear();
    Ok(DirectReport {
        scenario: "direct",
        machine: Machine::here(),
        nodes: cluster.len(),
        users,
        runs,
    })
}

async fn run_rate(
    sockets: Vec<Ws>,
    conversations: &[ConversationId],
    rate: f64,
    duration: Duration,
    server_pids: &[u32],
    bar: &indicatif::ProgressBar,
) -> (Vec<Ws>, DirectRun) {
    let users = sockets.len();
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop) = watch::channel(false);
    let epoch = Instant::now();
    let server_before = report::sample_all(server_pids);
    let bench_before = report::maybe_sample(Some(std::process::id()));
    let mut tasks = Vec::with_capacity(users);
    for (i, ws) in sockets.into_iter().enumerate() {
        let job = Job {
            conversation: conversations[i / 2],
            rate,
            phase: i as f64 / users as f64,
            send_for: duration,
            tag: i as u64,
        };
        tasks.push(tokio::spawn(driver::drive(
            ws,
            job,
            epoch,
            counters.clone(),
            stop.clone(),
            |_| {},
        )));
    }
    let expected = (rate * duration.as_secs_f64() * users as f64) as u64;
    bar.set_length(expected);
    bar.set_position(0);
    bar.set_message(format!("direct {rate}/s/user"));
    // Progress while sending, then a bounded drain.
    let deadline = epoch + duration + DRAIN;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let acked = counters.acked.load(Ordering::Relaxed);
        let delivered = counters.delivered.load(Ordering::Relaxed);
        bar.set_position(delivered);
        let sending_done = epoch.elapsed() >= duration + SETTLE;
        let sent = counters.sent.load(Ordering::Relaxed);
        let errors = counters.errors.load(Ordering::Relaxed);
        let settled = acked + errors >= sent && delivered >= acked;
        if (sending_done && settled) || Instant::now() >= deadline {
            break;
        }
    }
    let server_after = report::sample_all(server_pids);
    let bench_after = report::maybe_sample(Some(std::process::id()));
    stop_tx.send_replace(true);
    let mut back = Vec::with_capacity(users);
    let mut stats = Vec::with_capacity(users);
    let mut closed = 0u64;
    for task in tasks {
        match task.await {
            Ok((ws, s)) => {
                closed += u64::from(s.closed_early);
                back.push(ws);
                stats.push(s);
            }
            Err(err) => tracing::warn!(%err, "a socket task failed"),
        }
    }
    let ack = driver::merge(stats.iter().map(|s| &s.ack));
    let delivery = driver::merge(stats.iter().map(|s| &s.delivery));
    let acked = counters.acked.load(Ordering::Relaxed);
    let delivered = counters.delivered.load(Ordering::Relaxed);
    let secs = |us: u64| (us as f64 / 1e6).max(1e-9);
    let run = DirectRun {
        rate_per_user: rate,
        offered_per_sec: rate * users as f64,
        duration_s: duration.as_secs_f64(),
        sent: counters.sent.load(Ordering::Relaxed),
        acked,
        delivered,
        errors: counters.errors.load(Ordering::Relaxed),
        echoes: counters.echoes.load(Ordering::Relaxed),
        closed_sockets: closed,
        acked_per_sec: acked as f64 / secs(counters.last_ack_us.load(Ordering::Relaxed)),
        delivered_per_sec: delivered as f64
            / secs(counters.last_delivery_us.load(Ordering::Relaxed)),
        ack_latency: Latency::from_histogram(&ack),
        delivery_latency: Latency::from_histogram(&delivery),
        server: ServerUsage::from_samples(&server_before, &server_after, server_pids),
        bench_cpu_percent: match (&bench_before, &bench_after) {
            (Some(b), Some(a)) => Some(crate::stats::cpu_percent(b, a)),
            _ => None,
        },
    };
    (back, run)
}

#[cfg(test)]
mod tests {
    use natter_testkit::TestServer;

    use super::*;

    /// One in-process server listed twice stands in for two nodes: the
    /// split-pair path runs end to end and the report counts both.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_two_node_list_runs_and_is_reported() -> anyhow::Result<()> {
        let server = TestServer::start().await?;
        let cluster =
            Cluster::parse(&[server.url(), server.url()])?.with_pids([std::process::id()]);
        let report = run(
            &cluster,
            &DirectParams {
                users: 4,
                rates: vec![5.0],
                duration: Duration::from_secs(1),
                source_ips: 2,
                quiet: true,
            },
        )
        .await?;
        let table = report.table();
        assert_eq!(report.nodes, 2, "{table}");
        assert!(table.contains("against 2 nodes"), "{table}");
        let run = &report.runs[0];
        assert!(run.acked > 0, "{table}");
        assert_eq!(run.delivered, run.acked, "{table}");
        assert_eq!(run.server.as_ref().map(|s| s.nodes), Some(1), "{table}");
        let json = serde_json::to_value(&report)?;
        assert_eq!(json["nodes"], 2);
        Ok(())
    }
}
