//! Smoke runs of every bench scenario (seconds, small N) against an
//! in-process server. The full runs are in docs/BENCHMARKS.md, not here.

use std::time::Duration;

use natter_bench::wire::{Cluster, Target};
use natter_testkit::TestServer;

fn target(server: &TestServer) -> anyhow::Result<Target> {
    Ok(Target::parse(&server.url())?)
}

/// The server as a one-node cluster whose CPU and memory are measured: it
/// runs in this process, so this is its pid.
fn measured(server: &TestServer) -> anyhow::Result<Cluster> {
    Ok(Cluster::from(target(server)?).with_pids([std::process::id()]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_opens_and_holds_sockets_from_several_source_addresses() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let report = natter_bench::connect::run(
        &measured(&server)?,
        &natter_bench::connect::ConnectParams {
            connections: 40,
            users: 4,
            hold: Duration::ZERO,
            source_ips: 4,
            workers: 1,
            worker_exe: None,
            concurrency: 8,
            quiet: true,
        },
    )
    .await?;
    assert_eq!(report.opened, 40, "{}", report.table());
    assert_eq!(report.failed, 0, "{}", report.table());
    assert!(report.server_kib_per_connection.is_some());
    assert!(report.connects_per_sec > 0.0);
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["scenario"], "connect");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_delivers_every_acknowledged_message_across_a_sweep() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let report = natter_bench::direct::run(
        &measured(&server)?,
        &natter_bench::direct::DirectParams {
            users: 10,
            rates: vec![5.0, 10.0],
            duration: Duration::from_secs(1),
            source_ips: 4,
            quiet: true,
        },
    )
    .await?;
    assert_eq!(report.runs.len(), 2);
    for run in &report.runs {
        assert!(run.acked > 0, "{}", report.table());
        assert_eq!(run.errors, 0, "{}", report.table());
        assert_eq!(run.acked, run.sent, "{}", report.table());
        assert_eq!(run.delivered, run.acked, "{}", report.table());
        eprintln!("echoes to the sending socket: {}", run.echoes);
        assert_eq!(run.delivery_latency.count, run.delivered);
        assert!(run.delivery_latency.p50_ms > 0.0);
        assert!(run.server.is_some());
    }
    assert!(report.table().contains("acked/s"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_messages_reach_every_member() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let report = natter_bench::group::run(
        &target(&server)?,
        &natter_bench::group::GroupParams {
            members: 8,
            senders: 2,
            rate: 5.0,
            duration: Duration::from_secs(1),
            source_ips: 4,
            quiet: true,
        },
    )
    .await?;
    assert!(report.messages_acked > 0, "{}", report.table());
    assert_eq!(report.incomplete_messages, 0, "{}", report.table());
    assert_eq!(
        report.deliveries,
        report.messages_acked * 7,
        "{}",
        report.table()
    );
    assert_eq!(report.time_to_all.count, report.messages_acked);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_through_a_filled_conversation() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let report = natter_bench::history::run(
        &target(&server)?,
        &natter_bench::history::HistoryParams {
            messages: 300,
            pages: 8,
            page_size: 50,
            fill_sockets: 4,
            source_ips: 4,
            quiet: true,
        },
    )
    .await?;
    assert_eq!(report.backwards.count, 8, "{}", report.table());
    assert_eq!(report.random.count, 8, "{}", report.table());
    assert!(report.fill_per_sec > 0.0);
    Ok(())
}

#[tokio::test]
async fn login_compares_wrong_passwords_with_unknown_users() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let report = natter_bench::login::run(
        &target(&server)?,
        &natter_bench::login::LoginParams { attempts: 3 },
    )
    .await?;
    assert_eq!(report.wrong_password.count, 3, "{}", report.table());
    assert_eq!(report.unknown_user.count, 3, "{}", report.table());
    assert!(report.answers_identical, "{}", report.table());
    Ok(())
}

fn attack_params(
    kind: natter_bench::attack::AttackKind,
    addresses: usize,
    per_address: usize,
    phase: Duration,
) -> natter_bench::attack::AttackParams {
    natter_bench::attack::AttackParams {
        kind,
        rounds: 1,
        probes: 2,
        addresses,
        per_address,
        phase,
        quiet: true,
    }
}

/// Checks that the probe made its two requests in each kind of phase and
/// that none failed; returns the report's table for the assertion messages.
fn probes_all_served(report: &natter_bench::attack::AttackReport) -> String {
    let table = report.table();
    eprintln!("{table}");
    assert_eq!(report.quiet.probe.count, 2, "{table}");
    assert_eq!(report.attacked.probe.count, 2, "{table}");
    assert_eq!(
        report.quiet.probe_failures + report.attacked.probe_failures,
        0,
        "{table}"
    );
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_login_flood_is_refused_while_the_probe_logs_in() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.limits.enabled = true).await?;
    let params = attack_params(
        natter_bench::attack::AttackKind::LoginFlood,
        3,
        // More than the 4 waiting hashes an address may have.
        6,
        Duration::from_millis(1500),
    );
    let report = natter_bench::attack::run(&measured(&server)?, &params).await?;
    let table = probes_all_served(&report);
    let flood = report.login_flood.as_ref().expect("a login-flood report");
    assert!(flood.logins.rate_limited > 0, "{table}");
    assert!(flood.logins.invalid_credentials > 0, "{table}");
    assert!(flood.password_changes.sent > 0, "{table}");
    assert_eq!(flood.logins.other, 0, "{table}");
    assert!(report.p50_ratio.is_some(), "{table}");
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["kind"], "login-flood");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_slow_bodies_are_turned_away_or_cut_while_the_probe_chats() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.limits.enabled = true;
        c.http.body_timeout_secs = 1;
        c.http.max_connections_per_address = 8;
    })
    .await?;
    let params = attack_params(
        natter_bench::attack::AttackKind::SlowBodies,
        2,
        12,
        Duration::from_millis(2500),
    );
    let report = natter_bench::attack::run(&measured(&server)?, &params).await?;
    let table = probes_all_served(&report);
    let slow = report.slow_bodies.as_ref().expect("a slow-bodies report");
    // 8 places per address: the other 4 of each address's 12 are refused at once.
    assert!(slow.turned_away_429 >= 8, "{table}");
    assert!(slow.cut_408 + slow.closed_without_answer >= 1, "{table}");
    assert!(slow.other_answers.is_empty(), "{table}");
    assert_eq!(slow.connect_errors, 0, "{table}");
    let json = serde_json::to_value(&report)?;
    assert_eq!(json["kind"], "slow-bodies");
    Ok(())
}
