//! How messages and times are shown as text, shared by the chat screen and
//! the scriptable commands.

use std::collections::HashMap;

use natter_client::protocol::conversations::{MediaRef, Message, MessageContent, SystemEvent};
use natter_client::protocol::{Timestamp, UserId};

/// `HH:MM` of a timestamp (milliseconds since the epoch) in the local time
/// zone (`TZ`, else the system's).
pub fn clock(at: Timestamp) -> String {
    let offset = chrono::DateTime::from_timestamp_millis(at.0)
        .map(|utc| *utc.with_timezone(&chrono::Local).offset())
        .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
    clock_at_offset(at, offset)
}

/// `HH:MM` of a timestamp at a fixed UTC offset.
pub fn clock_at_offset(at: Timestamp, offset: chrono::FixedOffset) -> String {
    match chrono::DateTime::from_timestamp_millis(at.0) {
        Some(utc) => utc.with_timezone(&offset).format("%H:%M").to_string(),
        None => "--:--".into(),
    }
}

/// A byte count for people: `512 B`, `12 KiB`, `3.4 MiB`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes < KIB {
        format!("{bytes} B")
    } else if bytes < MIB {
        format!("{} KiB", bytes.div_ceil(KIB))
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    }
}

fn media_label(kind: &str, media: &MediaRef, message: &Message) -> String {
    let name = media.name.as_deref().unwrap_or(&media.media_id);
    format!(
        "[{kind}: {name}, {}, {}] download: natter download {} {}",
        media.mime,
        size(media.size),
        message.conversation_id,
        message.seq
    )
}

/// The body of a message as one text: the text itself, or a labelled line
/// for everything else (media carry the command that downloads them).
pub fn body(message: &Message, names: &HashMap<UserId, String>) -> String {
    let name = |id: &UserId| names.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
    if message.recalled_at.is_some() {
        return "[recalled]".into();
    }
    match &message.content {
        MessageContent::Text { text } => text.clone(),
        MessageContent::Image { media } => media_label("image", media, message),
        MessageContent::Voice { media } => media_label("voice", media, message),
        MessageContent::Video { media } => media_label("video", media, message),
        MessageContent::File { media } => media_label("file", media, message),
        MessageContent::Sticker { pack, sticker } => format!("[sticker: {pack}/{sticker}]"),
        MessageContent::Encrypted { .. } => "[encrypted message]".into(),
        MessageContent::System { event } => match event {
            SystemEvent::GroupCreated { by, name: group } => {
                format!("* {} created the group {group:?}", name(by))
            }
            SystemEvent::MembersAdded { by, users } => format!(
                "* {} added {}",
                name(by),
                users.iter().map(name).collect::<Vec<_>>().join(", ")
            ),
            SystemEvent::MemberRemoved { by, user } => {
                format!("* {} removed {}", name(by), name(user))
            }
            SystemEvent::MemberLeft { user } => format!("* {} left", name(user)),
            SystemEvent::Renamed { by, name: group } => {
                format!("* {} renamed the group to {group:?}", name(by))
            }
            SystemEvent::AnnouncementSet { by, text } => {
                format!("* {} set the announcement: {text}", name(by))
            }
            SystemEvent::RoleChanged { by, user, role } => {
                format!("* {} made {} {role:?}", name(by), name(user))
            }
            SystemEvent::OwnershipTransferred { from, to } => {
                format!("* {} handed the group to {}", name(from), name(to))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_client::protocol::{ConversationId, Seq};

    fn message(content: MessageContent) -> Message {
        Message {
            conversation_id: ConversationId(3),
            seq: Seq(7),
            sender_id: UserId(1),
            client_msg_id: None,
            sent_at: Timestamp(0),
            content,
            reply_to: None,
            edited_at: None,
            recalled_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn non_text_messages_are_labelled_with_a_download_command() {
        let names = HashMap::from([(UserId(1), "alice".to_owned())]);
        let image = message(MessageContent::Image {
            media: MediaRef {
                media_id: "m1".into(),
                mime: "image/png".into(),
                size: 2048,
                name: Some("cat.png".into()),
                width: None,
                height: None,
                duration_ms: None,
            },
        });
        assert_eq!(
            body(&image, &names),
            "[image: cat.png, image/png, 2 KiB] download: natter download 3 7"
        );
        let system = message(MessageContent::System {
            event: SystemEvent::MembersAdded {
                by: UserId(1),
                users: vec![UserId(2)],
            },
        });
        assert_eq!(body(&system, &names), "* alice added #2");
    }

    #[test]
    fn clocks_and_sizes_read_well() {
        let utc = chrono::FixedOffset::east_opt(0).expect("valid offset");
        let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset");
        assert_eq!(clock_at_offset(Timestamp(0), utc), "00:00");
        let at = Timestamp(13 * 3_600_000 + 5 * 60_000 + 999);
        assert_eq!(clock_at_offset(at, utc), "13:05");
        assert_eq!(clock_at_offset(at, beijing), "21:05");
        assert_eq!(clock_at_offset(Timestamp(i64::MAX), utc), "--:--");
        assert_eq!(clock(at).len(), 5);
        assert_eq!(size(10), "10 B");
        assert_eq!(size(3 * 1024 * 1024 + 400_000), "3.4 MiB");
    }
}
