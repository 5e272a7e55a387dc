//! The conversation rules: pure functions over the facts a transaction read
//! (memberships, roles, counts, limits).

use natter_protocol::conversations::{ConversationKind, Message, Role};
use natter_protocol::{ErrorCode, Seq, UserId};
use natter_store::Membership;

use crate::contacts::rules::Reach;
use crate::error::ApiError;

/// Why a conversation change was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConversationRefusal {
    /// Not a member, no such conversation or user, or one the caller may not
    /// know of.
    #[error("Not found.")]
    NotFound,
    #[error("You can only message friends.")]
    NotFriends,
    #[error("You blocked this user. Unblock them first.")]
    YouBlocked,
    #[error("Your role does not allow this.")]
    Forbidden,
    #[error("The group is full.")]
    GroupFull,
    #[error("Someone is already in as many groups as a user may be.")]
    TooManyGroups,
    #[error("Already a member.")]
    AlreadyMember,
    #[error("Transfer ownership before leaving the group.")]
    OwnerMustTransfer,
    #[error("You cannot do that to yourself.")]
    Yourself,
    #[error("The owner's role is given by transferring ownership.")]
    OwnerByTransfer,
    #[error("`reply_to` is not a message of this conversation.")]
    NoSuchReply,
}

impl From<ConversationRefusal> for ApiError {
    fn from(refusal: ConversationRefusal) -> ApiError {
        let code = match refusal {
            ConversationRefusal::NotFound => ErrorCode::NotFound,
            ConversationRefusal::NotFriends => ErrorCode::NotFriends,
            ConversationRefusal::YouBlocked => ErrorCode::Blocked,
            ConversationRefusal::Forbidden => ErrorCode::Forbidden,
            ConversationRefusal::GroupFull => ErrorCode::GroupFull,
            ConversationRefusal::TooManyGroups => ErrorCode::TooManyGroups,
            ConversationRefusal::AlreadyMember => ErrorCode::AlreadyMember,
            ConversationRefusal::OwnerMustTransfer => ErrorCode::OwnerMustTransfer,
            ConversationRefusal::Yourself
            | ConversationRefusal::OwnerByTransfer
            | ConversationRefusal::NoSuchReply => ErrorCode::InvalidRequest,
        };
        ApiError::new(code, refusal.to_string())
    }
}

/// Limits of groups, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupLimits {
    pub max_members: u32,
    /// Most groups one user may be a member of.
    pub max_groups_per_user: u32,
}

/// The caller's membership, or `NotFound`: a non-member must see the same
/// whether or not the conversation exists.
pub fn member(membership: Option<Membership>) -> Result<Membership, ConversationRefusal> {
    membership.ok_or(ConversationRefusal::NotFound)
}

/// The caller's membership of a group; direct conversations have no group
/// changes, and look absent to them.
pub fn group_member(membership: Option<Membership>) -> Result<Membership, ConversationRefusal> {
    match membership {
        Some(m) if m.kind == ConversationKind::Group => Ok(m),
        _ => Err(ConversationRefusal::NotFound),
    }
}

/// A reply must point at a message before the one being sent.
pub fn may_reply(reply_to: Option<Seq>, last_seq: Seq) -> Result<(), ConversationRefusal> {
    match reply_to {
        Some(seq) if seq.0 < 1 || seq.0 > last_seq.0 => Err(ConversationRefusal::NoSuchReply),
        _ => Ok(()),
    }
}

/// What one send does, from the facts its transaction read: `Ok(Some)` is
/// the message stored before under the same client id (a resend, answered
/// with the original), `Ok(None)` a new message to store. `reach` is how the
/// sender can reach the other member of a direct conversation (`None` in a
/// group); `last_seq` is the conversation's last seq, counting the messages
/// stored before this one in the same transaction.
pub fn may_send(
    membership: Option<Membership>,
    original: Option<Message>,
    reach: Option<Reach>,
    reply_to: Option<Seq>,
    last_seq: Seq,
) -> Result<Option<Message>, ConversationRefusal> {
    member(membership)?;
    if let Some(original) = original {
        return Ok(Some(original));
    }
    match reach {
        None | Some(Reach::Open) => {}
        Some(Reach::YouBlocked) => return Err(ConversationRefusal::YouBlocked),
        Some(Reach::Closed) => return Err(ConversationRefusal::NotFriends),
    }
    may_reply(reply_to, last_seq)?;
    Ok(None)
}

/// Renaming a group or setting its announcement: an owner or an admin.
pub fn may_edit_group(actor: &Membership) -> Result<(), ConversationRefusal> {
    if actor.role < Role::Admin {
        return Err(ConversationRefusal::Forbidden);
    }
    Ok(())
}

/// Creating a group of the creator and `invited` others.
pub fn may_create_group(
    invited: usize,
    creators_groups: u32,
    limits: GroupLimits,
) -> Result<(), ConversationRefusal> {
    if invited.saturating_add(1) > limits.max_members as usize {
        return Err(ConversationRefusal::GroupFull);
    }
    may_join_another(creators_groups, limits)
}

/// Whether a user in `groups` groups may join one more.
pub fn may_join_another(groups: u32, limits: GroupLimits) -> Result<(), ConversationRefusal> {
    if groups >= limits.max_groups_per_user {
        return Err(ConversationRefusal::TooManyGroups);
    }
    Ok(())
}

/// Inviting `fresh` non-members into a group of `member_count` (any member
/// may invite).
pub fn may_invite(
    member_count: u32,
    fresh: usize,
    limits: GroupLimits,
) -> Result<(), ConversationRefusal> {
    if fresh == 0 {
        return Err(ConversationRefusal::AlreadyMember);
    }
    if u64::from(member_count) + fresh as u64 > u64::from(limits.max_members) {
        return Err(ConversationRefusal::GroupFull);
    }
    Ok(())
}

/// What removing a member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The actor leaves.
    Leave,
    /// The actor removes someone else.
    Kick,
}

/// Removing `target` (with `target_role`, `None` when not a member) by
/// `actor`: leaving is open to all but an owner with others still in;
/// kicking needs a role above the target's, and at least admin.
pub fn may_remove(
    actor: UserId,
    actor_membership: &Membership,
    target: UserId,
    target_role: Option<Role>,
) -> Result<Removal, ConversationRefusal> {
    if target == actor {
        if actor_membership.role == Role::Owner && actor_membership.member_count > 1 {
            return Err(ConversationRefusal::OwnerMustTransfer);
        }
        return Ok(Removal::Leave);
    }
    let target_role = target_role.ok_or(ConversationRefusal::NotFound)?;
    if actor_membership.role < Role::Admin || actor_membership.role <= target_role {
        return Err(ConversationRefusal::Forbidden);
    }
    Ok(Removal::Kick)
}

/// Making `target` an admin or a member again: the owner only, never to or
/// from the owner's role (that is a transfer).
pub fn may_set_role(
    actor: UserId,
    actor_membership: &Membership,
    target: UserId,
    target_role: Option<Role>,
    role: Role,
) -> Result<(), ConversationRefusal> {
    if actor_membership.role != Role::Owner {
        return Err(ConversationRefusal::Forbidden);
    }
    if target == actor {
        return Err(ConversationRefusal::Yourself);
    }
    if role == Role::Owner {
        return Err(ConversationRefusal::OwnerByTransfer);
    }
    target_role.ok_or(ConversationRefusal::NotFound)?;
    Ok(())
}

/// Handing ownership to another member: the owner only.
pub fn may_transfer(
    actor: UserId,
    actor_membership: &Membership,
    target: UserId,
    target_role: Option<Role>,
) -> Result<(), ConversationRefusal> {
    if actor_membership.role != Role::Owner {
        return Err(ConversationRefusal::Forbidden);
    }
    if target == actor {
        return Err(ConversationRefusal::Yourself);
    }
    target_role.ok_or(ConversationRefusal::NotFound)?;
    Ok(())
}

/// Longest range of newly read messages whose authors are looked up one by
/// one; past it, every other member is told.
pub const AUTHOR_SCAN_MAX: i64 = 500;

/// Who should see that a reader moved from `before` to `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptAudience {
    /// Nothing moved.
    Nobody,
    /// The other authors of `(before, after]`, whose "read by" changed.
    Authors,
    /// Every other member: the range is too long to look at.
    Everyone,
}

/// Where a read moves: never back, never past the end.
pub fn read_target(requested: Seq, membership: &Membership) -> (Seq, ReceiptAudience) {
    let target = requested.0.clamp(0, membership.last_seq.0);
    let before = membership.read_seq.0;
    if target <= before {
        (membership.read_seq, ReceiptAudience::Nobody)
    } else if target - before > AUTHOR_SCAN_MAX {
        (Seq(target), ReceiptAudience::Everyone)
    } else {
        (Seq(target), ReceiptAudience::Authors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(kind: ConversationKind, role: Role, member_count: u32) -> Membership {
        Membership {
            kind,
            role,
            last_seq: Seq(10),
            member_count,
            read_seq: Seq(4),
            peer: None,
        }
    }

    const LIMITS: GroupLimits = GroupLimits {
        max_members: 3,
        max_groups_per_user: 2,
    };

    #[test]
    fn a_send_is_a_resend_before_anything_else_a_member_may_be_refused_for() {
        use natter_protocol::conversations::MessageContent;
        use natter_protocol::{ConversationId, Timestamp};
        let direct = membership(ConversationKind::Direct, Role::Member, 2);
        let original = Message {
            conversation_id: ConversationId(1),
            seq: Seq(3),
            sender_id: UserId(1),
            client_msg_id: None,
            sent_at: Timestamp(1),
            content: MessageContent::Text { text: "hi".into() },
            reply_to: None,
            edited_at: None,
            recalled_at: None,
            expires_at: None,
        };
        let last = Seq(10);
        assert_eq!(
            may_send(None, Some(original.clone()), None, None, last),
            Err(ConversationRefusal::NotFound),
            "a non-member learns nothing, not even of their own earlier message"
        );
        // Blocked since: the message stored before is still the answer.
        assert_eq!(
            may_send(
                Some(direct),
                Some(original.clone()),
                Some(Reach::Closed),
                None,
                last
            ),
            Ok(Some(original))
        );
        assert_eq!(
            may_send(Some(direct), None, Some(Reach::Closed), None, last),
            Err(ConversationRefusal::NotFriends)
        );
        assert_eq!(
            may_send(Some(direct), None, Some(Reach::YouBlocked), None, last),
            Err(ConversationRefusal::YouBlocked)
        );
        assert_eq!(
            may_send(Some(direct), None, Some(Reach::Open), Some(Seq(10)), last),
            Ok(None)
        );
        assert_eq!(
            may_send(Some(direct), None, Some(Reach::Open), Some(Seq(11)), last),
            Err(ConversationRefusal::NoSuchReply)
        );
        let group = membership(ConversationKind::Group, Role::Member, 3);
        assert_eq!(
            may_send(Some(group), None, None, Some(Seq(1)), last),
            Ok(None)
        );
    }

    #[test]
    fn non_members_and_direct_conversations_see_no_group() {
        assert_eq!(member(None), Err(ConversationRefusal::NotFound));
        let direct = membership(ConversationKind::Direct, Role::Member, 2);
        assert_eq!(member(Some(direct)), Ok(direct));
        assert_eq!(
            group_member(Some(direct)),
            Err(ConversationRefusal::NotFound)
        );
        let group = membership(ConversationKind::Group, Role::Member, 2);
        assert_eq!(group_member(Some(group)), Ok(group));
    }

    #[test]
    fn a_reply_points_into_the_timeline() {
        assert_eq!(may_reply(None, Seq(0)), Ok(()));
        assert_eq!(may_reply(Some(Seq(1)), Seq(1)), Ok(()));
        assert_eq!(
            may_reply(Some(Seq(2)), Seq(1)),
            Err(ConversationRefusal::NoSuchReply)
        );
        assert_eq!(
            may_reply(Some(Seq(0)), Seq(1)),
            Err(ConversationRefusal::NoSuchReply)
        );
    }

    #[test]
    fn only_admins_and_owners_edit_a_group() {
        for (role, allowed) in [
            (Role::Member, false),
            (Role::Admin, true),
            (Role::Owner, true),
        ] {
            let actor = membership(ConversationKind::Group, role, 3);
            assert_eq!(may_edit_group(&actor).is_ok(), allowed, "{role:?}");
        }
    }

    #[test]
    fn groups_stay_within_their_limits() {
        assert_eq!(may_create_group(2, 0, LIMITS), Ok(()));
        assert_eq!(
            may_create_group(3, 0, LIMITS),
            Err(ConversationRefusal::GroupFull)
        );
        assert_eq!(
            may_create_group(1, 2, LIMITS),
            Err(ConversationRefusal::TooManyGroups)
        );
        assert_eq!(may_invite(2, 1, LIMITS), Ok(()));
        assert_eq!(
            may_invite(2, 2, LIMITS),
            Err(ConversationRefusal::GroupFull)
        );
        assert_eq!(
            may_invite(2, 0, LIMITS),
            Err(ConversationRefusal::AlreadyMember)
        );
        assert_eq!(may_join_another(1, LIMITS), Ok(()));
        assert_eq!(
            may_join_another(2, LIMITS),
            Err(ConversationRefusal::TooManyGroups)
        );
    }

    #[test]
    fn leaving_and_kicking_follow_the_roles() {
        let (actor, target) = (UserId(1), UserId(2));
        let owner = membership(ConversationKind::Group, Role::Owner, 3);
        let admin = membership(ConversationKind::Group, Role::Admin, 3);
        let plain = membership(ConversationKind::Group, Role::Member, 3);
        let alone = membership(ConversationKind::Group, Role::Owner, 1);
        assert_eq!(
            may_remove(actor, &owner, actor, Some(Role::Owner)),
            Err(ConversationRefusal::OwnerMustTransfer)
        );
        assert_eq!(
            may_remove(actor, &alone, actor, Some(Role::Owner)),
            Ok(Removal::Leave)
        );
        assert_eq!(
            may_remove(actor, &plain, actor, Some(Role::Member)),
            Ok(Removal::Leave)
        );
        assert_eq!(
            may_remove(actor, &owner, target, Some(Role::Admin)),
            Ok(Removal::Kick)
        );
        assert_eq!(
            may_remove(actor, &admin, target, Some(Role::Member)),
            Ok(Removal::Kick)
        );
        assert_eq!(
            may_remove(actor, &admin, target, Some(Role::Admin)),
            Err(ConversationRefusal::Forbidden)
        );
        assert_eq!(
            may_remove(actor, &plain, target, Some(Role::Member)),
            Err(ConversationRefusal::Forbidden)
        );
        assert_eq!(
            may_remove(actor, &owner, target, None),
            Err(ConversationRefusal::NotFound)
        );
    }

    #[test]
    fn only_the_owner_sets_roles_and_hands_over_ownership() {
        let (actor, target) = (UserId(1), UserId(2));
        let owner = membership(ConversationKind::Group, Role::Owner, 3);
        let admin = membership(ConversationKind::Group, Role::Admin, 3);
        let member = Some(Role::Member);
        assert_eq!(
            may_set_role(actor, &owner, target, member, Role::Admin),
            Ok(())
        );
        assert_eq!(
            may_set_role(actor, &admin, target, member, Role::Admin),
            Err(ConversationRefusal::Forbidden)
        );
        assert_eq!(
            may_set_role(actor, &owner, target, member, Role::Owner),
            Err(ConversationRefusal::OwnerByTransfer)
        );
        assert_eq!(
            may_set_role(actor, &owner, actor, member, Role::Admin),
            Err(ConversationRefusal::Yourself)
        );
        assert_eq!(
            may_set_role(actor, &owner, target, None, Role::Admin),
            Err(ConversationRefusal::NotFound)
        );
        assert_eq!(may_transfer(actor, &owner, target, member), Ok(()));
        assert_eq!(
            may_transfer(actor, &admin, target, member),
            Err(ConversationRefusal::Forbidden)
        );
        assert_eq!(
            may_transfer(actor, &owner, actor, member),
            Err(ConversationRefusal::Yourself)
        );
        assert_eq!(
            may_transfer(actor, &owner, target, None),
            Err(ConversationRefusal::NotFound)
        );
    }

    #[test]
    fn a_read_moves_forward_within_the_timeline_and_says_who_to_tell() {
        let m = membership(ConversationKind::Group, Role::Member, 3);
        assert_eq!(read_target(Seq(3), &m), (Seq(4), ReceiptAudience::Nobody));
        assert_eq!(read_target(Seq(4), &m), (Seq(4), ReceiptAudience::Nobody));
        assert_eq!(read_target(Seq(7), &m), (Seq(7), ReceiptAudience::Authors));
        assert_eq!(
            read_target(Seq(99), &m),
            (Seq(10), ReceiptAudience::Authors)
        );
        let long = Membership {
            last_seq: Seq(1000),
            ..m
        };
        assert_eq!(
            read_target(Seq(1000), &long),
            (Seq(1000), ReceiptAudience::Everyone)
        );
    }
}
