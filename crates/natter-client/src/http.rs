//! The HTTP side: [`Client`] for the calls made before logging in, and the
//! transport that it and [`Session`] share.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use natter_protocol::accounts::{self, LoginRequest, LoginResponse, RegisterRequest, UserProfile};
use natter_protocol::{Endpoint, Method};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};
use crate::session::Session;

/// The liveness probe. Not part of the versioned API, so the protocol crate
/// does not declare it.
pub(crate) const HEALTHZ_PATH: &str = "/healthz";

/// Upper bound on one HTTP exchange, body included. No endpoint streams or
/// long-polls, so a reply slower than this means trouble.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP transport: a connection pool and the server's base URL.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    base: Arc<str>,
    /// For `https` bases: the trust the WebSocket uses too.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Http {
    pub(crate) fn new(base_url: &str) -> Result<Self> {
        Http::with_options(base_url, &ClientOptions::default())
    }

    pub(crate) fn with_options(base_url: &str, options: &ClientOptions) -> Result<Self> {
        let base = normalize_base(base_url)?;
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        // Plain http needs no trust store; loading the system's takes time.
        let tls = if base.starts_with("https://") {
            let config = crate::tls::client_config(options.extra_root_certificates_pem.as_deref())?;
            builder = builder.use_preconfigured_tls((*config).clone());
            Some(config)
        } else {
            None
        };
        let client = builder.build().map_err(ClientError::from_reqwest)?;
        Ok(Http {
            client,
            base: base.into(),
            tls,
        })
    }

    /// The TLS configuration for `https` servers, shared with the WebSocket.
    pub(crate) fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.tls.clone()
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (already filled), with the bearer token if given.
    pub(crate) fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let builder = self
            .client
            .request(method, format!("{}{}", self.base, path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// A request to `endpoint` with its placeholders filled by `args`.
    pub(crate) fn endpoint(
        &self,
        endpoint: Endpoint,
        args: &[&dyn fmt::Display],
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        // A token is sent only where the endpoint wants one, so that a session
        // token never travels to the anonymous routes.
        let token = if endpoint.auth { token } else { None };
        self.request(endpoint.method, &endpoint.fill(args), token)
    }

    /// Sends the request; a 2xx body decodes into `R`, anything else becomes
    /// a [`ClientError`].
    pub(crate) async fn call<R: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<R> {
        let response = request.send().await.map_err(ClientError::from_reqwest)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(ClientError::from_reqwest)?;
        if !(200..300).contains(&status) {
            return Err(ClientError::from_http(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|err| ClientError::decode(std::any::type_name::<R>(), err))
    }

    /// Sends the request and returns the status and the body as JSON,
    /// whatever the status. A body that is not JSON comes back as a JSON
    /// string; an empty body as `null`.
    pub(crate) async fn call_raw(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, serde_json::Value)> {
        let response = request.send().await.map_err(ClientError::from_reqwest)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(ClientError::from_reqwest)?;
        Ok((status, raw_body(&body)))
    }
}

fn raw_body(body: &[u8]) -> serde_json::Value {
    if body.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Checks a base URL and strips what would double up when paths are appended.
pub(crate) fn normalize_base(base_url: &str) -> Result<String> {
    let invalid = |reason: &str| ClientError::InvalidUrl {
        url: base_url.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(base_url.trim()).map_err(|err| invalid(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not have a query or a fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The WebSocket URL for a normalized base URL: same host and prefix, `ws`
/// for `http` and `wss` for `https`.
pub(crate) fn ws_url(base: &str) -> String {
    let rest = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        // `normalize_base` admits only the two schemes above.
        base.to_owned()
    };
    format!("{rest}{}", natter_protocol::ws::WS_PATH)
}

/// An anonymous client of one Natter server: registers accounts and logs in.
///
/// Cheap to clone (clones share one connection pool). Speaks `http://` and
/// `https://` (rustls; the system's certificate authorities plus those in
/// [`ClientOptions`]).
#[derive(Debug, Clone)]
pub struct Client {
    http: Http,
}

/// How a [`Client`] connects.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// PEM certificates to trust for `https://` servers besides the system's
    /// certificate authorities: a self-signed server's certificate, or a
    /// private CA.
    pub extra_root_certificates_pem: Option<Vec<u8>>,
}

impl Client {
    /// A client of the server at `base_url` (`http://host:port` or
    /// `https://host`, optionally with a path prefix). Fails only if the URL
    /// is not an http(s) URL; no request is made. `https` servers must have a
    /// certificate the system trusts; see [`Client::with_options`] otherwise.
    pub fn new(base_url: &str) -> Result<Client> {
        Ok(Client {
            http: Http::new(base_url)?,
        })
    }

    /// [`Client::new`] with [`ClientOptions`]. Fails with
    /// [`ClientError::Tls`] when the extra certificates cannot be used.
    pub fn with_options(base_url: &str, options: &ClientOptions) -> Result<Client> {
        Ok(Client {
            http: Http::with_options(base_url, options)?,
        })
    }

    /// The normalized base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.http.base()
    }

    /// Creates an account. Does not log in.
    ///
    /// Fails with `invalid_username`, `username_taken` or `weak_password`.
    pub async fn register(&self, request: &RegisterRequest) -> Result<UserProfile> {
        self.http
            .call(
                self.http
                    .endpoint(accounts::REGISTER, &[], None)
                    .json(request),
            )
            .await
    }

    /// Logs in, creating a new device, and returns its [`Session`].
    ///
    /// Fails with `invalid_credentials` (wrong username or password alike).
    pub async fn login(&self, request: &LoginRequest) -> Result<Session> {
        let login: LoginResponse = self
            .http
            .call(self.http.endpoint(accounts::LOGIN, &[], None).json(request))
            .await?;
        Ok(Session::new(self.http.clone(), login))
    }

    /// Resumes a session from a token saved earlier. Checks the token with
    /// the server (and learns the user and the device it belongs to), so it
    /// fails with `unauthorized` if the token was revoked.
    pub async fn session_from_token(&self, token: impl Into<String>) -> Result<Session> {
        Session::resume(self.http.clone(), token.into()).await
    }

    /// Whether the server answers its health check with a 2xx status.
    /// Any failure, including an unreachable server, is `false`.
    pub async fn healthz(&self) -> bool {
        match self
            .http
            .request(Method::Get, HEALTHZ_PATH, None)
            .send()
            .await
        {
            Ok(response) => response.status().is_success(),
            Err(err) => {
                tracing::debug!(error = %err, "health check failed");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Option<(&str, &str)>) {
        let got = normalize_base(input).ok().map(|base| {
            let ws = ws_url(&base);
            (base, ws)
        });
        let expected = expected.map(|(base, ws)| (base.to_owned(), ws.to_owned()));
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn base_urls_normalize_and_map_to_websocket_urls() {
        check(
            "http://localhost:8080",
            Some(("http://localhost:8080", "ws://localhost:8080/api/v1/ws")),
        );
        check(
            "http://localhost:8080/",
            Some(("http://localhost:8080", "ws://localhost:8080/api/v1/ws")),
        );
        check(
            " https://chat.example.org ",
            Some((
                "https://chat.example.org",
                "wss://chat.example.org/api/v1/ws",
            )),
        );
        check(
            "http://127.0.0.1:9/natter/",
            Some((
                "http://127.0.0.1:9/natter",
                "ws://127.0.0.1:9/natter/api/v1/ws",
            )),
        );
        check(
            "http://[::1]:3000",
            Some(("http://[::1]:3000", "ws://[::1]:3000/api/v1/ws")),
        );
        check("ftp://host", None);
        check("ws://host", None);
        check("localhost:8080", None);
        check("http://host/?x=1", None);
        check("http://host/#frag", None);
        check("", None);
    }

    #[test]
    fn raw_bodies_become_json() {
        assert_eq!(raw_body(b""), serde_json::Value::Null);
        assert_eq!(raw_body(br#"{"ok":true}"#), serde_json::json!({"ok": true}));
        assert_eq!(raw_body(b"Bad Gateway"), serde_json::json!("Bad Gateway"));
    }

    #[test]
    fn invalid_urls_are_reported_with_the_url() {
        let err = Client::new("nope").err();
        assert!(
            matches!(err, Some(ClientError::InvalidUrl { ref url, .. }) if url == "nope"),
            "{err:?}"
        );
    }
}
