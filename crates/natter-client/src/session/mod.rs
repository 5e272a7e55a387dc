//! [`Session`]: a logged-in device, with one typed method per HTTP endpoint.
//!
//! The endpoint methods live in one file per protocol domain, mirroring
//! `natter-protocol`: [`accounts`], [`contacts`], [`conversations`] (which
//! also holds groups and sync).

mod accounts;
mod contacts;
mod conversations;

pub(crate) use conversations::merge_sync_page;

/// A list the server answers in pages (`next` names the following one).
trait Paged {
    fn next_page(&mut self) -> Option<String>;
    /// Appends the entries of a later page and takes its `next`.
    fn append(&mut self, page: Self);
}

macro_rules! paged {
    ($($list:ty => $items:ident),* $(,)?) => {$(
        impl Paged for $list {
            fn next_page(&mut self) -> Option<String> {
                self.next.take()
            }
            fn append(&mut self, page: Self) {
                self.$items.extend(page.$items);
                self.next = page.next;
            }
        }
    )*};
}

paged!(
    natter_protocol::contacts::FriendList => friends,
    natter_protocol::conversations::ConversationList => conversations,
    natter_protocol::conversations::MemberList => members,
);

impl Paged for natter_protocol::contacts::FriendRequestList {
    fn next_page(&mut self) -> Option<String> {
        self.next.take()
    }
    fn append(&mut self, page: Self) {
        self.incoming.extend(page.incoming);
        self.outgoing.extend(page.outgoing);
        self.next = page.next;
    }
}

/// Every page of a list, merged: `fetch` asks for one page.
async fn all_pages<L, F, Fut>(mut fetch: F) -> crate::error::Result<L>
where
    L: Paged,
    F: FnMut(natter_protocol::conversations::PageQuery) -> Fut,
    Fut: std::future::Future<Output = crate::error::Result<L>>,
{
    let mut all = fetch(Default::default()).await?;
    while let Some(after) = all.next_page() {
        let query = natter_protocol::conversations::PageQuery {
            limit: None,
            after: Some(after),
        };
        let page = fetch(query).await?;
        all.append(page);
    }
    Ok(all)
}

use std::fmt;
use std::sync::Arc;

use natter_protocol::accounts::{DeviceList, LoginResponse, UserProfile};
use natter_protocol::{ClientMsgId, DeviceId, Endpoint, Method};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};
use crate::http::Http;

/// A fresh idempotency key for a send: 128 random bits as 32 hex digits.
pub fn new_client_msg_id() -> ClientMsgId {
    ClientMsgId(format!("{:032x}", rand::random::<u128>()))
}

/// A text message under a fresh `client_msg_id`, for the `send_text` helpers.
pub(crate) fn text_message(text: &str) -> natter_protocol::conversations::SendMessageRequest {
    natter_protocol::conversations::SendMessageRequest {
        client_msg_id: new_client_msg_id(),
        content: natter_protocol::conversations::MessageContent::Text {
            text: text.to_owned(),
        },
        reply_to: None,
    }
}

/// A logged-in device of one user: the token plus the HTTP API.
///
/// Cheap to clone; clones share the token and the connection pool. A session
/// stays valid until it is logged out or revoked; after that every call fails
/// with `unauthorized`. [`Session::connect`] opens the real-time connection.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    http: Http,
    login: LoginResponse,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a password equivalent: never print it.
        f.debug_struct("Session")
            .field("base", &self.inner.http.base())
            .field("user", &self.inner.login.user.username)
            .field("device_id", &self.inner.login.device_id)
            .field("token", &"***")
            .finish()
    }
}

impl Session {
    pub(crate) fn new(http: Http, login: LoginResponse) -> Session {
        Session {
            inner: Arc::new(SessionInner { http, login }),
        }
    }

    /// Builds a session around a saved token: the profile comes from
    /// `GET /me`, the device id from the device list's `current` entry.
    pub(crate) async fn resume(http: Http, token: String) -> Result<Session> {
        let me = http.endpoint(natter_protocol::accounts::GET_ME, &[], Some(&token));
        let devices = http.endpoint(natter_protocol::accounts::LIST_DEVICES, &[], Some(&token));
        let (user, devices): (UserProfile, DeviceList) =
            tokio::try_join!(http.call(me), http.call(devices))?;
        let device_id = devices
            .devices
            .iter()
            .find(|device| device.current)
            .map(|device| device.id)
            .ok_or_else(|| ClientError::Decode("the device list has no `current` device".into()))?;
        Ok(Session::new(
            http,
            LoginResponse {
                token,
                device_id,
                user,
            },
        ))
    }

    /// The session token (`Authorization: Bearer <token>`). Keep it secret.
    pub fn token(&self) -> &str {
        &self.inner.login.token
    }

    /// The logged-in user, as of login (see [`Session::me`] for a fresh copy).
    pub fn user(&self) -> &UserProfile {
        &self.inner.login.user
    }

    /// This session's device.
    pub fn device_id(&self) -> DeviceId {
        self.inner.login.device_id
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        self.inner.http.base()
    }

    /// The TLS trust of an `https` server, for the WebSocket.
    pub(crate) fn tls(&self) -> Option<std::sync::Arc<rustls::ClientConfig>> {
        self.inner.http.tls()
    }

    /// `args` are `Sync` so that the futures of the methods below, which keep
    /// the argument array alive across their await, stay `Send`.
    fn req(
        &self,
        endpoint: Endpoint,
        args: &[&(dyn fmt::Display + Sync)],
    ) -> reqwest::RequestBuilder {
        let args: Vec<&dyn fmt::Display> =
            args.iter().map(|arg| *arg as &dyn fmt::Display).collect();
        self.inner
            .http
            .endpoint(endpoint, &args, Some(self.token()))
    }

    async fn call<R: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<R> {
        self.inner.http.call(request).await
    }

    /// For endpoints that answer `{"ok": true}`: the body is still decoded, so a
    /// server that drifts from the contract is noticed.
    async fn call_ok(&self, request: reqwest::RequestBuilder) -> Result<()> {
        self.inner
            .http
            .call::<natter_protocol::accounts::Ok>(request)
            .await
            .map(drop)
    }

    /// Sends any request with this session's token and returns the status and
    /// body as they came, without turning error statuses into errors. For tests
    /// that send what the typed methods cannot (bad JSON shapes, unknown routes).
    /// A non-JSON body comes back as a JSON string, an empty one as `null`.
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        let mut request = self.inner.http.request(method, path, Some(self.token()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.inner.http.call_raw(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::UserId;

    #[test]
    fn client_msg_ids_are_128_bit_hex_and_fresh() {
        let a = new_client_msg_id();
        let b = new_client_msg_id();
        assert_eq!(a.0.len(), 32);
        assert!(
            a.0.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
            "{a}"
        );
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_token() {
        let http = Http::new("http://localhost:1").expect("valid URL");
        let session = Session::new(
            http,
            LoginResponse {
                token: "s3cret-token".into(),
                device_id: DeviceId(2),
                user: UserProfile {
                    id: UserId(1),
                    username: "alice".into(),
                    display_name: "Alice".into(),
                    created_at: natter_protocol::Timestamp(0),
                },
            },
        );
        let shown = format!("{session:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }
}
