//! The storage contract: every backend must pass these. The rules themselves
//! live in the server's domains (and are tested there, over every backend);
//! this pins what the domains rely on: transactions that commit or leave
//! nothing, gap-free seqs under concurrent senders (on one node and on two),
//! the locks that make facts stay true until the commit, facts read as
//! written, sync cursors under concurrent commits, and pruning.
//!
//! Every test runs on SQLite and on PostgreSQL (a fresh database each, see
//! `pg/mod.rs`; without a reachable PostgreSQL it runs on SQLite alone, after
//! a notice, except under `CI=true`, where that fails). Two "nodes" are two
//! stores on one database; SQLite has one store per database, so there the
//! second node is the same store.

// Shared with pg_accounts.rs, which uses parts of it that this file does not.
#[allow(dead_code)]
mod pg;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use natter_protocol::conversations::{
    ConversationKind, HistoryQuery, Message, MessageContent, Role,
};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{ClientMsgId, ConversationId, Seq, SyncCursor, Timestamp, UserId};
use natter_store::postgres::{PgOptions, PgStore};
use natter_store::{
    MessageRow, NewUser, Page, PageRequest, SendFacts, SendKey, Store, StoreError, TxFuture,
    WriteTx, transaction,
};
use pg::{PgTestDb, backends};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

async fn user(store: &Arc<dyn Store>, name: &str) -> UserId {
    store
        .insert_user(NewUser {
            username: name.into(),
            username_key: name.into(),
            display_name: name.into(),
            display_key: name.into(),
            password_hash: "hash".into(),
            now: Timestamp(1),
        })
        .await
        .expect("inserts")
        .id
}

/// Runs `body` in one transaction of `store`.
async fn write<R, F>(store: &Arc<dyn Store>, body: F) -> Result<R, StoreError>
where
    R: Send + 'static,
    F: for<'t> FnOnce(&'t mut dyn WriteTx) -> TxFuture<'t, Result<R, StoreError>> + Send + 'static,
{
    transaction(&**store, body).await
}

/// Makes `a` and `b` friends with their direct conversation; one change-stream
/// entry each, at times 2 and 3.
async fn friends(store: &Arc<dyn Store>, a: UserId, b: UserId) -> ConversationId {
    write(store, move |tx| {
        Box::pin(async move {
            let conversation = tx.direct_conversation(a, b, Timestamp(2)).await?;
            tx.insert_friendship(a, b, conversation, Timestamp(2))
                .await?;
            let record = tx.friend(a, b).await?.ok_or(StoreError::NotFound)?;
            let added = UserChange::FriendAdded {
                friend: record.into_friend(false),
            };
            tx.push_event(a, Timestamp(2), added).await?;
            let removed = UserChange::FriendRemoved { user_id: a };
            tx.push_event(b, Timestamp(3), removed).await?;
            Ok(conversation)
        })
    })
    .await
    .expect("friends")
}

/// Appends a text message the way the conversations domain does: the member
/// check under the conversation's lock, the resend lookup, then the insert.
/// Whether it was a resend.
async fn send(
    store: &Arc<dyn Store>,
    conversation: ConversationId,
    sender: UserId,
    id: &str,
) -> Result<(Message, bool), StoreError> {
    let id = ClientMsgId(id.into());
    write(store, move |tx| {
        Box::pin(async move {
            tx.membership(conversation, sender)
                .await?
                .ok_or(StoreError::NotFound)?;
            if let Some(original) = tx.sent_message(conversation, sender, &id).await? {
                return Ok((original, true));
            }
            let text = id.0.clone();
            let message = tx
                .insert_message(MessageRow {
                    conversation,
                    sender,
                    client_msg_id: Some(id),
                    content: MessageContent::Text { text },
                    reply_to: None,
                    now: Timestamp(10),
                })
                .await?;
            Ok((message, false))
        })
    })
    .await
}

async fn group(store: &Arc<dyn Store>, owner: UserId, members: &[UserId]) -> ConversationId {
    let members = members.to_vec();
    write(store, move |tx| {
        Box::pin(async move {
            let group = tx.insert_group("g".into(), Timestamp(4)).await?;
            tx.insert_member(group, owner, Role::Owner, Timestamp(4))
                .await?;
            for member in members {
                tx.insert_member(group, member, Role::Member, Timestamp(4))
                    .await?;
            }
            Ok(group)
        })
    })
    .await
    .expect("group")
}

/// A domain's refusal, as a body returns it.
#[derive(Debug, PartialEq)]
enum Refused {
    ByTheRule,
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Refused {
        Refused::Store(error)
    }
}

fn from_start(limit: u32) -> HistoryQuery {
    HistoryQuery {
        before: None,
        after: Some(Seq(0)),
        limit: Some(limit),
    }
}

#[tokio::test]
async fn concurrent_appends_get_gap_free_sequences_and_resends_find_the_original() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        let conversation = friends(&store, a, b).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            let sender = if i % 2 == 0 { a } else { b };
            tasks.push(tokio::spawn(async move {
                send(&store, conversation, sender, &format!("m{i}")).await
            }));
        }
        let mut first = None;
        let mut seqs = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            let (message, resent) = task.await.expect("joins").expect("appends");
            assert!(!resent);
            if i == 0 {
                first = Some(message.seq);
            }
            seqs.push(message.seq.0);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());

        let (again, resent) = send(&store, conversation, a, "m0").await.expect("resend");
        assert!(resent);
        assert_eq!(Some(again.seq), first);
        let page = store
            .page_messages(a, conversation, from_start(100))
            .await
            .expect("page");
        assert_eq!(page.messages.len(), 100);
        assert!(page.has_more);
        let summary = store
            .get_conversation(a, conversation)
            .await
            .expect("summary");
        assert_eq!(summary.last_seq, Seq(200));
    }
}

#[tokio::test]
async fn non_members_get_not_found_exactly_like_a_missing_conversation() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        let conversation = friends(&store, a, b).await;
        let missing = ConversationId(conversation.0 + 100);
        for id in [conversation, missing] {
            assert_eq!(
                send(&store, id, c, "x").await.err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store
                    .page_messages(c, id, HistoryQuery::default())
                    .await
                    .err(),
                Some(StoreError::NotFound)
            );
            let page = natter_store::PageRequest {
                limit: 10,
                after: None,
            };
            assert_eq!(
                store.list_members(c, id, page).await.err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store.get_conversation(c, id).await.err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store.conversation_kind(c, id).await.err(),
                Some(StoreError::NotFound)
            );
        }
    }
}

#[tokio::test]
async fn a_body_that_refuses_leaves_nothing_behind() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        let conversation = friends(&store, a, b).await;
        let before = store
            .sync(a, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync");
        let refused: Result<(), Refused> = transaction(&*store, move |tx| {
            Box::pin(async move {
                tx.insert_message(MessageRow {
                    conversation,
                    sender: a,
                    client_msg_id: Some(ClientMsgId("gone".into())),
                    content: MessageContent::Text {
                        text: "gone".into(),
                    },
                    reply_to: None,
                    now: Timestamp(20),
                })
                .await?;
                let change = UserChange::FriendRemoved { user_id: b };
                tx.push_event(a, Timestamp(20), change).await?;
                tx.delete_friendship(a, b).await?;
                tx.insert_block(a, b, Timestamp(20)).await?;
                Err(Refused::ByTheRule)
            })
        })
        .await;
        assert_eq!(refused, Err(Refused::ByTheRule));
        let after = store
            .sync(a, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync");
        assert_eq!(after.events.len(), before.events.len());
        let summary = store
            .get_conversation(a, conversation)
            .await
            .expect("summary");
        assert_eq!(summary.last_seq, Seq(0));
        let relation = store.relation(a, b).await.expect("relation");
        assert!(relation.friends && !relation.a_blocked_b, "{relation:?}");
        // The next message takes seq 1: the refused one left no gap.
        let (message, _) = send(&store, conversation, a, "kept").await.expect("append");
        assert_eq!(message.seq, Seq(1));
    }
}

#[tokio::test]
async fn memberships_roles_counts_and_relations_are_read_as_written() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        let direct = friends(&store, a, b).await;
        let group = group(&store, a, &[b]).await;
        send(&store, group, b, "hi").await.expect("append");
        let (membership, direct_membership, role_of_c, groups_of_a, relation) =
            write(&store, move |tx| {
                Box::pin(async move {
                    tx.insert_block(c, a, Timestamp(5)).await?;
                    Ok((
                        tx.membership(group, b).await?,
                        tx.membership(direct, a).await?,
                        tx.role(group, c).await?,
                        tx.group_count(a).await?,
                        tx.relation(a, c).await?,
                    ))
                })
            })
            .await
            .expect("reads");
        let direct_membership = direct_membership.expect("a is in the direct conversation");
        assert_eq!(direct_membership.kind, ConversationKind::Direct);
        assert_eq!(direct_membership.peer, Some(b));
        let membership = membership.expect("b is a member");
        assert_eq!(membership.peer, None);
        assert_eq!(membership.kind, ConversationKind::Group);
        assert_eq!(membership.role, Role::Member);
        assert_eq!(membership.member_count, 2);
        assert_eq!(membership.last_seq, Seq(1));
        // Sending moves the sender's read position.
        assert_eq!(membership.read_seq, Seq(1));
        assert_eq!(role_of_c, None);
        assert_eq!(groups_of_a, 1);
        assert!(!relation.friends && !relation.a_blocked_b && relation.b_blocked_a);
    }
}

/// A batch of sends reads what one send at a time would read, and stores
/// its messages with consecutive seqs per conversation, in the batch's order.
#[tokio::test]
async fn a_batch_of_sends_reads_the_facts_of_each_and_numbers_its_messages_in_order() {
    for backend in backends().await {
        let name = backend.name;
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        let direct = friends(&store, a, b).await;
        let group = group(&store, a, &[b]).await;
        let (earlier, _) = send(&store, group, b, "x").await.expect("send");
        let key = |conversation, sender, id: &str| SendKey {
            conversation,
            sender,
            client_msg_id: ClientMsgId(id.into()),
        };
        let keys = vec![
            key(group, b, "x"),
            key(direct, a, "n1"),
            key(group, c, "y"),
            key(direct, b, "n2"),
            key(group, a, "z"),
            key(ConversationId(999_999), a, "w"),
        ];
        let batch_keys = keys.clone();
        let (batch, one_by_one) = write(&store, move |tx| {
            Box::pin(async move {
                tx.insert_block(b, a, Timestamp(5)).await?;
                let batch = tx.send_facts(&batch_keys).await?;
                let mut one_by_one = Vec::new();
                for key in &batch_keys {
                    let membership = tx.membership(key.conversation, key.sender).await?;
                    let original = match membership {
                        Some(_) => {
                            tx.sent_message(key.conversation, key.sender, &key.client_msg_id)
                                .await?
                        }
                        None => None,
                    };
                    let relation = match membership.and_then(|m| m.peer) {
                        Some(peer) => Some(tx.relation(key.sender, peer).await?),
                        None => None,
                    };
                    one_by_one.push(SendFacts {
                        membership,
                        original,
                        relation,
                    });
                }
                Ok((batch, one_by_one))
            })
        })
        .await
        .expect("reads");
        assert_eq!(batch, one_by_one, "{name}");
        assert_eq!(batch[0].original.as_ref(), Some(&earlier), "{name}");
        assert!(
            batch[1].membership.is_some_and(|m| m.peer == Some(b)),
            "{name}"
        );
        assert_eq!(
            batch[1]
                .relation
                .map(|r| (r.friends, r.a_blocked_b, r.b_blocked_a)),
            Some((true, false, true)),
            "{name}: the block written earlier in the transaction counts"
        );
        assert_eq!(batch[2].membership, None, "{name}: c is not in the group");
        assert_eq!(batch[4].relation, None, "{name}: no pair in a group");
        assert_eq!(batch[5].membership, None, "{name}: no such conversation");

        let row = |conversation, sender, text: &str| MessageRow {
            conversation,
            sender,
            client_msg_id: Some(ClientMsgId(text.into())),
            content: MessageContent::Text { text: text.into() },
            reply_to: None,
            now: Timestamp(30),
        };
        let rows = vec![
            row(direct, a, "d1"),
            row(group, b, "g2"),
            row(direct, b, "d2"),
            row(group, a, "g3"),
            row(direct, a, "d3"),
        ];
        let stored = write(&store, move |tx| {
            Box::pin(async move { tx.insert_messages(rows).await })
        })
        .await
        .expect("stores");
        let seqs: Vec<(ConversationId, i64)> = stored
            .iter()
            .map(|m| (m.conversation_id, m.seq.0))
            .collect();
        assert_eq!(
            seqs,
            [
                (direct, 1),
                (group, 2),
                (direct, 2),
                (group, 3),
                (direct, 3)
            ],
            "{name}"
        );
        let page = store
            .page_messages(a, direct, from_start(10))
            .await
            .expect("page");
        let texts: Vec<_> = page
            .messages
            .iter()
            .map(|m| (m.seq.0, m.sender_id, m.content.clone()))
            .collect();
        let text = |t: &str| MessageContent::Text { text: t.into() };
        assert_eq!(
            texts,
            [(1, a, text("d1")), (2, b, text("d2")), (3, a, text("d3"))],
            "{name}"
        );
        let (a_reads, b_reads) = write(&store, move |tx| {
            Box::pin(async move {
                Ok((
                    tx.membership(direct, a)
                        .await?
                        .map(|m| (m.read_seq, m.last_seq)),
                    tx.membership(group, b)
                        .await?
                        .map(|m| (m.read_seq, m.last_seq)),
                ))
            })
        })
        .await
        .expect("reads");
        assert_eq!(
            a_reads,
            Some((Seq(3), Seq(3))),
            "{name}: a read what a sent"
        );
        assert_eq!(b_reads, Some((Seq(2), Seq(3))), "{name}");
        let summary = store.get_conversation(a, group).await.expect("summary");
        assert_eq!(summary.last_seq, Seq(3), "{name}");
    }
}

#[tokio::test]
async fn member_counts_move_only_with_member_rows() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        let group = group(&store, a, &[b]).await;
        let (before, after_outsider, after_member) = write(&store, move |tx| {
            Box::pin(async move {
                let before = tx.membership(group, a).await?.map(|m| m.member_count);
                // c was never a member: nothing to remove, nothing to count.
                tx.delete_member(group, c).await?;
                let after_outsider = tx.membership(group, a).await?.map(|m| m.member_count);
                tx.delete_member(group, b).await?;
                tx.delete_member(group, b).await?;
                let after_member = tx.membership(group, a).await?.map(|m| m.member_count);
                Ok((before, after_outsider, after_member))
            })
        })
        .await
        .expect("writes");
        assert_eq!(before, Some(2), "{}", backend.name);
        assert_eq!(after_outsider, Some(2), "{}", backend.name);
        assert_eq!(after_member, Some(1), "{}", backend.name);
    }
}

#[tokio::test]
async fn sync_reports_exactly_the_conversations_that_changed_after_a_cursor() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        friends(&store, a, b).await;
        let mut groups = Vec::new();
        for _ in 0..5 {
            groups.push(group(&store, a, &[b]).await);
        }
        let start = store
            .sync(b, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync");
        assert!(start.reset);
        assert_eq!(start.conversations.len(), 6);
        send(&store, groups[2], a, "news").await.expect("append");
        let delta = store
            .sync(b, start.cursor, false, 100, 100)
            .await
            .expect("sync");
        assert!(!delta.reset);
        assert_eq!(
            delta.conversations.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![groups[2]]
        );
        assert!(delta.cursor > start.cursor);
        let nothing = store
            .sync(b, delta.cursor, false, 100, 100)
            .await
            .expect("sync");
        assert!(nothing.conversations.is_empty() && nothing.events.is_empty());
    }
}

#[tokio::test]
async fn pruned_events_turn_an_old_cursor_into_a_reset_and_spare_the_rest() {
    for backend in backends().await {
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        // Friendship events at times 2-3 (old), then a request at time 50 (new).
        friends(&store, a, b).await;
        let old_cursor = store
            .sync(b, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync")
            .cursor;
        let before_request = store
            .sync(c, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync")
            .cursor;
        write(&store, move |tx| {
            Box::pin(async move {
                let record = tx
                    .insert_friend_request(b, c, String::new(), false, Timestamp(50))
                    .await?;
                for user in [b, c] {
                    let change = UserChange::FriendRequestUpdated {
                        request: record.request.clone(),
                    };
                    tx.push_event(user, Timestamp(50), change).await?;
                }
                Ok(())
            })
        })
        .await
        .expect("request");

        assert_eq!(store.prune_events(Timestamp(1)).await.expect("prune"), 0);
        let pruned = store.prune_events(Timestamp(10)).await.expect("prune");
        assert!(pruned >= 2, "pruned {pruned}");

        // A cursor from before the pruned events: they may have been missed.
        let stale = store
            .sync(b, SyncCursor(1), false, 100, 100)
            .await
            .expect("sync");
        assert!(stale.reset);
        // A cursor after them loses nothing: the new request is still there.
        let fresh = store
            .sync(b, old_cursor, false, 100, 100)
            .await
            .expect("sync");
        assert!(!fresh.reset);
        assert_eq!(fresh.events.len(), 1, "{:?}", fresh.events);
        let for_c = store
            .sync(c, before_request, false, 100, 100)
            .await
            .expect("sync");
        assert!(!for_c.reset);
        assert_eq!(for_c.events.len(), 1, "{:?}", for_c.events);
        // Pruning again changes nothing.
        assert_eq!(store.prune_events(Timestamp(10)).await.expect("prune"), 0);
    }
}

/// Every event of `user` after `since`, paging through a sync that had more.
async fn events_after(store: &Arc<dyn Store>, user: UserId, since: SyncCursor) -> Vec<UserEvent> {
    let (mut since, mut resume, mut events) = (since, false, Vec::new());
    loop {
        let page = store
            .sync(user, since, resume, 100, 100)
            .await
            .expect("sync");
        assert!(!page.reset, "{page:?}");
        events.extend(page.events);
        if !page.has_more {
            return events;
        }
        (since, resume) = (page.cursor, true);
    }
}

/// Where `user`'s change stream is now.
async fn cursor_now(store: &Arc<dyn Store>, user: UserId) -> SyncCursor {
    store
        .sync(user, SyncCursor(0), false, 1000, 1000)
        .await
        .expect("sync")
        .cursor
}

/// Waits until a connection to `db` waits for a lock, or `task` has ended
/// (which the caller's assertions then catch). Each look is a round trip:
/// no sleep needed to pace it.
async fn blocked_or_finished<T>(db: &PgTestDb, task: &JoinHandle<T>) {
    let client = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if task.is_finished() {
            return;
        }
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&db.name()],
            )
            .await
            .expect("activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing ever waited for the lock"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_sending_at_once_get_gap_free_sequences_and_resends_find_the_original() {
    for backend in backends().await {
        let name = backend.name;
        let nodes = [backend.store.clone(), backend.other.clone()];
        let (a, b) = (user(&nodes[0], "a").await, user(&nodes[0], "b").await);
        let conversation = friends(&nodes[0], a, b).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let node = nodes[i % 2].clone();
            let sender = if i % 4 < 2 { a } else { b };
            tasks.push(tokio::spawn(async move {
                let (message, resent) = send(&node, conversation, sender, &format!("m{i}"))
                    .await
                    .expect("appends");
                assert!(!resent);
                (i, message.seq)
            }));
        }
        let mut seqs = Vec::new();
        let mut seq_of = std::collections::HashMap::new();
        for task in tasks {
            let (i, seq) = task.await.expect("joins");
            seqs.push(seq.0);
            seq_of.insert(i, seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>(), "{name}");

        // The same resend on both nodes at once finds the original on each.
        let (one, two) = tokio::join!(
            send(&nodes[0], conversation, a, "m4"),
            send(&nodes[1], conversation, a, "m4"),
        );
        for (message, resent) in [one.expect("resend"), two.expect("resend")] {
            assert!(resent, "{name}");
            assert_eq!(Some(&message.seq), seq_of.get(&4), "{name}");
        }
        // A new message sent twice at once (a retry racing the first try):
        // stored once, the second finds the first.
        let (one, two) = tokio::join!(
            send(&nodes[0], conversation, b, "twice"),
            send(&nodes[1], conversation, b, "twice"),
        );
        let (one, two) = (one.expect("sends"), two.expect("sends"));
        assert_eq!(one.0.seq, Seq(201), "{name}");
        assert_eq!(two.0.seq, Seq(201), "{name}");
        assert!(one.1 != two.1, "exactly one of them is a resend ({name})");
        let summary = nodes[1]
            .get_conversation(a, conversation)
            .await
            .expect("summary");
        assert_eq!(summary.last_seq, Seq(201), "{name}");
        let page = nodes[1]
            .page_messages(a, conversation, from_start(100))
            .await
            .expect("page");
        assert_eq!(
            page.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>(),
            (1..=100).collect::<Vec<_>>(),
            "{name}"
        );
    }
}

/// Opens the direct conversation of `a` and `b` in a transaction of its own.
async fn open_direct(
    store: &Arc<dyn Store>,
    a: UserId,
    b: UserId,
) -> Result<ConversationId, StoreError> {
    write(store, move |tx| {
        Box::pin(async move { tx.direct_conversation(a, b, Timestamp(6)).await })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_opening_the_same_direct_conversation_at_once_get_one() {
    for backend in backends().await {
        let name = backend.name;
        let (store, other) = (backend.store.clone(), backend.other.clone());
        let mut users = Vec::new();
        for i in 0..20 {
            users.push(user(&store, &format!("u{i}")).await);
        }
        for pair in users.chunks(2) {
            let (a, b) = (pair[0], pair[1]);
            let (one, two) = tokio::join!(open_direct(&store, a, b), open_direct(&other, b, a));
            let (one, two) = (one.expect("opens"), two.expect("opens"));
            assert_eq!(one, two, "{name}");
            let members = store.member_ids(a, one).await.expect("members");
            assert_eq!(members.kind, ConversationKind::Direct, "{name}");
            assert_eq!(&*members.ids, &[a, b], "{name}");
            let summary = other.get_conversation(b, one).await.expect("summary");
            assert_eq!(summary.member_count, 2, "{name}");
            assert_eq!(summary.peer.map(|p| p.id), Some(a), "{name}");
        }

        // Made to overlap on PostgreSQL: the first creates the conversation
        // and stays open until the second waits on it.
        let Some(db) = &backend.pg else {
            continue;
        };
        let (a, b) = (user(&store, "x").await, user(&store, "y").await);
        let (created, held) = oneshot::channel();
        let (release, released) = oneshot::channel::<()>();
        let first = tokio::spawn({
            let store = store.clone();
            async move {
                write(&store, move |tx| {
                    Box::pin(async move {
                        let id = tx.direct_conversation(a, b, Timestamp(7)).await?;
                        created.send(()).expect("the test waits");
                        released.await.expect("the test releases");
                        Ok(id)
                    })
                })
                .await
            }
        });
        held.await.expect("the first created it");
        let second = tokio::spawn({
            let other = other.clone();
            async move { open_direct(&other, b, a).await }
        });
        blocked_or_finished(db, &second).await;
        assert!(
            !second.is_finished(),
            "the second opened a conversation while the first's was uncommitted"
        );
        release.send(()).expect("the first waits");
        let one = first.await.expect("joins").expect("opens");
        let two = second.await.expect("joins").expect("opens");
        assert_eq!(one, two);
        let members = other.member_ids(b, two).await.expect("members");
        assert_eq!(&*members.ids, &[a, b]);
    }
}

/// Pushes `count` events for `user` in one transaction; their cursors.
async fn push_events(
    store: &Arc<dyn Store>,
    user: UserId,
    count: usize,
) -> Result<Vec<SyncCursor>, StoreError> {
    write(store, move |tx| {
        Box::pin(async move {
            let mut cursors = Vec::new();
            for i in 0..count {
                let change = UserChange::ProfileUpdated {
                    display_name: format!("name {i}"),
                };
                cursors.push(tx.push_event(user, Timestamp(30), change).await?.cursor);
            }
            Ok(cursors)
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_sees_every_event_exactly_once_while_transactions_commit_concurrently() {
    for backend in backends().await {
        let name = backend.name;
        let nodes = [backend.store.clone(), backend.other.clone()];
        let u = user(&nodes[0], "u").await;
        let start = cursor_now(&nodes[0], u).await;

        // The poller syncs from its last cursor in small pages, on the
        // second node, until told where the writers ended and past it. On
        // PostgreSQL it is a node whose syncs do not wait for running
        // writes: the wait only makes a sync see them sooner, and would
        // hide a reader that runs ahead of them.
        let poller_node: Arc<dyn Store> = match &backend.pg {
            Some(db) => Arc::new(
                PgStore::connect(
                    db.url(),
                    PgOptions {
                        pool_size: 1,
                        sync_wait: Duration::ZERO,
                        ..PgOptions::default()
                    },
                )
                .await
                .expect("the poller's node connects"),
            ),
            None => nodes[1].clone(),
        };
        let target = Arc::new(AtomicI64::new(0));
        let poller = tokio::spawn({
            let (store, target) = (poller_node.clone(), target.clone());
            async move {
                let (mut since, mut resume) = (start, false);
                let mut seen = Vec::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                loop {
                    let page = store.sync(u, since, resume, 5, 5).await.expect("sync");
                    assert!(!page.reset, "{page:?}");
                    assert!(page.cursor >= since, "the cursor went back: {page:?}");
                    for event in &page.events {
                        assert!(event.cursor > since && event.cursor <= page.cursor);
                    }
                    seen.extend(page.events.iter().map(|e| e.cursor));
                    (since, resume) = (page.cursor, page.has_more);
                    let goal = target.load(Ordering::SeqCst);
                    if goal > 0 && since.0 >= goal && !page.has_more {
                        return seen;
                    }
                    assert!(Instant::now() < deadline, "the poller never caught up");
                }
            }
        });

        let mut writers = Vec::new();
        for w in 0..8 {
            let node = nodes[w % 2].clone();
            writers.push(tokio::spawn(async move {
                let mut cursors = Vec::new();
                for t in 0..40 {
                    cursors.extend(
                        push_events(&node, u, 1 + (w + t) % 3)
                            .await
                            .expect("pushes"),
                    );
                }
                cursors
            }));
        }
        let mut pushed = Vec::new();
        for writer in writers {
            pushed.extend(writer.await.expect("joins"));
        }
        let last = pushed.iter().max().copied().expect("some were pushed");
        target.store(last.0, Ordering::SeqCst);
        let seen = poller.await.expect("joins");

        let distinct: HashSet<SyncCursor> = seen.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            seen.len(),
            "an event was delivered twice ({name})"
        );
        let pushed: HashSet<SyncCursor> = pushed.into_iter().collect();
        let missed: Vec<_> = pushed.difference(&distinct).collect();
        let unknown: Vec<_> = distinct.difference(&pushed).collect();
        assert!(
            missed.is_empty() && unknown.is_empty(),
            "{} of {} events never delivered, e.g. {:?}; {} delivered that were not pushed ({name})",
            missed.len(),
            pushed.len(),
            missed.first(),
            unknown.len()
        );
        // And the stream holds nothing else: a final sync from the start agrees.
        let all: Vec<SyncCursor> = events_after(&nodes[0], u, start)
            .await
            .iter()
            .map(|e| e.cursor)
            .collect();
        assert_eq!(
            all.iter().copied().collect::<HashSet<_>>(),
            pushed,
            "{name}"
        );
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{name}");

        // The case the horizon is for, made to happen on PostgreSQL: a
        // transaction takes its cursor first and commits last. A sync between
        // the two commits must not hand out a cursor past the first's entry,
        // though the second's is committed and visible.
        if backend.pg.is_none() {
            continue;
        }
        let since = cursor_now(&poller_node, u).await;
        let (pushed, has_pushed) = oneshot::channel();
        let (release, released) = oneshot::channel::<()>();
        let first = tokio::spawn({
            let store = nodes[0].clone();
            async move {
                write(&store, move |tx| {
                    Box::pin(async move {
                        let change = UserChange::ProfileUpdated {
                            display_name: "first".into(),
                        };
                        let event = tx.push_event(u, Timestamp(31), change).await?;
                        pushed.send(()).expect("the test waits");
                        released.await.expect("the test releases");
                        Ok(event.cursor)
                    })
                })
                .await
            }
        });
        has_pushed.await.expect("the first pushed");
        let second = push_events(&nodes[1], u, 1).await.expect("pushes")[0];
        let between = poller_node
            .sync(u, since, false, 100, 100)
            .await
            .expect("sync");
        release.send(()).expect("the first waits");
        let first = first.await.expect("joins").expect("commits");
        assert!(first < second);
        assert!(
            between.cursor < first && between.events.is_empty(),
            "a sync went past an entry still to commit: {between:?}"
        );
        let after: Vec<SyncCursor> = events_after(&nodes[0], u, between.cursor)
            .await
            .iter()
            .map(|e| e.cursor)
            .collect();
        assert_eq!(after, vec![first, second]);
    }
}

/// A body as the contacts domain writes one: reads how `a` and `b` stand,
/// and makes them friends (one event) unless they are. Whether it did.
/// `hold`: signals once it read, and waits to be released before writing.
async fn befriend(
    store: &Arc<dyn Store>,
    a: UserId,
    b: UserId,
    hold: Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>,
) -> Result<bool, StoreError> {
    write(store, move |tx| {
        Box::pin(async move {
            let relation = tx.relation(a, b).await?;
            if let Some((read, release)) = hold {
                read.send(()).expect("the test waits");
                release.await.expect("the test releases");
            }
            if relation.friends {
                return Ok(false);
            }
            let conversation = tx.direct_conversation(a, b, Timestamp(8)).await?;
            tx.insert_friendship(a, b, conversation, Timestamp(8))
                .await?;
            let change = UserChange::FriendRemoved { user_id: b };
            tx.push_event(a, Timestamp(8), change).await?;
            Ok(true)
        })
    })
    .await
}

#[tokio::test]
async fn relation_holds_until_the_commit_so_two_bodies_about_a_pair_run_in_turn() {
    for backend in backends().await {
        let name = backend.name;
        let (store, other) = (backend.store.clone(), backend.other.clone());

        // At once from two nodes: one makes the friendship, the other sees it.
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        let since = cursor_now(&store, a).await;
        let (one, two) = tokio::join!(befriend(&store, a, b, None), befriend(&other, b, a, None));
        let made = [one.expect("runs"), two.expect("runs")];
        assert_eq!(made.iter().filter(|m| **m).count(), 1, "{made:?} ({name})");
        assert_eq!(
            events_after(&store, a, since).await.len() + events_after(&store, b, since).await.len(),
            1,
            "{name}"
        );
        assert!(
            store.relation(a, b).await.expect("relation").friends,
            "{name}"
        );

        // Made to overlap on PostgreSQL (SQLite runs one body at a time, and
        // a body may not await anything else there): the first holds the
        // pair's locks after reading; the second must wait for its commit
        // and then see the friendship.
        let Some(db) = &backend.pg else {
            continue;
        };
        let (c, d) = (user(&store, "c").await, user(&store, "d").await);
        let since = cursor_now(&store, c).await;
        let (read, has_read) = oneshot::channel();
        let (release, released) = oneshot::channel();
        let first = tokio::spawn({
            let store = store.clone();
            async move { befriend(&store, c, d, Some((read, released))).await }
        });
        has_read.await.expect("the first read the relation");
        let second = tokio::spawn({
            let other = other.clone();
            async move { befriend(&other, d, c, None).await }
        });
        blocked_or_finished(db, &second).await;
        assert!(
            !second.is_finished(),
            "the second read the relation while the first held it"
        );
        release.send(()).expect("the first waits");
        assert!(
            first.await.expect("joins").expect("runs"),
            "the first made it"
        );
        assert!(
            !second.await.expect("joins").expect("runs"),
            "the second saw it"
        );
        assert_eq!(events_after(&store, c, since).await.len(), 1);
        assert!(events_after(&store, d, since).await.is_empty());
    }
}

#[tokio::test]
async fn a_body_is_never_told_it_committed_what_was_not_stored() {
    for backend in backends().await {
        let name = backend.name;
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        let conversation = friends(&store, a, b).await;
        let since = cursor_now(&store, a).await;
        // A body that writes, then ignores a statement that failed (a member
        // added twice) and returns `Ok`. PostgreSQL aborts a transaction at
        // its first failed statement; SQLite undoes only that statement.
        // Either way, what the caller is told is what was stored.
        let outcome = write(&store, move |tx| {
            Box::pin(async move {
                let change = UserChange::FriendRemoved { user_id: b };
                let event = tx.push_event(a, Timestamp(40), change).await?;
                let twice = tx
                    .insert_member(conversation, b, Role::Member, Timestamp(40))
                    .await;
                assert!(twice.is_err(), "b is a member already ({name})");
                Ok(event.cursor)
            })
        })
        .await;
        let stored: Vec<SyncCursor> = events_after(&store, a, since)
            .await
            .iter()
            .map(|e| e.cursor)
            .collect();
        match outcome {
            Ok(cursor) => assert_eq!(stored, vec![cursor], "{name}"),
            Err(StoreError::Unavailable(_)) => assert!(stored.is_empty(), "{name}"),
            Err(other) => panic!("{other:?} ({name})"),
        }
    }
}

/// Appends a text message at time `at` (no member check: the caller knows).
async fn say(store: &Arc<dyn Store>, conversation: ConversationId, sender: UserId, at: i64) {
    write(store, move |tx| {
        Box::pin(async move {
            tx.insert_message(MessageRow {
                conversation,
                sender,
                client_msg_id: Some(ClientMsgId(format!("at {at}"))),
                content: MessageContent::Text {
                    text: format!("at {at}"),
                },
                reply_to: None,
                now: Timestamp(at),
            })
            .await
        })
    })
    .await
    .expect("says");
}

/// Every page of a list, following `next` from no cursor.
async fn all_pages<T, F, Fut>(limit: u32, mut page: F) -> Vec<natter_store::Page<T>>
where
    F: FnMut(natter_store::PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<natter_store::Page<T>, StoreError>>,
{
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let request = natter_store::PageRequest { limit, after };
        let next = page(request).await.expect("page");
        after = next.next.clone();
        pages.push(next);
        if after.is_none() {
            return pages;
        }
    }
}

#[tokio::test]
async fn lists_read_the_same_rows_in_the_same_order_with_the_same_cursors() {
    let mut transcripts = Vec::new();
    for backend in backends().await {
        let name = backend.name;
        let store = backend.store;
        let mut transcript = Vec::new();
        // Ids and keys in different orders: "d" is the oldest friend.
        let owner = user(&store, "owner").await;
        let mut friends_by_age = Vec::new();
        for key in ["d", "b", "c", "a"] {
            let friend = user(&store, key).await;
            friends(&store, owner, friend).await;
            friends_by_age.push(friend);
        }
        let (d, b, c, a) = (
            friends_by_age[0],
            friends_by_age[1],
            friends_by_age[2],
            friends_by_age[3],
        );
        let stranger = user(&store, "stranger").await;

        let friend_pages = all_pages(3, |page| store.list_friends(owner, page)).await;
        let keys: Vec<Vec<String>> = friend_pages
            .iter()
            .map(|p| p.items.iter().map(|f| f.user.username.clone()).collect())
            .collect();
        assert_eq!(keys, [vec!["a", "b", "c"], vec!["d"]], "{name}");
        transcript.push(format!("{friend_pages:?}"));

        // A group: the owner, then members and an admin joining at
        // different times, so that rank, time and id all decide somewhere.
        let group = group(&store, owner, &[d, b]).await;
        write(&store, move |tx| {
            Box::pin(async move {
                tx.insert_member(group, c, Role::Member, Timestamp(5))
                    .await?;
                tx.insert_member(group, a, Role::Member, Timestamp(5))
                    .await?;
                tx.set_member_role(group, c, Role::Admin).await
            })
        })
        .await
        .expect("members");
        let member_pages = all_pages(2, |page| store.list_members(b, group, page)).await;
        let order: Vec<UserId> = member_pages
            .iter()
            .flat_map(|p| p.items.iter().map(|m| m.user.id))
            .collect();
        assert_eq!(order, [owner, c, d, b, a], "{name}");
        transcript.push(format!("{member_pages:?}"));
        for bad in ["x", "1:2", "1:2:3:4"] {
            let page = natter_store::PageRequest {
                limit: 2,
                after: Some(bad.into()),
            };
            assert_eq!(
                store.list_members(b, group, page).await.err(),
                Some(StoreError::Rejected(natter_store::Rejection::BadCursor)),
                "{bad} ({name})"
            );
        }

        // Activity at different times, and two at the same time (the newer
        // conversation first), then a page at a time.
        let direct_d = store
            .list_friends(
                owner,
                natter_store::PageRequest {
                    limit: 10,
                    after: None,
                },
            )
            .await
            .expect("friends")
            .items
            .iter()
            .find(|f| f.user.id == d)
            .map(|f| f.conversation_id)
            .expect("a direct conversation with d");
        say(&store, direct_d, d, 20).await;
        say(&store, group, owner, 30).await;
        say(&store, direct_d, owner, 30).await;
        let conversation_pages = all_pages(2, |page| store.list_conversations(owner, page)).await;
        let listed: Vec<(i64, ConversationId)> = conversation_pages
            .iter()
            .flat_map(|p| p.items.iter().map(|c| (c.updated_at.0, c.id)))
            .collect();
        let mut sorted = listed.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(listed, sorted, "{name}");
        assert_eq!(listed.len(), 5, "{name}");
        let summary = store
            .get_conversation(owner, direct_d)
            .await
            .expect("summary");
        assert_eq!(summary.name, "d", "named after the peer ({name})");
        assert_eq!(summary.peer.as_ref().map(|p| p.id), Some(d), "{name}");
        assert_eq!(
            (summary.last_seq, summary.read_seq, summary.unread),
            (Seq(2), Seq(2), 0),
            "{name}"
        );
        let for_d = store.get_conversation(d, direct_d).await.expect("summary");
        assert_eq!((for_d.read_seq, for_d.unread), (Seq(1), 1), "{name}");
        assert_eq!(
            for_d.last_message.map(|m| m.sent_at),
            Some(Timestamp(30)),
            "{name}"
        );
        transcript.push(format!("{conversation_pages:?}"));
        assert_eq!(
            store
                .list_conversations(
                    owner,
                    natter_store::PageRequest {
                        limit: 2,
                        after: Some("soon".into())
                    }
                )
                .await
                .err(),
            Some(StoreError::Rejected(natter_store::Rejection::BadCursor)),
            "{name}"
        );
        let history = store
            .page_messages(d, direct_d, HistoryQuery::default())
            .await
            .expect("history");
        transcript.push(format!(
            "{history:?} {:?}",
            store.member_ids(d, group).await.expect("ids")
        ));

        // Requests both ways, one hidden from its recipient; blocks; and who
        // may see the owner's presence (friends the owner has not blocked).
        write(&store, move |tx| {
            Box::pin(async move {
                tx.insert_friend_request(stranger, owner, "hi".into(), false, Timestamp(41))
                    .await?;
                tx.insert_friend_request(owner, stranger, "yo".into(), false, Timestamp(42))
                    .await?;
                tx.insert_friend_request(a, owner, "again".into(), true, Timestamp(43))
                    .await?;
                tx.insert_friend_request(c, owner, "hey".into(), false, Timestamp(45))
                    .await?;
                tx.insert_block(owner, d, Timestamp(44)).await?;
                tx.insert_block(owner, a, Timestamp(44)).await?;
                Ok(())
            })
        })
        .await
        .expect("requests and blocks");
        // Pending both ways, newest first, the hidden one left out, in pages.
        let first = store
            .list_friend_requests(
                owner,
                PageRequest {
                    limit: 2,
                    after: None,
                },
            )
            .await
            .expect("requests");
        let greetings = |page: &Page<_>| {
            page.items
                .iter()
                .map(|r: &natter_protocol::contacts::FriendRequest| r.greeting.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(greetings(&first), ["hey", "yo"], "{name}");
        let rest = store
            .list_friend_requests(
                owner,
                PageRequest {
                    limit: 2,
                    after: first.next.clone(),
                },
            )
            .await
            .expect("requests");
        assert_eq!(greetings(&rest), ["hi"], "{name}");
        assert_eq!(rest.next, None, "{name}");
        assert_eq!(
            store
                .list_friend_requests(
                    owner,
                    PageRequest {
                        limit: 2,
                        after: Some("not a cursor".into()),
                    },
                )
                .await
                .err(),
            Some(StoreError::Rejected(natter_store::Rejection::BadCursor)),
            "{name}"
        );
        let blocks = store.list_blocks(owner).await.expect("blocks");
        assert_eq!(
            blocks.iter().map(|u| u.id).collect::<Vec<_>>(),
            [a, d],
            "{name}"
        );
        let mut audience = store.list_presence_audience(owner).await.expect("audience");
        audience.sort_unstable();
        assert_eq!(audience, [b, c], "{name}");
        let relation = store.relation(owner, d).await.expect("relation");
        assert!(
            relation.friends && relation.a_blocked_b && !relation.b_blocked_a,
            "{name}"
        );
        transcript.push(format!("{first:?} {rest:?} {blocks:?}"));
        transcripts.push((name, transcript));
    }
    // Fresh databases hand out the same ids, so every list reads alike.
    if let [(_, sqlite), (_, postgres)] = &transcripts[..] {
        for (s, p) in sqlite.iter().zip(postgres) {
            assert_eq!(s, p);
        }
    }
}
