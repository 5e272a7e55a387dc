//! Finding people, friend requests, friends and blocks.

use natter_protocol::contacts::{
    self, BlockList, Friend, FriendList, FriendRequestList, FriendRequestOutcome, SearchUsersQuery,
    SendFriendRequest, UpdateFriendRequest, UserSearchPage,
};
use natter_protocol::conversations::PageQuery;
use natter_protocol::{FriendRequestId, UserId};

use super::Session;
use crate::error::Result;

impl Session {
    /// Prefix search over usernames and display names.
    pub async fn search_users(&self, query: &SearchUsersQuery) -> Result<UserSearchPage> {
        self.call(self.req(contacts::SEARCH_USERS, &[]).query(query))
            .await
    }

    /// All the caller's friends, with remarks and presence, page after page.
    pub async fn friends(&self) -> Result<FriendList> {
        super::all_pages(|query| async move { self.friends_page(&query).await }).await
    }

    /// One page of the caller's friends, by username.
    pub async fn friends_page(&self, query: &PageQuery) -> Result<FriendList> {
        self.call(self.req(contacts::LIST_FRIENDS, &[]).query(query))
            .await
    }

    /// Sets (or, with `None` or `""`, clears) the private remark for a friend.
    pub async fn update_friend(&self, user_id: UserId, remark: Option<&str>) -> Result<()> {
        let body = UpdateFriendRequest {
            remark: remark.map(str::to_owned),
        };
        self.call_ok(self.req(contacts::UPDATE_FRIEND, &[&user_id]).json(&body))
            .await
    }

    /// Ends a friendship.
    pub async fn remove_friend(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::REMOVE_FRIEND, &[&user_id]))
            .await
    }

    /// Every pending friend request, incoming and outgoing, newest first.
    pub async fn friend_requests(&self) -> Result<FriendRequestList> {
        super::all_pages(|query| async move { self.friend_requests_page(&query).await }).await
    }

    /// One page of the pending friend requests (both ways, newest first).
    pub async fn friend_requests_page(&self, query: &PageQuery) -> Result<FriendRequestList> {
        self.call(self.req(contacts::LIST_FRIEND_REQUESTS, &[]).query(query))
            .await
    }

    /// Asks `user_id` to be friends. If they had already asked the caller, the
    /// two become friends at once ([`FriendRequestOutcome::Friends`]).
    pub async fn send_friend_request(
        &self,
        user_id: UserId,
        greeting: Option<&str>,
    ) -> Result<FriendRequestOutcome> {
        let body = SendFriendRequest {
            user_id,
            greeting: greeting.map(str::to_owned),
        };
        self.call(self.req(contacts::SEND_FRIEND_REQUEST, &[]).json(&body))
            .await
    }

    /// Accepts an incoming request; returns the new friend.
    pub async fn accept_friend_request(&self, request_id: FriendRequestId) -> Result<Friend> {
        self.call(self.req(contacts::ACCEPT_FRIEND_REQUEST, &[&request_id]))
            .await
    }

    /// Declines an incoming request.
    pub async fn decline_friend_request(&self, request_id: FriendRequestId) -> Result<()> {
        self.call_ok(self.req(contacts::DECLINE_FRIEND_REQUEST, &[&request_id]))
            .await
    }

    /// Withdraws an outgoing request.
    pub async fn cancel_friend_request(&self, request_id: FriendRequestId) -> Result<()> {
        self.call_ok(self.req(contacts::CANCEL_FRIEND_REQUEST, &[&request_id]))
            .await
    }

    /// The users the caller blocked.
    pub async fn blocks(&self) -> Result<BlockList> {
        self.call(self.req(contacts::LIST_BLOCKS, &[])).await
    }

    /// Blocks a user.
    pub async fn block(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::BLOCK_USER, &[&user_id]))
            .await
    }

    /// Unblocks a user.
    pub async fn unblock(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::UNBLOCK_USER, &[&user_id]))
            .await
    }
}
