//! The storage contract: every backend must pass these. SQLite always runs;
//! PostgreSQL will join when its backend exists (and its URL is set).

use std::sync::Arc;

use natter_protocol::conversations::{HistoryQuery, MessageContent};
use natter_protocol::{ClientMsgId, ConversationId, ErrorCode, Seq, SyncCursor, Timestamp, UserId};
use natter_store::sqlite::{SqliteOptions, SqliteStore};
use natter_store::{FriendRequestSent, GroupLimits, NewMessage, NewUser, Store, StoreError};

struct Backend {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens"));
    vec![Backend { store, _dir: dir }]
}

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

async fn friends(store: &Arc<dyn Store>, a: UserId, b: UserId) -> ConversationId {
    let (sent, _) = store
        .send_friend_request(a, b, String::new(), Timestamp(2))
        .await
        .expect("request");
    let FriendRequestSent::Pending(request) = sent else {
        panic!("pending")
    };
    let (record, changes) = store
        .accept_friend_request(b, request.id, Timestamp(3))
        .await
        .expect("accept");
    assert_eq!(
        changes
            .user_events
            .iter()
            .filter(|(_, e)| matches!(
                e.change,
                natter_protocol::sync::UserChange::FriendAdded { .. }
            ))
            .count(),
        2
    );
    record.conversation_id
}

fn text(conversation: ConversationId, sender: UserId, id: &str) -> NewMessage {
    NewMessage {
        conversation_id: conversation,
        sender,
        client_msg_id: ClientMsgId(id.into()),
        content: MessageContent::Text { text: id.into() },
        reply_to: None,
        direct_needs_friendship: true,
        now: Timestamp(10),
    }
}

#[tokio::test]
async fn concurrent_appends_get_gap_free_sequences_and_resends_are_idempotent() {
    for backend in backends() {
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        let conversation = friends(&store, a, b).await;
        let mut tasks = Vec::new();
        for i in 0..200 {
            let store = store.clone();
            let sender = if i % 2 == 0 { a } else { b };
            tasks.push(tokio::spawn(async move {
                store
                    .append_message(text(conversation, sender, &format!("m{i}")))
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.expect("joins").expect("appends").message.seq.0);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());

        let again = store
            .append_message(text(conversation, a, "m0"))
            .await
            .expect("resend");
        assert!(again.duplicate);
        let page = store
            .page_messages(
                a,
                conversation,
                HistoryQuery {
                    before: None,
                    after: Some(Seq(0)),
                    limit: Some(100),
                },
            )
            .await
            .expect("page");
        assert_eq!(page.messages.len(), 100);
        assert!(page.has_more);
        assert_eq!(
            store
                .get_conversation(a, conversation)
                .await
                .expect("summary")
                .last_seq,
            Seq(200)
        );
    }
}

#[tokio::test]
async fn non_members_get_not_found_exactly_like_a_missing_conversation() {
    for backend in backends() {
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
                store.append_message(text(id, c, "x")).await.err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store
                    .page_messages(c, id, HistoryQuery::default())
                    .await
                    .err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store
                    .list_members(
                        c,
                        id,
                        natter_store::PageRequest {
                            limit: 10,
                            after: None
                        }
                    )
                    .await
                    .err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store.mark_read(c, id, Seq(1), Timestamp(1)).await.err(),
                Some(StoreError::NotFound)
            );
            assert_eq!(
                store.get_conversation(c, id).await.err(),
                Some(StoreError::NotFound)
            );
        }
    }
}

#[tokio::test]
async fn sync_reports_exactly_the_conversations_that_changed_after_a_cursor() {
    for backend in backends() {
        let store = backend.store;
        let (a, b) = (user(&store, "a").await, user(&store, "b").await);
        friends(&store, a, b).await;
        let limits = GroupLimits {
            max_members: 10,
            max_groups_per_user: 100,
        };
        let mut groups = Vec::new();
        for i in 0..5 {
            let (id, _) = store
                .create_group(a, format!("g{i}"), vec![b], limits, Timestamp(4))
                .await
                .expect("group");
            groups.push(id);
        }
        let start = store
            .sync(b, SyncCursor(0), false, 100, 100)
            .await
            .expect("sync");
        assert!(start.reset);
        assert_eq!(start.conversations.len(), 6);
        store
            .append_message(text(groups[2], a, "news"))
            .await
            .expect("append");
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
async fn group_rules_are_checked_inside_the_store() {
    for backend in backends() {
        let store = backend.store;
        let (a, b, c) = (
            user(&store, "a").await,
            user(&store, "b").await,
            user(&store, "c").await,
        );
        friends(&store, a, b).await;
        let limits = GroupLimits {
            max_members: 2,
            max_groups_per_user: 100,
        };
        let refused = store
            .create_group(a, "g".into(), vec![c], limits, Timestamp(4))
            .await;
        assert_eq!(
            refused.err(),
            Some(StoreError::Rejected(ErrorCode::NotFriends))
        );
        let (group, _) = store
            .create_group(a, "g".into(), vec![b], limits, Timestamp(4))
            .await
            .expect("group");
        assert_eq!(
            store.remove_member(b, group, a, Timestamp(5)).await.err(),
            Some(StoreError::Rejected(ErrorCode::Forbidden))
        );
        assert_eq!(
            store.remove_member(a, group, a, Timestamp(5)).await.err(),
            Some(StoreError::Rejected(ErrorCode::OwnerMustTransfer))
        );
        friends(&store, a, c).await;
        assert_eq!(
            store
                .invite_members(a, group, vec![c], limits, Timestamp(6))
                .await
                .err(),
            Some(StoreError::Rejected(ErrorCode::GroupFull))
        );
    }
}

#[tokio::test]
async fn pruned_events_turn_an_old_cursor_into_a_reset_and_spare_the_rest() {
    for backend in backends() {
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
        store
            .send_friend_request(b, c, String::new(), Timestamp(50))
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
