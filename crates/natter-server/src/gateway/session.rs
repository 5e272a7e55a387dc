//! One WebSocket connection: authentication in the first frame, then a single
//! task that reads requests (one in flight at a time, while events keep
//! flowing), drains the outbox (a burst is flushed once), pings, and closes on
//! idleness, revocation, slowness or shutdown.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::SinkExt;
use natter_protocol::ws::{ClientFrame, ClientRequest, ServerFrame, close};
use natter_protocol::{ErrorCode, PROTOCOL_VERSION};
use tokio::time::{Instant, MissedTickBehavior};

use super::dispatch::{error_frame, execute, parse, reply_frame};
use super::hub::Registration;
use crate::accounts::Caller;
use crate::app::AppState;
use crate::clock::now;
use crate::error::ApiError;
use crate::http::admission::Admitted;

/// Most queued events written before the socket is flushed.
const BURST: usize = 64;
/// A write that cannot complete in this time means the peer stopped reading
/// (its TCP window is shut): give the connection up rather than wait forever.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Typing frames: a burst of this many passes, then one per `TYPING_REFILL`;
/// the rest are acknowledged and dropped. A client that says "typing" every few
/// seconds is never held back; one member must not flood a large group.
const TYPING_BURST: f64 = 3.0;
const TYPING_REFILL: Duration = Duration::from_secs(2);
/// How often a long-lived connection records that its device is in use, so that
/// a device used only over its WebSocket does not expire as idle.
const TOUCH_EVERY: Duration = Duration::from_secs(3600);

/// When an account holds too many connections, when to try again.
const RETRY_WHEN_TOO_MANY: Duration = Duration::from_secs(30);

type InFlight = Pin<Box<dyn Future<Output = Option<Utf8Bytes>> + Send>>;

/// Serves one socket. `waiting` is its place among the unauthenticated
/// connections, given up once `auth` is settled either way.
pub async fn run(mut socket: WebSocket, app: AppState, waiting: Admitted) {
    let authenticated = authenticate(&mut socket, &app).await;
    drop(waiting);
    let Some((caller, token, auth_id)) = authenticated else {
        return;
    };
    let Some(admission) = app.gateway.admit() else {
        refuse(&mut socket, auth_id, &super::server_busy()).await;
        return;
    };
    let limit = app.gateway.config.max_connections_per_user;
    let Some(registration) = app.gateway.hub.register(caller.user, caller.device, limit) else {
        let error = ApiError {
            retry_after_ms: Some(RETRY_WHEN_TOO_MANY.as_millis() as u64),
            ..ApiError::new(
                ErrorCode::RateLimited,
                "This account has too many connections open; close some or retry later.",
            )
        };
        refuse(&mut socket, auth_id, &error).await;
        return;
    };
    // A revoke that committed between the token check and the registration above
    // published its disconnect to nobody: check the token once more, now that a
    // later revoke will find this connection.
    if app.accounts.authenticate(&token).await.is_err() {
        app.gateway.hub.unregister(caller.user, registration.id);
        close_with(&mut socket, close::REVOKED, "revoked").await;
        return;
    }
    app.presence.connected(caller.user).await;
    let welcomed = match app.accounts.me(caller).await {
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
    if welcomed {
        serve(&mut socket, &app, caller, registration).await;
    } else {
        app.gateway.hub.unregister(caller.user, registration.id);
    }
    app.presence.disconnected(caller.user).await;
    drop(admission);
}

/// Waits for the `auth` frame. On failure the socket is told why and closed.
async fn authenticate(
    socket: &mut WebSocket,
    app: &AppState,
) -> Option<(Caller, String, Option<u64>)> {
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
        let error = ApiError::new(ErrorCode::AuthRequired, "The first frame must be `auth`.");
        refuse(socket, frame.id, &error).await;
        return None;
    };
    let token = token.as_str().trim().to_owned();
    match app.accounts.authenticate(&token).await {
        Ok(caller) => Some((caller, token, frame.id)),
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
    outbox: &mut super::hub::Outbox,
) -> bool {
    let burst = async {
        socket.feed(Message::Text(first)).await?;
        for _ in 1..BURST {
            match outbox.try_recv() {
                Some(next) => socket.feed(Message::Text(next)).await?,
                None => break,
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

/// The request being served, if any; pending forever when there is none.
async fn finish(in_flight: &mut Option<InFlight>) -> Option<Utf8Bytes> {
    match in_flight {
        Some(request) => request.await,
        None => std::future::pending().await,
    }
}

/// A token bucket for one connection's typing frames.
struct TypingBudget {
    tokens: f64,
    at: Instant,
}

impl TypingBudget {
    fn new() -> TypingBudget {
        TypingBudget {
            tokens: TYPING_BURST,
            at: Instant::now(),
        }
    }

    fn spend(&mut self, now: Instant) -> bool {
        let earned = now.duration_since(self.at).as_secs_f64() / TYPING_REFILL.as_secs_f64();
        self.tokens = (self.tokens + earned).min(TYPING_BURST);
        self.at = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

/// What to do with a parsed frame: answer at once, or run it.
fn start(
    app: &AppState,
    caller: Caller,
    frame: ClientFrame,
    typing: &mut TypingBudget,
) -> Result<InFlight, Option<Utf8Bytes>> {
    if let ClientRequest::Typing { conversation_id } = frame.request
        && !typing.spend(Instant::now())
    {
        // Over budget the frame is answered but not passed on; the caller is
        // still asked to be a member, so the answer says nothing about
        // conversations they are not in.
        let app = app.clone();
        return Ok(Box::pin(async move {
            match app
                .conversations
                .check_member(caller, conversation_id)
                .await
            {
                Ok(()) => frame.id.map(|id| reply_frame(id, "{\"ok\":true}")),
                Err(error) => Some(error_frame(frame.id, &error)),
            }
        }));
    }
    Ok(Box::pin(execute(app.clone(), caller, frame)))
}

async fn serve(
    socket: &mut WebSocket,
    app: &AppState,
    caller: Caller,
    mut registration: Registration,
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
    let mut last_touch = Instant::now();
    let mut typing = TypingBudget::new();
    // One request at a time, in order; events keep flowing while it runs.
    let mut in_flight: Option<InFlight> = None;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                close_with(socket, close::GOING_AWAY, "server shutting down").await;
                break;
            }
            reply = finish(&mut in_flight) => {
                in_flight = None;
                if let Some(reply) = reply
                    && !send(socket, Message::Text(reply)).await
                {
                    break;
                }
            }
            incoming = socket.recv(), if in_flight.is_none() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        close_after_error(socket, error).await;
                        break;
                    }
                    None => break,
                };
                last_heard = Instant::now();
                let immediate = match message {
                    Message::Text(text) => match parse(&text) {
                        Ok(frame) => match start(app, caller, frame, &mut typing) {
                            Ok(request) => {
                                in_flight = Some(request);
                                None
                            }
                            Err(answer) => answer,
                        },
                        Err(error) => Some(error),
                    },
                    Message::Binary(_) => Some(error_frame(
                        None,
                        &ApiError::new(ErrorCode::InvalidJson, "Frames are JSON text; binary frames are not accepted."),
                    )),
                    Message::Ping(_) | Message::Pong(_) => None,
                    Message::Close(_) => break,
                };
                if let Some(answer) = immediate
                    && !send(socket, Message::Text(answer)).await
                {
                    break;
                }
            }
            outgoing = registration.outbox.recv() => {
                // A revoked device gets nothing more, not even what was queued.
                let revoked = registration.close_code.load(Ordering::Relaxed) == close::REVOKED;
                let Some(first) = outgoing.filter(|_| !revoked) else {
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
                if last_touch.elapsed() > TOUCH_EVERY {
                    last_touch = Instant::now();
                    app.accounts.touch(caller).await;
                }
            }
        }
    }
    app.gateway.hub.unregister(caller.user, registration.id);
}
