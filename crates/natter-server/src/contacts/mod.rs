//! Contacts: friend requests, friends with their remarks and presence, blocks.

pub mod routes;
pub mod rules;
mod steps;

use std::sync::Arc;

use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::contacts::{
    BlockList, Friend, FriendList, FriendRequestList, FriendRequestOutcome,
};
use natter_protocol::conversations::PageQuery;
use natter_protocol::limits::GREETING_MAX_CHARS;
use natter_protocol::sync::UserChange;
use natter_protocol::{FriendRequestId, UserId};
use natter_store::{Changes, FriendRecord, Store, WriteTx, transaction};

pub use self::rules::ContactRefusal;
use self::rules::{Answer, Reach, RequestPlan};
use crate::config::ContactsConfig;

use crate::accounts::Caller;
use crate::clock::now;
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;
use crate::limits::RateLimits;
use crate::presence::PresenceService;
use crate::text::clean_name;

pub struct ContactService {
    store: Arc<dyn Store>,
    presence: Arc<PresenceService>,
    publisher: Arc<Publisher>,
    limits: Arc<RateLimits>,
    policy: DirectPolicy,
}

/// What a friend request came to.
enum Sent {
    Pending(natter_protocol::contacts::FriendRequest),
    Friends(FriendRecord),
}

/// Who may message whom directly, as configured: the contacts domain's answer
/// to another domain inside that domain's transaction.
#[derive(Debug, Clone, Copy)]
pub struct DirectPolicy {
    open_direct_messages: bool,
}

impl DirectPolicy {
    /// How `a` can reach `b` now (see [`rules::reach`]). Locks the pair for
    /// the rest of the transaction.
    pub async fn reach(
        self,
        tx: &mut dyn WriteTx,
        a: UserId,
        b: UserId,
    ) -> natter_store::StoreResult<Reach> {
        let relation = tx.relation(a, b).await?;
        Ok(self.reach_of(&relation))
    }

    /// How `a` can reach `b`, from their relation read (and locked) by the
    /// transaction (see [`rules::reach`]).
    pub fn reach_of(self, relation: &natter_store::Relation) -> Reach {
        rules::reach(relation, self.open_direct_messages)
    }

    /// Whether `a` may open a direct conversation with `b` (see
    /// [`rules::may_open_direct`]). Locks the pair.
    pub async fn may_open_direct(
        self,
        tx: &mut dyn WriteTx,
        a: UserId,
        b: UserId,
    ) -> natter_store::StoreResult<bool> {
        let relation = tx.relation(a, b).await?;
        Ok(rules::may_open_direct(&relation, self.open_direct_messages))
    }
}

impl ContactService {
    pub fn new(
        store: Arc<dyn Store>,
        presence: Arc<PresenceService>,
        publisher: Arc<Publisher>,
        limits: Arc<RateLimits>,
        config: &ContactsConfig,
    ) -> ContactService {
        ContactService {
            store,
            presence,
            publisher,
            limits,
            policy: DirectPolicy {
                open_direct_messages: config.open_direct_messages,
            },
        }
    }

    pub async fn send_request(
        &self,
        caller: Caller,
        to: UserId,
        greeting: Option<String>,
    ) -> ApiResult<FriendRequestOutcome> {
        let greeting = greeting.unwrap_or_default().trim().to_owned();
        if greeting.chars().count() > GREETING_MAX_CHARS
            || greeting.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(ApiError::invalid("A greeting has at most 200 characters."));
        }
        self.limits.friend_request(caller.user)?;
        let from = caller.user;
        let at = now();
        let (sent, changes) = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                if from != to && tx.profile(to).await?.is_none() {
                    return Err(ContactRefusal::NotFound.into());
                }
                let relation = tx.relation(from, to).await?;
                let pending = tx.pending_requests(from, to).await?;
                let mut changes = Changes::default();
                let sent = match rules::friend_request(from, to, &relation, &pending)? {
                    RequestPlan::AcceptTheirs(theirs) => {
                        let record = steps::accept(tx, &mut changes, from, theirs, at).await?;
                        Sent::Friends(record)
                    }
                    RequestPlan::AlreadySent(mine) => Sent::Pending(mine.request),
                    RequestPlan::Send { hidden } => {
                        let record = tx
                            .insert_friend_request(from, to, greeting, hidden, at)
                            .await?;
                        steps::announce(tx, &mut changes, &record, at, true).await?;
                        Sent::Pending(record.request)
                    }
                };
                Ok::<_, ApiError>((sent, changes))
            })
        })
        .await?;
        self.publish(changes, caller).await;
        Ok(match sent {
            Sent::Pending(request) => FriendRequestOutcome::Pending { request },
            Sent::Friends(record) => FriendRequestOutcome::Friends {
                friend: self.with_presence(record).await,
            },
        })
    }

    pub async fn accept(&self, caller: Caller, request: FriendRequestId) -> ApiResult<Friend> {
        let user = caller.user;
        let at = now();
        let (record, changes) = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let mut changes = Changes::default();
                let record = steps::accept(tx, &mut changes, user, request, at).await?;
                Ok::<_, ApiError>((record, changes))
            })
        })
        .await?;
        self.publish(changes, caller).await;
        Ok(self.with_presence(record).await)
    }

    pub async fn decline(&self, caller: Caller, request: FriendRequestId) -> ApiResult<()> {
        self.end_request(caller, request, Answer::AsRecipient).await
    }

    pub async fn cancel(&self, caller: Caller, request: FriendRequestId) -> ApiResult<()> {
        self.end_request(caller, request, Answer::AsSender).await
    }

    /// Declines (as its recipient) or cancels (as its sender) a pending
    /// request, and tells both sides.
    async fn end_request(
        &self,
        caller: Caller,
        request: FriendRequestId,
        answer: Answer,
    ) -> ApiResult<()> {
        let user = caller.user;
        let at = now();
        let status = match answer {
            Answer::AsRecipient => FriendRequestStatus::Declined,
            Answer::AsSender => FriendRequestStatus::Cancelled,
        };
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                let mut record = steps::answerable(tx, user, request, answer).await?;
                tx.update_friend_request(request, status, record.hidden, at)
                    .await?;
                record.request.status = status;
                record.request.updated_at = at;
                let mut changes = Changes::default();
                steps::announce(tx, &mut changes, &record, at, false).await?;
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    /// Tells everyone concerned of what a request made: a new friendship's
    /// `friend_added` says whether the friend is online now.
    async fn publish(&self, mut changes: Changes, caller: Caller) {
        self.presence
            .fill_friends_added(
                changes
                    .user_events
                    .iter_mut()
                    .map(|(_, event)| &mut event.change),
            )
            .await;
        self.publisher.changes(changes, Some(caller.device)).await;
    }

    /// The wire view of a friend, with their presence.
    async fn with_presence(&self, record: FriendRecord) -> Friend {
        let online = self
            .presence
            .online(&[record.user.id])
            .await
            .first()
            .copied()
            .unwrap_or(false);
        record.into_friend(online)
    }

    /// A page of the caller's pending requests, newest first, split into
    /// those to them and those from them.
    pub async fn requests(&self, caller: Caller, query: PageQuery) -> ApiResult<FriendRequestList> {
        let page = self
            .store
            .list_friend_requests(caller.user, crate::paging::page_request(query))
            .await?;
        let (incoming, outgoing) = page
            .items
            .into_iter()
            .partition(|request| request.to.id == caller.user);
        Ok(FriendRequestList {
            incoming,
            outgoing,
            next: page.next,
        })
    }

    pub async fn friends(&self, caller: Caller, query: PageQuery) -> ApiResult<FriendList> {
        let page = self
            .store
            .list_friends(caller.user, crate::paging::page_request(query))
            .await?;
        let ids: Vec<UserId> = page.items.iter().map(|r| r.user.id).collect();
        let online = self.presence.online(&ids).await;
        let friends = page
            .items
            .into_iter()
            .zip(online)
            .map(|(record, online)| record.into_friend(online))
            .collect();
        Ok(FriendList {
            friends,
            next: page.next,
        })
    }

    pub async fn set_remark(
        &self,
        caller: Caller,
        friend: UserId,
        remark: Option<String>,
    ) -> ApiResult<()> {
        let remark = match remark {
            Some(text) => clean_name(&text, "remark")?,
            None => None,
        };
        let user = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                if !tx.set_remark(user, friend, remark.clone()).await? {
                    return Err(ContactRefusal::NotFound.into());
                }
                let mut changes = Changes::default();
                let change = UserChange::FriendUpdated {
                    user_id: friend,
                    remark,
                };
                changes.push_event(user, tx.push_event(user, at, change).await?);
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn remove(&self, caller: Caller, friend: UserId) -> ApiResult<()> {
        let user = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                tx.relation(user, friend).await?;
                let mut changes = Changes::default();
                if !steps::end_friendship(tx, &mut changes, user, friend, at).await? {
                    return Err(ContactRefusal::NotFound.into());
                }
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    /// Blocks `target`. A friendship between them ends (both are told, as for
    /// a removal: no friendship ever coexists with a block); the caller's
    /// pending request to the target is cancelled (both are told); the
    /// target's pending requests to the caller are hidden from the caller
    /// (whose devices see them declined) and stay pending for the target.
    pub async fn block(&self, caller: Caller, target: UserId) -> ApiResult<()> {
        let user = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                rules::may_block(user, target)?;
                if tx.profile(target).await?.is_none() {
                    return Err(ContactRefusal::NotFound.into());
                }
                tx.relation(user, target).await?;
                tx.insert_block(user, target, at).await?;
                let mut changes = Changes::default();
                steps::end_friendship(tx, &mut changes, user, target, at).await?;
                for mut record in tx.pending_requests(user, target).await? {
                    if record.request.from.id == user {
                        tx.update_friend_request(
                            record.request.id,
                            FriendRequestStatus::Cancelled,
                            record.hidden,
                            at,
                        )
                        .await?;
                        record.request.status = FriendRequestStatus::Cancelled;
                        record.request.updated_at = at;
                        steps::announce(tx, &mut changes, &record, at, false).await?;
                    } else if !record.hidden {
                        // The sender must not see it change.
                        tx.update_friend_request(
                            record.request.id,
                            FriendRequestStatus::Pending,
                            true,
                            record.request.updated_at,
                        )
                        .await?;
                        let mut seen = record.request;
                        seen.status = FriendRequestStatus::Declined;
                        seen.updated_at = at;
                        let change = UserChange::FriendRequestUpdated { request: seen };
                        changes.push_event(user, tx.push_event(user, at, change).await?);
                    }
                }
                let change = UserChange::BlockChanged {
                    user_id: target,
                    blocked: true,
                };
                changes.push_event(user, tx.push_event(user, at, change).await?);
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn unblock(&self, caller: Caller, target: UserId) -> ApiResult<()> {
        let user = caller.user;
        let at = now();
        let changes = transaction(&*self.store, move |tx| {
            Box::pin(async move {
                tx.relation(user, target).await?;
                if !tx.delete_block(user, target).await? {
                    return Err(ContactRefusal::NotFound.into());
                }
                let mut changes = Changes::default();
                let change = UserChange::BlockChanged {
                    user_id: target,
                    blocked: false,
                };
                changes.push_event(user, tx.push_event(user, at, change).await?);
                Ok::<_, ApiError>(changes)
            })
        })
        .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    /// Whether `user` and `peer` may exchange direct messages and their
    /// signals now (see [`rules::may_message`]).
    pub async fn may_message(&self, user: UserId, peer: UserId) -> ApiResult<bool> {
        let relation = self.store.relation(user, peer).await?;
        Ok(rules::may_message(
            &relation,
            self.policy.open_direct_messages,
        ))
    }

    /// The rule for direct messages, for another domain's transaction.
    pub fn direct_policy(&self) -> DirectPolicy {
        self.policy
    }

    pub async fn blocks(&self, caller: Caller) -> ApiResult<BlockList> {
        Ok(BlockList {
            users: self.store.list_blocks(caller.user).await?,
        })
    }
}
