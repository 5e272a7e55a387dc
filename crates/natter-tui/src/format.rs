//! How messages and times are shown as text, shared by the chat screen and
//! the scriptable commands.
//!
//! Every string that comes from the server (message text, names, greetings,
//! error messages, ...) is shown through [`safe_text`] or [`safe_line`]
//! (and JSON output through [`safe_json`]), so that what others wrote can
//! never drive the user's terminal: no escape sequences, no bells, no
//! direction overrides.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use natter_client::protocol::conversations::{MediaRef, Message, MessageContent, SystemEvent};
use natter_client::protocol::{Timestamp, UserId};

/// What becomes of one character of a server-supplied string on the screen.
enum Shown {
    /// Shown as it is.
    Keep,
    /// Dropped: a bidirectional control (it would reorder what follows).
    Drop,
    /// Replaced by a visible placeholder: a control character.
    As(char),
}

/// The one rule for what may reach the terminal. C0 controls (U+0000 to
/// U+001F) become their control pictures (`␛`, `␇`, `␀`, ...; U+2400 + n),
/// DEL becomes `␡`, C1 controls (U+0080 to U+009F) become U+FFFD, and the
/// bidirectional controls (the embeddings and overrides U+202A to U+202E,
/// the isolates U+2066 to U+2069, the marks U+200E, U+200F and U+061C) are
/// dropped. A newline is kept only when `newlines` is set.
fn shown(c: char, newlines: bool) -> Shown {
    match c {
        '\n' if newlines => Shown::Keep,
        '\u{0}'..='\u{1f}' => Shown::As(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
        '\u{7f}' => Shown::As('\u{2421}'),
        '\u{80}'..='\u{9f}' => Shown::As('\u{fffd}'),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}' => {
            Shown::Drop
        }
        _ => Shown::Keep,
    }
}

fn sanitize(text: &str, newlines: bool) -> Cow<'_, str> {
    if text
        .chars()
        .all(|c| matches!(shown(c, newlines), Shown::Keep))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match shown(c, newlines) {
            Shown::Keep => out.push(c),
            Shown::Drop => {}
            Shown::As(placeholder) => out.push(placeholder),
        }
    }
    Cow::Owned(out)
}

/// A server-supplied text of several lines (a message) made safe to show:
/// newlines stay, every other control character is replaced by a visible
/// placeholder (`␛`, `␇`, `␀`, ... for C0, `␡` for DEL, U+FFFD for C1) and
/// bidirectional controls (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
/// U+061C) are dropped.
pub fn safe_text(text: &str) -> Cow<'_, str> {
    sanitize(text, true)
}

/// A server-supplied text shown on one line (a name, a greeting, a status):
/// as [`safe_text`], and a newline becomes `␊` too.
pub fn safe_line(text: &str) -> Cow<'_, str> {
    sanitize(text, false)
}

/// Serialized JSON made safe to print on a terminal without changing what it
/// means: serde_json already escapes C0 controls inside strings, and this
/// escapes what it leaves raw (DEL, C1 controls, bidirectional controls) as
/// `\uXXXX`. Those characters occur only inside JSON strings, so the result
/// parses to the same value. Raw newlines and spaces (the layout of pretty
/// output) stay.
pub fn safe_json(json: &str) -> Cow<'_, str> {
    // JSON's own whitespace stays; anything else not shown as it is becomes
    // an escape (serde_json never writes a raw C0 control, but if one came
    // it would be inside a string, where the escape means the same).
    let escaped =
        |c: char| !matches!(c, '\n' | '\r' | '\t') && !matches!(shown(c, false), Shown::Keep);
    if !json.chars().any(escaped) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            // All of them are in the Basic Multilingual Plane: one escape.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

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

/// When a message was sent, for the chat screen: `HH:MM` today, `Mar 3
/// 14:05` earlier this year, `2024-03-03 14:05` before that (local time).
pub fn stamp(at: Timestamp) -> String {
    let offset = chrono::DateTime::from_timestamp_millis(at.0)
        .map(|utc| *utc.with_timezone(&chrono::Local).offset())
        .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
    stamp_at_offset(at, Timestamp(chrono::Utc::now().timestamp_millis()), offset)
}

/// [`stamp`] at a fixed UTC offset, as seen at `now`.
pub fn stamp_at_offset(at: Timestamp, now: Timestamp, offset: chrono::FixedOffset) -> String {
    let (Some(at), Some(now)) = (
        chrono::DateTime::from_timestamp_millis(at.0),
        chrono::DateTime::from_timestamp_millis(now.0),
    ) else {
        return "--:--".into();
    };
    let (at, now) = (at.with_timezone(&offset), now.with_timezone(&offset));
    let format = if at.date_naive() == now.date_naive() {
        "%H:%M"
    } else if chrono::Datelike::year(&at) == chrono::Datelike::year(&now) {
        "%b %-d %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    at.format(format).to_string()
}

/// How many terminal columns `text` takes, measured by grapheme cluster as
/// ratatui draws it (a family emoji is one cluster of two columns, not the
/// sum of its parts).
pub fn width(text: &str) -> usize {
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::UnicodeWidthStr;
    text.graphemes(true).map(UnicodeWidthStr::width).sum()
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
    let name = safe_line(media.name.as_deref().unwrap_or(&media.media_id));
    format!(
        "[{kind}: {name}, {}, {}] download: natter download {} {}",
        safe_line(&media.mime),
        size(media.size),
        message.conversation_id,
        message.seq
    )
}

/// The body of a message as one text, safe to show ([`safe_text`]): the
/// text itself, or a labelled line for everything else (media carry the
/// command that downloads them; names in labels stay on one line).
pub fn body(message: &Message, names: &HashMap<UserId, String>) -> String {
    let raw = raw_body(message, names);
    match safe_text(&raw) {
        Cow::Borrowed(_) => raw,
        Cow::Owned(safe) => safe,
    }
}

fn raw_body(message: &Message, names: &HashMap<UserId, String>) -> String {
    let name = |id: &UserId| match names.get(id) {
        Some(name) => safe_line(name).into_owned(),
        None => format!("#{id}"),
    };
    if message.recalled_at.is_some() {
        return "[recalled]".into();
    }
    match &message.content {
        MessageContent::Text { text } => text.clone(),
        MessageContent::Image { media } => media_label("image", media, message),
        MessageContent::Voice { media } => media_label("voice", media, message),
        MessageContent::Video { media } => media_label("video", media, message),
        MessageContent::File { media } => media_label("file", media, message),
        MessageContent::Sticker { pack, sticker } => {
            format!("[sticker: {}/{}]", safe_line(pack), safe_line(sticker))
        }
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
    fn control_characters_become_visible_and_bidi_controls_go() {
        assert_eq!(
            safe_text("\u{1b}[2J\u{1b}]0;pwned\u{7}hello\u{0}"),
            "\u{241b}[2J\u{241b}]0;pwned\u{2407}hello\u{2400}"
        );
        // Every C0 control but the newline of a text, DEL and C1.
        assert_eq!(safe_text("a\tb\rc\u{1f}"), "a\u{2409}b\u{240d}c\u{241f}");
        assert_eq!(safe_text("del\u{7f}"), "del\u{2421}");
        assert_eq!(
            safe_text("csi\u{9b}2J nel\u{85} \u{80}"),
            "csi\u{fffd}2J nel\u{fffd} \u{fffd}"
        );
        assert_eq!(safe_text("two\nlines"), "two\nlines");
        assert_eq!(safe_line("two\nlines"), "two\u{240a}lines");
        for bidi in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}',
        ] {
            assert_eq!(safe_line(&format!("ab{bidi}cd")), "abcd", "{:?}", bidi);
        }
        // What is fine stays fine, and is not copied.
        let fine = "Grüße 你好 👩\u{200d}💻 e\u{301} \u{a0}¡ \u{2400}";
        assert!(matches!(safe_line(fine), Cow::Borrowed(s) if s == fine));
        assert!(matches!(safe_text("a\nb"), Cow::Borrowed(_)));
        // Nothing that comes out is a control character (a newline only
        // where asked for), whatever went in.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!safe_line(&all).chars().any(char::is_control));
        assert!(
            safe_text(&all)
                .chars()
                .all(|c| c == '\n' || !c.is_control())
        );
    }

    #[test]
    fn widths_count_grapheme_clusters() {
        assert_eq!(width("ab"), 2);
        assert_eq!(width("你好"), 4);
        assert_eq!(width("👨\u{200d}👩\u{200d}👧"), 2);
        assert_eq!(width("e\u{301}"), 1);
    }

    #[test]
    fn json_keeps_its_meaning_without_raw_controls() -> Result<(), serde_json::Error> {
        let evil = "\u{1b}[2J\u{7}\u{0} del\u{7f} csi\u{9b} \u{202e}rtl\u{2066}\u{200f} ok";
        let value = serde_json::json!({ "text": evil, "list": [evil, 1] });
        for json in [
            serde_json::to_string(&value)?,
            serde_json::to_string_pretty(&value)?,
        ] {
            let safe = safe_json(&json);
            assert!(
                safe.chars()
                    .all(|c| matches!(c, '\n' | ' ') || matches!(shown(c, false), Shown::Keep)),
                "{safe:?}"
            );
            assert!(safe.contains("del\\u007f csi\\u009b \\u202ertl"), "{safe}");
            let back: serde_json::Value = serde_json::from_str(&safe)?;
            assert_eq!(back, value);
        }
        assert!(matches!(safe_json("{\"a\": \"b\"}"), Cow::Borrowed(_)));
        Ok(())
    }

    #[test]
    fn bodies_are_safe_to_show() {
        let names = HashMap::from([(UserId(1), "ev\u{1b}[1mil\nname".to_owned())]);
        let text = message(MessageContent::Text {
            text: "\u{1b}]0;pwned\u{7}hi\nthere\u{202e}".into(),
        });
        assert_eq!(body(&text, &names), "\u{241b}]0;pwned\u{2407}hi\nthere");
        let system = message(MessageContent::System {
            event: SystemEvent::MemberLeft { user: UserId(1) },
        });
        assert_eq!(body(&system, &names), "* ev\u{241b}[1mil\u{240a}name left");
        let file = message(MessageContent::File {
            media: MediaRef {
                media_id: "m1".into(),
                mime: "text/plain".into(),
                size: 10,
                name: Some("a\nb\u{9b}.txt".into()),
                width: None,
                height: None,
                duration_ms: None,
            },
        });
        assert_eq!(
            body(&file, &names),
            "[file: a\u{240a}b\u{fffd}.txt, text/plain, 10 B] download: natter download 3 7"
        );
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
        let now = Timestamp(at.0 + 3_600_000);
        assert_eq!(stamp_at_offset(at, now, utc), "13:05");
        let next_day = Timestamp(at.0 + 24 * 3_600_000);
        assert_eq!(stamp_at_offset(at, next_day, utc), "Jan 1 13:05");
        let next_year = Timestamp(at.0 + 400 * 24 * 3_600_000);
        assert_eq!(stamp_at_offset(at, next_year, utc), "1970-01-01 13:05");
        // 17:00 UTC is already the next day in Beijing.
        assert_eq!(
            stamp_at_offset(Timestamp(0), Timestamp(17 * 3_600_000), beijing),
            "Jan 1 08:00"
        );
        assert_eq!(size(10), "10 B");
        assert_eq!(size(3 * 1024 * 1024 + 400_000), "3.4 MiB");
    }
}
