//! The JSON the scriptable commands print: one shape per kind of record,
//! whichever command prints it (docs/CLI.md).
//!
//! A record is the protocol's own type, as docs/PROTOCOL.md describes it: a
//! message is a [`Message`] in `send --json`, `history --json` and `tail`; a
//! friend a [`Friend`], a friend request a [`FriendRequest`], a group a
//! [`ConversationSummary`], a member a [`Member`], a device a [`Device`]. A
//! list of one kind is a JSON array of its records; `friends --json` is the
//! object [`FriendsRecord`]; `tail --all-events` prints every event as the
//! protocol's tagged [`Event`] (`{"type": "message", "message": {...}}`).
//!
//! Everything goes out through [`format::safe_json`], so that what the server
//! sent cannot drive the terminal.

use std::io::Write;

use natter_client::protocol::contacts::{Friend, FriendRequest};
use serde::Serialize;

#[cfg(doc)]
use natter_client::protocol::{
    accounts::Device,
    conversations::{ConversationSummary, Member, Message},
    ws::Event,
};

use crate::error::CommandError;
use crate::format;

/// `natter friends --json`: friends, then the pending requests both ways.
#[derive(Debug, Serialize)]
pub struct FriendsRecord<'a> {
    pub friends: &'a [Friend],
    /// Requests others sent the caller: `natter friends accept|decline NAME`.
    pub incoming: &'a [FriendRequest],
    /// Requests the caller sent, still waiting.
    pub outgoing: &'a [FriendRequest],
}

fn encode(err: serde_json::Error) -> CommandError {
    CommandError::Output(std::io::Error::other(err))
}

/// Writes `value` as one line of compact JSON (for line-oriented output).
pub fn write_line(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CommandError> {
    let text = serde_json::to_string(value).map_err(encode)?;
    writeln!(out, "{}", format::safe_json(&text)).map_err(CommandError::Output)
}

/// Writes `value` as indented JSON (for a whole document, e.g. a list).
pub fn write_pretty(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(value).map_err(encode)?;
    writeln!(out, "{}", format::safe_json(&text)).map_err(CommandError::Output)
}
