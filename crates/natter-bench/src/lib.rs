//! The Natter load generator behind `natter bench`: drives a running server
//! through the real protocol (HTTP for setup through the SDK's `Session`,
//! the WebSocket spoken directly with tokio-tungstenite and the
//! `natter-protocol` frame types), with users it creates itself.
//!
//! Scenarios, each returning a typed report that prints as a table or JSON:
//! - [`connect`]: open N authenticated sockets and hold them; connect rate
//!   and, given the server's pid, server memory per connection. Spreads the
//!   sockets over worker processes when one process's file limit is short.
//! - [`direct`]: U online users in friend pairs sending at rate R for D
//!   seconds; acknowledged and delivered msgs/s, send-to-delivery latency.
//! - [`group`]: one group of G online members; deliveries/s and the time for
//!   a message to reach every member.
//! - [`history`]: pages of 50 through a long conversation; page latency.
//! - [`login`]: failed logins for a wrong password and for an unknown
//!   username; the two latencies must match (no enumeration by timing).
//! - [`attack`]: a probe user's latency in quiet phases and in phases under
//!   a login flood or slow bodies from other addresses, and what the
//!   attackers got. Run it with the server's rate limits on.
//!
//! Sockets bind to several loopback source addresses (127.0.0.x) so the
//! ephemeral port range of one address is never the limit. Traffic goes only
//! to the URLs given, which must be loopback addresses.
//!
//! Several URLs are several nodes of one cluster ([`wire::Cluster`]), sharing
//! one database: setup over HTTP goes to the first; [`connect`] and [`group`]
//! spread their sockets round-robin over the nodes; [`direct`] puts the two
//! users of every pair on different nodes, so each message crosses the bus;
//! [`history`], [`login`] and [`attack`] use only the first node. Server CPU
//! and memory, given several pids, are sums over them.

pub mod attack;
pub mod connect;
pub mod direct;
pub mod driver;
pub mod error;
pub mod group;
pub mod history;
pub mod login;
pub mod report;
pub mod setup;
pub mod stats;
pub mod wire;

pub use error::BenchError;
pub use report::{Latency, Machine, ServerUsage};
