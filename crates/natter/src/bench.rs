//! `natter bench`: argument parsing around [`natter_bench`].

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use natter_bench::wire::Cluster;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone)]
struct Common {
    /// A server node to load (an IPv4 loopback address only). Repeat it, or
    /// give a comma-separated list, for several nodes of one cluster:
    /// `connect` and `group` spread their sockets round-robin over them,
    /// `direct` puts the two users of each pair on different nodes; setup,
    /// `history`, `login` and `attack` use only the first.
    #[arg(
        long = "server",
        value_name = "URL",
        value_delimiter = ',',
        num_args = 1,
        default_value = "http://127.0.0.1:8080"
    )]
    servers: Vec<String>,
    /// A server process's pid, to report its CPU and memory (from /proc).
    /// Repeat it (or give a comma-separated list) for several nodes: the
    /// figures are summed over all of them.
    #[arg(
        long = "server-pid",
        value_name = "PID",
        value_delimiter = ',',
        num_args = 1
    )]
    server_pids: Vec<u32>,
    /// Loopback source addresses to spread sockets over (127.0.0.1..N).
    #[arg(long, default_value_t = 16)]
    source_ips: u8,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Scenario {
    /// Open N authenticated WebSockets and hold them (round-robin over the --server nodes).
    Connect {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Users whose tokens the sockets share (each login costs a password hash).
        #[arg(long, default_value_t = 100)]
        users: usize,
        /// Seconds to hold the sockets before measuring.
        #[arg(long, default_value_t = 5)]
        hold: u64,
        /// Worker processes (0: as many as the open-file limit requires).
        #[arg(long, default_value_t = 0)]
        workers: usize,
        /// Sockets opened at once per process.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
    },
    /// Online users in friend pairs, each sending at a rate (with several
    /// --server nodes, each pair's two users are on different nodes).
    Direct {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Messages per second per user; a comma-separated list runs a sweep.
        #[arg(long, value_delimiter = ',', default_value = "10")]
        rate: Vec<f64>,
        /// Seconds of sending per rate.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// One group with every member online; some members send (members
    /// round-robin over the --server nodes).
    Group {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 10)]
        senders: usize,
        /// Messages per second per sender.
        #[arg(long, default_value_t = 1.0)]
        rate: f64,
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Fill a conversation, then read it in pages (first --server only).
    History {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
        #[arg(long, default_value_t = 1000)]
        pages: u64,
        #[arg(long, default_value_t = 50)]
        page_size: u32,
        #[arg(long, default_value_t = 32)]
        fill_sockets: usize,
    },
    /// Failed logins: wrong password vs unknown username (run with rate limits off;
    /// first --server only).
    Login {
        #[command(flatten)]
        common: Common,
        /// Attempts of each kind.
        #[arg(long, default_value_t = 200)]
        attempts: u64,
    },
    /// A probe user's latency in quiet phases and under attack (run with rate limits on;
    /// first --server only, CPU summed over every --server-pid).
    Attack {
        #[command(flatten)]
        common: Common,
        /// The attack run during the attacked phases.
        #[arg(long, value_enum)]
        kind: AttackKindArg,
        /// Quiet phases, and as many attacked ones (alternating, quiet first).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Probes per phase, spread evenly over it, from 127.0.0.1.
        #[arg(long, default_value_t = 20)]
        probes: usize,
        /// Attacker addresses, 127.0.0.2 on [default: 30 login-flood, 4 slow-bodies].
        #[arg(long)]
        addresses: Option<usize>,
        /// Loops (login-flood) or slow connections (slow-bodies) per address
        /// [default: 10 login-flood, 275 slow-bodies].
        #[arg(long)]
        per_address: Option<usize>,
        /// Seconds per phase.
        #[arg(long, default_value_t = 20)]
        phase_secs: u64,
    },
    /// (internal) a worker process of `connect`.
    #[command(hide = true)]
    Worker,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum AttackKindArg {
    /// Wrong logins with unknown usernames from many addresses, and wrong
    /// password changes from one signed-in account.
    LoginFlood,
    /// Connections that send a login's headers, then one body byte every 2 s.
    SlowBodies,
}

impl Common {
    /// Every --server, parsed (loopback only), with every --server-pid.
    fn cluster(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::parse(&self.servers)?.with_pids(self.server_pids.iter().copied()))
    }
}

impl From<AttackKindArg> for natter_bench::attack::AttackKind {
    fn from(kind: AttackKindArg) -> Self {
        match kind {
            AttackKindArg::LoginFlood => natter_bench::attack::AttackKind::LoginFlood,
            AttackKindArg::SlowBodies => natter_bench::attack::AttackKind::SlowBodies,
        }
    }
}

fn print(json: bool, value: &impl serde::Serialize, table: String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{table}");
    }
    Ok(())
}

pub fn main(args: BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match args.scenario {
            Scenario::Worker => natter_bench::connect::worker_main().await?,
            Scenario::Connect {
                common,
                connections,
                users,
                hold,
                workers,
                concurrency,
            } => {
                let cluster = common.cluster()?;
                let report = natter_bench::connect::run(
                    &cluster,
                    &natter_bench::connect::ConnectParams {
                        connections,
                        users,
                        hold: Duration::from_secs(hold),
                        // The --server-pid list travels in the cluster.
                        source_ips: common.source_ips,
                        workers,
                        worker_exe: None,
                        concurrency,
                        quiet: common.quiet,
                    },
                )
                .await?;
                print(common.json, &report, report.table())?;
            }
            Scenario::Direct {
                common,
                users,
                rate,
                duration,
            } => {
                let cluster = common.cluster()?;
                let report = natter_bench::direct::run(
                    &cluster,
                    &natter_bench::direct::DirectParams {
                        users,
                        rates: rate,
                        duration: Duration::from_secs(duration),
                        // The --server-pid list travels in the cluster.
                        source_ips: common.source_ips,
                        quiet: common.quiet,
                    },
                )
                .await?;
                print(common.json, &report, report.table())?;
            }
            Scenario::Group {
                common,
                members,
                senders,
                rate,
                duration,
            } => {
                let cluster = common.cluster()?;
                let report = natter_bench::group::run(
                    &cluster,
                    &natter_bench::group::GroupParams {
                        members,
                        senders,
                        rate,
                        duration: Duration::from_secs(duration),
                        // The --server-pid list travels in the cluster.
                        source_ips: common.source_ips,
                        quiet: common.quiet,
                    },
                )
                .await?;
                print(common.json, &report, report.table())?;
            }
            Scenario::History {
                common,
                messages,
                pages,
                page_size,
                fill_sockets,
            } => {
                let cluster = common.cluster()?;
                let report = natter_bench::history::run(
                    cluster.first(),
                    &natter_bench::history::HistoryParams {
                        messages,
                        pages,
                        page_size,
                        fill_sockets,
                        source_ips: common.source_ips,
                        quiet: common.quiet,
                    },
                )
                .await?;
                print(common.json, &report, report.table())?;
            }
            Scenario::Login { common, attempts } => {
                let cluster = common.cluster()?;
                let params = natter_bench::login::LoginParams { attempts };
                let report = natter_bench::login::run(cluster.first(), &params).await?;
                print(common.json, &report, report.table())?;
            }
            Scenario::Attack {
                common,
                kind,
                rounds,
                probes,
                addresses,
                per_address,
                phase_secs,
            } => {
                let cluster = common.cluster()?;
                let kind = natter_bench::attack::AttackKind::from(kind);
                let params = natter_bench::attack::AttackParams {
                    kind,
                    rounds,
                    probes,
                    addresses: addresses.unwrap_or(kind.default_addresses()),
                    per_address: per_address.unwrap_or(kind.default_per_address()),
                    phase: Duration::from_secs(phase_secs),
                    // The --server-pid list travels in the cluster.
                    quiet: common.quiet,
                };
                let report = natter_bench::attack::run(&cluster, &params).await?;
                print(common.json, &report, report.table())?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Subcommand, Debug)]
    enum Top {
        Bench(BenchArgs),
    }

    fn common(args: &[&str]) -> anyhow::Result<Common> {
        let cli = Cli::try_parse_from(args)?;
        let Top::Bench(bench) = cli.command;
        match bench.scenario {
            Scenario::Direct { common, .. }
            | Scenario::Connect { common, .. }
            | Scenario::Group { common, .. } => Ok(common),
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }

    #[test]
    fn servers_and_pids_may_be_repeated_or_listed() -> anyhow::Result<()> {
        let c = common(&[
            "natter",
            "bench",
            "direct",
            "--server",
            "http://127.0.0.1:8080",
            "--server",
            "http://127.0.0.1:8081,http://127.0.0.1:8082",
            "--server-pid",
            "10",
            "--server-pid",
            "11,12",
        ])?;
        assert_eq!(c.servers.len(), 3);
        assert_eq!(c.server_pids, [10, 11, 12]);
        let cluster = c.cluster()?;
        assert_eq!(cluster.len(), 3);
        assert_eq!(cluster.pids(), [10, 11, 12]);

        let c = common(&["natter", "bench", "group"])?;
        assert_eq!(c.servers, ["http://127.0.0.1:8080"]);
        assert!(c.server_pids.is_empty());
        assert_eq!(c.cluster()?.len(), 1);

        let c = common(&[
            "natter",
            "bench",
            "connect",
            "--server",
            "http://127.0.0.1:8080,http://10.0.0.1:8080",
        ])?;
        assert!(c.cluster().is_err(), "only loopback servers");
        Ok(())
    }
}
