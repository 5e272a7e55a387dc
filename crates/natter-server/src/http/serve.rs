//! The accept loop: plain TCP or TLS, one hyper HTTP/1.1 connection per
//! socket, graceful shutdown.
//!
//! `axum::serve` would do, except that it sets no header timeout (a client
//! sending its headers one byte a minute holds a connection and its task
//! forever) and cannot speak TLS. DESIGN.md names axum-server for TLS; it was
//! tried and measured: its connections (hyper-util's auto builder, even with
//! `http1_only`) first read the protocol version with no deadline, so a client
//! that connects and sends nothing is held forever, and the slow-client test
//! in `tests/it/transport.rs` fails. hyper's own HTTP/1.1 builder, used here,
//! starts the header deadline at once.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client may take for its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests may take to finish once shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the TLS certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("the certificate and key do not fit together: {0}")]
    Mismatch(String),
}

/// A TLS acceptor from PEM files: the certificate chain (leaf first) and its key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Certificate {
            path: cert.display().to_string(),
            reason: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.display().to_string(),
            reason: "no certificate in the file".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.display().to_string(),
        reason: error.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|error| TlsError::Mismatch(error.to_string()))?;
    // WebSockets need HTTP/1.1 (the router speaks nothing else).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting, runs `on_shutdown` (which closes the WebSockets) and waits up to
/// [`DRAIN_TIMEOUT`] for requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // Each connection task holds a `draining` receiver: told to finish on
    // shutdown, and `connections` closes once the last task has ended.
    let (drain, draining) = tokio::sync::watch::channel(());
    let (connections, connection_open) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: wait for some to free up.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let http = http.clone();
        let router = router.clone();
        let watcher = Watcher {
            draining: draining.clone(),
            _open: connection_open.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(http, stream, peer, router, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => {
                            serve_connection(http, stream, peer, router, watcher).await;
                        }
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    drop(connection_open);
    on_shutdown();
    drain.send_replace(());
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.closed())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}

async fn serve_connection<S>(
    http: hyper::server::conn::http1::Builder,
    stream: S,
    peer: SocketAddr,
    router: Router,
    mut watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The peer address feeds the per-address rate limits (`ConnectInfo`).
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let connection = http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = watcher.draining.changed() => {
            // Finishes the request in flight, then closes (idle ones at once).
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        // Clients hanging up, header timeouts: routine, not worth a warning.
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// A connection task's view of shutdown.
struct Watcher {
    draining: tokio::sync::watch::Receiver<()>,
    /// Dropped when the task ends; shutdown waits for all of them.
    _open: tokio::sync::watch::Receiver<()>,
}
