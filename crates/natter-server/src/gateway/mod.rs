//! The WebSocket gateway at `/api/v1/ws`: admission (connection cap, origin),
//! the per-connection session loop, frame dispatch, and the hub that delivers
//! bus events into bounded per-connection outboxes.

mod dispatch;
pub mod hub;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};
use axum::response::{IntoResponse, Response};
use natter_protocol::ErrorCode;
use natter_protocol::limits::WS_MESSAGE_MAX_BYTES;
use tokio::sync::watch;

use crate::app::AppState;
use crate::config::GatewayConfig;
use crate::error::ApiError;
use crate::http::admission::{ConnectionLimits, ConnectionPermit, Refusal};
use crate::http::extract::ClientAddress;
use crate::limits::RateLimits;
use hub::Hub;

pub struct Gateway {
    pub config: GatewayConfig,
    limits: Arc<RateLimits>,
    pub hub: Arc<Hub>,
    /// Authenticated connections, against `max_connections`.
    connections: Arc<AtomicUsize>,
    /// Whether this server itself speaks TLS (the scheme of its own origin).
    https: bool,
    /// Connections waiting for their `auth` frame: a pool of their own, so
    /// that sockets which never authenticate cannot take real users' places.
    unauthenticated: ConnectionLimits,
    shutdown: watch::Sender<bool>,
}

/// Holds one place of the authenticated-connection cap until dropped.
pub struct Admission {
    connections: Arc<AtomicUsize>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gateway {
    pub fn new(config: GatewayConfig, limits: Arc<RateLimits>, https: bool) -> Gateway {
        let hub = Arc::new(Hub::new(config.outbox_frames, config.outbox_bytes));
        let per_address = if limits.enabled() {
            config.max_unauthenticated_per_address.max(1)
        } else {
            0
        };
        // Addresses arrive already grouped (`ClientAddress`), proxies resolved.
        let unauthenticated =
            ConnectionLimits::new(config.max_unauthenticated, per_address, 128, Vec::new());
        Gateway {
            config,
            limits,
            hub,
            connections: Arc::new(AtomicUsize::new(0)),
            https,
            unauthenticated,
            shutdown: watch::channel(false).0,
        }
    }

    fn is_full(&self) -> bool {
        self.connections.load(Ordering::Acquire) >= self.config.max_connections
    }

    /// A place among the authenticated connections, taken once `auth` succeeded.
    fn admit(&self) -> Option<Admission> {
        let previous = self.connections.fetch_add(1, Ordering::AcqRel);
        let admission = Admission {
            connections: self.connections.clone(),
        };
        (previous < self.config.max_connections).then_some(admission)
    }

    /// Asks every session to close with 1001 "going away".
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Whether a browser page from its `Origin` may open a socket: the
    /// server's own origin (same scheme, host and port as the browser reached
    /// it) or one the config allows. Clients that send no Origin (SDK,
    /// terminal) are not browsers and are let through. `https`: whether the
    /// browser reached this server over TLS (its own, or a trusted proxy's).
    fn origin_allowed(&self, headers: &HeaderMap, https: bool) -> bool {
        let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
            return true;
        };
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        if self
            .config
            .allowed_origins
            .iter()
            .filter_map(|allowed| Origin::parse(allowed))
            .any(|allowed| allowed == origin)
        {
            return true;
        }
        let scheme = if https { "https" } else { "http" };
        let own = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|host| Origin::parse(&format!("{scheme}://{host}")));
        own.is_some_and(|own| own == origin)
    }
}

/// An origin as browsers send it: scheme, host and port (the scheme's
/// default port when none is written), compared case-insensitively.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(text: &str) -> Option<Origin> {
        let (scheme, rest) = text.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        // `[v6]:port`, `host:port`, or a bare host.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port))
                if !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && !host.ends_with(':') =>
            {
                (host, port.parse().ok()?)
            }
            _ => (rest, default_port),
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return None;
        }
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

fn server_busy() -> ApiError {
    ApiError::new(
        ErrorCode::ServerBusy,
        "The server is at its connection limit. Try again later.",
    )
}

/// `GET /api/v1/ws`
pub async fn upgrade(
    State(app): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    address: ClientAddress,
    permit: Option<Extension<ConnectionPermit>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(_) => return ApiError::invalid("This endpoint speaks WebSocket only.").into_response(),
    };
    // Behind a trusted proxy that ends TLS, the browser's scheme is the proxy's.
    let proxied_https = peer.is_some_and(|Extension(ConnectInfo(peer))| {
        app.gateway.limits.is_trusted_proxy(peer.ip())
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
    });
    if !app
        .gateway
        .origin_allowed(&headers, app.gateway.https || proxied_https)
    {
        return ApiError::new(
            ErrorCode::Forbidden,
            "This origin may not open a WebSocket here.",
        )
        .into_response();
    }
    if let Err(error) = app.gateway.limits.connection(address.0) {
        return error.into_response();
    }
    // Checked again after `auth`; refusing here spares a full node the handshake.
    if app.gateway.is_full() {
        return server_busy().into_response();
    }
    let waiting = match app.gateway.unauthenticated.admit(address.0) {
        Ok(waiting) => waiting,
        Err(Refusal::NodeFull) => return server_busy().into_response(),
        Err(Refusal::AddressFull) => {
            return ApiError {
                retry_after_ms: Some(10_000),
                ..ApiError::new(
                    ErrorCode::RateLimited,
                    "Too many connections from your address are waiting to authenticate.",
                )
            }
            .into_response();
        }
    };
    // The socket keeps the TCP connection's place in the node's total.
    let permit = permit.map(|Extension(permit)| permit);
    upgrade
        // Measured: 136 KiB per idle socket with defaults, 8.4 KiB with a 4 KiB read buffer.
        .read_buffer_size(4096)
        // Small frames are gathered up to 4 KiB before a write; a burst is flushed once.
        .write_buffer_size(4096)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(WS_MESSAGE_MAX_BYTES)
        .max_frame_size(WS_MESSAGE_MAX_BYTES)
        .on_upgrade(move |socket| async move {
            session::run(socket, app, waiting).await;
            drop(permit);
        })
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let same =
            |a: &str, b: &str| Origin::parse(a).is_some() && Origin::parse(a) == Origin::parse(b);
        assert!(same(
            "http://chat.example.com",
            "HTTP://Chat.Example.com:80"
        ));
        assert!(same(
            "https://chat.example.com",
            "https://chat.example.com:443/"
        ));
        assert!(same("http://[::1]:8080", "http://[::1]:8080"));
        assert!(!same("https://chat.example.com", "http://chat.example.com"));
        assert!(!same(
            "http://chat.example.com:8080",
            "http://chat.example.com"
        ));
        assert!(!same("http://[::1]", "http://[::1]:8080"));
        for bad in [
            "ftp://chat.example.com",
            "null",
            "chat.example.com",
            "http://",
            "http://a@b",
            "http://a/b",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }
}
