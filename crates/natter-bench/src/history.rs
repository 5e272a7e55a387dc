//! `natter bench history`: fill one conversation with M messages (through
//! the protocol, many sockets pipelining sends), then read it in pages of 50
//! over the WebSocket: backwards from the end, and at random positions.
//! Reports the page latency.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use natter_client::protocol::conversations::{
    HistoryQuery, MessageContent, MessagePage, SendMessageRequest,
};
use natter_client::protocol::ws::{ClientRequest, ServerFrame};
use natter_client::protocol::{ClientMsgId, ConversationId, Seq};
use serde::Serialize;

use crate::error::BenchError;
use crate::report::{self, Latency, Machine};
use crate::setup;
use crate::wire::{self, Sources, Target, Ws};

/// Sends in flight per filling socket.
const WINDOW: usize = 64;

/// Parameters of the history scenario.
#[derive(Debug, Clone)]
pub struct HistoryParams {
    /// Messages in the conversation.
    pub messages: u64,
    /// Pages read in each pattern (backwards, random).
    pub pages: u64,
    pub page_size: u32,
    /// Sockets filling the conversation in parallel.
    pub fill_sockets: usize,
    pub source_ips: u8,
    pub quiet: bool,
}

/// The result of a history run.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub scenario: &'static str,
    pub machine: Machine,
    pub messages: u64,
    pub fill_seconds: f64,
    pub fill_per_sec: f64,
    pub page_size: u32,
    /// Pages walking back from the newest message.
    pub backwards: Latency,
    /// Pages ending at random positions.
    pub random: Latency,
}

impl HistoryReport {
    pub fn table(&self) -> String {
        report::table(
            "natter bench history",
            &[
                (
                    "machine",
                    format!(
                        "{} cores, {:.1} GiB",
                        self.machine.cores, self.machine.memory_gib
                    ),
                ),
                ("conversation length", self.messages.to_string()),
                (
                    "fill",
                    format!(
                        "{:.1} s ({:.0} msgs/s stored)",
                        self.fill_seconds, self.fill_per_sec
                    ),
                ),
                ("page size", self.page_size.to_string()),
                ("pages backwards", self.backwards.row()),
                ("pages at random", self.random.row()),
            ],
        )
    }
}

fn socket_err(e: impl ToString) -> BenchError {
    BenchError::Socket(e.to_string())
}

/// Sends `count` messages on one socket, `WINDOW` at a time.
async fn fill(
    mut ws: Ws,
    conversation: ConversationId,
    first: u64,
    count: u64,
    bar: indicatif::ProgressBar,
) -> Result<(), BenchError> {
    let mut next = 0u64;
    let mut in_flight = 0usize;
    let mut done = 0u64;
    let send = |n: u64| {
        wire::frame(
            Some(n + 1),
            ClientRequest::Send {
                conversation_id: conversation,
                message: SendMessageRequest {
                    client_msg_id: ClientMsgId(format!("h{}", first + n)),
                    content: MessageContent::Text {
                        text: format!(
                            "history message {} with some ordinary chat text in it",
                            first + n
                        ),
                    },
                    reply_to: None,
                },
            },
        )
    };
    while done < count {
        while in_flight < WINDOW && next < count {
            ws.feed(send(next)).await.map_err(socket_err)?;
            next += 1;
            in_flight += 1;
        }
        ws.flush().await.map_err(socket_err)?;
        let frame = ws
            .next()
            .await
            .ok_or_else(|| BenchError::Socket("closed while filling".into()))?
            .map_err(socket_err)?;
        match wire::parse(&frame) {
            Some(ServerFrame::Reply { .. }) => {
                in_flight -= 1;
                done += 1;
                bar.inc(1);
            }
            Some(ServerFrame::Error { code, message, .. }) => {
                return Err(BenchError::Refused(format!("{code}: {message}")));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn page(
    ws: &mut Ws,
    id: u64,
    conversation: ConversationId,
    before: Option<Seq>,
    limit: u32,
) -> Result<(MessagePage, Duration), BenchError> {
    let started = Instant::now();
    ws.send(wire::frame(
        Some(id),
        ClientRequest::History {
            conversation_id: conversation,
            query: HistoryQuery {
                before,
                after: None,
                limit: Some(limit),
            },
        },
    ))
    .await
    .map_err(socket_err)?;
    loop {
        let frame = ws
            .next()
            .await
            .ok_or_else(|| BenchError::Socket("closed while paging".into()))?
            .map_err(socket_err)?;
        match wire::parse(&frame) {
            Some(ServerFrame::Reply { id: got, result }) if got == id => {
                let elapsed = started.elapsed();
                let page: MessagePage = serde_json::from_value(result)
                    .map_err(|e| BenchError::Socket(format!("history reply: {e}")))?;
                return Ok((page, elapsed));
            }
            Some(ServerFrame::Error { code, message, .. }) => {
                return Err(BenchError::Refused(format!("{code}: {message}")));
            }
            _ => {}
        }
    }
}

/// Runs the history scenario.
pub async fn run(target: &Target, params: &HistoryParams) -> Result<HistoryReport, BenchError> {
    if params.messages == 0 || params.pages == 0 {
        return Err(BenchError::Params(
            "--messages and --pages must be at least 1".into(),
        ));
    }
    let client = natter_client::Client::new(&target.http)?;
    let prefix = setup::run_prefix();
    let bar = report::progress(2, "creating users", params.quiet);
    let sessions = setup::users(&client, &prefix, 2, &bar).await?;
    let conversation = setup::befriend(&sessions[0], &sessions[1]).await?;
    let sources = Sources::new(1, params.source_ips);

    bar.set_message("filling the conversation");
    bar.set_length(params.messages);
    bar.set_position(0);
    let sockets = params.fill_sockets.max(1) as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..sockets {
        let share = params.messages / sockets + u64::from(s < params.messages % sockets);
        let first = (0..s)
            .map(|k| params.messages / sockets + u64::from(k < params.messages % sockets))
            .sum();
        let ws = wire::open(
            target,
            sources.next(),
            sessions[0].token(),
            Duration::from_secs(30),
        )
        .await?;
        tasks.push(tokio::spawn(fill(
            ws,
            conversation,
            first,
            share,
            bar.clone(),
        )));
    }
    for task in tasks {
        task.await
            .map_err(|e| BenchError::Socket(e.to_string()))??;
    }
    let fill_seconds = started.elapsed().as_secs_f64();

    bar.set_message("reading pages");
    bar.set_length(params.pages * 2);
    bar.set_position(0);
    let mut reader = wire::open(
        target,
        sources.next(),
        sessions[1].token(),
        Duration::from_secs(30),
    )
    .await?;
    let mut backwards = report::histogram();
    let mut before = None;
    let mut id = 1;
    for _ in 0..params.pages {
        let (got, elapsed) = page(&mut reader, id, conversation, before, params.page_size).await?;
        id += 1;
        let _ = backwards.record(elapsed.as_micros().max(1) as u64);
        bar.inc(1);
        before = match got.messages.first() {
            Some(first) if got.has_more => Some(first.seq),
            _ => None,
        };
    }
    let mut random = report::histogram();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ started.elapsed().as_nanos() as u64;
    for _ in 0..params.pages {
        // xorshift64: enough to scatter positions over the conversation.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let before = Seq(1 + (state % params.messages) as i64 + 1);
        let (_, elapsed) = page(
            &mut reader,
            id,
            conversation,
            Some(before),
            params.page_size,
        )
        .await?;
        id += 1;
        let _ = random.record(elapsed.as_micros().max(1) as u64);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(HistoryReport {
        scenario: "history",
        machine: Machine::here(),
        messages: params.messages,
        fill_seconds,
        fill_per_sec: params.messages as f64 / fill_seconds.max(1e-9),
        page_size: params.page_size,
        backwards: Latency::from_histogram(&backwards),
        random: Latency::from_histogram(&random),
    })
}
