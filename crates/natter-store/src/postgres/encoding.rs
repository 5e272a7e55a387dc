//! How change-stream entries and message contents are stored: a kind number
//! and bytes.
//!
//! The bytes are the JSON of the store's own types ([`crate::stored`],
//! storage encoding version 1), the same JSON SQLite keeps in its text
//! columns; the kind column says what a row holds without decoding it.
//! Kind numbers are stored: never reuse or renumber one.

use natter_protocol::conversations::MessageContent;
use natter_protocol::sync::UserChange;

use crate::stored::{StoredChange, StoredContent};
use crate::{StoreError, StoreResult};

fn change_kind(change: &StoredChange) -> i16 {
    // Exhaustive on purpose: a new kind of change must be given a number here.
    match change {
        StoredChange::FriendRequestReceived { .. } => 1,
        StoredChange::FriendRequestUpdated { .. } => 2,
        StoredChange::FriendAdded { .. } => 3,
        StoredChange::FriendRemoved { .. } => 4,
        StoredChange::FriendUpdated { .. } => 5,
        StoredChange::BlockChanged { .. } => 6,
        StoredChange::ConversationJoined { .. } => 7,
        StoredChange::ConversationLeft { .. } => 8,
        StoredChange::ReadPosition { .. } => 9,
        StoredChange::ProfileUpdated { .. } => 10,
    }
}

/// The kind and stored bytes of a change.
pub(super) fn encode_change(change: &UserChange) -> StoreResult<(i16, Vec<u8>)> {
    let stored = StoredChange::from(change);
    let bytes = serde_json::to_vec(&stored)
        .map_err(|e| StoreError::Unavailable(format!("encode change: {e}")))?;
    Ok((change_kind(&stored), bytes))
}

/// The change a stored row holds; `Unavailable` if the row is not one
/// [`encode_change`] wrote (a corrupt or foreign row must not reach clients).
pub(super) fn decode_change(kind: i16, bytes: &[u8]) -> StoreResult<UserChange> {
    let change: StoredChange = serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(kind, error = %e, "undecodable change-stream entry");
        StoreError::Unavailable(format!("decode change of kind {kind}: {e}"))
    })?;
    if change_kind(&change) != kind {
        tracing::error!(kind, "change-stream entry of another kind than its bytes");
        return Err(StoreError::Unavailable(format!(
            "change-stream entry of kind {kind} holds a change of kind {}",
            change_kind(&change)
        )));
    }
    Ok(change.into())
}

fn content_kind(content: &StoredContent) -> i16 {
    // Exhaustive on purpose, as for changes.
    match content {
        StoredContent::Text { .. } => 1,
        StoredContent::Image { .. } => 2,
        StoredContent::Voice { .. } => 3,
        StoredContent::Video { .. } => 4,
        StoredContent::File { .. } => 5,
        StoredContent::Sticker { .. } => 6,
        StoredContent::System { .. } => 7,
        StoredContent::Encrypted { .. } => 8,
    }
}

/// The kind and stored bytes of a message's content.
pub(super) fn encode_content(content: &MessageContent) -> StoreResult<(i16, Vec<u8>)> {
    encode_stored_content(&StoredContent::from(content))
}

/// [`encode_content`] of a content already in its stored form (the move from
/// SQLite, which reads the same form).
pub(super) fn encode_stored_content(content: &StoredContent) -> StoreResult<(i16, Vec<u8>)> {
    let bytes = serde_json::to_vec(content)
        .map_err(|e| StoreError::Unavailable(format!("encode message content: {e}")))?;
    Ok((content_kind(content), bytes))
}

/// The content a stored message holds; `Unavailable` if the row is not one
/// [`encode_content`] wrote.
pub(super) fn decode_content(kind: i16, bytes: &[u8]) -> StoreResult<MessageContent> {
    let content: StoredContent = serde_json::from_slice(bytes).map_err(|e| {
        tracing::error!(kind, error = %e, "undecodable message content");
        StoreError::Unavailable(format!("decode message content of kind {kind}: {e}"))
    })?;
    if content_kind(&content) != kind {
        tracing::error!(kind, "message content of another kind than its bytes");
        return Err(StoreError::Unavailable(format!(
            "message content of kind {kind} holds content of kind {}",
            content_kind(&content)
        )));
    }
    Ok(content.into())
}

#[cfg(test)]
mod tests {
    use natter_protocol::conversations::SystemEvent;
    use natter_protocol::{ConversationId, Seq, UserId};

    use super::*;

    #[test]
    fn changes_round_trip_and_a_wrong_kind_is_refused() {
        for change in [
            UserChange::ProfileUpdated {
                display_name: "Ada".into(),
            },
            UserChange::FriendRemoved { user_id: UserId(7) },
            UserChange::ReadPosition {
                conversation_id: ConversationId(3),
                read_seq: Seq(9),
            },
        ] {
            let (kind, bytes) = encode_change(&change).expect("encodes");
            assert_eq!(decode_change(kind, &bytes).expect("decodes"), change);
            assert!(decode_change(kind + 1, &bytes).is_err());
        }
        assert!(decode_change(10, b"not json").is_err());
    }

    #[test]
    fn contents_round_trip_and_a_wrong_kind_is_refused() {
        for content in [
            MessageContent::Text { text: "hi".into() },
            MessageContent::Sticker {
                pack: "p".into(),
                sticker: "s".into(),
            },
            MessageContent::System {
                event: SystemEvent::GroupCreated {
                    by: UserId(1),
                    name: "g".into(),
                },
            },
        ] {
            let (kind, bytes) = encode_content(&content).expect("encodes");
            assert_eq!(decode_content(kind, &bytes).expect("decodes"), content);
            assert!(decode_content(kind + 1, &bytes).is_err());
        }
        assert!(decode_content(1, b"not json").is_err());
    }
}
