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
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use natter_protocol::ErrorCode;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::admission::{Admitted, ConnectionLimits, Refusal};
use crate::error::ApiError;

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

/// How the accept loop treats clients.
#[derive(Clone)]
pub struct ServeOptions {
    /// Time to send a request's headers; also how long a keep-alive may idle.
    pub header_timeout: Duration,
    /// Time to send a request's whole body once its headers are in.
    pub body_timeout: Duration,
    pub limits: ConnectionLimits,
    /// Leave the listener open when done (see [`serve`]).
    pub keep_listening: bool,
}

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting, runs `on_shutdown` (which closes the WebSockets) and waits up to
/// [`DRAIN_TIMEOUT`] for requests in flight. The listener is closed before
/// the drain (new connections are refused at once) unless `keep_listening`,
/// which serves a while on a listener that is served again afterwards.
pub async fn serve(
    listener: &mut Option<TcpListener>,
    router: Router,
    tls: Option<TlsAcceptor>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
    on_shutdown: impl FnOnce(),
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    // Each connection task holds a `draining` receiver: told to finish on
    // shutdown, and `connections` closes once the last task has ended.
    let (drain, draining) = tokio::sync::watch::channel(());
    let (connections, connection_open) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    let Some(accepting) = listener.as_ref() else {
        return;
    };
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accepting.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // The admission cap keeps this rare; wait for descriptors to free up.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let admitted = match options.limits.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                turn_away(&stream, refusal, tls.is_some());
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            http: http.clone(),
            router: router.clone(),
            peer,
            body_timeout: options.body_timeout,
            admitted,
            watcher: Watcher {
                draining: draining.clone(),
                _open: connection_open.clone(),
            },
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => connection.serve(stream).await,
                        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    if !options.keep_listening {
        listener.take();
    }
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

/// Answers a connection that got no place, without waiting for it: a canned
/// response on plain HTTP (the kernel's send buffer of a fresh socket takes it
/// at once), a plain close on TLS, where no handshake has happened.
fn turn_away(stream: &tokio::net::TcpStream, refusal: Refusal, tls: bool) {
    if tls {
        return;
    }
    let (status, error) = match refusal {
        Refusal::NodeFull => (
            "503 Service Unavailable",
            ApiError::new(
                ErrorCode::ServerBusy,
                "The server is at its connection limit. Try again later.",
            ),
        ),
        Refusal::AddressFull => (
            "429 Too Many Requests",
            ApiError {
                retry_after_ms: Some(1000),
                ..ApiError::new(
                    ErrorCode::RateLimited,
                    "Too many connections from your address. Close some and try again.",
                )
            },
        ),
    };
    let body = serde_json::to_string(&error.body()).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    // Best effort: a client that cannot take a few hundred bytes learns from the close.
    let _ = stream.try_write(response.as_bytes());
}

/// One admitted connection, ready to be served.
struct Connection {
    http: hyper::server::conn::http1::Builder,
    router: Router,
    peer: SocketAddr,
    body_timeout: Duration,
    admitted: Admitted,
    watcher: Watcher,
}

impl Connection {
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            http,
            router,
            peer,
            body_timeout,
            admitted,
            mut watcher,
        } = self;
        let permit = admitted.permit.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            // The peer address feeds the per-address rate limits (`ConnectInfo`);
            // the permit lets a WebSocket keep this connection's place.
            let (mut parts, body) = request.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            parts.extensions.insert(permit.clone());
            let body = DeadlineBody::new(body, body_timeout);
            router.clone().oneshot(hyper::Request::from_parts(
                parts,
                axum::body::Body::new(body),
            ))
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
        // The HTTP phase is over (closed, or upgraded to a WebSocket, which
        // holds its own clone of the permit): the address's place is free.
        drop(admitted);
    }
}

/// A request body that must arrive whole before a deadline. hyper times out
/// slow headers only; a client that sends complete headers and then one byte of
/// the body every few seconds would hold its connection for ever.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The body did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A connection task's view of shutdown.
struct Watcher {
    draining: tokio::sync::watch::Receiver<()>,
    /// Dropped when the task ends; shutdown waits for all of them.
    _open: tokio::sync::watch::Receiver<()>,
}
