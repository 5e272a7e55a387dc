//! The connection against an in-process fake server (see [`fake`]).

mod fake;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::SinkExt;
use futures_util::StreamExt;
use natter_protocol::conversations::SendMessageResponse;
use natter_protocol::ws::{ClientRequest, Event, ServerFrame};
use natter_protocol::{ErrorCode, Seq, SyncCursor};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;

use super::{ConnectOptions, Connection, ConnectionEvent};
use crate::error::ClientError;
use fake::{C, D, Fake, FakeServer, WAIT, fast, message, next, next_message, user_event};

#[tokio::test]
async fn live_messages_start_from_now_without_duplicates_or_gaps() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 3);
    fake.add_user_event(5);
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    assert_eq!(connection.cursor(), SyncCursor(5));
    assert_eq!(connection.known_seqs(), HashMap::from([(C, Seq(3))]));

    peer.push(message(C, 3)).await; // before the connection: not delivered
    peer.push(message(C, 4)).await;
    peer.push(message(C, 4)).await; // duplicate
    fake.set_last_seq(C, 8);
    peer.push(message(C, 8)).await; // gap: 5..7 are fetched first
    peer.push(message(C, 6)).await; // already delivered by the fill
    peer.push(message(D, 1)).await; // a conversation new to the connection
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(next_message(&connection).await);
    }
    assert_eq!(got, [(C, 4), (C, 5), (C, 6), (C, 7), (C, 8), (D, 1)]);
    assert_eq!(
        connection.known_seqs(),
        HashMap::from([(C, Seq(8)), (D, Seq(1))])
    );
    assert_eq!(
        connection.cursor(),
        SyncCursor(5),
        "live events never move the cursor"
    );
}

#[tokio::test]
async fn messages_that_overtook_others_wait_for_them_instead_of_fetching() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 3);
    let options = ConnectOptions {
        reorder_window: std::time::Duration::from_secs(5),
        ..fast()
    };
    let (connection, mut peer) = server.connect(&fake, options).await;
    fake.set_last_seq(C, 8);
    // Live events in the order concurrent commits published them.
    for seq in [4, 6, 8, 5, 7] {
        peer.push(message(C, seq)).await;
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_message(&connection).await);
    }
    assert_eq!(got, [(C, 4), (C, 5), (C, 6), (C, 7), (C, 8)]);
    assert_eq!(
        connection.gap_fills(),
        0,
        "nothing was missing, nothing fetched"
    );
}

#[tokio::test]
async fn a_message_that_never_comes_is_fetched_once_the_window_passes() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 3);
    let options = ConnectOptions {
        reorder_window: std::time::Duration::from_millis(50),
        ..fast()
    };
    let (connection, mut peer) = server.connect(&fake, options).await;
    fake.set_last_seq(C, 7);
    // 5 is lost on the way; 4, 6 and 7 arrive (6 and 7 before 4).
    for seq in [6, 7, 4] {
        peer.push(message(C, seq)).await;
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_message(&connection).await);
    }
    assert_eq!(got, [(C, 4), (C, 5), (C, 6), (C, 7)]);
    assert_eq!(connection.gap_fills(), 1);
}

#[tokio::test]
async fn a_reconnect_catches_up_in_order_and_skips_what_was_delivered() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 2);
    fake.add_user_event(5);
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    fake.add_user_event(6);
    peer.send(ServerFrame::Event {
        event: Event::User {
            event: user_event(6),
        },
    })
    .await;
    assert!(
        matches!(next(&connection).await, ConnectionEvent::Event(Event::User { event }) if event.cursor == SyncCursor(6))
    );

    peer.close(natter_protocol::ws::close::GOING_AWAY).await;
    assert_eq!(
        next(&connection).await,
        ConnectionEvent::Disconnected { code: Some(1001) }
    );
    // Meanwhile: new messages in C, a new conversation D, one more user event.
    fake.set_last_seq(C, 5);
    fake.set_last_seq(D, 1);
    fake.add_user_event(7);
    let _peer = server.accept().await;
    assert_eq!(next(&connection).await, ConnectionEvent::Reconnected);
    match next(&connection).await {
        ConnectionEvent::Event(Event::User { event }) => {
            assert_eq!(event.cursor, SyncCursor(7), "6 came live already")
        }
        other => panic!("expected a user event, got {other:?}"),
    }
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_message(&connection).await);
    }
    assert_eq!(got, [(C, 3), (C, 4), (C, 5), (D, 1)]);
    assert_eq!(connection.cursor(), SyncCursor(7));
}

#[tokio::test]
async fn a_send_survives_a_drop_with_the_same_client_msg_id() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    let connection = Arc::new(connection);
    let sending = tokio::spawn({
        let connection = connection.clone();
        async move { connection.send_text(C, "hi").await }
    });
    let first = peer.recv().await;
    let ClientRequest::Send {
        message: ref sent, ..
    } = first.request
    else {
        panic!("expected a send: {first:?}")
    };
    let client_msg_id = sent.client_msg_id.clone();
    peer.close(1011).await;

    let mut peer = server.accept().await;
    let again = peer.recv().await;
    let ClientRequest::Send {
        message: ref resent,
        ..
    } = again.request
    else {
        panic!("expected a send: {again:?}")
    };
    assert_eq!(
        resent.client_msg_id, client_msg_id,
        "the same idempotency key"
    );
    let mut stored = message(C, 1);
    stored.client_msg_id = Some(client_msg_id.clone());
    let result = serde_json::to_value(SendMessageResponse {
        message: stored.clone(),
    })
    .expect("serializes");
    peer.send(ServerFrame::Reply {
        id: again.id.expect("has an id"),
        result,
    })
    .await;

    let acked = sending.await.expect("joins").expect("the send succeeds");
    assert_eq!(acked, stored);
    assert_eq!(
        next(&connection).await,
        ConnectionEvent::Disconnected { code: Some(1011) }
    );
    assert_eq!(next(&connection).await, ConnectionEvent::Reconnected);
}

#[tokio::test]
async fn other_requests_fail_when_the_socket_drops_and_errors_keep_their_code() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    let connection = Arc::new(connection);

    let reading = tokio::spawn({
        let connection = connection.clone();
        async move { connection.mark_read(C, Seq(1)).await }
    });
    let frame = peer.recv().await;
    peer.send(ServerFrame::Error {
        id: frame.id,
        code: ErrorCode::NotFound,
        message: "no such conversation".into(),
        retry_after_ms: None,
        reason: None,
    })
    .await;
    let err = reading.await.expect("joins").expect_err("refused");
    assert_eq!(
        (err.code(), err.status()),
        (Some(ErrorCode::NotFound), Some(404))
    );

    let typing = tokio::spawn({
        let connection = connection.clone();
        async move { connection.typing(C).await }
    });
    let frame = peer.recv().await;
    assert!(
        matches!(frame.request, ClientRequest::Typing { conversation_id: C }),
        "{frame:?}"
    );
    peer.close(1011).await;
    assert_eq!(typing.await.expect("joins"), Err(ClientError::Disconnected));
}

#[tokio::test]
async fn revocation_ends_the_connection_for_good() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    let connection = Arc::new(connection);
    let sending = tokio::spawn({
        let connection = connection.clone();
        async move { connection.send_text(C, "hi").await }
    });
    peer.recv().await;
    peer.close(natter_protocol::ws::close::REVOKED).await;

    let revoked = ClientError::Closed {
        code: 4002,
        reason: "closing 4002".into(),
    };
    assert_eq!(
        sending.await.expect("joins"),
        Err(revoked.clone()),
        "even a send gives up"
    );
    assert_eq!(
        next(&connection).await,
        ConnectionEvent::Disconnected { code: Some(4002) }
    );
    assert_eq!(
        next(&connection).await,
        ConnectionEvent::Closed {
            code: 4002,
            reason: "closing 4002".into()
        }
    );
    assert_eq!(connection.next_event_timeout(WAIT).await, Ok(None));
    assert_eq!(connection.typing(C).await, Err(revoked));
}

#[tokio::test]
async fn a_refused_token_fails_connect() {
    let server = FakeServer::start().await;
    let refuse = async {
        let (mut ws, first) = server.accept_raw().await;
        let error = ServerFrame::Error {
            id: first.id,
            code: ErrorCode::Unauthorized,
            message: "bad token".into(),
            retry_after_ms: None,
            reason: None,
        };
        ws.send(WsMessage::text(
            serde_json::to_string(&error).expect("serializes"),
        ))
        .await
        .expect("sends");
        let frame = CloseFrame {
            code: 4001.into(),
            reason: "".into(),
        };
        // The client may hang up first.
        let _ = ws.close(Some(frame)).await;
    };
    let (connected, ()) = tokio::join!(
        Connection::start(server.url.clone(), "tok".into(), Fake::default(), fast()),
        refuse
    );
    assert_eq!(
        connected.err(),
        Some(ClientError::Closed {
            code: 4001,
            reason: "bad token".into()
        })
    );
}

#[tokio::test]
async fn a_failed_gap_fill_reconnects_and_the_catch_up_delivers_it() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 1);
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    fake.set_last_seq(C, 4);
    fake.0.history_failures.store(4, Ordering::SeqCst); // every try of the live fill
    peer.push(message(C, 4)).await;
    assert_eq!(
        next(&connection).await,
        ConnectionEvent::Disconnected { code: None }
    );
    let _peer = server.accept().await;
    assert_eq!(next(&connection).await, ConnectionEvent::Reconnected);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_message(&connection).await);
    }
    assert_eq!(got, [(C, 2), (C, 3), (C, 4)]);
}

#[tokio::test]
async fn resuming_delivers_what_happened_after_the_saved_point() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    fake.set_last_seq(C, 4);
    fake.add_user_event(5);
    fake.add_user_event(6);
    let options = ConnectOptions {
        since: Some(SyncCursor(5)),
        known_seqs: HashMap::from([(C, Seq(2))]),
        ..fast()
    };
    let (connection, _peer) = server.connect(&fake, options).await;
    assert!(
        matches!(next(&connection).await, ConnectionEvent::Event(Event::User { event }) if event.cursor == SyncCursor(6))
    );
    assert_eq!(next_message(&connection).await, (C, 3));
    assert_eq!(next_message(&connection).await, (C, 4));

    // A cursor the server no longer knows: a reset, then everything after the known seqs.
    let fake = Fake::default();
    fake.set_last_seq(C, 2);
    fake.0.too_far_behind.store(true, Ordering::SeqCst);
    let options = ConnectOptions {
        since: Some(SyncCursor(1)),
        known_seqs: HashMap::from([(C, Seq(1))]),
        ..fast()
    };
    let (connection, _peer) = server.connect(&fake, options).await;
    assert_eq!(next(&connection).await, ConnectionEvent::Reset);
    assert_eq!(next_message(&connection).await, (C, 2));
}

#[tokio::test]
async fn close_stops_reconnecting_and_ends_the_stream() {
    let server = FakeServer::start().await;
    let fake = Fake::default();
    let (connection, mut peer) = server.connect(&fake, fast()).await;
    peer.push(message(C, 1)).await;
    assert_eq!(next_message(&connection).await, (C, 1));
    connection.close().await;
    match peer.ws.next().await {
        Some(Ok(WsMessage::Close(Some(frame)))) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected a normal close, got {other:?}"),
    }
    assert_eq!(connection.next_event_timeout(WAIT).await, Ok(None));
    assert_eq!(
        connection.mark_read(C, Seq(1)).await,
        Err(ClientError::Disconnected)
    );
}
