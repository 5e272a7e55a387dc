//! `natter bench attack`: how well an ordinary user is served while the
//! server is attacked. Quiet and attacked phases alternate (quiet first); in
//! each, a probe user on 127.0.0.1 does a fixed number of real requests, one
//! at a time and evenly spread over the phase, and each one's latency is kept.
//! The report compares the two kinds of phase and says what the attackers got.
//!
//! Two attacks, each from its own loopback addresses (127.0.0.2 on):
//! - [`AttackKind::LoginFlood`]: every address runs concurrent loops of wrong
//!   logins with usernames nobody has (each costs the server a decoy Argon2id
//!   hash, and no account budget is touched), and one signed-in account, from
//!   the next address, hammers the password change with wrong current
//!   passwords. The probe logs in.
//! - [`AttackKind::SlowBodies`]: every address holds connections that send
//!   complete headers of a login announcing a 65,000-byte body, then one body
//!   byte every 2 seconds, until the server answers or closes; a place whose
//!   connection ended opens a new one 2 seconds later, so the attack lasts the
//!   whole phase. The probe logs in, opens its WebSocket, sends a message and
//!   waits until a friend's WebSocket has it.
//!
//! Run it against a server with its rate limits on (the default): the point is
//! to measure the server's defences. The probe spreads its logins over a few
//! accounts so that its own per-account login budget (10 a minute) is not
//! what it measures; keep it at one request a second or slower (the address
//! budget of 127.0.0.1 is 60 a minute).
//!
//! Given several nodes of a cluster, the probe and the attack use only the
//! first; the server CPU is summed over every server pid given.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use natter_client::protocol::ConversationId;
use natter_client::protocol::accounts::{self, ChangePasswordRequest, LoginRequest};
use natter_client::protocol::conversations::MessageContent;
use natter_client::protocol::ws::Event;
use natter_client::{Client, Connection, ConnectionEvent, Session};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::BenchError;
use crate::report::{self, Latency, Machine};
use crate::setup;
use crate::stats::{self, Sample};
use crate::wire::{Cluster, Target};

/// The probe never uses more accounts than this.
const MAX_PROBE_ACCOUNTS: usize = 8;
/// A slow body's pace: one byte this often, and the pause before a place
/// whose connection ended opens the next one.
const DRIP_INTERVAL: Duration = Duration::from_secs(2);
/// The declared body length of a slow request.
const SLOW_BODY_BYTES: usize = 65_000;
/// Limit on one probe, and on one attacker request.
const REQUEST_LIMIT: Duration = Duration::from_secs(30);
/// How long a phase's end waits for attacker requests in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(35);
/// Failure messages kept in the report.
const FAILURES_KEPT: usize = 20;

/// Which attack runs during the attacked phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    LoginFlood,
    SlowBodies,
}

impl AttackKind {
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::LoginFlood => "login-flood",
            AttackKind::SlowBodies => "slow-bodies",
        }
    }

    /// Attacker addresses when none are given: 30 for the flood, 4 for slow
    /// bodies (the setup of the issue that found the slow-body hole).
    pub fn default_addresses(self) -> usize {
        match self {
            AttackKind::LoginFlood => 30,
            AttackKind::SlowBodies => 4,
        }
    }

    /// Loops (flood) or connections (slow bodies) per address when not given:
    /// 10, and 275 (4 × 275 = 1,100 slow connections).
    pub fn default_per_address(self) -> usize {
        match self {
            AttackKind::LoginFlood => 10,
            AttackKind::SlowBodies => 275,
        }
    }

    fn probe(self) -> &'static str {
        match self {
            AttackKind::LoginFlood => "login",
            AttackKind::SlowBodies => "login + WebSocket connect + send + delivery to a friend",
        }
    }
}

/// Parameters of the attack scenario.
#[derive(Debug, Clone)]
pub struct AttackParams {
    pub kind: AttackKind,
    /// Quiet phases, and as many attacked ones.
    pub rounds: usize,
    /// Probes per phase.
    pub probes: usize,
    /// Attacker source addresses (127.0.0.2 on).
    pub addresses: usize,
    /// Concurrent loops (flood) or connections (slow bodies) per address.
    pub per_address: usize,
    /// Length of each phase (longer if its probes take longer).
    pub phase: Duration,
    pub quiet: bool,
}

/// The probe's latency over one kind of phase, and the CPU use meanwhile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseSummary {
    pub probe: Latency,
    pub probe_failures: u64,
    /// Percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// This process (the probe and the attackers), percent of one core.
    pub bench_cpu_percent: Option<f64>,
}

/// One phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub attacked: bool,
    /// 1-based.
    pub round: usize,
    pub secs: f64,
    pub probe: Latency,
    pub probe_failures: u64,
    pub server_cpu_percent: Option<f64>,
}

/// How the server answered one kind of attacker request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Answers {
    pub sent: u64,
    pub invalid_credentials: u64,
    pub rate_limited: u64,
    /// Anything else: other codes, other statuses, transport errors.
    pub other: u64,
    /// `other`, by code (or `http <status>`, or `transport`).
    pub other_kinds: BTreeMap<String, u64>,
    /// Requests answered per second of attack.
    pub per_sec: f64,
}

impl Answers {
    fn add(&mut self, other: Answers) {
        self.sent += other.sent;
        self.invalid_credentials += other.invalid_credentials;
        self.rate_limited += other.rate_limited;
        self.other += other.other;
        for (k, v) in other.other_kinds {
            *self.other_kinds.entry(k).or_default() += v;
        }
    }

    fn record(&mut self, answer: &str) {
        self.sent += 1;
        match answer {
            "invalid_credentials" => self.invalid_credentials += 1,
            "rate_limited" => self.rate_limited += 1,
            other => {
                self.other += 1;
                *self.other_kinds.entry(other.to_owned()).or_default() += 1;
            }
        }
    }

    fn row(&self) -> String {
        let mut row = format!(
            "{} sent ({:.0}/s): invalid_credentials {}, rate_limited {} ({:.1} %), other {}",
            self.sent,
            self.per_sec,
            self.invalid_credentials,
            self.rate_limited,
            percent(self.rate_limited, self.sent),
            self.other
        );
        if !self.other_kinds.is_empty() {
            row.push_str(&format!(" {:?}", self.other_kinds));
        }
        row
    }
}

/// What the login flood got, over all attacked phases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloodReport {
    /// Wrong logins with unknown usernames.
    pub logins: Answers,
    /// Password changes with wrong current passwords, one signed-in account.
    pub password_changes: Answers,
}

/// What the slow bodies got, over all attacked phases.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SlowReport {
    /// Connections opened (a place opens another once its last one ended).
    pub connections: u64,
    /// Turned away at once: `429 rate_limited` (the address's share is used).
    pub turned_away_429: u64,
    /// Turned away at once: `503 server_busy` (the node is full).
    pub turned_away_503: u64,
    /// Time from connect to the refusal.
    pub turned_away_after: Latency,
    /// Cut at the body deadline with `408 request_timeout`.
    pub cut_408: u64,
    /// Closed by the server without an answer, after their headers.
    pub closed_without_answer: u64,
    /// Time from connect to the 408 or the close.
    pub cut_after: Latency,
    /// Still waiting when their phase ended (then closed by the bench).
    pub open_at_phase_end: u64,
    /// Most slow connections held at once.
    pub peak_open: u64,
    pub connect_errors: u64,
    /// Any other answer, by status line.
    pub other_answers: BTreeMap<String, u64>,
}

/// The result of an attack run.
#[derive(Debug, Clone, Serialize)]
pub struct AttackReport {
    pub scenario: &'static str,
    pub kind: AttackKind,
    pub machine: Machine,
    pub rounds: usize,
    pub probes_per_phase: usize,
    pub phase_secs: f64,
    pub addresses: usize,
    pub per_address: usize,
    /// Accounts the probe's logins rotate over.
    pub probe_accounts: usize,
    /// What one probe does.
    pub probe: &'static str,
    pub quiet: PhaseSummary,
    pub attacked: PhaseSummary,
    /// `attacked.probe.p50_ms / quiet.probe.p50_ms`.
    pub p50_ratio: Option<f64>,
    /// `attacked.probe.p99_ms / quiet.probe.p99_ms`.
    pub p99_ratio: Option<f64>,
    pub phases: Vec<PhaseReport>,
    /// The first failed probes, as `phase: error`.
    pub failures: Vec<String>,
    pub login_flood: Option<FloodReport>,
    pub slow_bodies: Option<SlowReport>,
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn ratio(attacked: f64, quiet: f64) -> Option<f64> {
    (quiet > 0.0 && attacked > 0.0).then(|| attacked / quiet)
}

fn short(latency: &Latency) -> String {
    format!(
        "p50 {:.2}  p99 {:.2}  max {:.2} ms  (n={})",
        latency.p50_ms, latency.p99_ms, latency.max_ms, latency.count
    )
}

fn cpu(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0} %"))
}

impl AttackReport {
    pub fn table(&self) -> String {
        let first = Ipv4Addr::new(127, 0, 0, 2);
        let last = attacker_ip(self.addresses.saturating_sub(1));
        let attackers = match self.kind {
            AttackKind::LoginFlood => format!(
                "{} addresses ({first}–{last}) × {} loops of wrong logins; one account × {} loops of wrong password changes from {}",
                self.addresses,
                self.per_address,
                self.per_address,
                attacker_ip(self.addresses)
            ),
            AttackKind::SlowBodies => format!(
                "{} addresses ({first}–{last}) × {} slow-body connections = {}",
                self.addresses,
                self.per_address,
                self.addresses * self.per_address
            ),
        };
        let phase_rows: Vec<(String, String)> = self
            .phases
            .iter()
            .map(|p| {
                let kind = if p.attacked { "attacked" } else { "quiet" };
                (
                    format!("{kind} {}", p.round),
                    format!(
                        "{}  failed {}  ({:.1} s)",
                        short(&p.probe),
                        p.probe_failures,
                        p.secs
                    ),
                )
            })
            .collect();
        let mut rows = vec![
            (
                "machine",
                format!(
                    "{} cores, {:.1} GiB",
                    self.machine.cores, self.machine.memory_gib
                ),
            ),
            ("attack", attackers),
            (
                "phases",
                format!(
                    "{} quiet + {} attacked, alternating, {:.1} s each",
                    self.rounds, self.rounds, self.phase_secs
                ),
            ),
            (
                "probe",
                format!(
                    "{} per phase from 127.0.0.1, one at a time: {} ({} accounts)",
                    self.probes_per_phase, self.probe, self.probe_accounts
                ),
            ),
            (
                "quiet",
                format!(
                    "{}  failed {}",
                    short(&self.quiet.probe),
                    self.quiet.probe_failures
                ),
            ),
            (
                "attacked",
                format!(
                    "{}  failed {}",
                    short(&self.attacked.probe),
                    self.attacked.probe_failures
                ),
            ),
            (
                "attacked / quiet",
                format!(
                    "p50 ×{}  p99 ×{}",
                    self.p50_ratio
                        .map_or_else(|| "-".into(), |r| format!("{r:.2}")),
                    self.p99_ratio
                        .map_or_else(|| "-".into(), |r| format!("{r:.2}"))
                ),
            ),
            (
                "server CPU",
                format!(
                    "quiet {}, attacked {}",
                    cpu(self.quiet.server_cpu_percent),
                    cpu(self.attacked.server_cpu_percent)
                ),
            ),
            (
                "bench CPU",
                format!(
                    "quiet {}, attacked {}",
                    cpu(self.quiet.bench_cpu_percent),
                    cpu(self.attacked.bench_cpu_percent)
                ),
            ),
        ];
        for (label, value) in &phase_rows {
            rows.push((label.as_str(), value.clone()));
        }
        if let Some(flood) = &self.login_flood {
            rows.push(("wrong logins", flood.logins.row()));
            rows.push(("password changes", flood.password_changes.row()));
        }
        if let Some(slow) = &self.slow_bodies {
            rows.push(("slow connections", format!("{} opened", slow.connections)));
            rows.push((
                "turned away at once",
                format!(
                    "429 {}, 503 {} ({:.1} %), after p50 {:.2} / max {:.2} ms",
                    slow.turned_away_429,
                    slow.turned_away_503,
                    percent(
                        slow.turned_away_429 + slow.turned_away_503,
                        slow.connections
                    ),
                    slow.turned_away_after.p50_ms,
                    slow.turned_away_after.max_ms
                ),
            ));
            rows.push((
                "cut at the deadline",
                format!(
                    "408 {}, closed {}, after p50 {:.2} / max {:.2} s",
                    slow.cut_408,
                    slow.closed_without_answer,
                    slow.cut_after.p50_ms / 1000.0,
                    slow.cut_after.max_ms / 1000.0
                ),
            ));
            rows.push((
                "open at phase end",
                format!(
                    "{} (peak held at once {})",
                    slow.open_at_phase_end, slow.peak_open
                ),
            ));
            rows.push((
                "other",
                format!(
                    "connect errors {}, other answers {:?}",
                    slow.connect_errors, slow.other_answers
                ),
            ));
        }
        for failure in &self.failures {
            rows.push(("probe failure", failure.clone()));
        }
        report::table(
            &format!("natter bench attack ({})", self.kind.name()),
            &rows,
        )
    }
}

/// The attacker address number `i` (0-based): 127.0.0.(2 + i).
fn attacker_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, u8::try_from(2 + i).unwrap_or(u8::MAX))
}

/// A TCP connection to `server` from `source`.
async fn connect_from(source: Ipv4Addr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
    socket.connect(server).await
}

/// CPU seconds and wall seconds accumulated over phases of one kind.
#[derive(Default)]
struct CpuTally {
    server: Option<(f64, f64)>,
    bench: Option<(f64, f64)>,
}

impl CpuTally {
    fn add(slot: &mut Option<(f64, f64)>, before: Option<Sample>, after: Option<Sample>) {
        if let (Some(b), Some(a)) = (before, after) {
            let (cpu, wall) = slot.get_or_insert((0.0, 0.0));
            *cpu += a.cpu_secs - b.cpu_secs;
            *wall += a.at.duration_since(b.at).as_secs_f64();
        }
    }

    fn percent(slot: Option<(f64, f64)>) -> Option<f64> {
        slot.and_then(|(cpu, wall)| (wall > 0.0).then(|| cpu / wall * 100.0))
    }
}

/// Everything the probe needs.
struct Probe {
    kind: AttackKind,
    client: Client,
    usernames: Vec<String>,
    /// Slow bodies: each probe account's conversation with the friend.
    conversations: Vec<ConversationId>,
    /// Slow bodies: the friend's WebSocket, where deliveries are awaited.
    friend: Option<Connection>,
    next: usize,
}

impl Probe {
    /// One probe; its latency, or why it failed.
    async fn once(&mut self, n: u64) -> Result<Duration, String> {
        let account = self.next % self.usernames.len().max(1);
        self.next += 1;
        let username = self.usernames.get(account).cloned().unwrap_or_default();
        let started = Instant::now();
        let session = tokio::time::timeout(
            REQUEST_LIMIT,
            self.client.login(&LoginRequest {
                username,
                password: setup::PASSWORD.into(),
                device: Some("natter bench probe".into()),
            }),
        )
        .await
        .map_err(|_| "login: timed out".to_owned())?
        .map_err(|e| format!("login: {e}"))?;
        let outcome = match self.kind {
            AttackKind::LoginFlood => Ok(started.elapsed()),
            AttackKind::SlowBodies => {
                let conversation = self.conversations.get(account).copied();
                match (conversation, &self.friend) {
                    (Some(conversation), Some(friend)) => tokio::time::timeout(
                        REQUEST_LIMIT,
                        message_round_trip(&session, friend, conversation, n),
                    )
                    .await
                    .map_err(|_| "message: timed out".to_owned())
                    .and_then(|r| r)
                    .map(|()| started.elapsed()),
                    _ => Err("no friend to send to".to_owned()),
                }
            }
        };
        // Not timed: the probe's device is removed again.
        let _ = tokio::time::timeout(REQUEST_LIMIT, session.logout()).await;
        outcome
    }
}

/// Connects `session`, sends one message and waits until `friend` has it.
async fn message_round_trip(
    session: &Session,
    friend: &Connection,
    conversation: ConversationId,
    n: u64,
) -> Result<(), String> {
    let connection = session
        .connect()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let text = format!("probe {n} {}", std::process::id());
    let sent = connection.send_text(conversation, &text).await;
    connection.close().await;
    sent.map_err(|e| format!("send: {e}"))?;
    loop {
        match friend.next_event().await {
            Some(ConnectionEvent::Event(Event::Message { message })) => {
                if matches!(&message.content, MessageContent::Text { text: t } if *t == text) {
                    return Ok(());
                }
            }
            Some(_) => {}
            None => return Err("the friend's connection ended".into()),
        }
    }
}

/// Runs the attack against the cluster's first node.
pub async fn run(
    cluster: impl Into<Cluster>,
    params: &AttackParams,
) -> Result<AttackReport, BenchError> {
    let cluster: Cluster = cluster.into();
    let target = cluster.first();
    let pids = cluster.pids().to_vec();
    if params.rounds == 0 || params.probes == 0 {
        return Err(BenchError::Params(
            "--rounds and --probes must be at least 1".into(),
        ));
    }
    if params.addresses == 0 || params.per_address == 0 {
        return Err(BenchError::Params(
            "--addresses and --per-address must be at least 1".into(),
        ));
    }
    // The flood's account hammers from one address more; 127.0.0.255 is kept out.
    if params.addresses > 252 {
        return Err(BenchError::Params("--addresses must be at most 252".into()));
    }
    if params.kind == AttackKind::SlowBodies {
        let needed = (params.addresses * params.per_address) as u64 + 256;
        let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
        if limit < needed {
            return Err(BenchError::Params(format!(
                "{} slow connections need an open-file limit of {needed}; the hard limit is {limit} (raise it with ulimit -Hn)",
                params.addresses * params.per_address
            )));
        }
    }

    let client = Client::new(&target.http)?;
    let prefix = format!("{}_atk", setup::run_prefix());
    let probe_accounts = params.probes.min(MAX_PROBE_ACCOUNTS);
    // The probe's accounts, then the flood's password guesser or the friend.
    // One at a time: with rate limits on, an address may have only a few
    // password checks waiting, fewer than the setup's usual concurrency.
    let mut sessions = Vec::new();
    for i in 0..=probe_accounts {
        let prefix = format!("{prefix}{i}");
        let hidden = indicatif::ProgressBar::hidden();
        sessions.extend(setup::users(&client, &prefix, 1, &hidden).await?);
    }
    let extra = sessions
        .pop()
        .ok_or_else(|| BenchError::Refused("the accounts were not created".into()))?;
    let usernames = sessions.iter().map(|s| s.user().username.clone()).collect();
    let mut probe = Probe {
        kind: params.kind,
        client: client.clone(),
        usernames,
        conversations: Vec::new(),
        friend: None,
        next: 0,
    };
    if params.kind == AttackKind::SlowBodies {
        for session in &sessions {
            probe
                .conversations
                .push(setup::befriend(&extra, session).await?);
        }
        probe.friend = Some(extra.connect().await?);
    }
    let guesser_token = extra.token().to_owned();

    let progress = report::progress(
        (params.rounds * 2 * params.probes) as u64,
        "probes",
        params.quiet,
    );
    let (mut quiet_h, mut attacked_h) = (report::histogram(), report::histogram());
    let (mut quiet_failures, mut attacked_failures) = (0u64, 0u64);
    let (mut quiet_cpu, mut attacked_cpu) = (CpuTally::default(), CpuTally::default());
    let mut phases = Vec::new();
    let mut failures = Vec::new();
    let mut flood = FloodReport::default();
    let mut slow = SlowReport::default();
    let mut attacked_secs = 0.0;
    let (mut turned_away_h, mut cut_h) = (report::histogram(), report::histogram());
    let mut n = 0u64;

    for round in 1..=params.rounds {
        for attacked in [false, true] {
            let server_before = report::sample_all(&pids);
            let bench_before = stats::sample(std::process::id()).ok();
            let started = Instant::now();
            let attack = if attacked {
                Some(match params.kind {
                    AttackKind::LoginFlood => {
                        Attack::Flood(start_flood(target, params, &prefix, &guesser_token)?)
                    }
                    AttackKind::SlowBodies => Attack::Slow(start_slow(target, params)),
                })
            } else {
                None
            };

            let mut phase_h = report::histogram();
            let mut phase_failures = 0u64;
            let spacing = params.phase.div_f64(params.probes as f64);
            for i in 0..params.probes {
                // Evenly spread, starting half a spacing in (the attack is up by then).
                let at = started + spacing.mul_f64(i as f64 + 0.5);
                tokio::time::sleep_until(at.into()).await;
                n += 1;
                match probe.once(n).await {
                    Ok(took) => {
                        let _ = phase_h.record(took.as_micros().max(1) as u64);
                    }
                    Err(error) => {
                        phase_failures += 1;
                        if failures.len() < FAILURES_KEPT {
                            let name = if attacked { "attacked" } else { "quiet" };
                            failures.push(format!("{name} {round}: {error}"));
                        }
                    }
                }
                progress.inc(1);
            }
            tokio::time::sleep_until((started + params.phase).into()).await;
            let secs = started.elapsed().as_secs_f64();

            match attack {
                Some(Attack::Flood(running)) => {
                    let (logins, changes) = running.stop().await;
                    flood.logins.add(logins);
                    flood.password_changes.add(changes);
                }
                Some(Attack::Slow(running)) => {
                    let (counts, peak) = running.stop().await;
                    slow.connections += counts.connections;
                    slow.turned_away_429 += counts.turned_away_429;
                    slow.turned_away_503 += counts.turned_away_503;
                    slow.cut_408 += counts.cut_408;
                    slow.closed_without_answer += counts.closed_without_answer;
                    slow.open_at_phase_end += counts.open_at_end;
                    slow.connect_errors += counts.connect_errors;
                    slow.peak_open = slow.peak_open.max(peak);
                    for (k, v) in counts.other_answers {
                        *slow.other_answers.entry(k).or_default() += v;
                    }
                    let _ = turned_away_h.add(&counts.turned_away_after);
                    let _ = cut_h.add(&counts.cut_after);
                }
                None => {}
            }
            if attacked {
                attacked_secs += started.elapsed().as_secs_f64();
            }

            let server_after = report::sample_all(&pids);
            let bench_after = stats::sample(std::process::id()).ok();
            let server_cpu = match (&server_before, &server_after) {
                (Some(b), Some(a)) => Some(stats::cpu_percent(b, a)),
                _ => None,
            };
            let (histogram, failed, tally) = if attacked {
                (&mut attacked_h, &mut attacked_failures, &mut attacked_cpu)
            } else {
                (&mut quiet_h, &mut quiet_failures, &mut quiet_cpu)
            };
            let _ = histogram.add(&phase_h);
            *failed += phase_failures;
            CpuTally::add(&mut tally.server, server_before, server_after);
            CpuTally::add(&mut tally.bench, bench_before, bench_after);
            phases.push(PhaseReport {
                attacked,
                round,
                secs,
                probe: Latency::from_histogram(&phase_h),
                probe_failures: phase_failures,
                server_cpu_percent: server_cpu,
            });
        }
    }
    progress.finish_and_clear();
    if let Some(friend) = &probe.friend {
        friend.close().await;
    }

    let summary = |h: &Histogram<u64>, failures: u64, tally: &CpuTally| PhaseSummary {
        probe: Latency::from_histogram(h),
        probe_failures: failures,
        server_cpu_percent: CpuTally::percent(tally.server),
        bench_cpu_percent: CpuTally::percent(tally.bench),
    };
    let quiet = summary(&quiet_h, quiet_failures, &quiet_cpu);
    let attacked = summary(&attacked_h, attacked_failures, &attacked_cpu);
    let (login_flood, slow_bodies) = match params.kind {
        AttackKind::LoginFlood => {
            if attacked_secs > 0.0 {
                flood.logins.per_sec = flood.logins.sent as f64 / attacked_secs;
                flood.password_changes.per_sec = flood.password_changes.sent as f64 / attacked_secs;
            }
            (Some(flood), None)
        }
        AttackKind::SlowBodies => {
            slow.turned_away_after = Latency::from_histogram(&turned_away_h);
            slow.cut_after = Latency::from_histogram(&cut_h);
            (None, Some(slow))
        }
    };
    Ok(AttackReport {
        scenario: "attack",
        kind: params.kind,
        machine: Machine::here(),
        rounds: params.rounds,
        probes_per_phase: params.probes,
        phase_secs: params.phase.as_secs_f64(),
        addresses: params.addresses,
        per_address: params.per_address,
        probe_accounts,
        probe: params.kind.probe(),
        p50_ratio: ratio(attacked.probe.p50_ms, quiet.probe.p50_ms),
        p99_ratio: ratio(attacked.probe.p99_ms, quiet.probe.p99_ms),
        quiet,
        attacked,
        phases,
        failures,
        login_flood,
        slow_bodies,
    })
}

/// An attack in progress.
enum Attack {
    Flood(RunningFlood),
    Slow(RunningSlow),
}

// ---- login flood ----

struct RunningFlood {
    stop: Arc<AtomicBool>,
    logins: Vec<JoinHandle<Answers>>,
    changes: Vec<JoinHandle<Answers>>,
}

impl RunningFlood {
    /// Stops the loops after their request in flight; returns what they got.
    async fn stop(self) -> (Answers, Answers) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
        let mut out = (Answers::default(), Answers::default());
        for (tasks, total) in [(self.logins, &mut out.0), (self.changes, &mut out.1)] {
            for mut task in tasks {
                match tokio::time::timeout_at(deadline, &mut task).await {
                    Ok(Ok(answers)) => total.add(answers),
                    Ok(Err(_)) => {}
                    Err(_) => task.abort(),
                }
            }
        }
        out
    }
}

/// An HTTP client whose connections come from `source`.
fn http_from(source: Ipv4Addr, connections: usize) -> Result<reqwest::Client, BenchError> {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .timeout(REQUEST_LIMIT)
        .pool_max_idle_per_host(connections)
        .build()
        .map_err(|e| BenchError::Params(format!("HTTP client for {source}: {e}")))
}

fn start_flood(
    target: &Target,
    params: &AttackParams,
    prefix: &str,
    token: &str,
) -> Result<RunningFlood, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let login_url = format!("{}{}", target.http, accounts::LOGIN.fill(&[]));
    let password_url = format!("{}{}", target.http, accounts::CHANGE_PASSWORD.fill(&[]));
    let mut logins = Vec::new();
    for address in 0..params.addresses {
        let http = http_from(attacker_ip(address), params.per_address)?;
        for lane in 0..params.per_address {
            let (http, url, stop) = (http.clone(), login_url.clone(), stop.clone());
            let name = format!("{prefix}u{address}l{lane}n");
            logins.push(tokio::spawn(async move {
                let mut i = 0u64;
                flood_loop(&stop, || {
                    i += 1;
                    http.post(&url).json(&LoginRequest {
                        username: format!("{name}{i}"),
                        password: "not the password".into(),
                        device: None,
                    })
                })
                .await
            }));
        }
    }
    let http = http_from(attacker_ip(params.addresses), params.per_address)?;
    let mut changes = Vec::new();
    for _ in 0..params.per_address {
        let (http, url, stop, token) = (
            http.clone(),
            password_url.clone(),
            stop.clone(),
            token.to_owned(),
        );
        changes.push(tokio::spawn(async move {
            flood_loop(&stop, || {
                http.post(&url)
                    .bearer_auth(&token)
                    .json(&ChangePasswordRequest {
                        old_password: "a wrong guess".into(),
                        new_password: "an entirely new passphrase".into(),
                    })
            })
            .await
        }));
    }
    Ok(RunningFlood {
        stop,
        logins,
        changes,
    })
}

/// Sends requests one after another until `stop`, counting the answers.
async fn flood_loop(
    stop: &AtomicBool,
    mut request: impl FnMut() -> reqwest::RequestBuilder,
) -> Answers {
    let mut answers = Answers::default();
    while !stop.load(Ordering::Relaxed) {
        let answer = match request().send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                match body.get("code").and_then(|c| c.as_str()) {
                    Some(code) => code.to_owned(),
                    None => format!("http {status}"),
                }
            }
            Err(_) => {
                // A refused or reset connection: do not spin on it.
                tokio::time::sleep(Duration::from_millis(10)).await;
                "transport".to_owned()
            }
        };
        answers.record(&answer);
    }
    answers
}

// ---- slow bodies ----

/// What one place of slow connections saw.
struct SlowCounts {
    connections: u64,
    turned_away_429: u64,
    turned_away_503: u64,
    turned_away_after: Histogram<u64>,
    cut_408: u64,
    closed_without_answer: u64,
    cut_after: Histogram<u64>,
    open_at_end: u64,
    connect_errors: u64,
    other_answers: BTreeMap<String, u64>,
}

impl SlowCounts {
    fn new() -> SlowCounts {
        SlowCounts {
            connections: 0,
            turned_away_429: 0,
            turned_away_503: 0,
            turned_away_after: report::histogram(),
            cut_408: 0,
            closed_without_answer: 0,
            cut_after: report::histogram(),
            open_at_end: 0,
            connect_errors: 0,
            other_answers: BTreeMap::new(),
        }
    }

    fn add(&mut self, other: SlowCounts) {
        self.connections += other.connections;
        self.turned_away_429 += other.turned_away_429;
        self.turned_away_503 += other.turned_away_503;
        let _ = self.turned_away_after.add(&other.turned_away_after);
        self.cut_408 += other.cut_408;
        self.closed_without_answer += other.closed_without_answer;
        let _ = self.cut_after.add(&other.cut_after);
        self.open_at_end += other.open_at_end;
        self.connect_errors += other.connect_errors;
        for (k, v) in other.other_answers {
            *self.other_answers.entry(k).or_default() += v;
        }
    }
}

/// Slow connections held open now, and the most at once.
#[derive(Default)]
struct Gauge {
    now: AtomicU64,
    peak: AtomicU64,
}

impl Gauge {
    fn up(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn down(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

struct RunningSlow {
    stop: watch::Sender<bool>,
    places: Vec<JoinHandle<SlowCounts>>,
    gauge: Arc<Gauge>,
}

impl RunningSlow {
    /// Closes every slow connection; returns what they got and the peak.
    async fn stop(self) -> (SlowCounts, u64) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
        let mut total = SlowCounts::new();
        for mut place in self.places {
            match tokio::time::timeout_at(deadline, &mut place).await {
                Ok(Ok(counts)) => total.add(counts),
                Ok(Err(_)) => {}
                Err(_) => place.abort(),
            }
        }
        (total, self.gauge.peak.load(Ordering::Relaxed))
    }
}

fn start_slow(target: &Target, params: &AttackParams) -> RunningSlow {
    let (stop, stopped) = watch::channel(false);
    let gauge = Arc::new(Gauge::default());
    let mut places = Vec::new();
    for address in 0..params.addresses {
        for _ in 0..params.per_address {
            places.push(tokio::spawn(slow_place(
                target.addr,
                attacker_ip(address),
                stopped.clone(),
                gauge.clone(),
            )));
        }
    }
    RunningSlow {
        stop,
        places,
        gauge,
    }
}

/// How one slow connection ended.
enum SlowEnd {
    /// The server answered; its status code and when.
    Answered(String, Duration),
    /// The server closed without answering.
    Closed(Duration),
    /// The phase ended first.
    Stopped,
}

/// One place: a slow connection, and when it ends, after a pause, the next.
async fn slow_place(
    server: SocketAddr,
    source: Ipv4Addr,
    mut stop: watch::Receiver<bool>,
    gauge: Arc<Gauge>,
) -> SlowCounts {
    let mut counts = SlowCounts::new();
    loop {
        let connected = tokio::select! {
            connected = tokio::time::timeout(REQUEST_LIMIT, connect_from(source, server)) => connected,
            () = stopped(&mut stop) => break,
        };
        let stream = match connected {
            Ok(Ok(stream)) => stream,
            _ => {
                counts.connect_errors += 1;
                if pause_or_stop(&mut stop).await {
                    break;
                }
                continue;
            }
        };
        counts.connections += 1;
        gauge.up();
        let end = dribble(stream, &mut stop).await;
        gauge.down();
        match end {
            SlowEnd::Stopped => {
                counts.open_at_end += 1;
                break;
            }
            SlowEnd::Closed(after) => {
                counts.closed_without_answer += 1;
                let _ = counts.cut_after.record(after.as_micros().max(1) as u64);
            }
            SlowEnd::Answered(status, after) => {
                let us = after.as_micros().max(1) as u64;
                match status.as_str() {
                    "429" => {
                        counts.turned_away_429 += 1;
                        let _ = counts.turned_away_after.record(us);
                    }
                    "503" => {
                        counts.turned_away_503 += 1;
                        let _ = counts.turned_away_after.record(us);
                    }
                    "408" => {
                        counts.cut_408 += 1;
                        let _ = counts.cut_after.record(us);
                    }
                    other => *counts.other_answers.entry(other.to_owned()).or_default() += 1,
                }
            }
        }
        if pause_or_stop(&mut stop).await {
            break;
        }
    }
    counts
}

/// Returns once the phase has ended.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard it returns must not be held: it is not `Send`.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Waits [`DRIP_INTERVAL`]; `true` if the phase ended meanwhile.
async fn pause_or_stop(stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(DRIP_INTERVAL) => false,
        () = stopped(stop) => true,
    }
}

/// Sends complete headers announcing a [`SLOW_BODY_BYTES`] body, then one
/// byte of it every [`DRIP_INTERVAL`], until the server answers or closes, or
/// the phase ends.
async fn dribble(mut stream: TcpStream, stop: &mut watch::Receiver<bool>) -> SlowEnd {
    let started = Instant::now();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: natter\r\nContent-Type: application/json\r\n\
         Content-Length: {SLOW_BODY_BYTES}\r\n\r\n",
        accounts::LOGIN.path
    );
    // A refused connection may be closed before the headers are written; its
    // answer is still there to read.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut raw = Vec::new();
    let mut buffer = [0u8; 512];
    let first = tokio::time::Instant::now() + DRIP_INTERVAL;
    let mut tick = tokio::time::interval_at(first, DRIP_INTERVAL);
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    raw.extend_from_slice(buffer.get(..n).unwrap_or_default());
                    if raw.windows(2).any(|w| w == b"\r\n") || raw.len() > 256 {
                        break;
                    }
                }
            },
            _ = tick.tick() => {
                // The server may have stopped reading; its answer is what counts.
                let _ = stream.write_all(b" ").await;
            }
            () = stopped(stop) => return SlowEnd::Stopped,
        }
    }
    let after = started.elapsed();
    if raw.is_empty() {
        return SlowEnd::Closed(after);
    }
    // "HTTP/1.1 429 Too Many Requests": the status is the second word.
    let line = String::from_utf8_lossy(&raw);
    let status = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("unparsable")
        .to_owned();
    SlowEnd::Answered(status, after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_code() {
        let mut a = Answers::default();
        for code in [
            "invalid_credentials",
            "rate_limited",
            "rate_limited",
            "http 500",
        ] {
            a.record(code);
        }
        assert_eq!(
            (a.sent, a.invalid_credentials, a.rate_limited, a.other),
            (4, 1, 2, 1)
        );
        assert_eq!(a.other_kinds.get("http 500"), Some(&1));
        assert_eq!(attacker_ip(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(ratio(20.0, 10.0), Some(2.0));
        assert_eq!(ratio(20.0, 0.0), None);
    }
}
