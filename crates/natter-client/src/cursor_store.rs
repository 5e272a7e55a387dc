//! [`FileCursorStore`]: where an application stopped reading the event
//! stream, kept in a file, so that after a restart it resumes there instead
//! of missing what happened while it was down.
//!
//! A [`Connection`] knows its position ([`Connection::cursor`],
//! [`Connection::known_seqs`]) but forgets it when the process ends. The
//! store keeps the part the application has *handled*: a message counts once
//! [`FileCursorStore::mark_handled`] saw it, not when the SDK queued it, so
//! that a crash between the two delivers it again rather than never.
//! Delivery after a restart is therefore at least once: a message being
//! handled when the process died comes again.
//!
//! Each save writes a temporary file next to the store, flushes it to disk
//! and renames it over the store, so that a crash leaves the old position or
//! the new one, never a torn file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use natter_protocol::ws::Event;
use natter_protocol::{ConversationId, Seq, SyncCursor};
use serde::{Deserialize, Serialize};

use crate::realtime::{ConnectOptions, Connection, ConnectionEvent};

/// The version of the file's format; a file of another version is refused.
const FORMAT_VERSION: u32 = 1;

/// Why a [`FileCursorStore`] could not load or save its position.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CursorStoreError {
    /// Reading or writing the file (or its temporary sibling) failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but holds no position this version can read.
    #[error("{path} is not a saved position ({reason}); delete it to start afresh")]
    Corrupt { path: PathBuf, reason: String },
}

/// A position in a user's event stream: the sync cursor up to which every
/// change was handled, and the last handled seq per conversation. What
/// [`ConnectOptions::resume`] takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    pub cursor: SyncCursor,
    pub known_seqs: HashMap<ConversationId, Seq>,
}

/// The file's contents. Pairs rather than a map: JSON keys are strings.
#[derive(Serialize, Deserialize)]
struct Stored {
    version: u32,
    cursor: SyncCursor,
    known_seqs: Vec<(ConversationId, Seq)>,
}

/// A [`Position`] kept in a JSON file, saved atomically on every change.
///
/// ```no_run
/// # async fn demo(session: natter_client::Session) -> Result<(), Box<dyn std::error::Error>> {
/// use natter_client::FileCursorStore;
///
/// let mut store = FileCursorStore::open("bot-position.json")?;
/// let connection = session.connect_with(store.connect_options()).await?;
/// store.started(&connection)?;
/// while let Some(event) = connection.next_event().await {
///     // ... handle the event, then:
///     store.mark_handled(&connection, &event)?;
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FileCursorStore {
    path: PathBuf,
    /// `None` until a position was loaded or first recorded.
    position: Option<Position>,
}

impl FileCursorStore {
    /// Opens the store at `path`, reading the position saved there if the
    /// file exists. Nothing is created until the first save.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileCursorStore, CursorStoreError> {
        let path = path.into();
        let position = match std::fs::read(&path) {
            Ok(bytes) => Some(decode(&path, &bytes)?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(CursorStoreError::Io { path, source }),
        };
        Ok(FileCursorStore { path, position })
    }

    /// The file the position is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position loaded or last saved; `None` for a store never saved.
    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    /// How to connect: resuming from the saved position, or, for a new
    /// store, from now on.
    pub fn connect_options(&self) -> ConnectOptions {
        match &self.position {
            Some(position) => ConnectOptions::resume(position.cursor, position.known_seqs.clone()),
            None => ConnectOptions::default(),
        }
    }

    /// Call once a connection made with [`FileCursorStore::connect_options`]
    /// is open. A new store takes the connection's starting point ("now") as
    /// its position and saves it, so that the next run resumes from here; a
    /// resumed store keeps its position until events are handled.
    pub fn started(&mut self, connection: &Connection) -> Result<(), CursorStoreError> {
        if self.position.is_some() {
            return Ok(());
        }
        let position = Position {
            cursor: connection.cursor(),
            known_seqs: connection.known_seqs(),
        };
        self.save(position)
    }

    /// Records `event` as handled and saves the position if it moved. Call it
    /// for every event, after handling it.
    pub fn mark_handled(
        &mut self,
        connection: &Connection,
        event: &ConnectionEvent,
    ) -> Result<(), CursorStoreError> {
        let mut next = self.position.clone().unwrap_or_default();
        if let ConnectionEvent::Event(Event::Message { message }) = event {
            record_message(&mut next, message.conversation_id, message.seq);
        }
        // The cursor first, then the seqs: the connection advances its cursor
        // only after queueing what the sync reported, so seqs read after it
        // include those messages, and the check below sees them.
        let cursor = connection.cursor();
        let delivered = connection.known_seqs();
        advance_cursor(&mut next, cursor, &delivered);
        if self.position.as_ref() == Some(&next) {
            return Ok(());
        }
        self.save(next)
    }

    /// Writes `position` to the file atomically and keeps it.
    pub fn save(&mut self, position: Position) -> Result<(), CursorStoreError> {
        let mut known_seqs: Vec<_> = position
            .known_seqs
            .iter()
            .map(|(conversation, seq)| (*conversation, *seq))
            .collect();
        known_seqs.sort();
        let stored = Stored {
            version: FORMAT_VERSION,
            cursor: position.cursor,
            known_seqs,
        };
        let bytes = serde_json::to_vec(&stored).map_err(|err| CursorStoreError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        write_atomically(&self.path, &bytes)?;
        self.position = Some(position);
        Ok(())
    }
}

/// A handled message moves its conversation's position up (never down).
fn record_message(position: &mut Position, conversation: ConversationId, seq: Seq) {
    let known = position.known_seqs.entry(conversation).or_default();
    if seq > *known {
        *known = seq;
    }
}

/// Takes the connection's cursor once every message it delivered has been
/// handled. Until then the older cursor stays: resuming from it asks the
/// server about more, never about less.
fn advance_cursor(
    position: &mut Position,
    cursor: SyncCursor,
    delivered: &HashMap<ConversationId, Seq>,
) {
    let all_handled = delivered.iter().all(|(conversation, seq)| {
        position
            .known_seqs
            .get(conversation)
            .is_some_and(|handled| handled >= seq)
    });
    if all_handled && cursor > position.cursor {
        position.cursor = cursor;
    }
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Position, CursorStoreError> {
    let corrupt = |reason: String| CursorStoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let stored: Stored = serde_json::from_slice(bytes).map_err(|err| corrupt(err.to_string()))?;
    if stored.version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {}, expected {FORMAT_VERSION}",
            stored.version
        )));
    }
    Ok(Position {
        cursor: stored.cursor,
        known_seqs: stored.known_seqs.into_iter().collect(),
    })
}

/// Writes `bytes` to a temporary file in `path`'s directory, flushes it to
/// disk, renames it over `path`, then flushes the directory (on Unix) so the
/// rename itself survives a power cut.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CursorStoreError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CursorStoreError::Io { path, source }
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            io(path)(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the store's path names no file",
            ))
        })?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&temp).map_err(io(&temp))?;
    file.write_all(bytes).map_err(io(&temp))?;
    file.sync_all().map_err(io(&temp))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(io(path))?;
    #[cfg(unix)]
    std::fs::File::open(&dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io(&dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ConversationId = ConversationId(1);
    const B: ConversationId = ConversationId(2);

    fn position(cursor: i64, seqs: &[(ConversationId, i64)]) -> Position {
        Position {
            cursor: SyncCursor(cursor),
            known_seqs: seqs.iter().map(|(c, s)| (*c, Seq(*s))).collect(),
        }
    }

    #[test]
    fn a_position_survives_a_reopen() -> Result<(), CursorStoreError> {
        let dir = tempfile::tempdir().map_err(|source| CursorStoreError::Io {
            path: PathBuf::new(),
            source,
        })?;
        let path = dir.path().join("position.json");
        let mut store = FileCursorStore::open(&path)?;
        assert_eq!(store.position(), None);
        assert!(!path.exists(), "opening creates nothing");
        assert_eq!(store.connect_options().since, None);

        store.save(position(7, &[(A, 3), (B, 9)]))?;
        let reopened = FileCursorStore::open(&path)?;
        assert_eq!(reopened.position(), Some(&position(7, &[(A, 3), (B, 9)])));
        let options = reopened.connect_options();
        assert_eq!(options.since, Some(SyncCursor(7)));
        assert_eq!(options.known_seqs.get(&B), Some(&Seq(9)));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map_err(|source| CursorStoreError::Io {
                path: dir.path().to_path_buf(),
                source,
            })?
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name())
            .collect();
        assert_eq!(names, ["position.json"]);
        Ok(())
    }

    #[test]
    fn a_bad_file_is_refused_not_taken_for_a_fresh_start() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("no temporary directory");
        };
        for (contents, wanted) in [
            ("", "EOF"),
            ("{\"version\":1}", "missing field"),
            (
                "{\"version\":9,\"cursor\":1,\"known_seqs\":[]}",
                "format version 9",
            ),
        ] {
            let path = dir.path().join("bad.json");
            assert!(std::fs::write(&path, contents).is_ok());
            match FileCursorStore::open(&path) {
                Err(CursorStoreError::Corrupt { reason, .. }) => {
                    assert!(reason.contains(wanted), "{contents:?}: {reason}");
                }
                other => panic!("{contents:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn handled_messages_only_move_positions_up() {
        let mut at = position(0, &[(A, 5)]);
        record_message(&mut at, A, Seq(4));
        record_message(&mut at, B, Seq(2));
        record_message(&mut at, A, Seq(6));
        assert_eq!(at, position(0, &[(A, 6), (B, 2)]));
    }

    #[test]
    fn the_cursor_waits_for_every_delivered_message_to_be_handled() {
        // (handled seqs, delivered seqs, connection cursor) -> saved cursor
        for (handled, delivered, cursor, expected) in [
            (vec![(A, 5)], vec![(A, 5)], 9, 9),
            (vec![(A, 5), (B, 1)], vec![(A, 5)], 9, 9),
            // A message was queued but not handled: resuming from 9 would skip it.
            (vec![(A, 4)], vec![(A, 5)], 9, 3),
            (vec![(A, 5)], vec![(A, 5), (B, 1)], 9, 3),
            // The cursor never goes back.
            (vec![(A, 5)], vec![(A, 5)], 2, 3),
        ] {
            let mut at = position(3, &handled);
            let delivered: HashMap<_, _> =
                delivered.into_iter().map(|(c, s)| (c, Seq(s))).collect();
            advance_cursor(&mut at, SyncCursor(cursor), &delivered);
            assert_eq!(at.cursor, SyncCursor(expected), "{handled:?} {delivered:?}");
        }
    }
}
