//! The outbox on disk: what the user sent from `natter chat` that the server
//! has not confirmed, kept as `outbox.json` in the config directory (mode
//! 0600: it is private text) so that quitting, or a crash, loses no message,
//! as the web client keeps its outbox across reloads. The next `natter chat`
//! of the same account on the same server sends it again under the same
//! client message ids, so the server stores each message once.
//!
//! What the server refused is not kept: sent again, it would be refused
//! again. The file belongs to one account: another login in the same
//! directory neither sends nor sees it, and `natter logout` deletes it.

use std::path::Path;

use natter_client::protocol::{ClientMsgId, ConversationId, UserId};
use serde::{Deserialize, Serialize};

use crate::app::{Pending, PendingState};
use crate::config;
use crate::error::CommandError;

/// The file name inside the config directory.
pub const OUTBOX_FILE: &str = "outbox.json";

/// One unconfirmed send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSend {
    pub client_msg_id: ClientMsgId,
    pub conversation: ConversationId,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedOutbox {
    /// Whose outbox this is: the server's base URL and the user there.
    server: String,
    user: UserId,
    messages: Vec<SavedSend>,
}

/// What of `outbox` is worth keeping: everything not refused, oldest first.
pub fn to_save(outbox: &[Pending]) -> Vec<SavedSend> {
    outbox
        .iter()
        .filter(|p| !matches!(p.state, PendingState::Failed(_)))
        .map(|p| SavedSend {
            client_msg_id: p.client_msg_id.clone(),
            conversation: p.conversation,
            text: p.text.clone(),
        })
        .collect()
}

/// The outbox `user` of `server` left in `dir`; empty when there is none or
/// it is another account's.
pub fn load(dir: &Path, server: &str, user: UserId) -> Result<Vec<SavedSend>, CommandError> {
    let path = dir.join(OUTBOX_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CommandError::Io { path, source }),
    };
    let saved: SavedOutbox =
        serde_json::from_str(&text).map_err(|err| CommandError::BadConfig {
            path,
            reason: err.to_string(),
        })?;
    if saved.server != server || saved.user != user {
        return Ok(Vec::new());
    }
    Ok(saved.messages)
}

/// Writes `messages` as the outbox of `user` of `server`; an empty outbox
/// deletes the file.
pub fn save(
    dir: &Path,
    server: &str,
    user: UserId,
    messages: &[SavedSend],
) -> Result<(), CommandError> {
    if messages.is_empty() {
        return remove(dir);
    }
    let saved = SavedOutbox {
        server: server.to_owned(),
        user,
        messages: messages.to_vec(),
    };
    let body = serde_json::to_vec_pretty(&saved).map_err(|err| CommandError::BadConfig {
        path: dir.join(OUTBOX_FILE),
        reason: err.to_string(),
    })?;
    config::write_private(dir, OUTBOX_FILE, &body)?;
    Ok(())
}

/// Deletes the outbox file, if any.
pub fn remove(dir: &Path) -> Result<(), CommandError> {
    config::remove_file(dir, OUTBOX_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(id: &str, text: &str) -> SavedSend {
        SavedSend {
            client_msg_id: ClientMsgId(id.into()),
            conversation: ConversationId(3),
            text: text.into(),
        }
    }

    #[test]
    fn an_outbox_is_kept_for_its_own_account_only() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let server = "http://127.0.0.1:1";
        assert_eq!(load(dir.path(), server, UserId(1))?, Vec::new());
        let messages = vec![send("a", "first"), send("b", "second\nline")];
        save(dir.path(), server, UserId(1), &messages)?;
        assert_eq!(load(dir.path(), server, UserId(1))?, messages);
        // Another user, or the same id on another server, gets nothing.
        assert_eq!(load(dir.path(), server, UserId(2))?, Vec::new());
        assert_eq!(load(dir.path(), "http://other:1", UserId(1))?, Vec::new());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(OUTBOX_FILE))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        save(dir.path(), server, UserId(1), &[])?;
        assert!(!dir.path().join(OUTBOX_FILE).exists());
        Ok(())
    }

    #[test]
    fn refused_sends_are_not_kept() {
        let pending = |id: &str, state| Pending {
            client_msg_id: ClientMsgId(id.into()),
            conversation: ConversationId(3),
            text: id.into(),
            state,
            attempted: std::time::Instant::now(),
        };
        let outbox = [
            pending("a", PendingState::Sending),
            pending("b", PendingState::Failed("not friends".into())),
            pending("c", PendingState::Waiting),
        ];
        let kept: Vec<String> = to_save(&outbox).into_iter().map(|s| s.text).collect();
        assert_eq!(kept, ["a", "c"]);
    }
}
