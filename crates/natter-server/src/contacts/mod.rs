//! Contacts: friend requests, friends with their remarks and presence, blocks.

pub mod routes;
pub mod rules;

use std::sync::Arc;

use natter_protocol::contacts::{
    BlockList, Friend, FriendList, FriendRequestList, FriendRequestOutcome,
};
use natter_protocol::conversations::PageQuery;
use natter_protocol::limits::GREETING_MAX_CHARS;
use natter_protocol::{FriendRequestId, UserId};
use natter_store::{ContactStore, FriendRequestSent};

use crate::accounts::Caller;
use crate::clock::now;
use crate::error::{ApiError, ApiResult};
use crate::events::Publisher;
use crate::limits::RateLimits;
use crate::presence::PresenceService;
use crate::text::clean_name;

pub struct ContactService {
    store: Arc<dyn ContactStore>,
    presence: Arc<PresenceService>,
    publisher: Arc<Publisher>,
    limits: Arc<RateLimits>,
}

impl ContactService {
    pub fn new(
        store: Arc<dyn ContactStore>,
        presence: Arc<PresenceService>,
        publisher: Arc<Publisher>,
        limits: Arc<RateLimits>,
    ) -> ContactService {
        ContactService {
            store,
            presence,
            publisher,
            limits,
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
        let (sent, changes) = self
            .store
            .send_friend_request(caller.user, to, greeting, now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(match sent {
            FriendRequestSent::Pending(request) => FriendRequestOutcome::Pending { request },
            FriendRequestSent::Friends(record) => {
                let online = self
                    .presence
                    .online(&[record.user.id])
                    .await
                    .first()
                    .copied()
                    .unwrap_or(false);
                FriendRequestOutcome::Friends {
                    friend: record.into_friend(online),
                }
            }
        })
    }

    pub async fn accept(&self, caller: Caller, request: FriendRequestId) -> ApiResult<Friend> {
        let (record, changes) = self
            .store
            .accept_friend_request(caller.user, request, now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        let online = self
            .presence
            .online(&[record.user.id])
            .await
            .first()
            .copied()
            .unwrap_or(false);
        Ok(record.into_friend(online))
    }

    pub async fn decline(&self, caller: Caller, request: FriendRequestId) -> ApiResult<()> {
        let changes = self
            .store
            .decline_friend_request(caller.user, request, now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn cancel(&self, caller: Caller, request: FriendRequestId) -> ApiResult<()> {
        let changes = self
            .store
            .cancel_friend_request(caller.user, request, now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn requests(&self, caller: Caller) -> ApiResult<FriendRequestList> {
        Ok(self.store.list_friend_requests(caller.user).await?)
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
        let changes = self
            .store
            .update_remark(caller.user, friend, remark, now())
            .await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn remove(&self, caller: Caller, friend: UserId) -> ApiResult<()> {
        let changes = self.store.remove_friend(caller.user, friend, now()).await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn block(&self, caller: Caller, target: UserId) -> ApiResult<()> {
        let changes = self.store.block(caller.user, target, now()).await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn unblock(&self, caller: Caller, target: UserId) -> ApiResult<()> {
        let changes = self.store.unblock(caller.user, target, now()).await?;
        self.publisher.changes(changes, Some(caller.device)).await;
        Ok(())
    }

    pub async fn blocks(&self, caller: Caller) -> ApiResult<BlockList> {
        Ok(BlockList {
            users: self.store.list_blocks(caller.user).await?,
        })
    }
}
