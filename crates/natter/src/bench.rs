//! `natter bench`: argument parsing around [`natter_bench`].

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use natter_bench::wire::Target;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone)]
struct Common {
    /// The server to load (an IPv4 loopback address only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The server's pid, to report its CPU and memory (from /proc).
    #[arg(long)]
    server_pid: Option<u32>,
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
    /// Open N authenticated WebSockets and hold them.
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
    /// Online users in friend pairs, each sending at a rate.
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
    /// One group with every member online; some members send.
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
    /// Fill a conversation, then read it in pages.
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
    /// Failed logins: wrong password vs unknown username (run with rate limits off).
    Login {
        #[command(flatten)]
        common: Common,
        /// Attempts of each kind.
        #[arg(long, default_value_t = 200)]
        attempts: u64,
    },
    /// A probe user's latency in quiet phases and under attack (run with rate limits on).
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
                let target = Target::parse(&common.server)?;
                let report = natter_bench::connect::run(
                    &target,
                    &natter_bench::connect::ConnectParams {
                        connections,
                        users,
                        hold: Duration::from_secs(hold),
                        server_pid: common.server_pid,
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
                let target = Target::parse(&common.server)?;
                let report = natter_bench::direct::run(
                    &target,
                    &natter_bench::direct::DirectParams {
                        users,
                        rates: rate,
                        duration: Duration::from_secs(duration),
                        server_pid: common.server_pid,
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
                let target = Target::parse(&common.server)?;
                let report = natter_bench::group::run(
                    &target,
                    &natter_bench::group::GroupParams {
                        members,
                        senders,
                        rate,
                        duration: Duration::from_secs(duration),
                        server_pid: common.server_pid,
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
                let target = Target::parse(&common.server)?;
                let report = natter_bench::history::run(
                    &target,
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
                let target = Target::parse(&common.server)?;
                let params = natter_bench::login::LoginParams { attempts };
                let report = natter_bench::login::run(&target, &params).await?;
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
                let target = Target::parse(&common.server)?;
                let kind = natter_bench::attack::AttackKind::from(kind);
                let params = natter_bench::attack::AttackParams {
                    kind,
                    rounds,
                    probes,
                    addresses: addresses.unwrap_or(kind.default_addresses()),
                    per_address: per_address.unwrap_or(kind.default_per_address()),
                    phase: Duration::from_secs(phase_secs),
                    server_pid: common.server_pid,
                    quiet: common.quiet,
                };
                let report = natter_bench::attack::run(&target, &params).await?;
                print(common.json, &report, report.table())?;
            }
        }
        Ok(())
    })
}
