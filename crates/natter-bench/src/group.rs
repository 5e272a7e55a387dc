//! `natter bench group`: one group of G online members; some of them send
//! at a set rate. Reports deliveries per second and the time for a message
//! to reach every other member (p50/p99), measured on the members' sockets.
//!
//! Against several nodes of one cluster, the members' sockets are spread
//! over the nodes round-robin ([`Cluster::node`]); setup goes over HTTP to
//! the first node.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::watch;

use crate::driver::{self, Counters, Delivery, Job};
use crate::error::BenchError;
use crate::report::{self, Latency, Machine, ServerUsage};
use crate::setup;
use crate::wire::{self, Cluster, Sources};

const DRAIN: Duration = Duration::from_secs(10);
/// Sends decided just before the end are counted a moment later.
const SETTLE: Duration = Duration::from_millis(100);

/// Parameters of the group scenario.
#[derive(Debug, Clone)]
pub struct GroupParams {
    pub members: usize,
    pub senders: usize,
    /// Messages per second per sender.
    pub rate: f64,
    pub duration: Duration,
    pub source_ips: u8,
    pub quiet: bool,
}

/// The result of a group run.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReport {
    pub scenario: &'static str,
    pub machine: Machine,
    /// Server nodes the members' sockets were spread over.
    pub nodes: usize,
    pub members: usize,
    pub senders: usize,
    pub rate_per_sender: f64,
    pub duration_s: f64,
    pub messages_acked: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub errors: u64,
    /// Own messages pushed back as events to the sending socket.
    pub echoes: u64,
    pub closed_sockets: u64,
    /// Acknowledged messages not seen by every other member by the end of
    /// the drain.
    pub incomplete_messages: u64,
    pub ack_latency: Latency,
    pub delivery_latency: Latency,
    /// From send until the last of the G−1 other members has it.
    pub time_to_all: Latency,
    pub server: Option<ServerUsage>,
}

impl GroupReport {
    pub fn table(&self) -> String {
        report::table(
            &format!("natter bench group {}", report::against(self.nodes)),
            &[
                (
                    "machine",
                    format!(
                        "{} cores, {:.1} GiB",
                        self.machine.cores, self.machine.memory_gib
                    ),
                ),
                (
                    "members online",
                    if self.nodes > 1 {
                        format!("{} (round-robin over {} nodes)", self.members, self.nodes)
                    } else {
                        self.members.to_string()
                    },
                ),
                (
                    "senders × rate",
                    format!(
                        "{} × {}/s for {:.0} s",
                        self.senders, self.rate_per_sender, self.duration_s
                    ),
                ),
                ("messages acked", self.messages_acked.to_string()),
                ("deliveries", self.deliveries.to_string()),
                ("deliveries/s", format!("{:.0}", self.deliveries_per_sec)),
                (
                    "errors / closed",
                    format!("{} / {}", self.errors, self.closed_sockets),
                ),
                ("echoes to sender", self.echoes.to_string()),
                ("incomplete messages", self.incomplete_messages.to_string()),
                ("send→ack", self.ack_latency.row()),
                ("send→each delivery", self.delivery_latency.row()),
                ("send→all members", self.time_to_all.row()),
                (
                    "server",
                    self.server.as_ref().map_or("-".into(), ServerUsage::row),
                ),
            ],
        )
    }
}

/// Tracks, per message, how many members still lack it.
struct Fanout {
    expected: u64,
    open: HashMap<(u64, u64), (u64, u64, u64)>,
    complete: Histogram<u64>,
}

impl Fanout {
    fn record(&mut self, d: Delivery) {
        let entry = self
            .open
            .entry((d.tag, d.n))
            .or_insert((self.expected, d.sent_us, 0));
        entry.0 -= 1;
        entry.2 = entry.2.max(d.received_us);
        if entry.0 == 0 {
            let (_, sent, last) = *entry;
            self.open.remove(&(d.tag, d.n));
            let _ = self.complete.record(last.saturating_sub(sent).max(1));
        }
    }
}

/// Runs the group scenario.
pub async fn run(
    cluster: impl Into<Cluster>,
    params: &GroupParams,
) -> Result<GroupReport, BenchError> {
    let cluster: Cluster = cluster.into();
    if params.members < 2 || params.senders == 0 || params.senders > params.members {
        return Err(BenchError::Params(
            "need at least 2 members and 1..=members senders".into(),
        ));
    }
    if !(params.rate.is_finite() && params.rate > 0.0) {
        return Err(BenchError::Params("the rate must be positive".into()));
    }
    let client = natter_client::Client::new(&cluster.first().http)?;
    let prefix = setup::run_prefix();
    let bar = report::progress(params.members as u64, "creating users", params.quiet);
    let sessions = setup::users(&client, &prefix, params.members, &bar).await?;
    bar.set_message("befriending the owner");
    let owner = sessions[0].clone();
    let pairs = sessions[1..]
        .iter()
        .map(|s| (owner.clone(), s.clone()))
        .collect();
    setup::befriend_all(pairs, &bar).await?;
    bar.set_message("creating the group");
    let group = setup::group(&owner, &format!("{prefix} bench"), &sessions[1..]).await?;
    bar.set_message("opening sockets");
    bar.set_length(params.members as u64);
    bar.set_position(0);
    let sources = Sources::new(1, params.source_ips);
    let mut sockets = Vec::with_capacity(params.members);
    for (i, session) in sessions.iter().enumerate() {
        sockets.push(
            wire::open(
                cluster.node(i),
                sources.next(),
                session.token(),
                Duration::from_secs(30),
            )
            .await?,
        );
        bar.inc(1);
    }

    let fanout = Arc::new(Mutex::new(Fanout {
        expected: (params.members - 1) as u64,
        open: HashMap::new(),
        complete: report::histogram(),
    }));
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop) = watch::channel(false);
    let epoch = Instant::now();
    let pids = cluster.pids().to_vec();
    let server_before = report::sample_all(&pids);
    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let sending = i < params.senders;
        let job = Job {
            conversation: group,
            rate: if sending { params.rate } else { 0.0 },
            phase: i as f64 / params.senders as f64,
            send_for: params.duration,
            tag: i as u64,
        };
        let fanout = fanout.clone();
        tasks.push(tokio::spawn(driver::drive(
            ws,
            job,
            epoch,
            counters.clone(),
            stop.clone(),
            move |d| {
                fanout
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .record(d)
            },
        )));
    }
    let expected_deliveries = (params.rate * params.duration.as_secs_f64() * params.senders as f64)
        as u64
        * (params.members as u64 - 1);
    bar.set_length(expected_deliveries);
    bar.set_position(0);
    bar.set_message("group fan-out");
    let deadline = epoch + params.duration + DRAIN;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        let delivered = counters.delivered.load(Ordering::Relaxed);
        bar.set_position(delivered);
        let acked = counters.acked.load(Ordering::Relaxed);
        let sent = counters.sent.load(Ordering::Relaxed);
        let errors = counters.errors.load(Ordering::Relaxed);
        let settled = acked + errors >= sent && delivered >= acked * (params.members as u64 - 1);
        if (epoch.elapsed() >= params.duration + SETTLE && settled) || Instant::now() >= deadline {
            break;
        }
    }
    let server_after = report::sample_all(&pids);
    stop_tx.send_replace(true);
    let mut stats = Vec::new();
    let mut closed = 0;
    for task in tasks {
        match task.await {
            Ok((_ws, s)) => {
                closed += u64::from(s.closed_early);
                stats.push(s);
            }
            Err(err) => tracing::warn!(%err, "a socket task failed"),
        }
    }
    bar.finish_and_clear();
    let fanout = fanout.lock().unwrap_or_else(PoisonError::into_inner);
    let delivered = counters.delivered.load(Ordering::Relaxed);
    let last = counters.last_delivery_us.load(Ordering::Relaxed) as f64 / 1e6;
    Ok(GroupReport {
        scenario: "group",
        machine: Machine::here(),
        nodes: cluster.len(),
        members: params.members,
        senders: params.senders,
        rate_per_sender: params.rate,
        duration_s: params.duration.as_secs_f64(),
        messages_acked: counters.acked.load(Ordering::Relaxed),
        deliveries: delivered,
        deliveries_per_sec: delivered as f64 / last.max(1e-9),
        errors: counters.errors.load(Ordering::Relaxed),
        echoes: counters.echoes.load(Ordering::Relaxed),
        closed_sockets: closed,
        incomplete_messages: counters
            .acked
            .load(Ordering::Relaxed)
            .saturating_sub(fanout.complete.len()),
        ack_latency: Latency::from_histogram(&driver::merge(stats.iter().map(|s| &s.ack))),
        delivery_latency: Latency::from_histogram(&driver::merge(
            stats.iter().map(|s| &s.delivery),
        )),
        time_to_all: Latency::from_histogram(&fanout.complete),
        server: ServerUsage::from_samples(&server_before, &server_after, &pids),
    })
}

#[cfg(test)]
mod tests {
    use natter_testkit::TestServer;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn members_spread_over_a_node_list() -> anyhow::Result<()> {
        let server = TestServer::start().await?;
        let cluster = Cluster::parse(&[server.url(), server.url(), server.url()])?
            .with_pids([std::process::id()]);
        let report = run(
            &cluster,
            &GroupParams {
                members: 5,
                senders: 2,
                rate: 5.0,
                duration: Duration::from_secs(1),
                source_ips: 2,
                quiet: true,
            },
        )
        .await?;
        let table = report.table();
        assert_eq!(report.nodes, 3, "{table}");
        assert!(table.contains("against 3 nodes"), "{table}");
        assert!(report.messages_acked > 0, "{table}");
        assert_eq!(report.incomplete_messages, 0, "{table}");
        assert!(report.server.is_some(), "{table}");
        Ok(())
    }
}
