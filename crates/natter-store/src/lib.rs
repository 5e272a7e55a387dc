//! Natter's persistence: one trait per domain, and the backends behind them.
//!
//! The server reaches storage only through [`AccountStore`], [`ContactStore`],
//! [`ConversationStore`] and [`SyncStore`] (together: [`Store`]). Each method is
//! shaped like a use case and runs as one transaction, so every rule that needs
//! data to check (friendship, membership, roles, limits) is checked in the same
//! transaction that writes.
//!
//! Invariants:
//! - a message's `seq` is assigned in the transaction that stores it: the
//!   conversation's `last_seq + 1`, so every timeline is gap-free;
//! - a write method returns the [`Changes`] it made (user events with their
//!   cursors, messages with their recipients); the caller publishes them only
//!   after the method returned, i.e. after the commit;
//! - a user who is not a member of a conversation gets [`StoreError::NotFound`],
//!   never a hint that the conversation exists.
//!
//! Backends: [`sqlite::SqliteStore`] (embedded, the default). PostgreSQL will
//! implement the same traits and pass the same contract suite (`tests/`).

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{Friend, FriendRequest, FriendRequestList};
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Member, Message, MessageContent,
    MessagePage, ReadPosition, Role,
};
use natter_protocol::sync::{SyncResponse, UserEvent};
use natter_protocol::{
    ClientMsgId, ConversationId, DeviceId, ErrorCode, FriendRequestId, Seq, SyncCursor, Timestamp,
    UserId,
};

pub mod sqlite;

/// Why a store call failed. Small and backend-free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// A rule checked inside the transaction refused the change; nothing changed.
    #[error("rejected: {0}")]
    Rejected(ErrorCode),
    /// The storage cannot serve the request now (disk full, read-only, shutting
    /// down, I/O error). Nothing was stored.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which page of a list: at most `limit` items after the cursor `after` (a
/// `next` the store gave out; `Rejected(InvalidRequest)` if it is not one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

/// One page of a list, and the cursor of the next when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// What a write changed, for the caller to publish after the commit.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    /// Entries appended to users' change streams.
    pub user_events: Vec<(UserId, UserEvent)>,
    /// Messages appended (system messages included), with the members to deliver to.
    pub messages: Vec<(Message, Arc<[UserId]>)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.user_events.is_empty() && self.messages.is_empty()
    }
}

/// A user's record as the accounts domain needs it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// The normalized, case-folded username that must be unique.
    pub username_key: String,
    pub display_name: String,
    /// The case-folded display name, for search.
    pub display_key: String,
    pub password_hash: String,
    pub now: Timestamp,
}

/// A logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub name: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

/// How a user's username and display name map to their username key and
/// display key; the accounts domain owns the function.
pub type NameKeys = Arc<dyn Fn(&str, &str) -> (String, String) + Send + Sync>;

/// Accounts, credentials and sessions.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user. Fails with `Rejected(UsernameTaken)` when `username_key` exists.
    async fn insert_user(&self, user: NewUser) -> StoreResult<UserProfile>;
    /// The user id and password hash of the account `username_key` names, if
    /// any. When accounts made before a change of the key function share a
    /// key (see [`AccountStore::rekey_users`]), the one whose stored username
    /// is exactly `username` wins, else the oldest.
    async fn find_credentials(
        &self,
        username_key: &str,
        username: &str,
    ) -> StoreResult<Option<(UserId, String)>>;
    /// Makes every user's keys again with `keys`, unless they were made by
    /// `version` already; records `version`. Users are taken oldest first: one
    /// whose new username key an older account holds keeps `{key}#{id}`, so
    /// that both stay reachable by their exact names and no new look-alike can
    /// register. Returns those users.
    async fn rekey_users(&self, version: i64, keys: NameKeys) -> StoreResult<Vec<UserId>>;
    /// The password hash of a user.
    async fn get_password_hash(&self, user: UserId) -> StoreResult<String>;
    /// A user's public profile.
    async fn find_user(&self, user: UserId) -> StoreResult<Option<UserProfile>>;
    /// Users whose username key or display key starts with `prefix_key`, by username.
    async fn search_users(
        &self,
        prefix_key: &str,
        limit: u32,
        offset: u32,
    ) -> StoreResult<Vec<UserProfile>>;
    /// Sets the display name and records it in the user's change stream.
    async fn update_display_name(
        &self,
        user: UserId,
        display_name: String,
        display_key: String,
        now: Timestamp,
    ) -> StoreResult<(UserProfile, Changes)>;
    /// Replaces the password hash and deletes every session but `keep`; returns the deleted ones.
    async fn update_password(
        &self,
        user: UserId,
        hash: String,
        keep: DeviceId,
    ) -> StoreResult<Vec<DeviceId>>;
    /// Creates a session for a device; the token is stored only as its hash.
    async fn insert_session(
        &self,
        user: UserId,
        name: String,
        token_hash: [u8; 32],
        now: Timestamp,
    ) -> StoreResult<DeviceId>;
    /// The session whose token hashes to `token_hash`.
    async fn find_session(&self, token_hash: [u8; 32]) -> StoreResult<Option<SessionRecord>>;
    /// Records that a device was seen (the caller throttles how often).
    async fn touch_session(&self, device: DeviceId, now: Timestamp) -> StoreResult<()>;
    /// Deletes sessions idle since before `idle_before`; returns them.
    async fn delete_idle_sessions(&self, idle_before: Timestamp)
    -> StoreResult<Vec<SessionRecord>>;
    async fn list_sessions(&self, user: UserId) -> StoreResult<Vec<SessionRecord>>;
    /// Deletes one of the user's sessions. `NotFound` if it is not theirs.
    async fn delete_session(&self, user: UserId, device: DeviceId) -> StoreResult<()>;
    /// Records when a user was last connected.
    async fn update_last_seen(&self, user: UserId, at: Timestamp) -> StoreResult<()>;
}

/// A friendship row as stored (presence is added by the server).
#[derive(Debug, Clone)]
pub struct FriendRecord {
    pub user: UserProfile,
    pub remark: Option<String>,
    pub since: Timestamp,
    pub last_seen_at: Option<Timestamp>,
    pub conversation_id: ConversationId,
}

impl FriendRecord {
    /// The wire view, with the friend's presence.
    pub fn into_friend(self, online: bool) -> Friend {
        Friend {
            user: self.user,
            remark: self.remark,
            since: self.since,
            online,
            last_seen_at: self.last_seen_at,
            conversation_id: self.conversation_id,
        }
    }
}

/// The result of sending a friend request.
#[derive(Debug, Clone)]
pub enum FriendRequestSent {
    /// Waiting for the recipient.
    Pending(FriendRequest),
    /// The recipient had asked too: now friends (the record is the sender's view).
    Friends(FriendRecord),
}

/// How two users stand to each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    pub friends: bool,
    /// `a` blocked `b`.
    pub a_blocked_b: bool,
    /// `b` blocked `a`.
    pub b_blocked_a: bool,
}

/// Friend requests, friendships and blocks.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Sends a request from `from` to `to`. A pending request from `to` makes them
    /// friends at once. If `to` blocked `from`, the request is stored but hidden
    /// from `to`, so the sender cannot tell.
    async fn send_friend_request(
        &self,
        from: UserId,
        to: UserId,
        greeting: String,
        now: Timestamp,
    ) -> StoreResult<(FriendRequestSent, Changes)>;
    /// The recipient accepts; returns the recipient's view of the new friend.
    async fn accept_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<(FriendRecord, Changes)>;
    /// The recipient declines.
    async fn decline_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// The sender withdraws.
    async fn cancel_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Pending requests to and from the user.
    async fn list_friend_requests(&self, user: UserId) -> StoreResult<FriendRequestList>;
    /// A page of the user's friends, by username key.
    async fn list_friends(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRecord>>;
    /// `NotFound` unless they are friends.
    async fn update_remark(
        &self,
        user: UserId,
        friend: UserId,
        remark: Option<String>,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Ends the friendship on both sides (the direct conversation and its history stay).
    async fn remove_friend(
        &self,
        user: UserId,
        friend: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// `user` blocks `target`. A friendship between them ends (both are told,
    /// as for a removal: no friendship ever coexists with a block); the
    /// blocker's pending request to the target is cancelled (both are told);
    /// the target's pending requests to the blocker are hidden from the
    /// blocker (whose devices see them declined) and stay pending for the
    /// target.
    async fn block(&self, user: UserId, target: UserId, now: Timestamp) -> StoreResult<Changes>;
    async fn unblock(&self, user: UserId, target: UserId, now: Timestamp) -> StoreResult<Changes>;
    async fn list_blocks(&self, user: UserId) -> StoreResult<Vec<UserProfile>>;
    async fn relation(&self, a: UserId, b: UserId) -> StoreResult<Relation>;
    /// Friends of `user` that `user` has not blocked: who may see `user`'s presence.
    async fn list_presence_audience(&self, user: UserId) -> StoreResult<Vec<UserId>>;
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub client_msg_id: ClientMsgId,
    pub content: MessageContent,
    pub reply_to: Option<Seq>,
    /// Whether a direct conversation needs the two to be friends.
    pub direct_needs_friendship: bool,
    pub now: Timestamp,
}

/// The result of an append.
#[derive(Debug, Clone)]
pub struct Appended {
    pub message: Message,
    /// Members to deliver to.
    pub members: Arc<[UserId]>,
    /// The same client message id was sent before: `message` is the original and
    /// nothing was written.
    pub duplicate: bool,
}

/// The result of a read.
#[derive(Debug, Clone)]
pub struct ReadMoved {
    pub position: ReadPosition,
    pub kind: ConversationKind,
    /// Who should see the receipt: the other authors of the messages newly
    /// read (the members whose "read by" changed), or every other member when
    /// the range read is long. Empty when nothing moved.
    pub audience: Arc<[UserId]>,
    /// The read-position event for the reader's other devices.
    pub changes: Changes,
}

/// A conversation's kind and members.
#[derive(Debug, Clone)]
pub struct MemberIds {
    pub kind: ConversationKind,
    pub ids: Arc<[UserId]>,
}

/// Limits the store enforces for groups.
#[derive(Debug, Clone, Copy)]
pub struct GroupLimits {
    pub max_members: u32,
    /// Most groups one user may be a member of.
    pub max_groups_per_user: u32,
}

/// Conversations, members and timelines.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The direct conversation of two users, created on first use. With
    /// `needs_friendship`, `NotFriends` unless they are friends.
    async fn open_direct(
        &self,
        user: UserId,
        peer: UserId,
        needs_friendship: bool,
        now: Timestamp,
    ) -> StoreResult<ConversationId>;
    /// Appends a message and assigns it the next seq of its conversation. A repeated
    /// `client_msg_id` from the same sender returns the original message.
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended>;
    /// A page of history for a member.
    async fn page_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> StoreResult<MessagePage>;
    /// Moves the member's read position forward (never back, never past the end).
    async fn mark_read(
        &self,
        user: UserId,
        conversation: ConversationId,
        seq: Seq,
        now: Timestamp,
    ) -> StoreResult<ReadMoved>;
    /// A page of the user's conversations, newest activity first.
    async fn list_conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<ConversationSummary>>;
    async fn get_conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationSummary>;
    /// A page of a conversation's members: owner, admins, members, each by
    /// when they joined.
    async fn list_members(
        &self,
        user: UserId,
        conversation: ConversationId,
        page: PageRequest,
    ) -> StoreResult<Page<Member>>;
    /// The kind of a conversation the user belongs to (`NotFound` otherwise).
    async fn conversation_kind(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationKind>;
    /// The kind and member ids of a conversation the user belongs to.
    async fn member_ids(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<MemberIds>;
    /// Creates a group with the creator as owner and friends of the creator as members.
    async fn create_group(
        &self,
        creator: UserId,
        name: String,
        members: Vec<UserId>,
        limits: GroupLimits,
        now: Timestamp,
    ) -> StoreResult<(ConversationId, Changes)>;
    /// Renames and/or sets the announcement (owner or admin).
    async fn update_group(
        &self,
        actor: UserId,
        conversation: ConversationId,
        name: Option<String>,
        announcement: Option<String>,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Adds friends of the actor (any member may invite).
    async fn invite_members(
        &self,
        actor: UserId,
        conversation: ConversationId,
        users: Vec<UserId>,
        limits: GroupLimits,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Kicks `target` (owner, or admin over a member), or leaves when `target == actor`.
    async fn remove_member(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Makes a member an admin or a member again (owner only).
    async fn set_role(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<Changes>;
    /// Hands ownership to another member; the old owner becomes an admin.
    async fn transfer_ownership(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes>;
}

/// The per-user change stream.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Changes after `since`, one page of them: the user events and the
    /// summaries of the user's conversations that changed, up to a cursor
    /// chosen so that at most `max_events` events and `max_conversations`
    /// conversations fit (`has_more` when the clock is further). `since` of
    /// 0, from the future, or older than what is kept gives `reset`: then
    /// the conversations of the page are all of the user's up to the cursor.
    /// With `resume` (`since` is the cursor of a page that had more), the
    /// page goes on from `since` and is never a reset, even below the
    /// pruning horizon: a reset's later pages start below it.
    async fn sync(
        &self,
        user: UserId,
        since: SyncCursor,
        resume: bool,
        max_events: u32,
        max_conversations: u32,
    ) -> StoreResult<SyncResponse>;

    /// Deletes the change-stream entries written before `before`; returns how
    /// many. A later sync from a cursor below what was deleted gets `reset`.
    async fn prune_events(&self, before: Timestamp) -> StoreResult<usize>;
}

/// Everything the server needs from storage.
pub trait Store: AccountStore + ContactStore + ConversationStore + SyncStore {
    /// Finishes queued writes and stops accepting new ones.
    fn shutdown(&self);
}

/// Opens the store named by a URL-like spec: a directory path for SQLite.
pub fn open_sqlite(
    dir: &std::path::Path,
    options: sqlite::SqliteOptions,
) -> StoreResult<Arc<dyn Store>> {
    Ok(Arc::new(sqlite::SqliteStore::open(dir, options)?))
}
