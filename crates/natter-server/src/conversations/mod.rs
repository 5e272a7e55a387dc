//! Conversations: direct and group timelines, members and roles, sending,
//! history, read positions and typing.

pub mod routes;

use std::sync::Arc;

use natter_protocol::conversations::{
    ConversationKind, ConversationList, ConversationSummary, CreateGroupRequest, HistoryQuery,
    MemberList, MessageContent, MessagePage, PageQuery, ReadPosition, Role, SendMessageRequest,
    SendMessageResponse, UpdateGroupRequest,
};
use natter_protocol::limits::{
    ANNOUNCEMENT_MAX_CHARS, CLIENT_MSG_ID_MAX_CHARS, INVITE_MAX_USERS, TEXT_MAX_BYTES,
};
use natter_protocol::ws::Event;
use natter_protocol::{ConversationId, ErrorCode, Seq, UserId};
use natter_store::{ContactStore, ConversationStore, GroupLimits, NewMessage};

use crate::accounts::Caller;
use crate::clock::now;
use crate::config::{ContactsConfig, GroupsConfig};
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;
use crate::limits::RateLimits;
use crate::text::clean_name;

pub struct ConversationService {
    store: Arc<dyn ConversationStore>,
    contacts: Arc<dyn ContactStore>,
    publisher: Arc<Publisher>,
    contacts_config: ContactsConfig,
    limits: GroupLimits,
    rate_limits: Arc<RateLimits>,
}

impl ConversationService {
    pub fn new(
        store: Arc<dyn ConversationStore>,
        contacts: Arc<dyn ContactStore>,
        publisher: Arc<Publisher>,
        contacts_config: ContactsConfig,
        groups: GroupsConfig,
        rate_limits: Arc<RateLimits>,
    ) -> ConversationService {
        let limits = GroupLimits {
            max_members: groups.max_members.max(2),
            max_groups_per_user: groups.max_groups_per_user.max(1),
        };
        ConversationService {
            store,
            contacts,
            publisher,
            contacts_config,
            limits,
            rate_limits,
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
        let appended = self
            .store
            .append_message(NewMessage {
                conversation_id: conversation,
                sender: caller.user,
                client_msg_id: request.client_msg_id,
                content: request.content,
                reply_to: request.reply_to,
                direct_needs_friendship: !self.contacts_config.open_direct_messages,
                now: now(),
            })
            .await?;
        // Also for a duplicate: the first attempt may have been stored by a server
        // that died before it published; clients de-duplicate by seq.
        self.publisher
            .message(appended.message.clone(), appended.members, None)
            .await;
        Ok(SendMessageResponse {
            message: appended.message,
        })
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
        let moved = self
            .store
            .mark_read(caller.user, conversation, seq, now())
            .await?;
        self.publisher
            .changes(moved.changes, Some(caller.device))
            .await;
        let mut audience = moved.audience.to_vec();
        // In a direct conversation, receipts pass only while the two may message.
        if moved.kind == ConversationKind::Direct
            && let Some(&peer) = audience.first()
            && !self.may_message(caller.user, peer).await?
        {
            audience.clear();
        }
        let event = Event::Read {
            conversation_id: conversation,
            user_id: caller.user,
            read_seq: moved.position.read_seq,
        };
        self.publisher.event(audience.into(), event, None).await;
        Ok(moved.position)
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
            && !self.may_message(caller.user, peer).await?
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
        let id = self
            .store
            .open_direct(
                caller.user,
                peer,
                !self.contacts_config.open_direct_messages,
                now(),
            )
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
                if !self.may_message(caller.user, member.user.id).await? {
                    member.read_seq = Seq(0);
                }
            }
        }
        Ok(MemberList { members, next })
    }

    /// The one rule for direct messages and their signals (see `contacts::rules`).
    async fn may_message(&self, user: UserId, peer: UserId) -> ApiResult<bool> {
        let relation = self.contacts.relation(user, peer).await?;
        Ok(crate::contacts::rules::may_message(
            &relation,
            self.contacts_config.open_direct_messages,
        ))
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
        let (id, changes) = self
            .store
            .create_group(caller.user, name, request.members, self.limits, now())
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
        let changes = self
            .store
            .update_group(caller.user, conversation, name, announcement, now())
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
        let changes = self
            .store
            .invite_members(caller.user, conversation, users, self.limits, now())
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
        let changes = self
            .store
            .remove_member(caller.user, conversation, target, now())
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
        let changes = self
            .store
            .set_role(caller.user, conversation, target, role, now())
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
        let changes = self
            .store
            .transfer_ownership(caller.user, conversation, target, now())
            .await?;
        self.publisher.changes(changes, None).await;
        Ok(())
    }
}
