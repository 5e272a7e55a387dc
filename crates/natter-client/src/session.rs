//! [`Session`]: a logged-in device and one typed method per HTTP endpoint.

use std::fmt;
use std::sync::Arc;

use natter_protocol::accounts::{
    self, ChangePasswordRequest, DeviceList, LoginResponse, UpdateProfileRequest, UserProfile,
};
use natter_protocol::contacts::{
    self, BlockList, Friend, FriendList, FriendRequestList, FriendRequestOutcome, SearchUsersQuery,
    SendFriendRequest, UpdateFriendRequest, UserSearchPage,
};
use natter_protocol::conversations::{
    self, ConversationList, ConversationSummary, CreateGroupRequest, HistoryQuery, InviteRequest,
    MarkReadRequest, MemberList, Message, MessageContent, MessagePage, OpenDirectRequest, ReadPosition, Role,
    SendMessageRequest, SendMessageResponse, SetRoleRequest, TransferRequest, UpdateGroupRequest,
};
use natter_protocol::sync::{self, SyncQuery, SyncResponse};
use natter_protocol::{
    ClientMsgId, ConversationId, DeviceId, Endpoint, FriendRequestId, Method, Seq, SyncCursor, UserId,
};
use serde::de::DeserializeOwned;

use crate::error::{ClientError, Result};
use crate::http::Http;

/// A fresh idempotency key for a send: 128 random bits as 32 hex digits.
pub fn new_client_msg_id() -> ClientMsgId {
    ClientMsgId(format!("{:032x}", rand::random::<u128>()))
}

/// A logged-in device of one user: the token plus the HTTP API.
///
/// Cheap to clone; clones share the token and the connection pool. A session
/// stays valid until it is logged out or revoked; after that every call fails
/// with `unauthorized`. [`Session::connect`] opens the real-time connection.
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    http: Http,
    login: LoginResponse,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a password equivalent: never print it.
        f.debug_struct("Session")
            .field("base", &self.inner.http.base())
            .field("user", &self.inner.login.user.username)
            .field("device_id", &self.inner.login.device_id)
            .field("token", &"***")
            .finish()
    }
}

impl Session {
    pub(crate) fn new(http: Http, login: LoginResponse) -> Session {
        Session { inner: Arc::new(SessionInner { http, login }) }
    }

    /// Builds a session around a saved token: the profile comes from
    /// `GET /me`, the device id from the device list's `current` entry.
    pub(crate) async fn resume(http: Http, token: String) -> Result<Session> {
        let me = http.endpoint(accounts::GET_ME, &[], Some(&token));
        let devices = http.endpoint(accounts::LIST_DEVICES, &[], Some(&token));
        let (user, devices): (UserProfile, DeviceList) = tokio::try_join!(http.call(me), http.call(devices))?;
        let device_id = devices
            .devices
            .iter()
            .find(|device| device.current)
            .map(|device| device.id)
            .ok_or_else(|| ClientError::Decode("the device list has no `current` device".into()))?;
        Ok(Session::new(http, LoginResponse { token, device_id, user }))
    }

    /// The session token (`Authorization: Bearer <token>`). Keep it secret.
    pub fn token(&self) -> &str {
        &self.inner.login.token
    }

    /// The logged-in user, as of login (see [`Session::me`] for a fresh copy).
    pub fn user(&self) -> &UserProfile {
        &self.inner.login.user
    }

    /// This session's device.
    pub fn device_id(&self) -> DeviceId {
        self.inner.login.device_id
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        self.inner.http.base()
    }

    /// `args` are `Sync` so that the futures of the methods below, which keep
    /// the argument array alive across their await, stay `Send`.
    fn req(&self, endpoint: Endpoint, args: &[&(dyn fmt::Display + Sync)]) -> reqwest::RequestBuilder {
        let args: Vec<&dyn fmt::Display> = args.iter().map(|arg| *arg as &dyn fmt::Display).collect();
        self.inner.http.endpoint(endpoint, &args, Some(self.token()))
    }

    async fn call<R: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<R> {
        self.inner.http.call(request).await
    }

    /// For endpoints that answer `{"ok": true}`: the body is still decoded, so a
    /// server that drifts from the contract is noticed.
    async fn call_ok(&self, request: reqwest::RequestBuilder) -> Result<()> {
        self.inner.http.call::<accounts::Ok>(request).await.map(drop)
    }

    /// Sends any request with this session's token and returns the status and
    /// body as they came, without turning error statuses into errors. For tests
    /// that send what the typed methods cannot (bad JSON shapes, unknown routes).
    /// A non-JSON body comes back as a JSON string, an empty one as `null`.
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, serde_json::Value)> {
        let mut request = self.inner.http.request(method, path, Some(self.token()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.inner.http.call_raw(request).await
    }

    // ---- accounts ----

    /// Logs this device out: the token stops working everywhere, and an open
    /// [`crate::Connection`] is closed by the server with code 4002.
    pub async fn logout(&self) -> Result<()> {
        self.call_ok(self.req(accounts::LOGOUT, &[])).await
    }

    /// The caller's profile, fresh from the server.
    pub async fn me(&self) -> Result<UserProfile> {
        self.call(self.req(accounts::GET_ME, &[])).await
    }

    /// Sets the display name; an empty string resets it to the username.
    pub async fn update_me(&self, display_name: &str) -> Result<UserProfile> {
        let body = UpdateProfileRequest { display_name: display_name.to_owned() };
        self.call(self.req(accounts::UPDATE_ME, &[]).json(&body)).await
    }

    /// Changes the password. Revokes every other device of the user; this one
    /// stays logged in.
    pub async fn change_password(&self, old_password: &str, new_password: &str) -> Result<()> {
        let body =
            ChangePasswordRequest { old_password: old_password.to_owned(), new_password: new_password.to_owned() };
        self.call_ok(self.req(accounts::CHANGE_PASSWORD, &[]).json(&body)).await
    }

    /// The user's logged-in devices.
    pub async fn devices(&self) -> Result<DeviceList> {
        self.call(self.req(accounts::LIST_DEVICES, &[])).await
    }

    /// Logs out one of the user's devices.
    pub async fn revoke_device(&self, device_id: DeviceId) -> Result<()> {
        self.call_ok(self.req(accounts::REVOKE_DEVICE, &[&device_id])).await
    }

    /// Another user's profile.
    pub async fn get_user(&self, user_id: UserId) -> Result<UserProfile> {
        self.call(self.req(accounts::GET_USER, &[&user_id])).await
    }

    // ---- contacts ----

    /// Prefix search over usernames and display names.
    pub async fn search_users(&self, query: &SearchUsersQuery) -> Result<UserSearchPage> {
        self.call(self.req(contacts::SEARCH_USERS, &[]).query(query)).await
    }

    /// The caller's friends, with remarks and presence.
    pub async fn friends(&self) -> Result<FriendList> {
        self.call(self.req(contacts::LIST_FRIENDS, &[])).await
    }

    /// Sets (or, with `None` or `""`, clears) the private remark for a friend.
    pub async fn update_friend(&self, user_id: UserId, remark: Option<&str>) -> Result<()> {
        let body = UpdateFriendRequest { remark: remark.map(str::to_owned) };
        self.call_ok(self.req(contacts::UPDATE_FRIEND, &[&user_id]).json(&body)).await
    }

    /// Ends a friendship.
    pub async fn remove_friend(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::REMOVE_FRIEND, &[&user_id])).await
    }

    /// Pending friend requests, incoming and outgoing.
    pub async fn friend_requests(&self) -> Result<FriendRequestList> {
        self.call(self.req(contacts::LIST_FRIEND_REQUESTS, &[])).await
    }

    /// Asks `user_id` to be friends. If they had already asked the caller, the
    /// two become friends at once ([`FriendRequestOutcome::Friends`]).
    pub async fn send_friend_request(&self, user_id: UserId, greeting: Option<&str>) -> Result<FriendRequestOutcome> {
        let body = SendFriendRequest { user_id, greeting: greeting.map(str::to_owned) };
        self.call(self.req(contacts::SEND_FRIEND_REQUEST, &[]).json(&body)).await
    }

    /// Accepts an incoming request; returns the new friend.
    pub async fn accept_friend_request(&self, request_id: FriendRequestId) -> Result<Friend> {
        self.call(self.req(contacts::ACCEPT_FRIEND_REQUEST, &[&request_id])).await
    }

    /// Declines an incoming request.
    pub async fn decline_friend_request(&self, request_id: FriendRequestId) -> Result<()> {
        self.call_ok(self.req(contacts::DECLINE_FRIEND_REQUEST, &[&request_id])).await
    }

    /// Withdraws an outgoing request.
    pub async fn cancel_friend_request(&self, request_id: FriendRequestId) -> Result<()> {
        self.call_ok(self.req(contacts::CANCEL_FRIEND_REQUEST, &[&request_id])).await
    }

    /// The users the caller blocked.
    pub async fn blocks(&self) -> Result<BlockList> {
        self.call(self.req(contacts::LIST_BLOCKS, &[])).await
    }

    /// Blocks a user.
    pub async fn block(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::BLOCK_USER, &[&user_id])).await
    }

    /// Unblocks a user.
    pub async fn unblock(&self, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(contacts::UNBLOCK_USER, &[&user_id])).await
    }

    // ---- conversations ----

    /// The caller's conversations.
    pub async fn conversations(&self) -> Result<ConversationList> {
        self.call(self.req(conversations::LIST_CONVERSATIONS, &[])).await
    }

    /// One conversation as the caller sees it.
    pub async fn conversation(&self, conversation_id: ConversationId) -> Result<ConversationSummary> {
        self.call(self.req(conversations::GET_CONVERSATION, &[&conversation_id])).await
    }

    /// The direct conversation with `user_id`, created on first use.
    pub async fn open_direct(&self, user_id: UserId) -> Result<ConversationSummary> {
        self.call(self.req(conversations::OPEN_DIRECT, &[]).json(&OpenDirectRequest { user_id })).await
    }

    /// A page of history, in ascending seq (see [`HistoryQuery`]).
    pub async fn history(&self, conversation_id: ConversationId, query: &HistoryQuery) -> Result<MessagePage> {
        self.call(self.req(conversations::LIST_MESSAGES, &[&conversation_id]).query(query)).await
    }

    /// Sends a message and returns it as stored (with its seq).
    ///
    /// Safe to retry with the same `client_msg_id`: the server then returns
    /// the original message instead of storing a second one.
    pub async fn send_message(&self, conversation_id: ConversationId, message: &SendMessageRequest) -> Result<Message> {
        let reply: SendMessageResponse =
            self.call(self.req(conversations::SEND_MESSAGE, &[&conversation_id]).json(message)).await?;
        Ok(reply.message)
    }

    /// Sends a text message under a fresh `client_msg_id`.
    pub async fn send_text(&self, conversation_id: ConversationId, text: &str) -> Result<Message> {
        let message = SendMessageRequest {
            client_msg_id: new_client_msg_id(),
            content: MessageContent::Text { text: text.to_owned() },
            reply_to: None,
        };
        self.send_message(conversation_id, &message).await
    }

    /// Marks the conversation read up to `seq`.
    pub async fn mark_read(&self, conversation_id: ConversationId, seq: Seq) -> Result<ReadPosition> {
        self.call(self.req(conversations::MARK_READ, &[&conversation_id]).json(&MarkReadRequest { seq })).await
    }

    /// The members of a conversation, with their roles and read positions.
    pub async fn members(&self, conversation_id: ConversationId) -> Result<MemberList> {
        self.call(self.req(conversations::LIST_MEMBERS, &[&conversation_id])).await
    }

    // ---- groups ----

    /// Creates a group owned by the caller, with some of the caller's friends in it.
    pub async fn create_group(&self, name: &str, members: &[UserId]) -> Result<ConversationSummary> {
        let body = CreateGroupRequest { name: name.to_owned(), members: members.to_vec() };
        self.call(self.req(conversations::CREATE_GROUP, &[]).json(&body)).await
    }

    /// Renames a group or sets its announcement (owner or admin).
    pub async fn update_group(&self, conversation_id: ConversationId, update: &UpdateGroupRequest) -> Result<()> {
        self.call_ok(self.req(conversations::UPDATE_GROUP, &[&conversation_id]).json(update)).await
    }

    /// Adds friends of the caller to a group; returns the new member list.
    pub async fn invite(&self, conversation_id: ConversationId, user_ids: &[UserId]) -> Result<MemberList> {
        let body = InviteRequest { user_ids: user_ids.to_vec() };
        self.call(self.req(conversations::INVITE_MEMBERS, &[&conversation_id]).json(&body)).await
    }

    /// Removes a member (or, with the caller's own id, leaves the group).
    pub async fn remove_member(&self, conversation_id: ConversationId, user_id: UserId) -> Result<()> {
        self.call_ok(self.req(conversations::REMOVE_MEMBER, &[&conversation_id, &user_id])).await
    }

    /// Makes a member an admin or a plain member (owner only).
    pub async fn set_role(&self, conversation_id: ConversationId, user_id: UserId, role: Role) -> Result<()> {
        let body = SetRoleRequest { role };
        self.call_ok(self.req(conversations::SET_MEMBER_ROLE, &[&conversation_id, &user_id]).json(&body)).await
    }

    /// Hands the group to another member (owner only).
    pub async fn transfer_ownership(&self, conversation_id: ConversationId, user_id: UserId) -> Result<()> {
        let body = TransferRequest { user_id };
        self.call_ok(self.req(conversations::TRANSFER_OWNERSHIP, &[&conversation_id]).json(&body)).await
    }

    // ---- sync ----

    /// Everything that changed after `since` (`SyncCursor(0)` for a first sync).
    pub async fn sync(&self, since: SyncCursor) -> Result<SyncResponse> {
        self.call(self.req(sync::SYNC, &[]).query(&SyncQuery { since })).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_msg_ids_are_128_bit_hex_and_fresh() {
        let a = new_client_msg_id();
        let b = new_client_msg_id();
        assert_eq!(a.0.len(), 32);
        assert!(a.0.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn debug_output_hides_the_token() {
        let http = Http::new("http://localhost:1").expect("valid URL");
        let session = Session::new(
            http,
            LoginResponse {
                token: "s3cret-token".into(),
                device_id: DeviceId(2),
                user: UserProfile {
                    id: UserId(1),
                    username: "alice".into(),
                    display_name: "Alice".into(),
                    created_at: natter_protocol::Timestamp(0),
                },
            },
        );
        let shown = format!("{session:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }
}
