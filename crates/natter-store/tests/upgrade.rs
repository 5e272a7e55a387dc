//! A database made by the released Natter (commit 800a551, schema v2) opens
//! with today's store and reads back as the old server wrote it.
//!
//! The fixture `fixtures/release-800a551.db` was filled through the old
//! server's HTTP API (see `fixtures/README.md`); every value expected here is
//! one that server answered or stored. The test opens a copy, so the
//! migrations run on it each time, and reads it through the store's public
//! read API; only the schema version and the rows an upgrade could have
//! changed are read with rusqlite.
//!
//! Schema v4 ends friendships that outlived a block. The fixture's only block
//! (bob blocks dave) is between users who were never friends, so the upgrade
//! must change nothing that can be read: no friendship ends, no change-stream
//! entry is written, the sync clock stays where the old server left it.

use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::FriendRequestStatus;
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Message, MessageContent, Role, SystemEvent,
};
use natter_protocol::sync::UserChange;
use natter_protocol::{
    ClientMsgId, ConversationId, DeviceId, FriendRequestId, Seq, SyncCursor, Timestamp, UserId,
};
use natter_store::sqlite::{SqliteOptions, SqliteStore};
use natter_store::{
    AccountStore, ContactStore, ConversationStore, PageRequest, Relation, SessionRecord,
    StoreError, SyncStore,
};

const ALICE: UserId = UserId(1);
const BOB: UserId = UserId(2);
const CAROL: UserId = UserId(3);
const DAVE: UserId = UserId(4);

/// Alice and Bob's direct conversation (they became friends first).
const DIRECT_AB: ConversationId = ConversationId(1);
const DIRECT_AC: ConversationId = ConversationId(2);
const DIRECT_BC: ConversationId = ConversationId(3);
const GROUP: ConversationId = ConversationId(4);

/// The sync clock when the old server stopped: the cursor of every final sync it answered.
const LAST_CURSOR: SyncCursor = SyncCursor(64);
/// The cursor the old server gave Alice's phone on its first sync, before the group existed.
const PHONE_CURSOR: SyncCursor = SyncCursor(47);

/// Each user as the old server answered `GET /api/v1/users/{id}` at the end.
fn profile(user: UserId) -> UserProfile {
    let (username, display_name, created_at) = match user {
        ALICE => ("alice", "爱丽丝 🌸", 1_796_127_056_327),
        // Registered as "Bob", renamed to this one later.
        BOB => ("bob", "Bob 🐢 鲍勃", 1_796_127_056_388),
        // Registered with a capital: the stored username keeps it, the key does not.
        CAROL => ("Carol", "Carol", 1_796_127_056_446),
        // Registered without a display name: it is the username.
        DAVE => ("dave", "dave", 1_796_127_056_487),
        other => panic!("no user {other:?} in the fixture"),
    };
    UserProfile {
        id: user,
        username: username.into(),
        display_name: display_name.into(),
        created_at: Timestamp(created_at),
    }
}

/// The direct conversation between Alice and Bob, in order: seq, sender,
/// `sent_at`, text, `reply_to`. Each was sent with `client_msg_id`
/// `fixture-direct-{seq:02}`.
const DIRECT_MESSAGES: [(i64, UserId, i64, &str, Option<i64>); 20] = [
    (1, ALICE, 1_796_127_056_718, "Hello Bob 👋", None),
    (2, BOB, 1_796_127_056_720, "Hi Alice! How are you?", None),
    (3, ALICE, 1_796_127_056_722, "很好，谢谢！你呢？", None),
    (4, BOB, 1_796_127_056_723, "Great 😄", Some(3)),
    (5, ALICE, 1_796_127_056_725, "Did you read the book?", None),
    (6, BOB, 1_796_127_056_726, "Not yet — chapter 3 📖", Some(5)),
    (
        7,
        ALICE,
        1_796_127_056_727,
        "日本語も大丈夫: こんにちは",
        None,
    ),
    (8, BOB, 1_796_127_056_729, "한국어도: 안녕하세요", None),
    (
        9,
        ALICE,
        1_796_127_056_730,
        "Emoji with modifiers: 👍🏽 👨\u{200d}👩\u{200d}👧\u{200d}👦 🏳\u{fe0f}\u{200d}🌈",
        None,
    ),
    (
        10,
        BOB,
        1_796_127_056_731,
        "Right-to-left: مرحبا שלום",
        None,
    ),
    (
        11,
        ALICE,
        1_796_127_056_733,
        "Quotes \"double\" and 'single' and \\backslash\\",
        None,
    ),
    (
        12,
        BOB,
        1_796_127_056_734,
        "Line one\nLine two\n\tindented",
        None,
    ),
    (13, ALICE, 1_796_127_056_736, "Math: ∑ xᵢ² ≤ ∞", None),
    (14, BOB, 1_796_127_056_737, "See you at 6?", None),
    (15, ALICE, 1_796_127_056_739, "Yes! 🕕", Some(14)),
    (16, BOB, 1_796_127_056_740, "  spaces kept inside  ", None),
    (17, BOB, 1_796_127_056_741, "Ünïcödé ñ ç ß", None),
    (18, BOB, 1_796_127_056_743, "𝕏 𝔸 astral plane 🦀", None),
    (19, BOB, 1_796_127_056_744, "Last but one", None),
    (20, BOB, 1_796_127_056_745, "Bye 👋 再见", Some(1)),
];

fn direct_message(index: usize) -> Message {
    let (seq, sender, sent_at, text, reply_to) = DIRECT_MESSAGES[index];
    Message {
        conversation_id: DIRECT_AB,
        seq: Seq(seq),
        sender_id: sender,
        client_msg_id: Some(ClientMsgId(format!("fixture-direct-{seq:02}"))),
        sent_at: Timestamp(sent_at),
        content: MessageContent::Text { text: text.into() },
        reply_to: reply_to.map(Seq),
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    }
}

/// The group's timeline: the five changes Alice made, then five texts
/// (`client_msg_id` `fixture-group-{n}`).
fn group_timeline() -> Vec<(i64, UserId, i64, MessageContent)> {
    let system = |event| MessageContent::System { event };
    let text = |text: &str| MessageContent::Text { text: text.into() };
    vec![
        (
            1,
            ALICE,
            1_796_127_056_770,
            system(SystemEvent::GroupCreated {
                by: ALICE,
                name: "Book club".into(),
            }),
        ),
        (
            2,
            ALICE,
            1_796_127_056_770,
            system(SystemEvent::MembersAdded {
                by: ALICE,
                users: vec![BOB, CAROL],
            }),
        ),
        (
            3,
            ALICE,
            1_796_127_056_773,
            system(SystemEvent::Renamed {
                by: ALICE,
                name: "读书会 📚".into(),
            }),
        ),
        (
            4,
            ALICE,
            1_796_127_056_774,
            system(SystemEvent::AnnouncementSet {
                by: ALICE,
                text: "每周五晚上 8 点 — Fridays at 8 🍵".into(),
            }),
        ),
        (
            5,
            ALICE,
            1_796_127_056_776,
            system(SystemEvent::RoleChanged {
                by: ALICE,
                user: BOB,
                role: Role::Admin,
            }),
        ),
        (6, ALICE, 1_796_127_056_777, text("欢迎大家！")),
        (7, BOB, 1_796_127_056_779, text("Thanks 🙏")),
        (8, CAROL, 1_796_127_056_780, text("Hi all, Carol here")),
        (9, ALICE, 1_796_127_056_781, text("Dune first?")),
        (10, ALICE, 1_796_127_056_783, text("Or Solaris 🪐")),
    ]
}

fn group_message(seq: i64) -> Message {
    let (seq, sender, sent_at, content) = group_timeline()
        .into_iter()
        .find(|(s, ..)| *s == seq)
        .expect("a seq of the group");
    Message {
        conversation_id: GROUP,
        seq: Seq(seq),
        sender_id: sender,
        client_msg_id: (seq > 5).then(|| ClientMsgId(format!("fixture-group-{}", seq - 5))),
        sent_at: Timestamp(sent_at),
        content,
        reply_to: None,
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    }
}

/// The summary of the direct conversation as `viewer` sees it.
fn direct_summary(viewer: UserId) -> ConversationSummary {
    let (peer, read_seq) = match viewer {
        // Alice last sent seq 15 and then read up to 18.
        ALICE => (BOB, 18),
        // Bob sent the last message, which moved his read position to it.
        BOB => (ALICE, 20),
        other => panic!("{other:?} is not in the direct conversation"),
    };
    ConversationSummary {
        id: DIRECT_AB,
        kind: ConversationKind::Direct,
        name: profile(peer).display_name,
        peer: Some(profile(peer)),
        announcement: None,
        member_count: 2,
        my_role: Some(Role::Member),
        last_seq: Seq(20),
        read_seq: Seq(read_seq),
        unread: (20 - read_seq) as u32,
        last_message: Some(direct_message(19)),
        created_at: Timestamp(1_796_127_056_680),
        updated_at: Timestamp(1_796_127_056_745),
    }
}

/// The summary of the group as `viewer` sees it.
fn group_summary(viewer: UserId) -> ConversationSummary {
    let (role, read_seq) = match viewer {
        ALICE => (Role::Owner, 10),
        // Bob last sent seq 7 and then read up to 9.
        BOB => (Role::Admin, 9),
        CAROL => (Role::Member, 8),
        other => panic!("{other:?} is not in the group"),
    };
    ConversationSummary {
        id: GROUP,
        kind: ConversationKind::Group,
        name: "读书会 📚".into(),
        peer: None,
        announcement: Some("每周五晚上 8 点 — Fridays at 8 🍵".into()),
        member_count: 3,
        my_role: Some(role),
        last_seq: Seq(10),
        read_seq: Seq(read_seq),
        unread: (10 - read_seq) as u32,
        last_message: Some(group_message(10)),
        created_at: Timestamp(1_796_127_056_770),
        updated_at: Timestamp(1_796_127_056_783),
    }
}

/// A direct conversation without messages, as `peer`'s friend sees it.
fn empty_direct_summary(id: ConversationId, peer: UserId) -> ConversationSummary {
    let created_at = match id {
        DIRECT_AC => 1_796_127_056_687,
        DIRECT_BC => 1_796_127_056_696,
        other => panic!("{other:?} is not an empty direct conversation"),
    };
    ConversationSummary {
        id,
        kind: ConversationKind::Direct,
        name: profile(peer).display_name,
        peer: Some(profile(peer)),
        announcement: None,
        member_count: 2,
        my_role: Some(Role::Member),
        last_seq: Seq(0),
        read_seq: Seq(0),
        unread: 0,
        last_message: None,
        created_at: Timestamp(created_at),
        updated_at: Timestamp(created_at),
    }
}

/// Every conversation of `user`, newest activity first, as the old server listed them.
fn conversations_of(user: UserId) -> Vec<ConversationSummary> {
    match user {
        ALICE => vec![
            group_summary(ALICE),
            direct_summary(ALICE),
            empty_direct_summary(DIRECT_AC, CAROL),
        ],
        BOB => vec![
            group_summary(BOB),
            direct_summary(BOB),
            empty_direct_summary(DIRECT_BC, CAROL),
        ],
        CAROL => vec![
            group_summary(CAROL),
            empty_direct_summary(DIRECT_BC, BOB),
            empty_direct_summary(DIRECT_AC, ALICE),
        ],
        _ => Vec::new(),
    }
}

/// A copy of the fixture, opened (and so migrated) by today's store.
struct Upgraded {
    store: SqliteStore,
    dir: tempfile::TempDir,
}

/// A temporary directory holding a copy of the fixture as `natter.db`. Even a
/// read-only connection leaves `-shm` and `-wal` files next to a WAL database,
/// so nothing opens the fixture where it lies.
fn copy_fixture() -> tempfile::TempDir {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-800a551.db");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&fixture, dir.path().join("natter.db")).expect("copy the fixture");
    dir
}

fn open_fixture() -> Upgraded {
    let dir = copy_fixture();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("opens");
    Upgraded { store, dir }
}

/// A connection of its own to `dir`'s database, for what the API does not show.
fn sql(dir: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(
        dir.join("natter.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("opens read-only")
}

fn all() -> PageRequest {
    PageRequest {
        limit: 500,
        after: None,
    }
}

/// The newest schema: the highest N of the `src/sqlite/schema_vN.sql` files,
/// which the migrations include one each, in order.
fn latest_schema_version() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sqlite");
    std::fs::read_dir(dir)
        .expect("reads src/sqlite")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("schema_v")?
                .strip_suffix(".sql")?
                .parse()
                .ok()
        })
        .max()
        .expect("schema files")
}

fn token_hash(hex: &str) -> [u8; 32] {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    bytes.try_into().expect("32 bytes")
}

#[test]
fn the_fixture_is_the_old_release_schema() {
    // Read before any store opens it: the file must be what 800a551 left.
    let dir = copy_fixture();
    let conn = sql(dir.path());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("user_version");
    assert_eq!(version, 2);
    // v3's table is not there yet.
    let settings: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'settings'",
            [],
            |row| row.get(0),
        )
        .expect("sqlite_master");
    assert_eq!(settings, 0);
}

#[tokio::test]
async fn the_schema_is_the_latest_and_nothing_was_rewritten() {
    let db = open_fixture();
    let conn = sql(db.dir.path());
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("user_version");
    assert_eq!(version, latest_schema_version());
    assert!(
        version >= 4,
        "v3 and v4 are the migrations this test covers"
    );

    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).expect(sql) };
    // v4 ended no friendship (the one block is between non-friends) and wrote
    // no `friend_removed` entries: the clock is where the old server left it.
    assert_eq!(count("SELECT count(*) FROM friendships"), 6);
    assert_eq!(count("SELECT count(*) FROM user_events"), 28);
    assert_eq!(count("SELECT value FROM sync_clock"), LAST_CURSOR.0);
    // v3: the store alone never re-keys users (the server does, at start).
    assert_eq!(count("SELECT count(*) FROM settings"), 0);
}

#[tokio::test]
async fn users_keep_their_profiles_and_credentials() {
    let db = open_fixture();
    let store = &db.store;
    for user in [ALICE, BOB, CAROL, DAVE] {
        assert_eq!(store.find_user(user).await, Ok(Some(profile(user))));
    }
    assert_eq!(store.find_user(UserId(5)).await, Ok(None));

    // The keys as 800a551 stored them: NFKC, lowercased.
    for (key, username, user) in [
        ("alice", "alice", ALICE),
        ("bob", "bob", BOB),
        ("carol", "Carol", CAROL),
        ("carol", "carol", CAROL),
        ("dave", "dave", DAVE),
    ] {
        let (id, hash) = store
            .find_credentials(key, username)
            .await
            .expect("reads")
            .unwrap_or_else(|| panic!("credentials of {key}"));
        assert_eq!(id, user, "{key}");
        assert!(hash.starts_with("$argon2id$v=19$"), "{key}: {hash}");
        assert_eq!(store.get_password_hash(user).await, Ok(hash));
    }
    assert_eq!(store.find_credentials("mallory", "mallory").await, Ok(None));

    // Search reads the old display keys.
    assert_eq!(
        store.search_users("爱丽", 10, 0).await,
        Ok(vec![profile(ALICE)])
    );
    assert_eq!(store.search_users("b", 10, 0).await, Ok(vec![profile(BOB)]));
}

#[tokio::test]
async fn every_device_stays_logged_in() {
    let db = open_fixture();
    let store = &db.store;
    let session = |device, user, name: &str, at| SessionRecord {
        device_id: DeviceId(device),
        user_id: user,
        name: name.into(),
        created_at: Timestamp(at),
        last_seen_at: Timestamp(at),
    };
    let laptop = session(1, ALICE, "alice's laptop", 1_796_127_056_532);
    let phone = session(5, ALICE, "Alice's phone 📱", 1_796_127_056_767);
    assert_eq!(
        store.list_sessions(ALICE).await,
        Ok(vec![laptop.clone(), phone.clone()])
    );
    assert_eq!(
        store.list_sessions(DAVE).await,
        Ok(vec![session(4, DAVE, "dave's laptop", 1_796_127_056_672)])
    );

    // The SHA-256 of each token the old server's logins returned.
    for (hash, record) in [
        (
            "6ca88b7ec46493be24bd47ee524c3e82bf4dc705bde6dd35d7a3d05bb1f9ef91",
            laptop,
        ),
        (
            "6b293bf17c902b86a75302764302a455bab2c3d5d79c17e7c7bec42de94f5313",
            phone,
        ),
        (
            "a0cb43f5226db38beb12997408ea7b92d215110bf0caf34f2b7fb26505fa33d5",
            session(2, BOB, "bob's laptop", 1_796_127_056_583),
        ),
        (
            "093e9076d74191104dc2e29e59df406d29279f49f8810637d07c2971ce22ff53",
            session(3, CAROL, "carol's laptop", 1_796_127_056_624),
        ),
    ] {
        assert_eq!(store.find_session(token_hash(hash)).await, Ok(Some(record)));
    }
}

#[tokio::test]
async fn friends_requests_and_blocks_are_kept() {
    let db = open_fixture();
    let store = &db.store;
    // (friend, remark, since, direct conversation) in username-key order.
    let expected = |user| match user {
        ALICE => vec![
            (BOB, Some("Bobby 🐻"), 1_796_127_056_680, DIRECT_AB),
            (CAROL, None, 1_796_127_056_687, DIRECT_AC),
        ],
        BOB => vec![
            (ALICE, None, 1_796_127_056_680, DIRECT_AB),
            (CAROL, None, 1_796_127_056_696, DIRECT_BC),
        ],
        CAROL => vec![
            (ALICE, None, 1_796_127_056_687, DIRECT_AC),
            (BOB, None, 1_796_127_056_696, DIRECT_BC),
        ],
        _ => Vec::new(),
    };
    for user in [ALICE, BOB, CAROL, DAVE] {
        let page = store.list_friends(user, all()).await.expect("friends");
        assert_eq!(page.next, None);
        let friends: Vec<_> = page
            .items
            .into_iter()
            .map(|f| {
                assert_eq!(f.last_seen_at, None);
                (f.user, f.remark, f.since, f.conversation_id)
            })
            .collect();
        let want: Vec<_> = expected(user)
            .into_iter()
            .map(|(friend, remark, since, conversation)| {
                (
                    profile(friend),
                    remark.map(String::from),
                    Timestamp(since),
                    conversation,
                )
            })
            .collect();
        assert_eq!(friends, want, "friends of {user:?}");
    }

    // Dave's request to Alice is still pending, seen from both sides.
    let page = || natter_store::PageRequest {
        limit: 100,
        after: None,
    };
    let to_alice = store
        .list_friend_requests(ALICE, page())
        .await
        .expect("requests");
    let [request] = &to_alice.items[..] else {
        panic!("one pending request: {to_alice:?}");
    };
    assert_eq!(request.id, FriendRequestId(4));
    assert_eq!(request.from, profile(DAVE));
    assert_eq!(request.to, profile(ALICE));
    assert_eq!(request.greeting, "Can we be friends? 🙂");
    assert_eq!(request.status, FriendRequestStatus::Pending);
    assert_eq!(request.created_at, Timestamp(1_796_127_056_700));
    assert_eq!(request.updated_at, Timestamp(1_796_127_056_700));
    let from_dave = store
        .list_friend_requests(DAVE, page())
        .await
        .expect("requests");
    assert_eq!(from_dave.items, vec![request.clone()]);
    for user in [BOB, CAROL] {
        let requests = store
            .list_friend_requests(user, page())
            .await
            .expect("requests");
        assert!(requests.items.is_empty());
    }

    // Bob's block of Dave.
    assert_eq!(store.list_blocks(BOB).await, Ok(vec![profile(DAVE)]));
    for user in [ALICE, CAROL, DAVE] {
        assert_eq!(store.list_blocks(user).await, Ok(Vec::new()));
    }
    assert_eq!(
        store.relation(BOB, DAVE).await,
        Ok(Relation {
            friends: false,
            a_blocked_b: true,
            b_blocked_a: false,
        })
    );
    assert_eq!(
        store.relation(ALICE, BOB).await,
        Ok(Relation {
            friends: true,
            ..Relation::default()
        })
    );
    let mut audience = store.list_presence_audience(ALICE).await.expect("audience");
    audience.sort_by_key(|u| u.0);
    assert_eq!(audience, vec![BOB, CAROL]);
}

#[tokio::test]
async fn conversations_and_members_are_kept() {
    let db = open_fixture();
    let store = &db.store;
    for user in [ALICE, BOB, CAROL, DAVE] {
        let page = store.list_conversations(user, all()).await.expect("list");
        assert_eq!(page.next, None);
        assert_eq!(
            page.items,
            conversations_of(user),
            "conversations of {user:?}"
        );
    }
    assert_eq!(
        store.get_conversation(ALICE, DIRECT_AB).await,
        Ok(direct_summary(ALICE))
    );
    assert_eq!(
        store.get_conversation(BOB, GROUP).await,
        Ok(group_summary(BOB))
    );
    assert_eq!(
        store.get_conversation(DAVE, GROUP).await,
        Err(StoreError::NotFound)
    );

    // Owner, admin, member; their read positions.
    let members = store
        .list_members(CAROL, GROUP, all())
        .await
        .expect("members");
    assert_eq!(members.next, None);
    let members: Vec<_> = members
        .items
        .into_iter()
        .map(|m| (m.user, m.role, m.joined_at, m.read_seq))
        .collect();
    let joined = Timestamp(1_796_127_056_770);
    assert_eq!(
        members,
        vec![
            (profile(ALICE), Role::Owner, joined, Seq(10)),
            (profile(BOB), Role::Admin, joined, Seq(9)),
            (profile(CAROL), Role::Member, joined, Seq(8)),
        ]
    );
    let direct = store
        .list_members(BOB, DIRECT_AB, all())
        .await
        .expect("members");
    let direct: Vec<_> = direct
        .items
        .into_iter()
        .map(|m| (m.user.id, m.role, m.read_seq))
        .collect();
    assert_eq!(
        direct,
        vec![(ALICE, Role::Member, Seq(18)), (BOB, Role::Member, Seq(20))]
    );
    assert_eq!(
        store.conversation_kind(ALICE, GROUP).await,
        Ok(ConversationKind::Group)
    );
    let ids = store
        .member_ids(ALICE, DIRECT_AB)
        .await
        .expect("member ids");
    assert_eq!(ids.kind, ConversationKind::Direct);
    let mut ids = ids.ids.to_vec();
    ids.sort_by_key(|u| u.0);
    assert_eq!(ids, vec![ALICE, BOB]);
}

#[tokio::test]
async fn every_message_reads_back_in_order() {
    let db = open_fixture();
    let store = &db.store;
    let from_start = HistoryQuery {
        before: None,
        after: Some(Seq(0)),
        limit: Some(100),
    };
    let expected: Vec<_> = (0..DIRECT_MESSAGES.len()).map(direct_message).collect();
    for user in [ALICE, BOB] {
        let page = store
            .page_messages(user, DIRECT_AB, from_start.clone())
            .await
            .expect("history");
        assert!(!page.has_more);
        assert_eq!(page.messages, expected, "as {user:?} reads it");
    }
    // Newest first by pages, as a client scrolls back: the same messages.
    let older = store
        .page_messages(
            ALICE,
            DIRECT_AB,
            HistoryQuery {
                before: Some(Seq(6)),
                after: None,
                limit: Some(3),
            },
        )
        .await
        .expect("history");
    assert!(older.has_more);
    assert_eq!(older.messages, expected[2..5]);

    let group = store
        .page_messages(CAROL, GROUP, from_start.clone())
        .await
        .expect("history");
    assert!(!group.has_more);
    assert_eq!(
        group.messages,
        (1..=10).map(group_message).collect::<Vec<_>>()
    );

    // A non-member still learns nothing.
    assert_eq!(
        store.page_messages(DAVE, DIRECT_AB, from_start).await,
        Err(StoreError::NotFound)
    );
}

#[tokio::test]
async fn sync_goes_on_from_the_old_servers_cursors() {
    let db = open_fixture();
    let store = &db.store;
    // From scratch: a reset holding every conversation, up to the old clock.
    for user in [ALICE, BOB, CAROL, DAVE] {
        let full = store
            .sync(user, SyncCursor(0), false, 1000, 1000)
            .await
            .expect("sync");
        assert!(full.reset);
        assert!(!full.has_more);
        assert_eq!(full.cursor, LAST_CURSOR);
        let mut got = full.conversations;
        let mut want = conversations_of(user);
        got.sort_by_key(|c| c.id.0);
        want.sort_by_key(|c| c.id.0);
        assert_eq!(got, want, "{user:?}");
    }

    // Alice's phone synced once before the group: it catches up without a
    // reset (nothing was pruned, and the upgrade moved no horizon), with what
    // happened since.
    let phone = store
        .sync(ALICE, PHONE_CURSOR, false, 1000, 1000)
        .await
        .expect("sync");
    assert!(!phone.reset);
    assert!(!phone.has_more);
    assert_eq!(phone.cursor, LAST_CURSOR);
    let changes: Vec<_> = phone.events.iter().map(|e| (e.cursor, &e.change)).collect();
    assert_eq!(
        changes,
        vec![(
            SyncCursor(50),
            &UserChange::ConversationJoined {
                conversation_id: GROUP,
            },
        )]
    );
    // The group's changes, then the direct one, renamed by Bob's new display name.
    assert_eq!(
        phone.conversations,
        vec![group_summary(ALICE), direct_summary(ALICE)]
    );

    // Bob's entries after the last change of contacts (Alice's remark, 26).
    let bob = store
        .sync(BOB, SyncCursor(26), false, 1000, 1000)
        .await
        .expect("sync");
    assert!(!bob.reset);
    let changes: Vec<_> = bob
        .events
        .into_iter()
        .map(|e| (e.cursor, e.change))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                SyncCursor(52),
                UserChange::ConversationJoined {
                    conversation_id: GROUP,
                },
            ),
            (
                SyncCursor(62),
                UserChange::ReadPosition {
                    conversation_id: GROUP,
                    read_seq: Seq(9),
                },
            ),
            (
                SyncCursor(64),
                UserChange::ProfileUpdated {
                    display_name: "Bob 🐢 鲍勃".into(),
                },
            ),
        ]
    );

    // Where every final sync of the old server ended: nothing new, no reset.
    for user in [ALICE, BOB, CAROL, DAVE] {
        let caught_up = store
            .sync(user, LAST_CURSOR, false, 1000, 1000)
            .await
            .expect("sync");
        assert!(!caught_up.reset, "{user:?}");
        assert_eq!(caught_up.cursor, LAST_CURSOR);
        assert!(caught_up.events.is_empty() && caught_up.conversations.is_empty());
    }
}
