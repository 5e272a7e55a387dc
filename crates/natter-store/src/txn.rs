//! The write transaction the domains drive.
//!
//! A domain method that changes something runs one body in one transaction:
//! it reads the facts its rule needs through [`WriteTx`] (relations,
//! memberships, counts), asks the rule (a pure function in the domain), and
//! writes the rows the rule allowed. The backend only reads and writes: it
//! decides nothing. What the body returns is committed when it is `Ok` and
//! rolled back when it is `Err`, whatever was written before.
//!
//! Locks: the reads a rule depends on take the locks that keep them true until
//! the commit. [`WriteTx::relation`] locks the two users' rows and
//! [`WriteTx::membership`] the conversation's row, so that two transactions
//! about the same pair or the same conversation run one after the other on
//! every backend (SQLite has one writer anyway; PostgreSQL uses `FOR UPDATE`).
//! A body must lock users in one order when it needs several pairs; the
//! backends lock the two users of a pair lowest id first.
//!
//! A body awaits nothing but its transaction: SQLite runs it on its writer
//! thread, where anything else would stall every write.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{FriendRequest, FriendRequestStatus};
use natter_protocol::conversations::{ConversationKind, Message, MessageContent, Role};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{ClientMsgId, ConversationId, FriendRequestId, Seq, Timestamp, UserId};

use crate::{FriendRecord, Relation, StoreError, StoreResult};

/// A friend request as stored, with whether its recipient may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub request: FriendRequest,
    /// Sent while the recipient had blocked the sender, or hidden by a later
    /// block: the recipient never sees it.
    pub hidden: bool,
}

/// Where a user stands in a conversation, read under the conversation's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub kind: ConversationKind,
    pub role: Role,
    /// The conversation's last message seq.
    pub last_seq: Seq,
    pub member_count: u32,
    /// The user's read position.
    pub read_seq: Seq,
    /// The other member of a direct conversation (`None` for a group).
    pub peer: Option<UserId>,
}

/// A message to store with the conversation's next seq.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub conversation: ConversationId,
    pub sender: UserId,
    /// `None` for system messages, which are never resent.
    pub client_msg_id: Option<ClientMsgId>,
    pub content: MessageContent,
    pub reply_to: Option<Seq>,
    pub now: Timestamp,
}

/// One message of a batch of sends: who sends into which conversation, and
/// the client's id for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendKey {
    pub conversation: ConversationId,
    pub sender: UserId,
    pub client_msg_id: ClientMsgId,
}

/// What a send's rules read, for one [`SendKey`].
#[derive(Debug, Clone, PartialEq)]
pub struct SendFacts {
    /// The sender's membership (`None`: not a member, or no such
    /// conversation); the conversation's row is locked.
    pub membership: Option<Membership>,
    /// The message the sender stored before under this client id.
    pub original: Option<Message>,
    /// How the sender and the other member of a direct conversation stand
    /// (`None` for a group, a non-member, or a direct conversation with
    /// oneself); the pair is locked.
    pub relation: Option<Relation>,
}

/// Facts read and rows written inside one write transaction.
#[async_trait]
pub trait WriteTx: Send {
    // Users.

    /// A user's public profile, if the user exists.
    async fn profile(&mut self, user: UserId) -> StoreResult<Option<UserProfile>>;

    // Contacts.

    /// How `a` and `b` stand to each other; locks both users' rows for the
    /// rest of the transaction.
    async fn relation(&mut self, a: UserId, b: UserId) -> StoreResult<Relation>;
    async fn friend_request(&mut self, id: FriendRequestId) -> StoreResult<Option<RequestRecord>>;
    /// Pending requests between the two, either way, oldest first.
    async fn pending_requests(&mut self, a: UserId, b: UserId) -> StoreResult<Vec<RequestRecord>>;
    async fn insert_friend_request(
        &mut self,
        from: UserId,
        to: UserId,
        greeting: String,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<RequestRecord>;
    async fn update_friend_request(
        &mut self,
        id: FriendRequestId,
        status: FriendRequestStatus,
        hidden: bool,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Records the friendship both ways (a no-op where it exists).
    async fn insert_friendship(
        &mut self,
        a: UserId,
        b: UserId,
        conversation: ConversationId,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Deletes the friendship both ways; whether there was one.
    async fn delete_friendship(&mut self, a: UserId, b: UserId) -> StoreResult<bool>;
    /// `user`'s friendship with `friend`, as `user` sees it.
    async fn friend(&mut self, user: UserId, friend: UserId) -> StoreResult<Option<FriendRecord>>;
    /// Sets `user`'s remark on `friend`; whether they are friends.
    async fn set_remark(
        &mut self,
        user: UserId,
        friend: UserId,
        remark: Option<String>,
    ) -> StoreResult<bool>;
    /// Whether it was new.
    async fn insert_block(
        &mut self,
        user: UserId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Whether there was one.
    async fn delete_block(&mut self, user: UserId, target: UserId) -> StoreResult<bool>;

    // Conversations.

    /// The direct conversation of two users, created with both as members when
    /// there is none.
    async fn direct_conversation(
        &mut self,
        a: UserId,
        b: UserId,
        now: Timestamp,
    ) -> StoreResult<ConversationId>;
    /// Where `user` stands in the conversation (`None`: not a member, or no
    /// such conversation); locks the conversation's row.
    async fn membership(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Membership>>;
    /// Another member's role (no lock beyond the conversation's).
    async fn role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<Option<Role>>;
    async fn member_ids(&mut self, conversation: ConversationId) -> StoreResult<Arc<[UserId]>>;
    /// How many groups the user is a member of.
    async fn group_count(&mut self, user: UserId) -> StoreResult<u32>;
    /// The message `sender` sent before with this client message id.
    async fn sent_message(
        &mut self,
        conversation: ConversationId,
        sender: UserId,
        client_msg_id: &ClientMsgId,
    ) -> StoreResult<Option<Message>>;
    /// Stores a message with the next seq, moves the conversation's activity
    /// time and sync version, and the sender's read position to it.
    async fn insert_message(&mut self, message: MessageRow) -> StoreResult<Message>;
    /// The facts of a batch of sends, one entry per key in the keys' order:
    /// what [`WriteTx::membership`], [`WriteTx::sent_message`] and (for a
    /// direct conversation) [`WriteTx::relation`] answer, with the same
    /// locks, taken conversations first (lowest id first), then users. A
    /// backend may read them all in a few statements.
    async fn send_facts(&mut self, keys: &[SendKey]) -> StoreResult<Vec<SendFacts>> {
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| keys[i].conversation.0);
        let mut memberships = vec![None; keys.len()];
        for &i in &order {
            memberships[i] = self
                .membership(keys[i].conversation, keys[i].sender)
                .await?;
        }
        let mut facts = Vec::with_capacity(keys.len());
        for (key, membership) in keys.iter().zip(memberships) {
            let (original, relation) = match membership {
                None => (None, None),
                Some(membership) => {
                    let original = self
                        .sent_message(key.conversation, key.sender, &key.client_msg_id)
                        .await?;
                    let relation = match membership.peer {
                        Some(peer) if membership.kind == ConversationKind::Direct => {
                            Some(self.relation(key.sender, peer).await?)
                        }
                        _ => None,
                    };
                    (original, relation)
                }
            };
            facts.push(SendFacts {
                membership,
                original,
                relation,
            });
        }
        Ok(facts)
    }
    /// Stores messages in their order, each with its conversation's next seq
    /// (as [`WriteTx::insert_message`] does for one); several may be for one
    /// conversation. A backend may write them all in one statement.
    async fn insert_messages(&mut self, rows: Vec<MessageRow>) -> StoreResult<Vec<Message>> {
        let mut stored = Vec::with_capacity(rows.len());
        for row in rows {
            stored.push(self.insert_message(row).await?);
        }
        Ok(stored)
    }
    /// Distinct senders of `(after, upto]` who are still members, but `except`.
    async fn authors_between(
        &mut self,
        conversation: ConversationId,
        after: Seq,
        upto: Seq,
        except: UserId,
    ) -> StoreResult<Vec<UserId>>;
    /// A new group with no members yet.
    async fn insert_group(&mut self, name: String, now: Timestamp) -> StoreResult<ConversationId>;
    async fn set_group_name(
        &mut self,
        conversation: ConversationId,
        name: String,
    ) -> StoreResult<()>;
    async fn set_announcement(
        &mut self,
        conversation: ConversationId,
        announcement: Option<String>,
    ) -> StoreResult<()>;
    /// A new member, having read everything before they joined.
    async fn insert_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<()>;
    async fn delete_member(
        &mut self,
        conversation: ConversationId,
        user: UserId,
    ) -> StoreResult<()>;
    async fn set_member_role(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        role: Role,
    ) -> StoreResult<()>;
    /// Sets the read position (and what was delivered, never backwards).
    async fn set_read(
        &mut self,
        conversation: ConversationId,
        user: UserId,
        read_seq: Seq,
    ) -> StoreResult<()>;

    // The change stream.

    /// Appends an entry to a user's change stream, with its cursor.
    async fn push_event(
        &mut self,
        user: UserId,
        at: Timestamp,
        change: UserChange,
    ) -> StoreResult<UserEvent>;
}

/// A boxed future that borrows the transaction.
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = T> + Send + 't>>;

/// What a type-erased body gives back: `Ok` commits, `Err` rolls back.
pub type TxOutcome = Result<Box<dyn Any + Send>, Box<dyn Any + Send>>;

/// A type-erased transaction body, as backends receive it.
pub type TxBody = Box<dyn for<'t> FnOnce(&'t mut dyn WriteTx) -> TxFuture<'t, TxOutcome> + Send>;

/// Runs transaction bodies. Use [`transaction`], which keeps the types.
#[async_trait]
pub trait Transact: Send + Sync {
    /// Runs `body` in one write transaction and returns its outcome once
    /// committed (or rolled back, for an `Err`). `Err(StoreError)` when the
    /// storage failed: then nothing was written.
    async fn transact(&self, body: TxBody) -> StoreResult<TxOutcome>;
}

/// Runs `body` in one write transaction of `store`: what it wrote is
/// committed when it returns `Ok`, and rolled back when it returns `Err`.
pub async fn transaction<R, E, F>(store: &dyn Transact, body: F) -> Result<R, E>
where
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: for<'t> FnOnce(&'t mut dyn WriteTx) -> TxFuture<'t, Result<R, E>> + Send + 'static,
{
    let erased: TxBody = Box::new(move |tx| {
        Box::pin(async move {
            match body(tx).await {
                Ok(value) => Ok(Box::new(value) as Box<dyn Any + Send>),
                Err(error) => Err(Box::new(error) as Box<dyn Any + Send>),
            }
        })
    });
    // The boxes hold exactly the types put in above; a mismatch cannot happen,
    // and would be reported as a storage failure rather than a panic.
    let mismatch = || StoreError::Unavailable("transaction result of an unexpected type".into());
    match store.transact(erased).await? {
        Ok(value) => value
            .downcast::<R>()
            .map(|value| *value)
            .map_err(|_| E::from(mismatch())),
        Err(error) => Err(error
            .downcast::<E>()
            .map(|error| *error)
            .unwrap_or_else(|_| E::from(mismatch()))),
    }
}
