//! Opening an authenticated WebSocket, and reading the server's close codes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_protocol::ErrorCode;
use natter_protocol::ws::{ClientFrame, ClientRequest, ServerFrame, close};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::ClientError;

pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The largest message the SDK accepts from the server. Far above anything
/// the protocol sends (a page of 100 messages of 16 KiB fits), small enough
/// that a broken peer cannot make us buffer without bound.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How long to wait for the server's close frame after it rejected `auth`,
/// to learn the close code.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why a socket could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The server refused the token: do not try again.
    Fatal { code: u16, reason: String },
    /// Worth another try later.
    Retry(ClientError),
}

impl From<OpenError> for ClientError {
    fn from(err: OpenError) -> ClientError {
        match err {
            OpenError::Fatal { code, reason } => ClientError::Closed { code, reason },
            OpenError::Retry(err) => err,
        }
    }
}

/// Whether a close code forbids reconnecting with the same token.
pub(crate) fn is_fatal_close(code: u16) -> bool {
    code == close::UNAUTHORIZED || code == close::REVOKED
}

/// The code and reason of a close frame (1005, "no status received", when the
/// frame carried none).
pub(crate) fn close_parts(frame: Option<CloseFrame>) -> (u16, String) {
    match frame {
        Some(frame) => (u16::from(frame.code), frame.reason.as_str().to_owned()),
        None => (1005, String::new()),
    }
}

/// Where a connection goes: the `ws://` or `wss://` URL, and for `wss` the
/// TLS trust (the system's roots when `None`).
#[derive(Debug, Clone)]
pub(crate) struct WsTarget {
    pub(crate) url: String,
    pub(crate) tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl From<String> for WsTarget {
    fn from(url: String) -> Self {
        WsTarget { url, tls: None }
    }
}

/// Connects to `target`, sends `auth` with request id `id`, and waits for
/// `auth_ok`. Everything, handshake included, must finish within `limit`.
pub(crate) async fn open(
    target: &WsTarget,
    token: &str,
    id: u64,
    limit: Duration,
) -> Result<WsStream, OpenError> {
    let deadline = Instant::now() + limit;
    // tungstenite's default read buffer is 128 KiB, zeroed on every read (the
    // server, whose frames are mostly small, reads with 4 KiB too).
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    // Nagle off: frames are small and latency is the point.
    let url = target.url.as_str();
    let connector = target.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(url, Some(config), true, connector);
    let (mut ws, _response) = match timeout_at(deadline, connecting).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(err)) => {
            return Err(OpenError::Retry(ClientError::Transport(format!(
                "connecting to {url}: {err}"
            ))));
        }
        Err(_) => return Err(OpenError::Retry(ClientError::Timeout)),
    };
    let auth = ClientFrame {
        id: Some(id),
        request: ClientRequest::Auth {
            token: token.into(),
        },
    };
    let text = serde_json::to_string(&auth)
        .map_err(|err| OpenError::Retry(ClientError::decode("auth frame", err)))?;
    match timeout_at(deadline, ws.send(WsMessage::text(text))).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(OpenError::Retry(ClientError::Transport(err.to_string()))),
        Err(_) => return Err(OpenError::Retry(ClientError::Timeout)),
    }
    match timeout_at(deadline, await_auth_ok(&mut ws)).await {
        Ok(Ok(())) => Ok(ws),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(OpenError::Retry(ClientError::Timeout)),
    }
}

async fn await_auth_ok(ws: &mut WsStream) -> Result<(), OpenError> {
    loop {
        let text = match ws.next().await {
            Some(Ok(WsMessage::Text(text))) => text,
            Some(Ok(WsMessage::Close(frame))) => {
                return Err(closed_during_auth(close_parts(frame), None));
            }
            // Pings are answered by tungstenite as we read; nothing else is expected.
            Some(Ok(_)) => continue,
            Some(Err(err)) => {
                return Err(OpenError::Retry(ClientError::Transport(err.to_string())));
            }
            None => return Err(OpenError::Retry(ClientError::Disconnected)),
        };
        match serde_json::from_str::<ServerFrame>(text.as_str()) {
            Ok(ServerFrame::AuthOk { .. }) => return Ok(()),
            Ok(ServerFrame::Error {
                code,
                message,
                retry_after_ms,
                reason,
                ..
            }) => {
                let refusal = ClientError::Api {
                    status: code.http_status(),
                    code,
                    message,
                    retry_after_ms,
                    reason,
                };
                return Err(rejected(ws, refusal).await);
            }
            Ok(other) => tracing::debug!(frame = ?other, "frame before auth_ok ignored"),
            Err(err) => tracing::warn!(error = %err, "unreadable frame before auth_ok ignored"),
        }
    }
}

/// The server answered `auth` with an error and is about to close: the close
/// code says whether to try again.
async fn rejected(ws: &mut WsStream, refusal: ClientError) -> OpenError {
    let close = timeout(CLOSE_GRACE, async {
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Close(frame))) => return Some(close_parts(frame)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .ok()
    .flatten();
    match close {
        Some(parts) => closed_during_auth(parts, Some(refusal)),
        None => match refusal.code() {
            // No close frame came, but the code alone is conclusive.
            Some(ErrorCode::Unauthorized | ErrorCode::AuthRequired) => OpenError::Fatal {
                code: close::UNAUTHORIZED,
                reason: refusal_message(&refusal),
            },
            _ => OpenError::Retry(refusal),
        },
    }
}

fn closed_during_auth((code, reason): (u16, String), refusal: Option<ClientError>) -> OpenError {
    if is_fatal_close(code) {
        let reason = match (&refusal, reason.is_empty()) {
            (Some(refusal), true) => refusal_message(refusal),
            _ => reason,
        };
        OpenError::Fatal { code, reason }
    } else {
        OpenError::Retry(refusal.unwrap_or(ClientError::Closed { code, reason }))
    }
}

fn refusal_message(err: &ClientError) -> String {
    match err {
        ClientError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unauthorized_and_revoked_are_fatal() {
        for code in [close::UNAUTHORIZED, close::REVOKED] {
            assert!(is_fatal_close(code), "{code}");
        }
        for code in [
            1000,
            1001,
            1005,
            1006,
            1008,
            1009,
            1011,
            1013,
            close::TOO_SLOW,
            close::IDLE,
        ] {
            assert!(!is_fatal_close(code), "{code}");
        }
    }

    #[test]
    fn a_close_during_auth_keeps_the_servers_words() {
        let refusal = ClientError::Api {
            status: 401,
            code: ErrorCode::Unauthorized,
            message: "bad token".into(),
            retry_after_ms: None,
            reason: None,
        };
        assert_eq!(
            closed_during_auth((4001, String::new()), Some(refusal.clone())),
            OpenError::Fatal {
                code: 4001,
                reason: "bad token".into()
            }
        );
        assert_eq!(
            closed_during_auth((4002, "revoked".into()), Some(refusal)),
            OpenError::Fatal {
                code: 4002,
                reason: "revoked".into()
            }
        );
        assert_eq!(
            closed_during_auth((1013, "full".into()), None),
            OpenError::Retry(ClientError::Closed {
                code: 1013,
                reason: "full".into()
            })
        );
    }
}
