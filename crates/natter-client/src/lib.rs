//! The Natter Rust SDK: a typed async client of a Natter chat server.
//!
//! Main types:
//! - [`Client`]: an anonymous client of one server; registers accounts and
//!   logs in.
//! - [`Session`]: a logged-in device (cheap to clone) with one typed method
//!   per HTTP endpoint of [`natter_protocol`].
//! - [`Connection`]: the real-time WebSocket of a session, opened with
//!   [`Session::connect`]. It sends messages, and yields
//!   [`ConnectionEvent`]s.
//! - [`ClientError`]: the one error type; server refusals carry the stable
//!   [`ErrorCode`](natter_protocol::ErrorCode) (see [`ClientError::code`]).
//! - [`FileCursorStore`]: the position an application has handled, kept in a
//!   file, so that after a restart it resumes there
//!   ([`ConnectOptions::resume`]) instead of missing what came meanwhile.
//!
//! Guarantees:
//! - a [`Connection`] reconnects by itself (exponential backoff with jitter)
//!   unless the server closed it for good (4001 unauthorized, 4002 revoked) or
//!   the application closed it;
//! - its event stream delivers each `(conversation, seq)` at most once and in
//!   ascending seq per conversation; messages missed while disconnected, or
//!   skipped by the socket, are fetched and delivered before newer ones;
//! - sends (over HTTP or the socket) carry a `client_msg_id`, and the socket
//!   retries them after a reconnect with the same id, so one call stores at
//!   most one message;
//! - the SDK never panics on what the server sends: every reply is decoded,
//!   and a bad one is a [`ClientError::Decode`].
//!
//! Both `http://`/`ws://` and `https://`/`wss://` servers work: TLS is
//! rustls (with the *ring* provider), trusting the system's certificate
//! authorities plus any given in [`ClientOptions`] (a self-signed server, a
//! private CA).
//!
//! `examples/echo_bot.rs` is a complete bot that resumes after a restart.
//!
//! ```no_run
//! use natter_client::{Client, ConnectionEvent};
//! use natter_client::protocol::accounts::LoginRequest;
//! use natter_client::protocol::ws::Event;
//!
//! # async fn demo() -> natter_client::Result<()> {
//! let client = Client::new("http://localhost:8080")?;
//! let session = client
//!     .login(&LoginRequest { username: "alice".into(), password: "correct horse".into(), device: None })
//!     .await?;
//! let friends = session.friends().await?;
//!
//! let connection = session.connect().await?;
//! if let Some(friend) = friends.friends.first() {
//!     let sent = connection.send_text(friend.conversation_id, "hello 👋").await?;
//!     println!("stored as #{}", sent.seq);
//! }
//! while let Some(event) = connection.next_event().await {
//!     match event {
//!         ConnectionEvent::Event(Event::Message { message }) => println!("{message:?}"),
//!         ConnectionEvent::Closed { code, reason } => eprintln!("logged out ({code}): {reason}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod backoff;
mod cursor_store;
mod error;
mod http;
mod realtime;
mod session;
mod tls;

pub use cursor_store::{CursorStoreError, FileCursorStore, Position};
pub use error::{ClientError, Result};
pub use http::{Client, ClientOptions};
pub use realtime::{ConnectOptions, Connection, ConnectionEvent};
pub use session::{Session, new_client_msg_id};

/// The wire types, re-exported so that applications need not depend on
/// `natter-protocol` themselves.
pub use natter_protocol as protocol;
