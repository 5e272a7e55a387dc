//! `natter bench connect`: open N authenticated sockets, hold them, and
//! measure the connect rate and the server's memory per connection.
//!
//! One process may hold only as many sockets as its open-file limit allows,
//! so past that the sockets are spread over worker processes: this same
//! executable re-invoked with the hidden `bench worker` subcommand, which
//! reads a [`WorkerJob`] line on stdin, opens its share, prints a
//! [`WorkerReady`] line on stdout, and holds the sockets until stdin closes.
//!
//! Against several nodes of one cluster, socket number i (counted over all
//! processes) goes to node i mod n ([`Cluster::node`]); every worker gets
//! the whole list of nodes in its job. Users are created over HTTP on the
//! first node.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use crate::error::BenchError;
use crate::report::{self, Machine};
use crate::setup;
use crate::stats;
use crate::wire::{self, Cluster, Sources};

/// Sockets a process keeps free for everything else (stdio, the HTTP pool, ...).
const FD_MARGIN: u64 = 256;
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Parameters of the connect scenario.
#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub connections: usize,
    /// Users whose tokens the sockets use, round-robin (each login costs the
    /// server a password hash, so not one user per socket).
    pub users: usize,
    /// How long to hold the sockets after the last one opened.
    pub hold: Duration,
    /// Loopback source addresses to spread over (127.0.0.1 …).
    pub source_ips: u8,
    /// Worker processes; 0 = as many as the open-file limit needs (1 means
    /// in this process).
    pub workers: usize,
    /// The executable to re-invoke for workers (default: this one).
    pub worker_exe: Option<PathBuf>,
    /// Sockets being opened at once, per process.
    pub concurrency: usize,
    pub quiet: bool,
}

/// What a worker is asked to do (one JSON line on its stdin).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerJob {
    /// Every node of the cluster (`http://127.0.0.1:port`), in order.
    pub urls: Vec<String>,
    pub tokens: Vec<String>,
    pub connections: usize,
    /// The run-wide number of this worker's first socket, so the sockets of
    /// all processes together go round-robin over the nodes.
    #[serde(default)]
    pub first_socket: usize,
    pub first_ip: u8,
    pub source_ips: u8,
    pub concurrency: usize,
}

/// What a worker answers once its sockets are open (one JSON line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerReady {
    pub opened: usize,
    pub failed: usize,
    pub seconds: f64,
    pub first_error: Option<String>,
}

/// The result of a connect run.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectReport {
    pub scenario: &'static str,
    pub machine: Machine,
    /// Server nodes the sockets were spread over, round-robin.
    pub nodes: usize,
    pub requested: usize,
    pub opened: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub workers: usize,
    pub source_ips: u8,
    pub seconds_to_open: f64,
    pub connects_per_sec: f64,
    /// Summed over every server pid given.
    pub server_rss_before_mib: Option<f64>,
    pub server_rss_held_mib: Option<f64>,
    /// (RSS while holding − RSS before) / sockets opened, over all pids.
    pub server_kib_per_connection: Option<f64>,
    /// How many server processes the RSS figures add up (0: none given).
    pub server_processes: usize,
}

impl ConnectReport {
    pub fn table(&self) -> String {
        let opt = |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v:.1} {unit}"));
        report::table(
            &format!("natter bench connect {}", report::against(self.nodes)),
            &[
                (
                    "machine",
                    format!(
                        "{} cores, {:.1} GiB",
                        self.machine.cores, self.machine.memory_gib
                    ),
                ),
                (
                    "sockets requested",
                    if self.nodes > 1 {
                        format!("{} (round-robin over {} nodes)", self.requested, self.nodes)
                    } else {
                        self.requested.to_string()
                    },
                ),
                ("sockets opened", self.opened.to_string()),
                (
                    "failed",
                    format!(
                        "{}{}",
                        self.failed,
                        self.first_error
                            .as_ref()
                            .map(|e| format!(" (first: {e})"))
                            .unwrap_or_default()
                    ),
                ),
                ("worker processes", self.workers.to_string()),
                ("source addresses", format!("127.0.0.1-{}", self.source_ips)),
                ("time to open all", format!("{:.2} s", self.seconds_to_open)),
                ("connect rate", format!("{:.0} /s", self.connects_per_sec)),
                (
                    "server processes",
                    match self.server_processes {
                        0 => "- (no --server-pid)".into(),
                        1 => "1".into(),
                        n => format!("{n} (RSS figures are sums)"),
                    },
                ),
                ("server RSS before", opt(self.server_rss_before_mib, "MiB")),
                ("server RSS holding", opt(self.server_rss_held_mib, "MiB")),
                (
                    "server memory/socket",
                    opt(self.server_kib_per_connection, "KiB"),
                ),
            ],
        )
    }
}

/// Opens `count` sockets with the tokens round-robin, socket `i` to the
/// node of run-wide socket `first_socket + i`; holds them in tasks that keep
/// reading (so WebSocket pings are answered) until `stop` flips.
#[allow(clippy::too_many_arguments)]
async fn open_and_hold(
    cluster: &Cluster,
    tokens: &[String],
    count: usize,
    first_socket: usize,
    sources: &Sources,
    concurrency: usize,
    progress: &indicatif::ProgressBar,
    stop: watch::Receiver<bool>,
) -> WorkerReady {
    let started = Instant::now();
    let failed = AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None::<String>);
    let opened = Arc::new(AtomicUsize::new(0));
    futures_util::stream::iter(0..count)
        .for_each_concurrent(concurrency.max(1), |i| {
            let token = &tokens[i % tokens.len().max(1)];
            let target = cluster.node(first_socket.wrapping_add(i));
            let source = sources.next();
            let mut stop = stop.clone();
            let failed = &failed;
            let first_error = &first_error;
            let opened = opened.clone();
            async move {
                match wire::open(target, source, token, OPEN_TIMEOUT).await {
                    Ok(mut ws) => {
                        opened.fetch_add(1, Ordering::Relaxed);
                        progress.inc(1);
                        tokio::spawn(async move {
                            loop {
                                tokio::select! {
                                    frame = ws.next() => if !matches!(frame, Some(Ok(_))) { break },
                                    _ = stop.changed() => break,
                                }
                            }
                        });
                    }
                    Err(err) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let mut first = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        if first.is_none() {
                            *first = Some(err.to_string());
                        }
                    }
                }
            }
        })
        .await;
    let first_error = first_error.into_inner().unwrap_or_else(|p| p.into_inner());
    WorkerReady {
        opened: opened.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        first_error,
    }
}

/// The hidden worker subcommand: one job from stdin, one ready line to
/// stdout, then hold until stdin closes.
pub async fn worker_main() -> Result<(), BenchError> {
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let line = stdin
        .next_line()
        .await
        .map_err(|e| BenchError::Worker(e.to_string()))?
        .ok_or_else(|| BenchError::Worker("no job on stdin".into()))?;
    let job: WorkerJob =
        serde_json::from_str(&line).map_err(|e| BenchError::Worker(e.to_string()))?;
    let cluster = Cluster::parse(&job.urls)?;
    if job.tokens.is_empty() && job.connections > 0 {
        return Err(BenchError::Worker(
            "a job with sockets but no tokens".into(),
        ));
    }
    let sources = Sources::new(job.first_ip, job.source_ips);
    let (stop_tx, stop) = watch::channel(false);
    let ready = open_and_hold(
        &cluster,
        &job.tokens,
        job.connections,
        job.first_socket,
        &sources,
        job.concurrency,
        &indicatif::ProgressBar::hidden(),
        stop,
    )
    .await;
    let mut out = tokio::io::stdout();
    let mut line = serde_json::to_vec(&ready).map_err(|e| BenchError::Worker(e.to_string()))?;
    line.push(b'\n');
    out.write_all(&line)
        .await
        .map_err(|e| BenchError::Worker(e.to_string()))?;
    out.flush()
        .await
        .map_err(|e| BenchError::Worker(e.to_string()))?;
    // Hold until the parent closes stdin (or dies).
    while let Ok(Some(_)) = stdin.next_line().await {}
    stop_tx.send_replace(true);
    Ok(())
}

/// How many worker processes `connections` sockets need.
pub fn workers_needed(connections: usize) -> usize {
    let per_process = stats::open_file_limit()
        .unwrap_or(1024)
        .saturating_sub(FD_MARGIN)
        .max(64) as usize;
    connections.div_ceil(per_process).max(1)
}

/// Each worker's (first run-wide socket number, sockets): `connections`
/// split as evenly as it goes, the numbers contiguous from 0.
pub fn worker_shares(connections: usize, workers: usize) -> Vec<(usize, usize)> {
    let workers = workers.max(1);
    let mut first = 0;
    (0..workers)
        .map(|w| {
            let share = connections / workers + usize::from(w < connections % workers);
            let this = (first, share);
            first += share;
            this
        })
        .collect()
}

/// Runs the connect scenario.
pub async fn run(
    cluster: impl Into<Cluster>,
    params: &ConnectParams,
) -> Result<ConnectReport, BenchError> {
    let cluster: Cluster = cluster.into();
    if params.connections == 0 {
        return Err(BenchError::Params(
            "--connections must be at least 1".into(),
        ));
    }
    let client = natter_client::Client::new(&cluster.first().http)?;
    let prefix = setup::run_prefix();
    let users = params.users.clamp(1, params.connections);
    let bar = report::progress(users as u64, "creating users", params.quiet);
    let sessions = setup::users(&client, &prefix, users, &bar).await?;
    let tokens: Vec<String> = sessions.iter().map(|s| s.token().to_owned()).collect();

    let workers = if params.workers == 0 {
        workers_needed(params.connections)
    } else {
        params.workers
    };
    let pids = cluster.pids().to_vec();
    let before = report::sample_all(&pids);
    bar.set_length(params.connections as u64);
    bar.set_position(0);
    bar.set_message("opening sockets");
    let started = Instant::now();
    let (stop_tx, stop) = watch::channel(false);
    let mut children = Vec::new();
    let mut ready = Vec::new();
    if workers <= 1 {
        let sources = Sources::new(1, params.source_ips);
        ready.push(
            open_and_hold(
                &cluster,
                &tokens,
                params.connections,
                0,
                &sources,
                params.concurrency,
                &bar,
                stop.clone(),
            )
            .await,
        );
    } else {
        let exe = match &params.worker_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().map_err(|e| BenchError::Worker(e.to_string()))?,
        };
        let per_ip = params.source_ips.max(1);
        let urls = cluster.urls();
        for (w, (first_socket, share)) in worker_shares(params.connections, workers)
            .into_iter()
            .enumerate()
        {
            let job = WorkerJob {
                urls: urls.clone(),
                tokens: tokens.clone(),
                connections: share,
                first_socket,
                first_ip: 1u8.saturating_add((w as u8).saturating_mul(per_ip)),
                source_ips: per_ip,
                concurrency: params.concurrency,
            };
            let mut child = tokio::process::Command::new(&exe)
                .args(["bench", "worker"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| BenchError::Worker(format!("spawn {}: {e}", exe.display())))?;
            let mut stdin = child
                .stdin
                .take()
                .ok_or_else(|| BenchError::Worker("no stdin".into()))?;
            let mut line =
                serde_json::to_vec(&job).map_err(|e| BenchError::Worker(e.to_string()))?;
            line.push(b'\n');
            stdin
                .write_all(&line)
                .await
                .map_err(|e| BenchError::Worker(e.to_string()))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| BenchError::Worker("no stdout".into()))?;
            children.push((child, stdin, BufReader::new(stdout).lines()));
        }
        for (_, _, lines) in &mut children {
            let line = lines
                .next_line()
                .await
                .map_err(|e| BenchError::Worker(e.to_string()))?
                .ok_or_else(|| BenchError::Worker("a worker exited before reporting".into()))?;
            let answer: WorkerReady =
                serde_json::from_str(&line).map_err(|e| BenchError::Worker(e.to_string()))?;
            bar.inc(answer.opened as u64);
            ready.push(answer);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    bar.set_message("holding");
    tokio::time::sleep(params.hold).await;
    let held = report::sample_all(&pids);
    stop_tx.send_replace(true);
    for (mut child, stdin, _) in children {
        drop(stdin);
        if let Err(err) = child.wait().await {
            tracing::warn!(%err, "waiting for a worker");
        }
    }
    bar.finish_and_clear();

    let opened: usize = ready.iter().map(|r| r.opened).sum();
    let failed: usize = ready.iter().map(|r| r.failed).sum();
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    let per_conn = match (&before, &held) {
        (Some(b), Some(h)) if opened > 0 => {
            Some((h.rss as f64 - b.rss as f64) / 1024.0 / opened as f64)
        }
        _ => None,
    };
    Ok(ConnectReport {
        scenario: "connect",
        machine: Machine::here(),
        nodes: cluster.len(),
        requested: params.connections,
        opened,
        failed,
        first_error: ready.iter().find_map(|r| r.first_error.clone()),
        workers: workers.max(1),
        source_ips: params.source_ips,
        seconds_to_open: seconds,
        connects_per_sec: opened as f64 / seconds.max(1e-9),
        server_rss_before_mib: before.map(|s| mib(s.rss)),
        server_rss_held_mib: held.map(|s| mib(s.rss)),
        server_kib_per_connection: per_conn,
        server_processes: pids.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_shares_number_every_socket_once() {
        assert_eq!(worker_shares(10, 3), [(0, 4), (4, 3), (7, 3)]);
        assert_eq!(worker_shares(2, 4), [(0, 1), (1, 1), (2, 0), (2, 0)]);
        assert_eq!(worker_shares(5, 0), [(0, 5)]);
    }

    #[test]
    fn workers_spread_their_sockets_over_the_whole_cluster() -> Result<(), BenchError> {
        let cluster = Cluster::parse(&[
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9001",
            "http://127.0.0.1:9002",
        ])?;
        let mut per_node = [0usize; 3];
        for (first_socket, share) in worker_shares(100, 7) {
            let job = WorkerJob {
                urls: cluster.urls(),
                tokens: vec!["t".into()],
                connections: share,
                first_socket,
                first_ip: 1,
                source_ips: 1,
                concurrency: 1,
            };
            // What the worker reads back from its stdin line.
            let line =
                serde_json::to_string(&job).map_err(|e| BenchError::Worker(e.to_string()))?;
            let job: WorkerJob =
                serde_json::from_str(&line).map_err(|e| BenchError::Worker(e.to_string()))?;
            let theirs = Cluster::parse(&job.urls)?;
            assert_eq!(theirs.len(), 3);
            for i in 0..job.connections {
                per_node[theirs.node_index(job.first_socket + i)] += 1;
            }
        }
        assert_eq!(per_node, [34, 33, 33]);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sockets_spread_over_a_node_list() -> anyhow::Result<()> {
        let server = natter_testkit::TestServer::start().await?;
        let cluster = Cluster::parse(&[server.url(), server.url()])?
            .with_pids([std::process::id(), std::process::id()]);
        let report = run(
            &cluster,
            &ConnectParams {
                connections: 6,
                users: 2,
                hold: Duration::ZERO,
                source_ips: 2,
                workers: 1,
                worker_exe: None,
                concurrency: 4,
                quiet: true,
            },
        )
        .await?;
        let table = report.table();
        assert_eq!(report.opened, 6, "{table}");
        assert_eq!(report.nodes, 2, "{table}");
        assert_eq!(report.server_processes, 1, "{table}");
        assert!(table.contains("against 2 nodes"), "{table}");
        Ok(())
    }
}
