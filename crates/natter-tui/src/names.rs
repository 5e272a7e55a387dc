//! Which conversation a name the user typed means: one rule for `natter send
//! --to`, `history`, `tail`, `groups …` and the chat screen's Ctrl+K.
//!
//! - `#12` or `12`: the conversation with that id.
//! - `group:NAME`: the group named NAME; `friend:NAME`: the direct
//!   conversation with the friend (or peer) whose username, remark or display
//!   name is NAME.
//! - a bare `NAME`: whichever of the two it fits. A name that fits more than
//!   one conversation (a group named like a friend, two groups of one name)
//!   is refused with the choices, each spelled the way that reaches it, rather
//!   than guessed: a message sent to the wrong place cannot be taken back.
//!
//! Names compare case-insensitively, after trimming.

use natter_client::protocol::ConversationId;
use natter_client::protocol::contacts::Friend;
use natter_client::protocol::conversations::{ConversationKind, ConversationSummary};

/// Before a name: only groups.
pub const GROUP_PREFIX: &str = "group:";
/// Before a name: only direct conversations (friends).
pub const FRIEND_PREFIX: &str = "friend:";

/// Why a typed name reaches no single conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    NotFound,
    /// The conversations it fits, each as it can be typed unambiguously
    /// (`group:Team (#7)`), in list order.
    Ambiguous(Vec<String>),
}

impl Unresolved {
    /// The choices of an [`Unresolved::Ambiguous`], comma-separated.
    pub fn candidates(&self) -> String {
        match self {
            Unresolved::NotFound => String::new(),
            Unresolved::Ambiguous(choices) => choices.join(", "),
        }
    }
}

/// `#12` or `12` as a conversation id. A prefixed name never is one, so a
/// group named `2024` is reached as `group:2024`.
pub fn parse_id(typed: &str) -> Option<ConversationId> {
    let typed = typed.trim();
    typed
        .strip_prefix('#')
        .unwrap_or(typed)
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ConversationId)
}

/// The kind a prefix asks for, and the name after it.
fn split_prefix(typed: &str) -> (Option<ConversationKind>, &str) {
    let typed = typed.trim();
    let lower = typed.to_lowercase();
    for (prefix, kind) in [
        (GROUP_PREFIX, ConversationKind::Group),
        (FRIEND_PREFIX, ConversationKind::Direct),
    ] {
        // ASCII prefixes: the byte length is the same in `typed`.
        if lower.starts_with(prefix) {
            return (Some(kind), typed[prefix.len()..].trim());
        }
    }
    (None, typed)
}

/// The conversation `typed` names (see the module doc), among `friends` and
/// `conversations`; `only` limits it to one kind (`groups …` wants a group).
/// An id (`#12`) is answered by [`parse_id`], not here.
pub fn find(
    typed: &str,
    only: Option<ConversationKind>,
    friends: &[Friend],
    conversations: &[ConversationSummary],
) -> Result<ConversationId, Unresolved> {
    let (prefixed, name) = split_prefix(typed);
    if name.is_empty() {
        return Err(Unresolved::NotFound);
    }
    if let (Some(a), Some(b)) = (prefixed, only)
        && a != b
    {
        return Err(Unresolved::NotFound);
    }
    let only = prefixed.or(only);
    let wanted = name.to_lowercase();
    let fits = |text: &str| text.to_lowercase() == wanted;
    // (id, kind, the name that reaches it)
    let mut found: Vec<(ConversationId, ConversationKind, String)> = Vec::new();
    let mut add = |id, kind, label: &str| {
        if !found.iter().any(|(seen, _, _)| *seen == id) {
            found.push((id, kind, label.to_owned()));
        }
    };
    for f in friends {
        if fits(&f.user.username)
            || fits(&f.user.display_name)
            || f.remark.as_deref().is_some_and(fits)
        {
            add(
                f.conversation_id,
                ConversationKind::Direct,
                &f.user.username,
            );
        }
    }
    for c in conversations {
        match (c.kind, &c.peer) {
            (ConversationKind::Direct, Some(peer)) if fits(&c.name) || fits(&peer.username) => {
                add(c.id, c.kind, &peer.username);
            }
            (ConversationKind::Group, _) if fits(&c.name) => add(c.id, c.kind, &c.name),
            _ => {}
        }
    }
    found.retain(|(_, kind, _)| only.is_none_or(|only| only == *kind));
    match found.as_slice() {
        [] => Err(Unresolved::NotFound),
        [(id, _, _)] => Ok(*id),
        many => Err(Unresolved::Ambiguous(
            many.iter()
                .map(|(id, kind, label)| {
                    let prefix = match kind {
                        ConversationKind::Group => GROUP_PREFIX,
                        ConversationKind::Direct => FRIEND_PREFIX,
                    };
                    format!("{prefix}{label} (#{id})")
                })
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use natter_client::protocol::accounts::UserProfile;
    use natter_client::protocol::{Seq, Timestamp, UserId};

    use super::*;

    fn user(id: i64, username: &str, display: &str) -> UserProfile {
        UserProfile {
            id: UserId(id),
            username: username.into(),
            display_name: display.into(),
            created_at: Timestamp(0),
        }
    }

    fn friend(id: i64, username: &str, remark: Option<&str>, conversation: i64) -> Friend {
        Friend {
            user: user(id, username, &format!("{username} display")),
            remark: remark.map(str::to_owned),
            since: Timestamp(0),
            online: false,
            last_seen_at: None,
            conversation_id: ConversationId(conversation),
        }
    }

    fn conversation(
        id: i64,
        kind: ConversationKind,
        name: &str,
        peer: Option<UserProfile>,
    ) -> ConversationSummary {
        ConversationSummary {
            id: ConversationId(id),
            kind,
            name: name.into(),
            peer,
            announcement: None,
            member_count: 2,
            my_role: None,
            last_seq: Seq(0),
            read_seq: Seq(0),
            unread: 0,
            last_message: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }
    }

    /// Bob is a friend (conversation 3); "bob" is also a group (7); two
    /// groups are called "Team" (8, 9); a group is called "2024" (10).
    fn check(typed: &str, only: Option<ConversationKind>, expected: Result<i64, Unresolved>) {
        let friends = [friend(2, "bob", Some("Bobby"), 3)];
        let conversations = [
            conversation(
                3,
                ConversationKind::Direct,
                "bob display",
                Some(user(2, "bob", "bob display")),
            ),
            conversation(7, ConversationKind::Group, "Bob", None),
            conversation(8, ConversationKind::Group, "Team", None),
            conversation(9, ConversationKind::Group, "team", None),
            conversation(10, ConversationKind::Group, "2024", None),
            conversation(
                11,
                ConversationKind::Direct,
                "Dan",
                Some(user(4, "dan", "Dan")),
            ),
        ];
        let got = find(typed, only, &friends, &conversations);
        assert_eq!(got, expected.map(ConversationId), "{typed:?} {only:?}");
    }

    fn ambiguous(choices: &[&str]) -> Result<i64, Unresolved> {
        Err(Unresolved::Ambiguous(
            choices.iter().map(|c| (*c).to_owned()).collect(),
        ))
    }

    #[test]
    fn a_group_named_like_a_friend_is_reached_by_its_prefix() {
        let group = Some(ConversationKind::Group);
        let direct = Some(ConversationKind::Direct);
        check(
            "bob",
            None,
            ambiguous(&["friend:bob (#3)", "group:Bob (#7)"]),
        );
        check(
            " BOB ",
            None,
            ambiguous(&["friend:bob (#3)", "group:Bob (#7)"]),
        );
        check("group:bob", None, Ok(7));
        check("Group: bob", None, Ok(7));
        check("friend:bob", None, Ok(3));
        // The caller's kind decides too: `groups members bob` wants the group.
        check("bob", group, Ok(7));
        check("bob", direct, Ok(3));
        check("friend:bob", group, Err(Unresolved::NotFound));
        // A remark or a display name reaches only the friend.
        check("bobby", None, Ok(3));
        check("bob display", None, Ok(3));
        // A peer who is no longer a friend, by username or display name.
        check("dan", None, Ok(11));
        check(
            "team",
            None,
            ambiguous(&["group:Team (#8)", "group:team (#9)"]),
        );
        check("group:2024", None, Ok(10));
        check("nobody", None, Err(Unresolved::NotFound));
        check("group:", None, Err(Unresolved::NotFound));
        check("", None, Err(Unresolved::NotFound));
    }

    #[test]
    fn ids_are_numbers_with_or_without_a_hash() {
        assert_eq!(parse_id("#12"), Some(ConversationId(12)));
        assert_eq!(parse_id(" 12 "), Some(ConversationId(12)));
        assert_eq!(parse_id("#0"), None);
        assert_eq!(parse_id("group:2024"), None);
        assert_eq!(parse_id("bob"), None);
    }
}
