//! The steps of conversation changes that several transaction bodies share.

use natter_protocol::conversations::{MessageContent, Role, SystemEvent};
use natter_protocol::sync::UserChange;
use natter_protocol::{ConversationId, Timestamp, UserId};
use natter_store::{Changes, MessageRow, StoreResult, WriteTx};

use super::rules::{self, ConversationRefusal, GroupLimits};
use crate::contacts::rules::{Reach, reach};
use crate::error::ApiResult;

/// Records a group change in the group's timeline, delivered to the members
/// after the change plus `extra_audience` (someone who just left).
pub(super) async fn system_message(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    conversation: ConversationId,
    actor: UserId,
    event: SystemEvent,
    extra_audience: Option<UserId>,
    at: Timestamp,
) -> StoreResult<()> {
    let message = tx
        .insert_message(MessageRow {
            conversation,
            sender: actor,
            client_msg_id: None,
            content: MessageContent::System { event },
            reply_to: None,
            now: at,
        })
        .await?;
    let mut audience = tx.member_ids(conversation).await?.to_vec();
    if let Some(extra) = extra_audience.filter(|u| !audience.contains(u)) {
        audience.push(extra);
    }
    changes.push_message(message, audience.into());
    Ok(())
}

/// Adds `users` to a group on `actor`'s invitation and tells everyone. Each
/// must be a friend of the actor whom neither blocked (group invitations
/// need friendship whatever the server's direct-message setting), and have
/// room for one more group.
pub(super) async fn add_members(
    tx: &mut dyn WriteTx,
    changes: &mut Changes,
    actor: UserId,
    conversation: ConversationId,
    users: &[UserId],
    limits: GroupLimits,
    at: Timestamp,
) -> ApiResult<()> {
    for &user in users {
        if tx.profile(user).await?.is_none() {
            return Err(ConversationRefusal::NotFound.into());
        }
        // Someone who blocked the actor cannot be pulled into a group by them;
        // the actor gets the same answer as for a non-friend and is not told.
        match reach(&tx.relation(actor, user).await?, false) {
            Reach::Open => {}
            Reach::YouBlocked => return Err(ConversationRefusal::YouBlocked.into()),
            Reach::Closed => return Err(ConversationRefusal::NotFriends.into()),
        }
        rules::may_join_another(tx.group_count(user).await?, limits)?;
        tx.insert_member(conversation, user, Role::Member, at)
            .await?;
    }
    if users.is_empty() {
        return Ok(());
    }
    let added = SystemEvent::MembersAdded {
        by: actor,
        users: users.to_vec(),
    };
    system_message(tx, changes, conversation, actor, added, None, at).await?;
    let Some(last) = changes.messages.last().map(|(m, _)| m.seq) else {
        return Ok(());
    };
    for &user in users {
        // The news of one's own arrival is not unread.
        tx.set_read(conversation, user, last).await?;
        let joined = UserChange::ConversationJoined {
            conversation_id: conversation,
        };
        changes.push_event(user, tx.push_event(user, at, joined).await?);
    }
    Ok(())
}
