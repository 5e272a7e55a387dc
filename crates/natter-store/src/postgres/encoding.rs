//! How change-stream entries and message contents are stored: a kind number
//! and bytes.
//!
//! For now the bytes are the JSON of the protocol type; the kind column lets
//! the store move to its own per-kind form later without guessing what a row
//! holds. Kind numbers are stored: never reuse or renumber one.

use natter_protocol::conversations::MessageContent;
use natter_protocol::sync::UserChange;

use crate::{StoreError, StoreResult};

fn change_kind(change: &UserChange) -> i16 {
    // Exhaustive on purpose: a new kind of change must be given a number here.
    match change {
        UserChange::FriendRequestReceived { .. } => 1,
        UserChange::FriendRequestUpdated { .. } => 2,
        UserChange::FriendAdded { .. } => 3,
        UserChange::FriendRemoved { .. } => 4,
        UserChange::FriendUpdated { .. } => 5,
        UserChange::BlockChanged { .. } => 6,
        UserChange::ConversationJoined { .. } => 7,
        UserChange::ConversationLeft { .. } => 8,
        UserChange::ReadPosition { .. } => 9,
        UserChange::ProfileUpdated { .. } => 10,
    }
}

/// The kind and stored bytes of a change.
pub(super) fn encode_change(change: &UserChange) -> StoreResult<(i16, Vec<u8>)> {
    let bytes = serde_json::to_vec(change)
        .map_err(|e| StoreError::Unavailable(format!("encode change: {e}")))?;
    Ok((change_kind(change), bytes))
}

/// The change a stored row holds; `Unavailable` if the row is not one
/// [`encode_change`] wrote (a corrupt or foreign row must not reach clients).
pub(super) fn decode_change(kind: i16, bytes: &[u8]) -> StoreResult<UserChange> {
    let change: UserChange = serde_json::from_slice(bytes).map_err(|e| {
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
    Ok(change)
}

fn content_kind(content: &MessageContent) -> i16 {
    // Exhaustive on purpose, as for changes.
    match content {
        MessageContent::Text { .. } => 1,
        MessageContent::Image { .. } => 2,
        MessageContent::Voice { .. } => 3,
        MessageContent::Video { .. } => 4,
        MessageContent::File { .. } => 5,
        MessageContent::Sticker { .. } => 6,
        MessageContent::System { .. } => 7,
        MessageContent::Encrypted { .. } => 8,
    }
}

/// The kind and stored bytes of a message's content.
pub(super) fn encode_content(content: &MessageContent) -> StoreResult<(i16, Vec<u8>)> {
    let bytes = serde_json::to_vec(content)
        .map_err(|e| StoreError::Unavailable(format!("encode message content: {e}")))?;
    Ok((content_kind(content), bytes))
}

/// The content a stored message holds; `Unavailable` if the row is not one
/// [`encode_content`] wrote.
pub(super) fn decode_content(kind: i16, bytes: &[u8]) -> StoreResult<MessageContent> {
    let content: MessageContent = serde_json::from_slice(bytes).map_err(|e| {
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
    Ok(content)
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
