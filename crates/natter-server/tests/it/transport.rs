//! The transport under the API: TLS, slow clients, cross-origin requests.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use natter_testkit::TestServer;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, pki_types::ServerName};
use tokio_tungstenite::tungstenite::Message;

use crate::WAIT;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn connector() -> anyhow::Result<TlsConnector> {
    let pem = std::fs::read(fixture("test-cert.pem"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile_certs(&pem)? {
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

fn rustls_pemfile_certs(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    Ok(CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?)
}

/// Reads a whole HTTP/1.1 response sent with `Connection: close`.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> anyhow::Result<String> {
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw)).await??;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

#[tokio::test]
async fn the_server_speaks_https_and_wss_from_certificate_files() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.http.tls_cert = Some(fixture("test-cert.pem"));
        config.http.tls_key = Some(fixture("test-key.pem"));
    })
    .await?;
    let name = ServerName::try_from("localhost")?;

    let tcp = TcpStream::connect(server.addr()).await?;
    let mut tls = connector()?.connect(name.clone(), tcp).await?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let response = read_response(&mut tls).await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{response}"
    );
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    let health: Value = serde_json::from_str(body)?;
    assert_eq!(health["status"], "ok");

    // The WebSocket over the same TLS: unauthenticated frames get the usual answer.
    let tcp = TcpStream::connect(server.addr()).await?;
    let tls = connector()?.connect(name, tcp).await?;
    let url = format!("wss://localhost:{}/api/v1/ws", server.addr().port());
    let (mut socket, _) = tokio_tungstenite::client_async(url, tls).await?;
    socket
        .send(Message::text(r#"{"type":"ping","id":1}"#))
        .await?;
    let reply = tokio::time::timeout(WAIT, socket.next()).await?;
    let Some(Ok(Message::Text(text))) = reply else {
        anyhow::bail!("no reply: {reply:?}");
    };
    let frame: Value = serde_json::from_str(&text)?;
    assert_eq!(frame["code"], "auth_required", "{frame}");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr()).await?;
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let answer = read_response(&mut plain).await.unwrap_or_default();
    assert!(!answer.contains("\"ok\""), "{answer}");
    Ok(())
}

/// Runs the server with `adjust`ed TLS settings; it must refuse to start.
async fn start_error(adjust: impl FnOnce(&mut natter_server::Config)) -> anyhow::Result<String> {
    let data = tempfile::tempdir()?;
    let mut config = natter_server::Config {
        data: data.path().to_path_buf(),
        ..natter_server::Config::default()
    };
    adjust(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let run = natter_server::run(config, listener, std::future::pending());
    match tokio::time::timeout(WAIT, run).await? {
        Ok(()) => anyhow::bail!("the server started"),
        Err(error) => Ok(error.to_string()),
    }
}

#[tokio::test]
async fn a_half_configured_or_unreadable_certificate_stops_the_start() -> anyhow::Result<()> {
    let error = start_error(|config| config.http.tls_cert = Some(fixture("test-cert.pem"))).await?;
    assert!(error.contains("tls_key"), "{error}");
    let error = start_error(|config| {
        config.http.tls_cert = Some(fixture("test-key.pem"));
        config.http.tls_key = Some(fixture("test-cert.pem"));
    })
    .await?;
    assert!(error.contains("certificate"), "{error}");
    let error = start_error(|config| {
        config.http.tls_cert = Some(fixture("missing.pem"));
        config.http.tls_key = Some(fixture("test-key.pem"));
    })
    .await?;
    assert!(error.contains("missing.pem"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_client_that_sends_its_headers_too_slowly_is_cut_off() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| config.http.header_timeout_secs = 1).await?;
    // Slowloris: the start of a request, then nothing more.
    let mut slow = TcpStream::connect(server.addr()).await?;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
        .await?;
    let answer = read_response(&mut slow).await?;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A connection that never sends a byte is closed too.
    let mut silent = TcpStream::connect(server.addr()).await?;
    let answer = read_response(&mut silent).await?;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // A keep-alive connection left idle after a request is closed too.
    let mut idle = TcpStream::connect(server.addr()).await?;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    let answer = read_response(&mut idle).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Meanwhile everybody else is served.
    let health = reqwest::get(format!("{}/healthz", server.url())).await?;
    assert_eq!(health.status(), 200);
    Ok(())
}

#[tokio::test]
async fn cross_origin_requests_get_no_cors_permission() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let http = reqwest::Client::new();
    let preflight = http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/auth/login", server.url()),
        )
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type, authorization",
        )
        .send()
        .await?;
    let user = server.user("cors").await?;
    let simple = http
        .get(format!("{}/api/v1/me", server.url()))
        .header("Origin", "https://evil.example")
        .bearer_auth(user.token())
        .send()
        .await?;
    for response in [&preflight, &simple] {
        let granted: Vec<&str> = response
            .headers()
            .keys()
            .map(|name| name.as_str())
            .filter(|name| name.starts_with("access-control-"))
            .collect();
        assert!(granted.is_empty(), "{} grants {granted:?}", response.url());
    }
    assert!(!preflight.status().is_success(), "{}", preflight.status());
    Ok(())
}

#[tokio::test]
async fn half_closed_connections_end_and_free_their_place() -> anyhow::Result<()> {
    // One WebSocket at a time: a half-closed one that lingered would keep
    // every later client out.
    let server = TestServer::start_with(|config| config.gateway.max_connections = 1).await?;
    let user = server.user("half").await?;
    for round in 0..3 {
        let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url()).await?;
        let auth = serde_json::json!({"type": "auth", "id": 1, "token": user.token()});
        socket.send(Message::text(auth.to_string())).await?;
        socket
            .send(Message::text(r#"{"type":"ping","id":2}"#))
            .await?;
        // The client stops sending (TCP FIN) without a close frame.
        if let tokio_tungstenite::MaybeTlsStream::Plain(tcp) = socket.get_mut() {
            tcp.shutdown().await?;
        }
        let mut frames = 0;
        loop {
            match tokio::time::timeout(WAIT, socket.next()).await? {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => frames += 1,
            }
        }
        assert!(frames <= 2, "round {round}: {frames} frames");
    }
    // The same over plain HTTP: a request, then FIN; the connection ends.
    let mut tcp = TcpStream::connect(server.addr()).await?;
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await?;
    tcp.shutdown().await?;
    let answer = read_response(&mut tcp).await?;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    // And the place is free for a real client.
    let live = user.connect().await?;
    live.close().await;
    Ok(())
}

#[tokio::test]
async fn the_sdk_talks_to_a_tls_server_over_https_and_wss() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| {
        config.http.tls_cert = Some(fixture("test-cert.pem"));
        config.http.tls_key = Some(fixture("test-key.pem"));
    })
    .await?;
    let url = format!("https://localhost:{}", server.addr().port());
    let options = natter_client::ClientOptions {
        extra_root_certificates_pem: Some(std::fs::read(fixture("test-cert.pem"))?),
    };
    let client = natter_client::Client::with_options(&url, &options)?;
    assert!(client.healthz().await);
    let alice = natter_testkit::register(&client, "tls_alice").await?;
    let bob = natter_testkit::register(&client, "tls_bob").await?;
    let chat = natter_testkit::befriend(&alice, &bob).await?;
    let live = bob.connect().await?;
    alice.send_text(chat, "over TLS").await?;
    let text = crate::wait_for(&live, |event| match event {
        natter_protocol::ws::Event::Message { message } => match &message.content {
            natter_protocol::conversations::MessageContent::Text { text } => Some(text.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(text, "over TLS");

    // Without the certificate, the system does not trust this server.
    let untrusting = natter_client::Client::new(&url)?;
    assert!(!untrusting.healthz().await);
    let error = untrusting
        .login(&natter_protocol::accounts::LoginRequest {
            username: alice.user().username.clone(),
            password: natter_testkit::PASSWORD.into(),
            device: None,
        })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("transport"), "{error}");
    // And garbage given as a certificate is refused up front.
    let garbage = natter_client::ClientOptions {
        extra_root_certificates_pem: Some(b"not a certificate".to_vec()),
    };
    assert!(matches!(
        natter_client::Client::with_options(&url, &garbage),
        Err(natter_client::ClientError::Tls(_))
    ));
    Ok(())
}
