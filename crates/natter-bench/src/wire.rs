//! The WebSocket spoken directly: a socket bound to a chosen loopback source
//! address, the `auth` handshake, and frame encoding with the protocol types.
//!
//! The SDK's `Connection` opens its own sockets (and adds reconnects and gap
//! filling that a load generator must not hide), so the bench drives the
//! real protocol itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use natter_client::protocol::ws::{ClientFrame, ClientRequest, ServerFrame};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::error::BenchError;

/// An open, authenticated socket.
pub type Ws = WebSocketStream<TcpStream>;

/// Where the server is.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://127.0.0.1:8080`, for the SDK.
    pub http: String,
    pub addr: SocketAddr,
    /// `ws://127.0.0.1:8080/api/v1/ws`.
    pub ws_url: String,
}

impl Target {
    /// Accepts only `http://<IPv4 loopback>:<port>`: the bench sends load to
    /// this machine and nowhere else.
    pub fn parse(url: &str) -> Result<Target, BenchError> {
        let bad = || BenchError::BadUrl(url.to_owned());
        let rest = url.trim().strip_prefix("http://").ok_or_else(bad)?;
        let hostport = rest.trim_end_matches('/');
        let addr: SocketAddr = hostport.parse().map_err(|_| bad())?;
        if !matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback()) {
            return Err(bad());
        }
        Ok(Target {
            http: format!("http://{addr}"),
            addr,
            ws_url: format!("ws://{addr}{}", natter_client::protocol::ws::WS_PATH),
        })
    }
}

/// Loopback source addresses handed out round-robin: 127.0.0.1 … 127.0.0.N.
/// Each gives the whole ephemeral port range again.
#[derive(Debug)]
pub struct Sources {
    ips: Vec<Ipv4Addr>,
    next: AtomicUsize,
}

impl Sources {
    /// `count` addresses starting at 127.0.0.`first` (count ≥ 1).
    pub fn new(first: u8, count: u8) -> Sources {
        let ips = (0..count.max(1))
            .map(|i| Ipv4Addr::new(127, 0, 0, first.saturating_add(i).max(1)))
            .collect();
        Sources {
            ips,
            next: AtomicUsize::new(0),
        }
    }

    pub fn next(&self) -> Ipv4Addr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.ips[i % self.ips.len()]
    }
}

/// Encodes a request frame.
pub fn frame(id: Option<u64>, request: ClientRequest) -> WsMessage {
    let frame = ClientFrame { id, request };
    // The protocol types always serialize.
    WsMessage::text(serde_json::to_string(&frame).unwrap_or_default())
}

/// Decodes a server frame; `None` for anything that is not one.
pub fn parse(message: &WsMessage) -> Option<ServerFrame> {
    match message {
        WsMessage::Text(text) => serde_json::from_str(text.as_str()).ok(),
        _ => None,
    }
}

/// Opens a socket from `source` and authenticates with `token`.
pub async fn open(
    target: &Target,
    source: Ipv4Addr,
    token: &str,
    limit: Duration,
) -> Result<Ws, BenchError> {
    let attempt = async {
        let socket = TcpSocket::new_v4().map_err(|e| BenchError::Socket(e.to_string()))?;
        socket
            .bind(SocketAddr::new(IpAddr::V4(source), 0))
            .map_err(|e| BenchError::Socket(format!("bind {source}: {e}")))?;
        let stream = socket
            .connect(target.addr)
            .await
            .map_err(|e| BenchError::Socket(format!("connect from {source}: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| BenchError::Socket(e.to_string()))?;
        let (mut ws, _) = tokio_tungstenite::client_async(target.ws_url.as_str(), stream)
            .await
            .map_err(|e| BenchError::Socket(format!("upgrade: {e}")))?;
        ws.send(frame(
            Some(0),
            ClientRequest::Auth {
                token: token.into(),
            },
        ))
        .await
        .map_err(|e| BenchError::Socket(e.to_string()))?;
        while let Some(message) = ws.next().await {
            let message = message.map_err(|e| BenchError::Socket(e.to_string()))?;
            match parse(&message) {
                Some(ServerFrame::AuthOk { .. }) => return Ok(ws),
                Some(ServerFrame::Error { code, message, .. }) => {
                    return Err(BenchError::Refused(format!("{code}: {message}")));
                }
                _ => continue,
            }
        }
        Err(BenchError::Socket("closed during auth".into()))
    };
    tokio::time::timeout(limit, attempt)
        .await
        .map_err(|_| BenchError::Timeout("opening a socket".into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        assert!(Target::parse("http://127.0.0.1:8080").is_ok());
        assert!(Target::parse("http://127.0.0.1:8080/").is_ok());
        assert!(Target::parse("http://[::1]:80").is_err());
        assert!(Target::parse("http://10.0.0.1:8080").is_err());
        assert!(Target::parse("http://example.org:80").is_err());
        assert!(Target::parse("https://127.0.0.1:8080").is_err());
    }

    #[test]
    fn sources_rotate_over_loopback_addresses() {
        let s = Sources::new(1, 3);
        let got: Vec<_> = (0..4).map(|_| s.next().to_string()).collect();
        assert_eq!(got, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"]);
    }
}
