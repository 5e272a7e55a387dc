//! Fixtures: an in-process fake server. The WebSocket side is a peer the
//! test drives frame by frame; the HTTP side is a fake [`Catchup`] holding
//! timelines and a user change stream.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_protocol::accounts::UserProfile;
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Message, MessageContent, MessagePage,
};
use natter_protocol::sync::{SyncResponse, UserChange, UserEvent};
use natter_protocol::ws::{ClientFrame, ClientRequest, Event, ServerFrame};
use natter_protocol::{ConversationId, DeviceId, ErrorCode, Seq, SyncCursor, Timestamp, UserId};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;

use crate::error::{ClientError, Result};
use crate::realtime::sequencer::Catchup;
use crate::realtime::{ConnectOptions, Connection, ConnectionEvent};

pub(super) const C: ConversationId = ConversationId(3);
pub(super) const D: ConversationId = ConversationId(4);
pub(super) const WAIT: Duration = Duration::from_secs(5);

pub(super) fn message(conversation: ConversationId, seq: i64) -> Message {
    Message {
        conversation_id: conversation,
        seq: Seq(seq),
        sender_id: UserId(7),
        client_msg_id: None,
        sent_at: Timestamp(seq),
        content: MessageContent::Text {
            text: format!("#{seq}"),
        },
        reply_to: None,
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    }
}

pub(super) fn summary(id: ConversationId, last_seq: i64) -> ConversationSummary {
    ConversationSummary {
        id,
        kind: ConversationKind::Group,
        name: format!("c{id}"),
        peer: None,
        announcement: None,
        member_count: 2,
        my_role: None,
        last_seq: Seq(last_seq),
        read_seq: Seq(0),
        unread: 0,
        last_message: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

pub(super) fn user_event(cursor: i64) -> UserEvent {
    UserEvent {
        cursor: SyncCursor(cursor),
        at: Timestamp(cursor),
        change: UserChange::ProfileUpdated {
            display_name: format!("name {cursor}"),
        },
    }
}

/// The HTTP side of the fake server: timelines, a user change stream, and
/// failures to inject.
#[derive(Clone, Default)]
pub(super) struct Fake(pub(super) Arc<FakeState>);

#[derive(Default)]
pub(super) struct FakeState {
    pub(super) timelines: Mutex<BTreeMap<ConversationId, i64>>,
    pub(super) user_events: Mutex<Vec<UserEvent>>,
    pub(super) history_failures: AtomicU32,
    pub(super) too_far_behind: AtomicBool,
}

impl Fake {
    pub(super) fn set_last_seq(&self, id: ConversationId, last_seq: i64) {
        self.0.timelines.lock().expect("lock").insert(id, last_seq);
    }

    pub(super) fn add_user_event(&self, cursor: i64) {
        self.0
            .user_events
            .lock()
            .expect("lock")
            .push(user_event(cursor));
    }
}

impl Catchup for Fake {
    async fn sync(&self, since: SyncCursor) -> Result<SyncResponse> {
        if since.0 != 0 && self.0.too_far_behind.load(Ordering::SeqCst) {
            return Err(ClientError::Api {
                status: 409,
                code: ErrorCode::TooFarBehind,
                message: "too old".into(),
                retry_after_ms: None,
                reason: None,
            });
        }
        let events: Vec<UserEvent> = self
            .0
            .user_events
            .lock()
            .expect("lock")
            .iter()
            .filter(|e| e.cursor > since)
            .cloned()
            .collect();
        let cursor = self
            .0
            .user_events
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.cursor)
            .max()
            .unwrap_or(SyncCursor(1));
        let conversations = self
            .0
            .timelines
            .lock()
            .expect("lock")
            .iter()
            .map(|(id, last)| summary(*id, *last))
            .collect();
        Ok(SyncResponse {
            cursor,
            reset: since.0 == 0,
            has_more: false,
            events,
            conversations,
        })
    }

    async fn history(&self, id: ConversationId, query: HistoryQuery) -> Result<MessagePage> {
        let failures = &self.0.history_failures;
        if failures.load(Ordering::SeqCst) > 0 {
            failures.fetch_sub(1, Ordering::SeqCst);
            return Err(ClientError::Transport("injected".into()));
        }
        let last = self
            .0
            .timelines
            .lock()
            .expect("lock")
            .get(&id)
            .copied()
            .unwrap_or(0);
        let after = query.after.unwrap_or_default().0;
        // Small pages, so that paging is exercised too.
        let end = last.min(after + 2);
        let messages = (after + 1..=end).map(|seq| message(id, seq)).collect();
        Ok(MessagePage {
            messages,
            has_more: end < last,
        })
    }
}

/// The WebSocket side of the fake server.
pub(super) struct FakeServer {
    listener: TcpListener,
    pub(super) url: String,
}

/// One accepted, authenticated socket.
pub(super) struct Peer {
    pub(super) ws: WebSocketStream<TcpStream>,
}

impl FakeServer {
    pub(super) async fn start() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!(
            "ws://{}/api/v1/ws",
            listener.local_addr().expect("has an address")
        );
        FakeServer { listener, url }
    }

    /// Accepts a socket and returns it with the client's first frame.
    pub(super) async fn accept_raw(&self) -> (WebSocketStream<TcpStream>, ClientFrame) {
        let (stream, _) = self.listener.accept().await.expect("accepts");
        let mut ws = tokio_tungstenite::accept_async(stream)
            .await
            .expect("handshake");
        let first = recv_frame(&mut ws).await;
        (ws, first)
    }

    /// Accepts a socket and authenticates it.
    pub(super) async fn accept(&self) -> Peer {
        let (ws, first) = self.accept_raw().await;
        assert!(
            matches!(first.request, ClientRequest::Auth { ref token } if token.as_str() == "tok"),
            "{first:?}"
        );
        let mut peer = Peer { ws };
        peer.send(ServerFrame::AuthOk {
            id: first.id,
            user: UserProfile {
                id: UserId(7),
                username: "alice".into(),
                display_name: "Alice".into(),
                created_at: Timestamp(0),
            },
            device_id: DeviceId(1),
            protocol: natter_protocol::PROTOCOL_VERSION,
            server_time: Timestamp(0),
        })
        .await;
        peer
    }

    /// Connects a client, serving its first socket.
    pub(super) async fn connect(&self, fake: &Fake, options: ConnectOptions) -> (Connection, Peer) {
        let (connection, peer) = tokio::join!(
            Connection::start(self.url.clone(), "tok".into(), fake.clone(), options),
            self.accept()
        );
        (connection.expect("connects"), peer)
    }
}

pub(super) async fn recv_frame(ws: &mut WebSocketStream<TcpStream>) -> ClientFrame {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(WsMessage::Text(text))) => {
                return serde_json::from_str(text.as_str()).expect("a client frame");
            }
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

impl Peer {
    pub(super) async fn recv(&mut self) -> ClientFrame {
        recv_frame(&mut self.ws).await
    }

    pub(super) async fn send(&mut self, frame: ServerFrame) {
        let text = serde_json::to_string(&frame).expect("serializes");
        self.ws.send(WsMessage::text(text)).await.expect("sends");
    }

    pub(super) async fn push(&mut self, message: Message) {
        self.send(ServerFrame::Event {
            event: Event::Message { message },
        })
        .await;
    }

    pub(super) async fn close(mut self, code: u16) {
        let frame = CloseFrame {
            code: code.into(),
            reason: format!("closing {code}").into(),
        };
        // The client may already be gone; the test checks the client's side.
        let _ = self.ws.close(Some(frame)).await;
    }
}

/// Quick retries, and gaps filled at once (the reorder window has tests of
/// its own).
pub(super) fn fast() -> ConnectOptions {
    ConnectOptions {
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(20),
        reorder_window: Duration::ZERO,
        ..ConnectOptions::default()
    }
}

pub(super) async fn next(connection: &Connection) -> ConnectionEvent {
    connection
        .next_event_timeout(WAIT)
        .await
        .expect("an event in time")
        .expect("the stream goes on")
}

/// The next event, which must be a message; returns `(conversation, seq)`.
pub(super) async fn next_message(connection: &Connection) -> (ConversationId, i64) {
    match next(connection).await {
        ConnectionEvent::Event(Event::Message { message }) => {
            (message.conversation_id, message.seq.0)
        }
        other => panic!("expected a message, got {other:?}"),
    }
}
