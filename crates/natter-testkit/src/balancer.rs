//! The front door of a test cluster, as nginx is in production: each new
//! TCP connection goes to the next node that accepts it, so that clients of
//! a node that died reconnect to another one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Round-robin TCP forwarding to the nodes that are up.
pub struct Balancer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Balancer {
    /// Listens on an ephemeral loopback port and forwards to `nodes`.
    pub async fn start(nodes: Vec<SocketAddr>) -> anyhow::Result<Balancer> {
        anyhow::ensure!(!nodes.is_empty(), "a balancer needs nodes");
        let listener = TcpListener::bind("127.0.0.1:0").await.context("bind")?;
        let addr = listener.local_addr()?;
        let nodes = Arc::new(nodes);
        let next = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let nodes = nodes.clone();
                let first = next.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    // A node that refuses (it was killed) is skipped, as a
                    // proxy's health checks would.
                    for k in 0..nodes.len() {
                        let target = nodes[(first + k) % nodes.len()];
                        if let Ok(mut server) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            return;
                        }
                    }
                });
            }
        });
        Ok(Balancer { addr, accept })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
