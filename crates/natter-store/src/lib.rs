//! Natter's persistence: the reads of each domain, the write transaction the
//! domains drive, and the backends behind them.
//!
//! The server reaches storage only through [`AccountStore`], [`ContactStore`],
//! [`ConversationStore`] and [`SyncStore`] (reads, and the accounts' writes)
//! and [`Transact`] (together: [`Store`]). A change of contacts or
//! conversations is a transaction body the domain writes ([`transaction`]):
//! it reads facts through [`WriteTx`] under the locks that keep them true,
//! decides with the domain's own rules, and writes rows; the backend decides
//! nothing. A body's `Ok` commits, its `Err` rolls everything back.
//!
//! Invariants:
//! - a message's `seq` is assigned in the transaction that stores it: the
//!   conversation's `last_seq + 1`, under the conversation's lock, so every
//!   timeline is gap-free whatever the number of nodes;
//! - writes return what they changed ([`Changes`]: user events with their
//!   cursors, messages with their recipients); the caller publishes it only
//!   after the commit;
//! - a sync cursor handed out never has an entry appear below it later;
//! - a user who is not a member of a conversation gets [`StoreError::NotFound`]
//!   from every read, never a hint that the conversation exists.
//!
//! Backends: [`sqlite::SqliteStore`] (embedded, the default) and
//! [`postgres::PgStore`] (several nodes on one database); both pass one
//! contract suite (`tests/contract.rs`).

use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{Friend, FriendRequest};
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Member, Message, MessagePage,
};
use natter_protocol::sync::{SyncResponse, UserEvent};
use natter_protocol::{ConversationId, DeviceId, SyncCursor, Timestamp, UserId};

pub mod migrate;
mod names;
pub mod postgres;
pub mod sqlite;
mod stored;
pub mod txn;

pub use txn::{
    Membership, MessageRow, RequestRecord, SendFacts, SendKey, Transact, TxFuture, WriteTx,
    transaction,
};

/// Why a store call failed. Small and backend-free.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist, or the caller may not know that it does.
    #[error("not found")]
    NotFound,
    /// The store cannot do it as asked; nothing changed. The reason is the
    /// store's own: the domain says what it means to the user.
    #[error("rejected: {0}")]
    Rejected(Rejection),
    /// The storage cannot serve the request now (disk full, read-only, shutting
    /// down, I/O error). Nothing was stored.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Why the store refused a call (never a product rule: those are the domains').
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A value that must be unique is taken (a username key).
    #[error("a unique value is taken")]
    Taken,
    /// A page cursor that this store did not give out.
    #[error("not a page cursor of this store")]
    BadCursor,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which page of a list: at most `limit` items after the cursor `after` (a
/// `next` the store gave out; `Rejected(BadCursor)` if it is not one).
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
    /// Records an entry appended to `user`'s change stream.
    pub fn push_event(&mut self, user: UserId, event: UserEvent) {
        self.user_events.push((user, event));
    }

    /// Records a message appended, with who it is delivered to.
    pub fn push_message(&mut self, message: Message, audience: Arc<[UserId]>) {
        self.messages.push((message, audience));
    }

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
    /// Creates a user. Fails with `Rejected(Taken)` when `username_key` exists.
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
    /// Pending requests to and from the user.
    /// A page of the requests pending to and from the user (those to the
    /// user that are hidden from them left out), newest first.
    async fn list_friend_requests(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRequest>>;
    /// A page of the user's friends, by username key.
    async fn list_friends(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRecord>>;
    async fn list_blocks(&self, user: UserId) -> StoreResult<Vec<UserProfile>>;
    async fn relation(&self, a: UserId, b: UserId) -> StoreResult<Relation>;
    /// Friends of `user` that `user` has not blocked: who may see `user`'s presence.
    async fn list_presence_audience(&self, user: UserId) -> StoreResult<Vec<UserId>>;
}

/// A conversation's kind and members.
#[derive(Debug, Clone)]
pub struct MemberIds {
    pub kind: ConversationKind,
    pub ids: Arc<[UserId]>,
}

/// Conversations, members and timelines.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// A page of history for a member.
    async fn page_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> StoreResult<MessagePage>;
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
#[async_trait]
pub trait Store: AccountStore + ContactStore + ConversationStore + SyncStore + Transact {
    /// Finishes queued writes and stops accepting new ones.
    fn shutdown(&self);

    /// Whether the storage answers now (for health checks); an embedded
    /// store that opened always does.
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    /// How many batches of sends are worth running at once. 0: the store
    /// commits concurrent transactions together by itself (SQLite's one
    /// writer does), so each send is best its own transaction; measured,
    /// batching them again before the writer wrote 57 % more to disk.
    fn write_lanes(&self) -> usize {
        0
    }
}

/// Opens the store named by a URL-like spec: a directory path for SQLite.
pub fn open_sqlite(
    dir: &std::path::Path,
    options: sqlite::SqliteOptions,
) -> StoreResult<Arc<dyn Store>> {
    Ok(Arc::new(sqlite::SqliteStore::open(dir, options)?))
}

/// Connects to the PostgreSQL database `url` names and migrates its schema
/// (see [`postgres::PgStore::connect`] for what it refuses, and why).
pub async fn open_postgres(url: &str, options: postgres::PgOptions) -> StoreResult<Arc<dyn Store>> {
    Ok(Arc::new(postgres::PgStore::connect(url, options).await?))
}
