//! The steps of contact changes that several transaction bodies share. Each
//! reads and writes through the transaction; what is allowed was decided by
//! [`super::rules`].

use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::sync::UserChange;
use natter_protocol::{FriendRequestId, Timestamp, UserId};
use natter_store::{Changes, FriendRecord, RequestRecord, StoreResult, WriteTx};

use super::rules::{self, Answer, ContactRefusal};
use crate::error::{ApiError, ApiResult};

/// Tells the sender and (unless it is hidden from them) the recipient that a
/// request changed; `received` when it is new to the recipient.
pub(super) async fn announce(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    record: &RequestRecord,
    at: Timestamp,
    received: bool,
) -> StoreResult<()> {
    let request = &record.request;
    let updated = UserChange::FriendRequestUpdated {
        request: request.clone(),
    };
    let event = tx.push_event(request.from.id, at, updated.clone()).await?;
    changes.push_event(request.from.id, event);
    if !record.hidden {
        let change = if received {
            UserChange::FriendRequestReceived {
                request: request.clone(),
            }
        } else {
            updated
        };
        let event = tx.push_event(request.to.id, at, change).await?;
        changes.push_event(request.to.id, event);
    }
    Ok(())
}

/// The request `id`, if `user` may answer it as `answer` (see
/// [`rules::may_answer`]); locks its two users.
pub(super) async fn answerable(
    tx: &mut dyn WriteTx,
    user: UserId,
    id: FriendRequestId,
    answer: Answer,
) -> ApiResult<RequestRecord> {
    let record = tx
        .friend_request(id)
        .await?
        .ok_or(ContactRefusal::NotFound)?;
    let relation = tx
        .relation(record.request.from.id, record.request.to.id)
        .await?;
    rules::may_answer(user, &record, &relation, answer)?;
    Ok(record)
}

/// `user` accepts the request `id` sent to them: they become friends with its
/// sender. Returns `user`'s view of the new friend.
pub(super) async fn accept(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    user: UserId,
    id: FriendRequestId,
    at: Timestamp,
) -> ApiResult<FriendRecord> {
    let mut record = answerable(tx, user, id, Answer::AsRecipient).await?;
    let sender = record.request.from.id;
    make_friends(tx, changes, user, sender, Some(id), at).await?;
    tx.update_friend_request(id, FriendRequestStatus::Accepted, record.hidden, at)
        .await?;
    record.request.status = FriendRequestStatus::Accepted;
    record.request.updated_at = at;
    announce(tx, changes, &record, at, false).await?;
    let friend = tx.friend(user, sender).await?;
    friend.ok_or_else(ApiError::not_found)
}

/// Makes `a` and `b` friends (both ways, with their direct conversation) and
/// tells both. Every other request still waiting between the two (a hidden
/// one, or the other direction) is settled as accepted, and both are told;
/// `settling` is the request the caller settles and announces itself.
async fn make_friends(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    a: UserId,
    b: UserId,
    settling: Option<FriendRequestId>,
    at: Timestamp,
) -> StoreResult<()> {
    let conversation = tx.direct_conversation(a, b, at).await?;
    tx.insert_friendship(a, b, conversation, at).await?;
    for mut record in tx.pending_requests(a, b).await? {
        if Some(record.request.id) == settling {
            continue;
        }
        // They are friends now: even a request hidden from its recipient is
        // no secret any more, and both sides' lists must drop it.
        tx.update_friend_request(record.request.id, FriendRequestStatus::Accepted, false, at)
            .await?;
        record.request.status = FriendRequestStatus::Accepted;
        record.request.updated_at = at;
        record.hidden = false;
        announce(tx, changes, &record, at, false).await?;
    }
    for (user, friend) in [(a, b), (b, a)] {
        let Some(record) = tx.friend(user, friend).await? else {
            continue;
        };
        let change = UserChange::FriendAdded {
            friend: record.into_friend(false),
        };
        changes.push_event(user, tx.push_event(user, at, change).await?);
    }
    Ok(())
}

/// Ends the friendship of `a` and `b` on both sides, if there is one, and
/// tells both; the direct conversation and its history stay. Whether there
/// was one.
pub(super) async fn end_friendship(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    a: UserId,
    b: UserId,
    at: Timestamp,
) -> StoreResult<bool> {
    if !tx.delete_friendship(a, b).await? {
        return Ok(false);
    }
    for (user, other) in [(a, b), (b, a)] {
        let change = UserChange::FriendRemoved { user_id: other };
        changes.push_event(user, tx.push_event(user, at, change).await?);
    }
    Ok(true)
}
