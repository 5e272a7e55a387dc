//! Admission at the accept loop, before a byte is read.
//!
//! Two caps, both answered at once when reached (never an unbounded backlog):
//! - every TCP connection the node holds, HTTP or WebSocket, takes a place of
//!   [`ConnectionLimits::total`], sized below the open-file limit, so that the
//!   accept loop never meets "Too many open files";
//! - connections still speaking HTTP (not yet upgraded to a WebSocket) are
//!   counted per client address, so a few addresses sending slow bodies cannot
//!   take the node. Measured before this existed: 1,100 slow POSTs from 4
//!   loopback addresses made the server unreachable for everyone.
//!
//! A WebSocket keeps its place in the total after the upgrade (the gateway
//! holds the [`ConnectionPermit`]) and leaves the per-address count, which the
//! gateway's own caps take over.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::limits::address_group;

/// A place in the node's connection total, shared between the HTTP
/// connection task and, after an upgrade, the WebSocket session.
#[derive(Clone)]
pub struct ConnectionPermit(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// Why a new connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The node holds as many connections as it may.
    NodeFull,
    /// This address already holds its share of HTTP connections.
    AddressFull,
}

/// What an admitted connection holds until it ends.
pub struct Admitted {
    pub permit: ConnectionPermit,
    _address: Option<AddressPlace>,
}

/// Cheap to clone: clones share the same counts.
#[derive(Clone)]
pub struct ConnectionLimits {
    /// Places in all, as configured (the semaphore holds what is free).
    size: usize,
    total: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
}

struct PerAddress {
    /// 0: no per-address cap.
    max: usize,
    ipv6_prefix: u8,
    /// Trusted reverse proxies: every client behind them shares their address.
    exempt: Vec<IpAddr>,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One HTTP connection's place in its address's count.
struct AddressPlace {
    owner: Arc<PerAddress>,
    group: IpAddr,
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        // A poisoned map only means another connection panicked mid-update;
        // the counts are still plain numbers.
        let mut open = self
            .owner
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.group) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.group);
            }
        }
    }
}

impl ConnectionLimits {
    /// `total` connections in all; `per_address` HTTP connections per address
    /// group (0: unlimited), trusted proxies exempt.
    pub fn new(
        total: usize,
        per_address: usize,
        ipv6_prefix: u8,
        exempt: Vec<IpAddr>,
    ) -> ConnectionLimits {
        ConnectionLimits {
            size: total.max(1),
            total: Arc::new(Semaphore::new(total.max(1))),
            per_address: Arc::new(PerAddress {
                max: per_address,
                ipv6_prefix,
                exempt,
                open: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many connections the node may hold in all.
    pub fn total(&self) -> usize {
        self.size
    }

    /// Takes a place for a connection from `peer`, or says why there is none.
    pub fn admit(&self, peer: IpAddr) -> Result<Admitted, Refusal> {
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::NodeFull)?;
        let limits = &self.per_address;
        let address = if limits.max == 0 || limits.exempt.contains(&peer) {
            None
        } else {
            let group = address_group(peer, limits.ipv6_prefix);
            let mut open = limits
                .open
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let count = open.entry(group).or_insert(0);
            if *count >= limits.max {
                return Err(Refusal::AddressFull);
            }
            *count += 1;
            Some(AddressPlace {
                owner: limits.clone(),
                group,
            })
        };
        Ok(Admitted {
            permit: ConnectionPermit(Arc::new(permit)),
            _address: address,
        })
    }
}

/// Descriptors kept back from the connection total: the database and its WAL
/// (once per reader connection), the listener, logs, the runtime's own.
const RESERVED_FILES: u64 = 256;

/// Raises the open-file soft limit to the hard limit (the usual default soft
/// limit, 1,024, would cap a node at about a thousand sockets) and returns how
/// many connections fit under it: `wanted`, or less if the limit is lower.
pub fn connection_budget(wanted: usize) -> usize {
    let before = rlimit::Resource::NOFILE.get().ok();
    let soft = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            before.map_or(1024, |(soft, _)| soft)
        }
    };
    let hard = before.map_or(soft, |(_, hard)| hard);
    let fits = usize::try_from(soft.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    let budget = wanted.min(fits).max(1);
    tracing::info!(
        soft_limit = soft,
        hard_limit = hard,
        connections = budget,
        "open-file limit"
    );
    if budget < wanted {
        tracing::warn!(
            wanted,
            budget,
            "the open-file limit allows fewer connections than http.max_connections; raise `ulimit -Hn`"
        );
    }
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn each_address_group_has_its_share_and_the_node_its_total() {
        let limits = ConnectionLimits::new(5, 2, 64, vec![ip("10.0.0.9")]);
        let a1 = limits.admit(ip("10.0.0.1"));
        let a2 = limits.admit(ip("10.0.0.1"));
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(
            limits.admit(ip("10.0.0.1")).err(),
            Some(Refusal::AddressFull)
        );
        // One IPv6 /64 is one client, whatever its interface id.
        let v6 = limits.admit(ip("2001:db8:1:2::1"));
        assert!(v6.is_ok());
        let v6b = limits.admit(ip("2001:db8:1:2:ffff::7"));
        assert!(v6b.is_ok());
        assert_eq!(
            limits.admit(ip("2001:db8:1:2::99")).err(),
            Some(Refusal::AddressFull)
        );
        // The fifth place goes to a proxy; then the node is full, even for it.
        let proxied = limits.admit(ip("10.0.0.9"));
        assert!(proxied.is_ok());
        assert_eq!(limits.admit(ip("10.0.0.9")).err(), Some(Refusal::NodeFull));
        drop(a1);
        let again = limits.admit(ip("10.0.0.1"));
        assert!(again.is_ok(), "a freed place is free again");
        drop((again, a2, v6, v6b, proxied));
        let proxy: Vec<_> = (0..5).map(|_| limits.admit(ip("10.0.0.9"))).collect();
        assert!(proxy.iter().all(Result::is_ok), "proxies are exempt");
    }
}
