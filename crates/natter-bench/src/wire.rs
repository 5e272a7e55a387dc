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
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Read buffer per socket (the server uses the same).
const READ_BUFFER_BYTES: usize = 4096;

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

/// The server nodes of one cluster being loaded (at least one), and the
/// pids of their processes when known (for CPU and memory from /proc).
///
/// Every node shares one database, so setup over HTTP may go to any of
/// them: it uses [`Cluster::first`]. Sockets are spread over the nodes
/// round-robin ([`Cluster::node_index`]), or, for friend pairs, so that the
/// two users of a pair sit on different nodes ([`Cluster::pair_node_index`]).
#[derive(Debug, Clone)]
pub struct Cluster {
    nodes: Vec<Target>,
    pids: Vec<u32>,
}

impl Cluster {
    /// A cluster of `nodes`; refuses an empty list.
    pub fn new(nodes: Vec<Target>) -> Result<Cluster, BenchError> {
        if nodes.is_empty() {
            return Err(BenchError::Params("at least one --server is needed".into()));
        }
        Ok(Cluster {
            nodes,
            pids: Vec::new(),
        })
    }

    /// Parses every URL with [`Target::parse`] (so loopback only).
    pub fn parse<S: AsRef<str>>(urls: &[S]) -> Result<Cluster, BenchError> {
        let nodes = urls
            .iter()
            .map(|url| Target::parse(url.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Cluster::new(nodes)
    }

    /// The same cluster, with the pids of its server processes.
    pub fn with_pids(mut self, pids: impl IntoIterator<Item = u32>) -> Cluster {
        self.pids = Vec::new();
        for pid in pids {
            if !self.pids.contains(&pid) {
                self.pids.push(pid);
            }
        }
        self
    }

    /// The servers' pids given with [`Cluster::with_pids`], each once.
    pub fn pids(&self) -> &[u32] {
        &self.pids
    }

    /// How many nodes (at least 1).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn nodes(&self) -> &[Target] {
        &self.nodes
    }

    /// The node setup (HTTP) and the single-node scenarios use.
    pub fn first(&self) -> &Target {
        // `new` refuses an empty list.
        &self.nodes[0]
    }

    /// The node of the `i`-th socket or user, round-robin.
    pub fn node_index(&self, i: usize) -> usize {
        i % self.nodes.len().max(1)
    }

    /// [`Cluster::node_index`] as the target itself.
    pub fn node(&self, i: usize) -> &Target {
        &self.nodes[self.node_index(i)]
    }

    /// The node of user `i` when users 2k and 2k+1 are a pair: user 2k on
    /// node k mod n, user 2k+1 on node (k+1) mod n, so with more than one
    /// node the two of a pair are always on different nodes (and every
    /// message between them crosses the bus), while pairs still spread
    /// evenly. With one node, everyone is on it.
    pub fn pair_node_index(&self, i: usize) -> usize {
        let pair = i / 2;
        self.node_index(pair + i % 2)
    }

    /// [`Cluster::pair_node_index`] as the target itself.
    pub fn pair_node(&self, i: usize) -> &Target {
        &self.nodes[self.pair_node_index(i)]
    }

    /// The URLs of the nodes (for worker processes).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|t| t.http.clone()).collect()
    }
}

impl From<Target> for Cluster {
    fn from(target: Target) -> Cluster {
        Cluster {
            nodes: vec![target],
            pids: Vec::new(),
        }
    }
}

impl From<&Target> for Cluster {
    fn from(target: &Target) -> Cluster {
        Cluster::from(target.clone())
    }
}

impl From<&Cluster> for Cluster {
    fn from(cluster: &Cluster) -> Cluster {
        cluster.clone()
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
        // tungstenite's default 128 KiB read buffer is zeroed on every read:
        // profiled, that memset was 40 % of the generator's CPU.
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(
            target.ws_url.as_str(),
            stream,
            Some(config),
        )
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
    fn several_servers_parse_into_one_cluster() -> Result<(), BenchError> {
        let cluster = Cluster::parse(&[
            "http://127.0.0.1:8080",
            " http://127.0.0.1:8081/",
            "http://127.0.0.2:8082",
        ])?;
        assert_eq!(cluster.len(), 3);
        assert!(!cluster.is_empty());
        assert_eq!(cluster.first().http, "http://127.0.0.1:8080");
        let urls = cluster.urls();
        assert_eq!(
            urls,
            [
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8081",
                "http://127.0.0.2:8082"
            ]
        );
        // The list a worker gets back parses to the same cluster.
        assert_eq!(Cluster::parse(&urls)?.urls(), urls);
        // One bad URL spoils the list; an empty list is refused.
        assert!(Cluster::parse(&["http://127.0.0.1:8080", "http://10.0.0.1:8080"]).is_err());
        assert!(Cluster::parse::<&str>(&[]).is_err());
        assert!(Cluster::new(Vec::new()).is_err());
        Ok(())
    }

    #[test]
    fn pids_are_kept_once_each() -> Result<(), BenchError> {
        let cluster = Cluster::parse(&["http://127.0.0.1:8080"])?.with_pids([7, 8, 7]);
        assert_eq!(cluster.pids(), [7, 8]);
        let single = Cluster::from(Target::parse("http://127.0.0.1:1")?);
        assert!(single.pids().is_empty());
        assert_eq!(single.with_pids([3]).pids(), [3]);
        Ok(())
    }

    fn cluster_of(n: u16) -> Result<Cluster, BenchError> {
        let urls: Vec<String> = (0..n)
            .map(|i| format!("http://127.0.0.1:{}", 9000 + i))
            .collect();
        Cluster::parse(&urls)
    }

    #[test]
    fn sockets_go_round_robin_over_the_nodes() -> Result<(), BenchError> {
        let three = cluster_of(3)?;
        let got: Vec<_> = (0..7).map(|i| three.node_index(i)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(three.node(4).http, "http://127.0.0.1:9001");
        let one = cluster_of(1)?;
        assert!((0..10).all(|i| one.node_index(i) == 0));
        Ok(())
    }

    #[test]
    fn pairs_are_split_across_nodes_when_there_are_several() -> Result<(), BenchError> {
        for n in 2..=5 {
            let cluster = cluster_of(n)?;
            let mut load = vec![0usize; usize::from(n)];
            for k in 0..40 {
                let (a, b) = (
                    cluster.pair_node_index(2 * k),
                    cluster.pair_node_index(2 * k + 1),
                );
                assert_ne!(a, b, "pair {k} on one node of {n}");
                assert_eq!(a, k % usize::from(n));
                assert_eq!(b, (k + 1) % usize::from(n));
                assert_ne!(
                    cluster.pair_node(2 * k).http,
                    cluster.pair_node(2 * k + 1).http
                );
                load[a] += 1;
                load[b] += 1;
            }
            // 80 users over n nodes: as even as round-robin gets.
            let (min, max) = (load.iter().min(), load.iter().max());
            assert!(
                max.zip(min).is_some_and(|(max, min)| max - min <= 2),
                "{load:?}"
            );
        }
        let one = cluster_of(1)?;
        assert!((0..20).all(|i| one.pair_node_index(i) == 0));
        Ok(())
    }

    #[test]
    fn sources_rotate_over_loopback_addresses() {
        let s = Sources::new(1, 3);
        let got: Vec<_> = (0..4).map(|_| s.next().to_string()).collect();
        assert_eq!(got, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"]);
    }
}
