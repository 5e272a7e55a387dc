//! The Natter terminal client and scriptable commands, on the Rust SDK
//! (`natter-client`) only.
//!
//! - [`chat`]: `natter chat`, a full-screen client (ratatui + crossterm).
//!   Its state lives in [`app::App`], which does no I/O: keys and server
//!   events change it and return [`app::Action`]s that the loop carries out;
//!   [`ui::render`] draws it. The loop is generic over the backend, so tests
//!   render into ratatui's `TestBackend` against a real server.
//! - [`commands`]: `natter login`, `send`, `history`, `friends`, `groups`,
//!   `devices`, `tail`, `logout`, writing to any `Write`.
//! - [`names`]: which conversation a typed name means (`#12`, `bob`,
//!   `group:bob`), one rule for the commands and the chat screen.
//! - [`outbox`]: the chat screen's unconfirmed sends, kept on disk so that
//!   they are sent (once) by the next run.
//! - [`config`]: the saved session (server, username, token), mode 0600.
//! - [`error::CommandError`]: every failure, with a documented exit code
//!   ([`error::exit`]).
//!
//! Invariants: the token is never printed (`Debug` hides it) and never
//! written to a file others can read; nothing here panics on what the server
//! sends (the SDK decodes every reply); nothing the server sends reaches the
//! terminal with its control characters (every such string is shown through
//! [`format::safe_text`], [`format::safe_line`] or [`format::safe_json`]).

pub mod app;
pub mod chat;
pub mod commands;
pub mod config;
pub mod error;
pub mod format;
pub mod input;
pub mod json;
pub mod names;
pub mod outbox;
pub mod ui;

pub use error::{CommandError, exit};
