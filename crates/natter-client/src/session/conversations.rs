//! Conversations, messages, groups and sync.

use std::borrow::Borrow;

use natter_protocol::conversations::{
    self, ConversationList, ConversationSummary, CreateGroupRequest, HistoryQuery, InviteRequest,
    MarkReadRequest, MemberList, Message, MessagePage, OpenDirectRequest, PageQuery, ReadPosition,
    Role, SendMessageRequest, SendMessageResponse, SetRoleRequest, TransferRequest,
    UpdateGroupRequest,
};
use natter_protocol::sync::{self, SyncQuery, SyncResponse};
use natter_protocol::{ConversationId, Seq, SyncCursor, UserId};

use super::{Session, text_message};
use crate::error::Result;

impl Session {
    /// All the caller's conversations, newest activity first, page after page.
    pub async fn conversations(&self) -> Result<ConversationList> {
        super::all_pages(|query| async move { self.conversations_page(&query).await }).await
    }

    /// One page of the caller's conversations.
    pub async fn conversations_page(&self, query: &PageQuery) -> Result<ConversationList> {
        self.call(
            self.req(conversations::LIST_CONVERSATIONS, &[])
                .query(query),
        )
        .await
    }

    /// One conversation as the caller sees it.
    pub async fn conversation(
        &self,
        conversation_id: ConversationId,
    ) -> Result<ConversationSummary> {
        self.call(self.req(conversations::GET_CONVERSATION, &[&conversation_id]))
            .await
    }

    /// The direct conversation with `user_id`, created on first use.
    pub async fn open_direct(&self, user_id: UserId) -> Result<ConversationSummary> {
        self.call(
            self.req(conversations::OPEN_DIRECT, &[])
                .json(&OpenDirectRequest { user_id }),
        )
        .await
    }

    /// A page of history, in ascending seq (see [`HistoryQuery`]). The query
    /// may be passed by value or by reference.
    pub async fn history(
        &self,
        conversation_id: ConversationId,
        query: impl Borrow<HistoryQuery>,
    ) -> Result<MessagePage> {
        let request = self
            .req(conversations::LIST_MESSAGES, &[&conversation_id])
            .query(query.borrow());
        self.call(request).await
    }

    /// Sends a message (by value or by reference) and returns it as stored,
    /// with its seq.
    ///
    /// Safe to retry with the same `client_msg_id`: the server then returns
    /// the original message instead of storing a second one.
    pub async fn send_message(
        &self,
        conversation_id: ConversationId,
        message: impl Borrow<SendMessageRequest>,
    ) -> Result<Message> {
        let request = self
            .req(conversations::SEND_MESSAGE, &[&conversation_id])
            .json(message.borrow());
        let reply: SendMessageResponse = self.call(request).await?;
        Ok(reply.message)
    }

    /// Sends a text message under a fresh `client_msg_id`.
    pub async fn send_text(&self, conversation_id: ConversationId, text: &str) -> Result<Message> {
        self.send_message(conversation_id, text_message(text)).await
    }

    /// Marks the conversation read up to `seq`.
    pub async fn mark_read(
        &self,
        conversation_id: ConversationId,
        seq: Seq,
    ) -> Result<ReadPosition> {
        self.call(
            self.req(conversations::MARK_READ, &[&conversation_id])
                .json(&MarkReadRequest { seq }),
        )
        .await
    }

    /// All the members of a conversation, with their roles and read
    /// positions, page after page.
    pub async fn members(&self, conversation_id: ConversationId) -> Result<MemberList> {
        super::all_pages(|query| async move { self.members_page(conversation_id, &query).await })
            .await
    }

    /// One page of a conversation's members.
    pub async fn members_page(
        &self,
        conversation_id: ConversationId,
        query: &PageQuery,
    ) -> Result<MemberList> {
        self.call(
            self.req(conversations::LIST_MEMBERS, &[&conversation_id])
                .query(query),
        )
        .await
    }

    // ---- groups ----

    /// Creates a group owned by the caller, with some of the caller's friends in it.
    pub async fn create_group(
        &self,
        name: &str,
        members: &[UserId],
    ) -> Result<ConversationSummary> {
        let body = CreateGroupRequest {
            name: name.to_owned(),
            members: members.to_vec(),
        };
        self.call(self.req(conversations::CREATE_GROUP, &[]).json(&body))
            .await
    }

    /// Renames a group or sets its announcement (owner or admin).
    pub async fn update_group(
        &self,
        conversation_id: ConversationId,
        update: &UpdateGroupRequest,
    ) -> Result<()> {
        self.call_ok(
            self.req(conversations::UPDATE_GROUP, &[&conversation_id])
                .json(update),
        )
        .await
    }

    /// Adds friends of the caller to a group; returns the new member list.
    pub async fn invite(
        &self,
        conversation_id: ConversationId,
        user_ids: &[UserId],
    ) -> Result<MemberList> {
        let body = InviteRequest {
            user_ids: user_ids.to_vec(),
        };
        self.call(
            self.req(conversations::INVITE_MEMBERS, &[&conversation_id])
                .json(&body),
        )
        .await
    }

    /// Removes a member (or, with the caller's own id, leaves the group).
    pub async fn remove_member(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<()> {
        self.call_ok(self.req(conversations::REMOVE_MEMBER, &[&conversation_id, &user_id]))
            .await
    }

    /// Makes a member an admin or a plain member (owner only).
    pub async fn set_role(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
        role: Role,
    ) -> Result<()> {
        let body = SetRoleRequest { role };
        self.call_ok(
            self.req(
                conversations::SET_MEMBER_ROLE,
                &[&conversation_id, &user_id],
            )
            .json(&body),
        )
        .await
    }

    /// Hands the group to another member (owner only).
    pub async fn transfer_ownership(
        &self,
        conversation_id: ConversationId,
        user_id: UserId,
    ) -> Result<()> {
        let body = TransferRequest { user_id };
        self.call_ok(
            self.req(conversations::TRANSFER_OWNERSHIP, &[&conversation_id])
                .json(&body),
        )
        .await
    }

    // ---- sync ----

    /// Everything that changed after `since` (`SyncCursor(0)` for a first
    /// sync): every page the server answers in, merged into one response
    /// (events in order, the newest summary of each conversation, the last
    /// page's cursor).
    pub async fn sync(&self, since: SyncCursor) -> Result<SyncResponse> {
        let mut merged = self.sync_page(since, false).await?;
        while merged.has_more {
            let page = self.sync_page(merged.cursor, true).await?;
            merge_sync_page(&mut merged, page);
        }
        Ok(merged)
    }

    /// One page of what changed after `since`; `has_more` says whether to
    /// ask again from its `cursor`, with `resume` set.
    pub async fn sync_page(&self, since: SyncCursor, resume: bool) -> Result<SyncResponse> {
        self.call(
            self.req(sync::SYNC, &[])
                .query(&SyncQuery { since, resume }),
        )
        .await
    }
}

/// Adds the next page of a sync to what the earlier pages said: its events
/// after theirs, its conversation summaries over theirs (they are newer), its
/// cursor and `has_more`. A reset stays a reset.
pub(crate) fn merge_sync_page(merged: &mut SyncResponse, page: SyncResponse) {
    merged.events.extend(page.events);
    for summary in page.conversations {
        match merged.conversations.iter_mut().find(|c| c.id == summary.id) {
            Some(older) => *older = summary,
            None => merged.conversations.push(summary),
        }
    }
    merged.cursor = page.cursor;
    merged.has_more = page.has_more;
}
