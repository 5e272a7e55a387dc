//! Conversations: direct and group timelines, members and roles, sending,
//! history, read positions and typing.

pub mod routes;
pub mod rules;
mod sending;
mod steps;

use std::collections::BTreeSet;
use std::sync::Arc;

use natter_protocol::conversations::{
    ConversationKind, ConversationList, ConversationSummary, CreateGroupRequest, HistoryQuery,
    MemberList, MessageContent, MessagePage, PageQuery, ReadPosition, Role, SendMessageRequest,
    SendMessageResponse, SystemEvent, UpdateGroupRequest,
};
use natter_protocol::limits::{
    ANNOUNCEMENT_MAX_CHARS, CLIENT_MSG_ID_MAX_CHARS, INVITE_MAX_USERS, TEXT_MAX_BYTES,
};
use natter_protocol::sync::UserChange;
use natter_protocol::ws::Event;
use natter_protocol::{ConversationId, ErrorCode, Seq, UserId};
use natter_store::{Changes, Store, transaction};

use self::rules::{ConversationRefusal, GroupLimits, ReceiptAudience, Removal};
use self::sending::{NewSend, SendLanes};
use crate::accounts::Caller;
use crate::clock::now;
use crate::config::GroupsConfig;
use crate::contacts::ContactService;
use crate::contacts::rules::Reach;
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;
use crate::limits::RateLimits;
use crate::text::clean_name;

pub struct ConversationService {
    store: Arc<dyn Store>,
    contacts: Arc<ContactService>,
    publisher: Arc<Publisher>,
    limits: GroupLimits,
    rate_limits: Arc<RateLimits>,
    sending: SendLanes,
}

impl ConversationService {
    pub fn new(
        store: Arc<dyn Store>,
        contacts: Arc<ContactService>,
        publisher: Arc<Publisher>,
        groups: GroupsConfig,
        rate_limits: Arc<RateLimits>,
    ) -> ConversationService {
        let limits = GroupLimits {
            max_members: groups.max_members.max(2),
            max_groups_per_user: groups.max_groups_per_user.max(1),
        };
        let sending = SendLanes::new(store.clone(), publisher.clone(), contacts.direct_policy());
        ConversationService {
            store,
            contacts,
            publisher,
            limits,
            rate_limits,
            sending,
        }
    }

    /// Stores a message and, once it is committed, delivers it to every member's
    /// online devices. A repeated `client_msg_id` returns (and delivers again) the
    /// original.
    pub async fn send(
        &self,
        caller: Caller,
        conversation: ConversationId,
        request: SendMessageRequest,
    ) -> ApiResult<SendMessageResponse> {
        let id_len = request.client_msg_id.0.chars().count();
        if id_len == 0 || id_len > CLIENT_MSG_ID_MAX_CHARS {
            return Err(ApiError::invalid(
                "`client_msg_id` must have 1 to 64 characters.",
            ));
        }
        match &request.content {
            MessageContent::Text { text } => {
                if text.len() > TEXT_MAX_BYTES {
                    return Err(ApiError::new(
                        ErrorCode::TooLarge,
                        "Text messages hold at most 16 KiB.",
                    ));
                }
                // Only white space, zero-width or direction characters shows
                // nothing: an empty bubble in everyone's timeline.
                if !crate::text::has_visible(text) {
                    return Err(ApiError::invalid("A text message cannot be empty."));
                }
            }
            other => {
                return Err(ApiError::new(
                    ErrorCode::UnsupportedKind,
                    format!("Messages of kind `{}` cannot be sent yet.", other.kind()),
                ));
            }
        }
        self.rate_limits.message(caller.user)?;
        let message = self
            .sending
            .send(NewSend {
                sender: caller.user,
                conversation,
                request,
                at: now(),
            })
            .await?;
        Ok(SendMessageResponse { message })
    }

    pub async fn history(
        &self,
        caller: Caller,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> ApiResult<MessagePage> {
        Ok(self
            .store
            .page_messages(caller.user, conversation, query)
            .await?)
    }

    /// Moves the caller's read position. The authors of the messages newly read
    /// see it live (their "read by" changed); the caller's other devices get it
    /// through their change stream.
    pub async fn mark_read(
        &self,
        caller: Caller,
        conversation: ConversationId,
        seq: Seq,
    ) -> ApiResult<ReadPosition> {
        let reader = caller.user;
        let policy = self.contacts.direct_policy();
        let at = now();
        let (position, audience, changes) = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::member(tx.membership(conversation, reader).await?)?;
                let (target, receipt) = rules::read_target(seq, &membership);
                let position = ReadPosition {
                    conversation_id: conversation,
                    read_seq: target,
                    unread: u32::try_from((membership.last_seq.0 - target.0).max(0))
                        .unwrap_or(u32::MAX),
                };
                let mut changes = Changes::default();
                let mut audience: Vec<UserId> = match receipt {
                    ReceiptAudience::Nobody => {
                        return Ok::<_, ApiError>((position, Vec::new(), changes));
                    }
                    ReceiptAudience::Authors => {
                        tx.authors_between(conversation, membership.read_seq, target, reader)
                            .await?
                    }
                    ReceiptAudience::Everyone => tx
                        .member_ids(conversation)
                        .await?
                        .iter()
                        .copied()
                        .filter(|&m| m != reader)
                        .collect(),
                };
                tx.set_read(conversation, reader, target).await?;
                let change = UserChange::ReadPosition {
                    conversation_id: conversation,
                    read_seq: target,
                };
                changes.push_event(reader, tx.push_event(reader, at, change).await?);
                // In a direct conversation, receipts pass only while the two may message.
                if membership.kind == ConversationKind::Direct
                    && let Some(&peer) = audience.first()
                    && policy.reach(tx, reader, peer).await? != Reach::Open
                {
                    audience.clear();
                }
                Ok((position, audience, changes))
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        let event = Event::Read {
            conversation_id: conversation,
            user_id: caller.user,
            read_seq: position.read_seq,
        };
        self.publisher.event(audience.into(), event, None).await;
        Ok(position)
    }

    /// `NotFound` unless the caller is a member of the conversation.
    pub async fn check_member(
        &self,
        caller: Caller,
        conversation: ConversationId,
    ) -> ApiResult<()> {
        self.store
            .conversation_kind(caller.user, conversation)
            .await?;
        Ok(())
    }

    /// Tells the other members that the caller is typing. Nothing is stored.
    pub async fn typing(&self, caller: Caller, conversation: ConversationId) -> ApiResult<()> {
        let members = self.store.member_ids(caller.user, conversation).await?;
        let mut others: Vec<UserId> = members
            .ids
            .iter()
            .copied()
            .filter(|&m| m != caller.user)
            .collect();
        // In a direct conversation typing passes only while the two may message.
        if members.kind == ConversationKind::Direct
            && let Some(&peer) = others.first()
            && !self.contacts.may_message(caller.user, peer).await?
        {
            others.clear();
        }
        let event = Event::Typing {
            conversation_id: conversation,
            user_id: caller.user,
        };
        self.publisher.event(others.into(), event, None).await;
        Ok(())
    }

    pub async fn list(&self, caller: Caller, query: PageQuery) -> ApiResult<ConversationList> {
        let page = self
            .store
            .list_conversations(caller.user, crate::paging::page_request(query))
            .await?;
        Ok(ConversationList {
            conversations: page.items,
            next: page.next,
        })
    }

    pub async fn get(
        &self,
        caller: Caller,
        conversation: ConversationId,
    ) -> ApiResult<ConversationSummary> {
        Ok(self
            .store
            .get_conversation(caller.user, conversation)
            .await?)
    }

    pub async fn open_direct(
        &self,
        caller: Caller,
        peer: UserId,
    ) -> ApiResult<ConversationSummary> {
        let user = caller.user;
        let policy = self.contacts.direct_policy();
        let at = now();
        let id = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                if user == peer {
                    return Err(ConversationRefusal::Yourself.into());
                }
                if tx.profile(peer).await?.is_none() {
                    return Err(ConversationRefusal::NotFound.into());
                }
                if !policy.may_open_direct(tx, user, peer).await? {
                    return Err(ConversationRefusal::NotFriends.into());
                }
                Ok::<_, ApiError>(tx.direct_conversation(user, peer, at).await?)
            })
        })
        .await?;
        self.get(caller, id).await
    }

    /// The members and their read positions. In a direct conversation the
    /// peer's read position shows only while the two may message each other
    /// (else `0`): a blocked user learns no more than a removed friend does.
    pub async fn members(
        &self,
        caller: Caller,
        conversation: ConversationId,
        query: PageQuery,
    ) -> ApiResult<MemberList> {
        let kind = self
            .store
            .conversation_kind(caller.user, conversation)
            .await?;
        let page = self
            .store
            .list_members(
                caller.user,
                conversation,
                crate::paging::page_request(query),
            )
            .await?;
        let next = page.next;
        let mut members = page.items;
        if kind == ConversationKind::Direct {
            for member in members.iter_mut().filter(|m| m.user.id != caller.user) {
                if !self
                    .contacts
                    .may_message(caller.user, member.user.id)
                    .await?
                {
                    member.read_seq = Seq(0);
                }
            }
        }
        Ok(MemberList { members, next })
    }

    pub async fn create_group(
        &self,
        caller: Caller,
        request: CreateGroupRequest,
    ) -> ApiResult<ConversationSummary> {
        let name = clean_name(&request.name, "name")?
            .ok_or_else(|| ApiError::invalid("A group needs a name."))?;
        if request.members.len() > INVITE_MAX_USERS {
            return Err(ApiError::invalid(
                "At most 500 members can be added at once.",
            ));
        }
        self.rate_limits.group_creation(caller.user)?;
        let creator = caller.user;
        let limits = self.limits;
        let invited: Vec<UserId> = request
            .members
            .into_iter()
            .filter(|&u| u != creator)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let at = now();
        let (id, changes) = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                rules::may_create_group(invited.len(), tx.group_count(creator).await?, limits)?;
                let conversation = tx.insert_group(name.clone(), at).await?;
                tx.insert_member(conversation, creator, Role::Owner, at)
                    .await?;
                let mut changes = Changes::default();
                let created = SystemEvent::GroupCreated { by: creator, name };
                steps::system_message(tx, &mut changes, conversation, creator, created, None, at)
                    .await?;
                let joined = UserChange::ConversationJoined {
                    conversation_id: conversation,
                };
                changes.push_event(creator, tx.push_event(creator, at, joined).await?);
                steps::add_members(
                    tx,
                    &mut changes,
                    creator,
                    conversation,
                    &invited,
                    limits,
                    at,
                )
                .await?;
                Ok::<_, ApiError>((conversation, changes))
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        self.get(caller, id).await
    }

    pub async fn update_group(
        &self,
        caller: Caller,
        conversation: ConversationId,
        request: UpdateGroupRequest,
    ) -> ApiResult<()> {
        let name = match request.name {
            Some(name) => Some(
                clean_name(&name, "name")?
                    .ok_or_else(|| ApiError::invalid("A group needs a name."))?,
            ),
            None => None,
        };
        let announcement = request.announcement.map(|text| text.trim().to_owned());
        if announcement
            .as_ref()
            .is_some_and(|a| a.chars().count() > ANNOUNCEMENT_MAX_CHARS)
        {
            return Err(ApiError::invalid(
                "An announcement has at most 2000 characters.",
            ));
        }
        if name.is_none() && announcement.is_none() {
            return Err(ApiError::invalid("Give a `name` or an `announcement`."));
        }
        self.rate_limits.group_change(caller.user)?;
        let actor = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::group_member(tx.membership(conversation, actor).await?)?;
                rules::may_edit_group(&membership)?;
                let mut changes = Changes::default();
                if let Some(name) = name {
                    tx.set_group_name(conversation, name.clone()).await?;
                    let event = SystemEvent::Renamed { by: actor, name };
                    steps::system_message(tx, &mut changes, conversation, actor, event, None, at)
                        .await?;
                }
                if let Some(text) = announcement {
                    let stored = Some(text.clone()).filter(|t| !t.is_empty());
                    tx.set_announcement(conversation, stored).await?;
                    let event = SystemEvent::AnnouncementSet { by: actor, text };
                    steps::system_message(tx, &mut changes, conversation, actor, event, None, at)
                        .await?;
                }
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        Ok(())
    }

    pub async fn invite(
        &self,
        caller: Caller,
        conversation: ConversationId,
        users: Vec<UserId>,
    ) -> ApiResult<MemberList> {
        if users.is_empty() || users.len() > INVITE_MAX_USERS {
            return Err(ApiError::invalid("Invite 1 to 500 users at once."));
        }
        self.rate_limits.group_change(caller.user)?;
        let actor = caller.user;
        let limits = self.limits;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::group_member(tx.membership(conversation, actor).await?)?;
                let mut fresh = Vec::new();
                for user in users.into_iter().collect::<BTreeSet<_>>() {
                    if tx.role(conversation, user).await?.is_none() {
                        fresh.push(user);
                    }
                }
                rules::may_invite(membership.member_count, fresh.len(), limits)?;
                let mut changes = Changes::default();
                steps::add_members(tx, &mut changes, actor, conversation, &fresh, limits, at)
                    .await?;
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        self.members(caller, conversation, PageQuery::default())
            .await
    }

    /// Kicks a member, or leaves when `target` is the caller.
    pub async fn remove_member(
        &self,
        caller: Caller,
        conversation: ConversationId,
        target: UserId,
    ) -> ApiResult<()> {
        self.rate_limits.group_change(caller.user)?;
        let actor = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::group_member(tx.membership(conversation, actor).await?)?;
                let target_role = tx.role(conversation, target).await?;
                let removal = rules::may_remove(actor, &membership, target, target_role)?;
                tx.delete_member(conversation, target).await?;
                let (event, removed_by) = match removal {
                    Removal::Leave => (SystemEvent::MemberLeft { user: actor }, None),
                    Removal::Kick => (
                        SystemEvent::MemberRemoved {
                            by: actor,
                            user: target,
                        },
                        Some(actor),
                    ),
                };
                let mut changes = Changes::default();
                // The one who left or was removed learns it in the timeline too.
                steps::system_message(
                    tx,
                    &mut changes,
                    conversation,
                    actor,
                    event,
                    Some(target),
                    at,
                )
                .await?;
                let left = UserChange::ConversationLeft {
                    conversation_id: conversation,
                    removed_by,
                };
                changes.push_event(target, tx.push_event(target, at, left).await?);
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        Ok(())
    }

    pub async fn set_role(
        &self,
        caller: Caller,
        conversation: ConversationId,
        target: UserId,
        role: Role,
    ) -> ApiResult<()> {
        self.rate_limits.group_change(caller.user)?;
        let actor = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::group_member(tx.membership(conversation, actor).await?)?;
                let target_role = tx.role(conversation, target).await?;
                rules::may_set_role(actor, &membership, target, target_role, role)?;
                tx.set_member_role(conversation, target, role).await?;
                let mut changes = Changes::default();
                let event = SystemEvent::RoleChanged {
                    by: actor,
                    user: target,
                    role,
                };
                steps::system_message(tx, &mut changes, conversation, actor, event, None, at)
                    .await?;
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        Ok(())
    }

    pub async fn transfer(
        &self,
        caller: Caller,
        conversation: ConversationId,
        target: UserId,
    ) -> ApiResult<()> {
        self.rate_limits.group_change(caller.user)?;
        let actor = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let membership = rules::group_member(tx.membership(conversation, actor).await?)?;
                let target_role = tx.role(conversation, target).await?;
                rules::may_transfer(actor, &membership, target, target_role)?;
                tx.set_member_role(conversation, target, Role::Owner)
                    .await?;
                tx.set_member_role(conversation, actor, Role::Admin).await?;
                let mut changes = Changes::default();
                let event = SystemEvent::OwnershipTransferred {
                    from: actor,
                    to: target,
                };
                steps::system_message(tx, &mut changes, conversation, actor, event, None, at)
                    .await?;
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, None).await;
        Ok(())
    }
}
