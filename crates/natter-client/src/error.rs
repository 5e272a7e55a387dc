//! The SDK's one error type, and how server replies become errors.

use std::time::Duration;

use natter_protocol::ws::close;
use natter_protocol::{ErrorBody, ErrorCode, ErrorReason};

/// The SDK's result type.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to a Natter server.
///
/// The type is `Clone` (causes are kept as text rather than as boxed sources)
/// because one failure is often reported to several waiters at once: every
/// request pending on a WebSocket that the server closed gets the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server understood the request and refused it with a stable error
    /// code. Over the WebSocket, `status` is the HTTP status the same code
    /// carries on the HTTP API ([`ErrorCode::http_status`]).
    #[error("{code} (HTTP {status}): {message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        /// For `rate_limited`: how long to wait before retrying.
        retry_after_ms: Option<u64>,
        /// Which rule refused, where the code covers several (e.g. why a
        /// password is too weak), so that an app can explain it in its own words.
        reason: Option<ErrorReason>,
    },
    /// The base URL given to [`crate::Client::new`] is not an `http://` or
    /// `https://` URL.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The certificates given to trust (see [`crate::ClientOptions`]) are unusable.
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The request could not be sent or its reply not received (connection
    /// refused, reset, DNS failure, ...).
    #[error("transport error: {0}")]
    Transport(String),
    /// The server's reply did not have the shape the protocol promises.
    #[error("could not decode the server's reply: {0}")]
    Decode(String),
    /// The WebSocket dropped (or was closed by [`crate::Connection::close`])
    /// before the request was answered. The request may or may not have been
    /// carried out.
    #[error("the connection dropped before the reply arrived")]
    Disconnected,
    /// The server closed the WebSocket with this code. Once connected, only
    /// the codes that forbid reconnecting end up here: 4001 (unauthorized) and
    /// 4002 (device revoked or logged out); others are healed by reconnecting.
    /// The first connect reports any close this way (1013: server full). See
    /// [`natter_protocol::ws::close`].
    #[error("the server closed the connection with code {code}: {reason}")]
    Closed { code: u16, reason: String },
    /// No reply within the configured time.
    #[error("timed out waiting for the server")]
    Timeout,
}

impl ClientError {
    /// The server's error code, for [`ClientError::Api`] only.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The HTTP status, for [`ClientError::Api`] only.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Which rule refused, for [`ClientError::Api`] where the server said.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            ClientError::Api { reason, .. } => *reason,
            _ => None,
        }
    }

    /// How long the server asked us to wait before retrying, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Api {
                retry_after_ms: Some(ms),
                ..
            } => Some(Duration::from_millis(*ms)),
            _ => None,
        }
    }

    /// Whether the same request may succeed if simply sent again later:
    /// transport failures, timeouts, drops, closes other than 4001 and 4002,
    /// and the server codes it marks retryable ([`ErrorCode::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Api { code, .. } => code.is_retryable(),
            ClientError::Transport(_) | ClientError::Disconnected | ClientError::Timeout => true,
            // Only a refused or revoked token is final; other close codes
            // (1013 server full, 1001 shutting down) are worth another try.
            ClientError::Closed { code, .. } => {
                !matches!(*code, close::UNAUTHORIZED | close::REVOKED)
            }
            ClientError::InvalidUrl { .. } | ClientError::Tls(_) | ClientError::Decode(_) => false,
        }
    }

    /// An error frame (WebSocket) or error body (HTTP) from the server.
    pub(crate) fn api(status: u16, body: ErrorBody) -> Self {
        ClientError::Api {
            status,
            code: body.code,
            message: body.message,
            retry_after_ms: body.retry_after_ms,
            reason: body.reason,
        }
    }

    /// Turns a non-2xx HTTP reply into an error.
    ///
    /// The server always sends an [`ErrorBody`]; anything else came from
    /// something in between (a reverse proxy's HTML 502, say). Such replies
    /// still get the closest code for their status, so callers can keep
    /// switching on `code()` alone.
    pub(crate) fn from_http(status: u16, body: &[u8]) -> Self {
        if let Ok(parsed) = serde_json::from_slice::<ErrorBody>(body) {
            return ClientError::api(status, parsed);
        }
        let code = match status {
            400 => ErrorCode::InvalidRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NoRoute,
            413 => ErrorCode::TooLarge,
            429 => ErrorCode::RateLimited,
            502..=504 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        let text = String::from_utf8_lossy(body);
        let mut message: String = text.trim().chars().take(200).collect();
        if message.is_empty() {
            message = format!("HTTP {status} without an error body");
        }
        ClientError::Api {
            status,
            code,
            message,
            retry_after_ms: None,
            reason: None,
        }
    }

    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        if err.is_timeout() {
            ClientError::Timeout
        } else if err.is_decode() {
            ClientError::Decode(err.to_string())
        } else {
            // `reqwest::Error`'s Display omits its cause ("error sending request"),
            // so the whole chain goes into the text.
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            ClientError::Transport(text)
        }
    }

    pub(crate) fn decode(what: &str, err: serde_json::Error) -> Self {
        ClientError::Decode(format!("{what}: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, body: &str, expected: ClientError) {
        assert_eq!(
            ClientError::from_http(status, body.as_bytes()),
            expected,
            "status {status}, body {body:?}"
        );
    }

    #[test]
    fn error_bodies_decode_into_api_errors() {
        check(
            429,
            r#"{"code":"rate_limited","message":"slow down","retry_after_ms":1500}"#,
            ClientError::Api {
                status: 429,
                code: ErrorCode::RateLimited,
                message: "slow down".into(),
                retry_after_ms: Some(1500),
                reason: None,
            },
        );
        check(
            409,
            r#"{"code":"username_taken","message":"taken"}"#,
            ClientError::Api {
                status: 409,
                code: ErrorCode::UsernameTaken,
                message: "taken".into(),
                retry_after_ms: None,
                reason: None,
            },
        );
    }

    #[test]
    fn foreign_error_pages_get_the_closest_code() {
        check(
            502,
            "<html>Bad Gateway</html>",
            ClientError::Api {
                status: 502,
                code: ErrorCode::Unavailable,
                message: "<html>Bad Gateway</html>".into(),
                retry_after_ms: None,
                reason: None,
            },
        );
        check(
            404,
            "",
            ClientError::Api {
                status: 404,
                code: ErrorCode::NoRoute,
                message: "HTTP 404 without an error body".into(),
                retry_after_ms: None,
                reason: None,
            },
        );
        // An unknown code (a newer server) is not an ErrorBody we can read.
        let err = ClientError::from_http(418, br#"{"code":"teapot","message":"short and stout"}"#);
        assert_eq!(err.code(), Some(ErrorCode::Internal));
    }

    #[test]
    fn accessors_and_retryability() {
        let err = ClientError::from_http(
            429,
            br#"{"code":"rate_limited","message":"m","retry_after_ms":20}"#,
        );
        assert_eq!(err.code(), Some(ErrorCode::RateLimited));
        assert_eq!(err.status(), Some(429));
        assert_eq!(err.retry_after(), Some(Duration::from_millis(20)));
        assert!(err.is_retryable());
        let revoked = ClientError::Closed {
            code: 4002,
            reason: "revoked".into(),
        };
        assert_eq!(revoked.code(), None);
        assert!(!revoked.is_retryable());
        assert!(
            ClientError::Closed {
                code: 1013,
                reason: "full".into()
            }
            .is_retryable()
        );
        assert!(ClientError::Timeout.is_retryable());
        assert!(
            !ClientError::from_http(403, br#"{"code":"forbidden","message":"no"}"#).is_retryable()
        );
    }
}
