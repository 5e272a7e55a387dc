//! The contact rules: pure functions over the facts a transaction read.
//!
//! Who may reach whom is one rule, [`may_message`], for messages, read
//! receipts, typing and read positions, so that a block shows nowhere
//! differently from a removal.

use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::{ErrorCode, FriendRequestId, UserId};
use natter_store::{Relation, RequestRecord};

use crate::error::ApiError;

/// Why a contact change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContactRefusal {
    #[error("You cannot do that to yourself.")]
    Yourself,
    /// No such user, request or friend, or one the caller may not know of.
    #[error("Not found.")]
    NotFound,
    #[error("You are already friends.")]
    AlreadyFriends,
    #[error("You blocked this user. Unblock them first.")]
    YouBlocked,
    #[error("That friend request is no longer pending.")]
    NotPending,
}

impl From<ContactRefusal> for ApiError {
    fn from(refusal: ContactRefusal) -> ApiError {
        let code = match refusal {
            ContactRefusal::Yourself => ErrorCode::InvalidRequest,
            ContactRefusal::NotFound => ErrorCode::NotFound,
            ContactRefusal::AlreadyFriends => ErrorCode::AlreadyFriends,
            ContactRefusal::YouBlocked => ErrorCode::Blocked,
            ContactRefusal::NotPending => ErrorCode::RequestNotPending,
        };
        ApiError::new(code, refusal.to_string())
    }
}

/// Whether `a` can reach `b` directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Open,
    /// `a` blocked `b`: `a` is told so, to unblock first.
    YouBlocked,
    /// `b` blocked `a`, or they are not friends where friendship is needed:
    /// `a` sees the same in both cases, and so cannot tell a block.
    Closed,
}

/// How `a` can reach `b`, standing to each other as `relation` (`a` the one
/// acting): neither may have blocked the other, and they must be friends
/// unless the server lets anyone message anyone.
pub fn reach(relation: &Relation, open_direct_messages: bool) -> Reach {
    if relation.a_blocked_b {
        Reach::YouBlocked
    } else if relation.b_blocked_a {
        Reach::Closed
    } else if relation.friends || open_direct_messages {
        Reach::Open
    } else {
        Reach::Closed
    }
}

/// Whether `a` and `b` may exchange direct messages and the signals that go
/// with them: read receipts, typing, read positions (see [`reach`]).
pub fn may_message(relation: &Relation, open_direct_messages: bool) -> bool {
    reach(relation, open_direct_messages) == Reach::Open
}

/// Whether `a` may open a direct conversation with `b`: as for messages, but
/// one who blocked the other may still open it (and is told about the block
/// when sending).
pub fn may_open_direct(relation: &Relation, open_direct_messages: bool) -> bool {
    !relation.b_blocked_a && (relation.friends || open_direct_messages)
}

/// What sending a friend request does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPlan {
    /// The recipient had asked first: accept their request, and be friends.
    AcceptTheirs(FriendRequestId),
    /// The same request is already waiting: nothing changes.
    AlreadySent(RequestRecord),
    /// A new pending request; `hidden` when the recipient blocked the sender,
    /// who must not be able to tell.
    Send { hidden: bool },
}

/// Sending a friend request from `from` to `to`, standing as `relation`
/// (`a` = `from`), with the requests pending between them.
pub fn friend_request(
    from: UserId,
    to: UserId,
    relation: &Relation,
    pending: &[RequestRecord],
) -> Result<RequestPlan, ContactRefusal> {
    if from == to {
        return Err(ContactRefusal::Yourself);
    }
    if relation.friends {
        return Err(ContactRefusal::AlreadyFriends);
    }
    if relation.a_blocked_b {
        return Err(ContactRefusal::YouBlocked);
    }
    let blocked_by_recipient = relation.b_blocked_a;
    if !blocked_by_recipient
        && let Some(theirs) = pending
            .iter()
            .rev()
            .find(|r| r.request.from.id == to && !r.hidden)
    {
        return Ok(RequestPlan::AcceptTheirs(theirs.request.id));
    }
    if let Some(mine) = pending.iter().rev().find(|r| r.request.from.id == from) {
        return Ok(RequestPlan::AlreadySent(mine.clone()));
    }
    Ok(RequestPlan::Send {
        hidden: blocked_by_recipient,
    })
}

/// How a user answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The recipient accepts or declines.
    AsRecipient,
    /// The sender withdraws.
    AsSender,
}

/// Whether `user` may answer `record` as `answer`, the two standing as
/// `relation`. Someone else's request, one hidden from its recipient, and
/// one between a blocker and the blocked look absent to a recipient.
pub fn may_answer(
    user: UserId,
    record: &RequestRecord,
    relation: &Relation,
    answer: Answer,
) -> Result<(), ContactRefusal> {
    let request = &record.request;
    let theirs = match answer {
        Answer::AsRecipient => {
            request.to.id == user
                && !record.hidden
                && !relation.a_blocked_b
                && !relation.b_blocked_a
        }
        Answer::AsSender => request.from.id == user,
    };
    if !theirs {
        return Err(ContactRefusal::NotFound);
    }
    if request.status != FriendRequestStatus::Pending {
        return Err(ContactRefusal::NotPending);
    }
    Ok(())
}

/// Blocking `target`: not oneself.
pub fn may_block(user: UserId, target: UserId) -> Result<(), ContactRefusal> {
    if user == target {
        return Err(ContactRefusal::Yourself);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use natter_protocol::Timestamp;
    use natter_protocol::accounts::UserProfile;
    use natter_protocol::contacts::FriendRequest;

    use super::*;

    fn relation(friends: bool, a_blocked_b: bool, b_blocked_a: bool) -> Relation {
        Relation {
            friends,
            a_blocked_b,
            b_blocked_a,
        }
    }

    fn profile(id: i64) -> UserProfile {
        UserProfile {
            id: UserId(id),
            username: format!("u{id}"),
            display_name: format!("U{id}"),
            created_at: Timestamp(0),
        }
    }

    fn request(id: i64, from: i64, to: i64, hidden: bool) -> RequestRecord {
        RequestRecord {
            request: FriendRequest {
                id: FriendRequestId(id),
                from: profile(from),
                to: profile(to),
                greeting: String::new(),
                status: FriendRequestStatus::Pending,
                created_at: Timestamp(0),
                updated_at: Timestamp(0),
            },
            hidden,
        }
    }

    fn check(friends: bool, a_blocked_b: bool, b_blocked_a: bool, open: bool, expected: bool) {
        let relation = relation(friends, a_blocked_b, b_blocked_a);
        assert_eq!(
            may_message(&relation, open),
            expected,
            "{relation:?} open={open}"
        );
    }

    #[test]
    fn friends_without_blocks_may_message_and_nobody_else() {
        check(true, false, false, false, true);
        check(false, false, false, false, false);
        check(false, false, false, true, true);
        // A block either way closes it, whatever else holds.
        for open in [false, true] {
            for friends in [false, true] {
                check(friends, true, false, open, false);
                check(friends, false, true, open, false);
            }
        }
    }

    #[test]
    fn the_blocker_is_told_of_their_block_and_the_blocked_sees_a_closed_door() {
        let open = false;
        assert_eq!(
            reach(&relation(false, true, false), open),
            Reach::YouBlocked
        );
        assert_eq!(reach(&relation(false, false, true), open), Reach::Closed);
        // Both ways: the blocker hears of their own block, which tells them
        // nothing of the other's.
        assert_eq!(reach(&relation(false, true, true), open), Reach::YouBlocked);
        assert_eq!(reach(&relation(false, false, false), open), Reach::Closed);
        assert_eq!(reach(&relation(false, false, false), true), Reach::Open);
        assert!(may_open_direct(&relation(true, false, false), open));
        assert!(!may_open_direct(&relation(false, false, false), open));
        assert!(!may_open_direct(&relation(false, false, true), true));
        assert!(may_open_direct(&relation(false, true, false), true));
    }

    #[test]
    fn a_request_to_oneself_a_friend_or_someone_one_blocked_is_refused() {
        let (a, b) = (UserId(1), UserId(2));
        let none = relation(false, false, false);
        assert_eq!(
            friend_request(a, a, &none, &[]),
            Err(ContactRefusal::Yourself)
        );
        assert_eq!(
            friend_request(a, b, &relation(true, false, false), &[]),
            Err(ContactRefusal::AlreadyFriends)
        );
        assert_eq!(
            friend_request(a, b, &relation(false, true, false), &[]),
            Err(ContactRefusal::YouBlocked)
        );
    }

    #[test]
    fn a_request_to_someone_who_asked_first_accepts_theirs_unless_they_are_hidden_or_blocking() {
        let (a, b) = (UserId(1), UserId(2));
        let theirs = request(7, 2, 1, false);
        let none = relation(false, false, false);
        assert_eq!(
            friend_request(a, b, &none, std::slice::from_ref(&theirs)),
            Ok(RequestPlan::AcceptTheirs(FriendRequestId(7)))
        );
        // Their request was sent while `a` blocked them: `a` never saw it.
        let hidden = request(8, 2, 1, true);
        assert_eq!(
            friend_request(a, b, &none, &[hidden]),
            Ok(RequestPlan::Send { hidden: false })
        );
        // `b` blocked `a`: `a`'s request is stored hidden, and `a` cannot tell.
        assert_eq!(
            friend_request(a, b, &relation(false, false, true), &[theirs]),
            Ok(RequestPlan::Send { hidden: true })
        );
    }

    #[test]
    fn a_repeated_request_is_the_one_already_waiting() {
        let mine = request(3, 1, 2, false);
        assert_eq!(
            friend_request(
                UserId(1),
                UserId(2),
                &relation(false, false, false),
                std::slice::from_ref(&mine)
            ),
            Ok(RequestPlan::AlreadySent(mine))
        );
    }

    #[test]
    fn only_the_recipient_answers_a_visible_request_and_only_the_sender_withdraws_it() {
        let record = request(1, 1, 2, false);
        let none = relation(false, false, false);
        assert_eq!(
            may_answer(UserId(2), &record, &none, Answer::AsRecipient),
            Ok(())
        );
        assert_eq!(
            may_answer(UserId(1), &record, &none, Answer::AsRecipient),
            Err(ContactRefusal::NotFound)
        );
        assert_eq!(
            may_answer(UserId(1), &record, &none, Answer::AsSender),
            Ok(())
        );
        assert_eq!(
            may_answer(UserId(3), &record, &none, Answer::AsSender),
            Err(ContactRefusal::NotFound)
        );
        // Hidden, or between a blocker and the blocked: absent to the recipient.
        let hidden = request(1, 1, 2, true);
        assert_eq!(
            may_answer(UserId(2), &hidden, &none, Answer::AsRecipient),
            Err(ContactRefusal::NotFound)
        );
        for blocked in [relation(false, true, false), relation(false, false, true)] {
            assert_eq!(
                may_answer(UserId(2), &record, &blocked, Answer::AsRecipient),
                Err(ContactRefusal::NotFound)
            );
        }
        let mut answered = record;
        answered.request.status = FriendRequestStatus::Declined;
        assert_eq!(
            may_answer(UserId(2), &answered, &none, Answer::AsRecipient),
            Err(ContactRefusal::NotPending)
        );
    }
}
