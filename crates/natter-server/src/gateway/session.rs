//! One WebSocket connection: authentication in the first frame, then a single
//! task that reads requests, drains the outbox (a burst is flushed once), pings,
//! and closes on idleness, revocation, slowness or shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use natter_protocol::ws::{ClientRequest, ServerFrame, close};
use natter_protocol::{ErrorCode, PROTOCOL_VERSION};
use tokio::time::{Instant, MissedTickBehavior};

use super::Admission;
use super::dispatch::{dispatch, error_frame, parse};
use crate::accounts::Caller;
use crate::app::AppState;
use crate::clock::now;
use crate::error::ApiError;

/// Most queued events written before the socket is flushed.
const BURST: usize = 64;
/// A write that cannot complete in this time means the peer stopped reading
/// (its TCP window is shut): give the connection up rather than wait forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(mut socket: WebSocket, app: AppState, admission: Admission) {
    let Some((caller, auth_id)) = authenticate(&mut socket, &app).await else {
        return;
    };
    let registration = app.gateway.hub.register(caller.user, caller.device);
    app.presence.connected(caller.user).await;
    let sent = match app.accounts.me(caller).await {
        Ok(user) => {
            let welcome = ServerFrame::AuthOk {
                id: auth_id,
                user,
                device_id: caller.device,
                protocol: PROTOCOL_VERSION,
                server_time: now(),
            };
            match serde_json::to_string(&welcome) {
                Ok(text) => send(&mut socket, Message::Text(text.into())).await,
                Err(_) => false,
            }
        }
        Err(error) => {
            refuse(&mut socket, auth_id, &error).await;
            false
        }
    };
    if sent {
        serve(&mut socket, &app, caller, registration).await;
    } else {
        app.gateway.hub.unregister(caller.user, registration.id);
    }
    app.presence.disconnected(caller.user).await;
    drop(admission);
}

/// Waits for the `auth` frame. On failure the socket is told why and closed.
async fn authenticate(socket: &mut WebSocket, app: &AppState) -> Option<(Caller, Option<u64>)> {
    let deadline = Instant::now() + app.gateway.config.auth_timeout();
    let text = loop {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Ok(Some(Ok(Message::Text(text)))) => break text,
            // WebSocket-level pings and pongs are not frames of the protocol.
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return None,
            Ok(Some(Ok(Message::Binary(_)))) | Err(_) => {
                let error = ApiError::new(ErrorCode::AuthRequired, "Send an `auth` frame first.");
                refuse(socket, None, &error).await;
                return None;
            }
        }
    };
    let frame = match parse(&text) {
        Ok(frame) => frame,
        Err(reply) => {
            send(socket, Message::Text(reply)).await;
            close_with(socket, close::UNAUTHORIZED, "auth required").await;
            return None;
        }
    };
    let ClientRequest::Auth { token } = frame.request else {
        refuse(
            socket,
            frame.id,
            &ApiError::new(ErrorCode::AuthRequired, "The first frame must be `auth`."),
        )
        .await;
        return None;
    };
    match app.accounts.authenticate(token.trim()).await {
        Ok(caller) => Some((caller, frame.id)),
        Err(error) => {
            refuse(socket, frame.id, &error).await;
            None
        }
    }
}

/// Sends the error and closes: 4001 when the credentials are at fault (the
/// client must log in again), 1013 when the server is (the client may retry).
async fn refuse(socket: &mut WebSocket, id: Option<u64>, error: &ApiError) {
    send(socket, Message::Text(error_frame(id, error))).await;
    if error.code.is_retryable() {
        close_with(socket, close::TRY_AGAIN_LATER, "try again later").await;
    } else {
        close_with(socket, close::UNAUTHORIZED, "unauthorized").await;
    }
}

/// Sends one message; false when the peer is gone or has not read for too long.
async fn send(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &'static str) {
    // The peer may already be gone; there is nobody left to tell.
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    send(socket, Message::Close(Some(frame))).await;
}

/// Writes `first` and whatever else is queued (up to a burst), then flushes once.
/// False when the peer is gone or stopped reading.
async fn write_burst(
    socket: &mut WebSocket,
    first: Utf8Bytes,
    outbox: &mut tokio::sync::mpsc::Receiver<Utf8Bytes>,
) -> bool {
    let burst = async {
        socket.feed(Message::Text(first)).await?;
        for _ in 1..BURST {
            match outbox.try_recv() {
                Ok(next) => socket.feed(Message::Text(next)).await?,
                Err(_) => break,
            }
        }
        socket.flush().await
    };
    matches!(tokio::time::timeout(WRITE_TIMEOUT, burst).await, Ok(Ok(())))
}

/// Tells the peer why its input ended the connection, when the socket still works.
async fn close_after_error(socket: &mut WebSocket, error: axum::Error) {
    let (code, reason) = match error
        .into_inner()
        .downcast::<tungstenite::Error>()
        .map(|e| *e)
    {
        Ok(tungstenite::Error::Capacity(_)) => (1009, "message too big"),
        Ok(tungstenite::Error::Utf8(_)) => (1007, "invalid UTF-8"),
        Ok(tungstenite::Error::Protocol(_)) => (1002, "protocol error"),
        _ => return,
    };
    close_with(socket, code, reason).await;
}

async fn serve(
    socket: &mut WebSocket,
    app: &AppState,
    caller: Caller,
    mut registration: super::hub::Registration,
) {
    let config = &app.gateway.config;
    let mut shutdown = app.gateway.shutdown_signal();
    let mut ping = tokio::time::interval_at(
        Instant::now() + config.ping_interval(),
        config.ping_interval(),
    );
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let idle_timeout: Duration = config.idle_timeout();
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close_with(socket, close::GOING_AWAY, "server shutting down").await;
                break;
            }
            incoming = socket.recv() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        close_after_error(socket, error).await;
                        break;
                    }
                    None => break,
                };
                last_heard = Instant::now();
                let reply = match message {
                    Message::Text(text) => dispatch(app, caller, &text).await,
                    Message::Binary(_) => Some(error_frame(
                        None,
                        &ApiError::new(ErrorCode::InvalidJson, "Frames are JSON text; binary frames are not accepted."),
                    )),
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => break,
                };
                if let Some(reply) = reply
                    && !send(socket, Message::Text(reply)).await
                {
                    break;
                }
            }
            outgoing = registration.outbox.recv() => {
                let Some(first) = outgoing else {
                    // The hub let go of this connection: revoked or too slow.
                    let code = registration.close_code.load(Ordering::Relaxed);
                    let reason = if code == close::REVOKED { "revoked" } else { "too slow: reconnect and sync" };
                    close_with(socket, code, reason).await;
                    break;
                };
                if !write_burst(socket, first, &mut registration.outbox).await {
                    break;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > idle_timeout {
                    close_with(socket, close::IDLE, "idle").await;
                    break;
                }
                if !send(socket, Message::Ping(Default::default())).await {
                    break;
                }
            }
        }
    }
    app.gateway.hub.unregister(caller.user, registration.id);
}
