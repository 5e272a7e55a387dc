use natter_protocol::ErrorCode;
use natter_protocol::contacts::{FriendRequestOutcome, FriendRequestStatus};
use natter_protocol::sync::UserChange;
use natter_protocol::ws::Event;
use natter_testkit::TestServer;

use crate::{assert_code, wait_for};

#[tokio::test]
async fn a_friend_request_arrives_live_and_accepting_makes_friends() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let bob_live = bob.connect().await?;

    let FriendRequestOutcome::Pending { request } = alice
        .send_friend_request(bob.user().id, Some("你好，我是爱丽丝"))
        .await?
    else {
        panic!("expected pending");
    };
    let received = wait_for(&bob_live, |event| match event {
        Event::User { event } => match &event.change {
            UserChange::FriendRequestReceived { request } => Some(request.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(received.id, request.id);
    assert_eq!(received.greeting, "你好，我是爱丽丝");
    assert_eq!(bob.friend_requests().await?.incoming.len(), 1);
    assert_eq!(alice.friend_requests().await?.outgoing.len(), 1);

    let friend = bob.accept_friend_request(request.id).await?;
    assert_eq!(friend.user.id, alice.user().id);
    assert_code(
        bob.accept_friend_request(request.id).await,
        ErrorCode::RequestNotPending,
    );
    let alice_friends = alice.friends().await?.friends;
    assert_eq!(alice_friends.len(), 1);
    assert_eq!(alice_friends[0].user.id, bob.user().id);
    assert_eq!(alice_friends[0].conversation_id, friend.conversation_id);
    assert!(alice_friends[0].online, "bob is connected");
    assert!(bob.friend_requests().await?.incoming.is_empty());
    assert_code(
        alice.send_friend_request(bob.user().id, None).await,
        ErrorCode::AlreadyFriends,
    );
    Ok(())
}

#[tokio::test]
async fn requests_can_be_declined_cancelled_and_crossed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let a = server.user("a").await?;
    let b = server.user("b").await?;
    let c = server.user("c").await?;

    let FriendRequestOutcome::Pending { request } =
        a.send_friend_request(b.user().id, None).await?
    else {
        panic!()
    };
    b.decline_friend_request(request.id).await?;
    assert!(a.friends().await?.friends.is_empty());
    assert_code(
        a.cancel_friend_request(request.id).await,
        ErrorCode::RequestNotPending,
    );

    let FriendRequestOutcome::Pending { request } =
        a.send_friend_request(c.user().id, None).await?
    else {
        panic!()
    };
    assert_code(
        c.cancel_friend_request(request.id).await,
        ErrorCode::NotFound,
    );
    assert_code(
        b.accept_friend_request(request.id).await,
        ErrorCode::NotFound,
    );
    a.cancel_friend_request(request.id).await?;
    assert!(c.friend_requests().await?.incoming.is_empty());

    // Both ask: the second request completes the friendship.
    a.send_friend_request(c.user().id, None).await?;
    let outcome = c.send_friend_request(a.user().id, None).await?;
    assert!(
        matches!(outcome, FriendRequestOutcome::Friends { .. }),
        "{outcome:?}"
    );
    assert_eq!(a.friends().await?.friends.len(), 1);

    assert_code(
        a.send_friend_request(a.user().id, None).await,
        ErrorCode::InvalidRequest,
    );
    assert_code(
        a.send_friend_request(natter_protocol::UserId(424_242), None)
            .await,
        ErrorCode::NotFound,
    );
    Ok(())
}

#[tokio::test]
async fn remarks_and_removal() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let a = server.user("a").await?;
    let b = server.user("b").await?;
    let conversation = server.befriend(&a, &b).await?;
    a.update_friend(b.user().id, Some("老同学")).await?;
    assert_eq!(
        a.friends().await?.friends[0].remark.as_deref(),
        Some("老同学")
    );
    assert_eq!(
        b.friends().await?.friends[0].remark,
        None,
        "a remark is private"
    );
    a.update_friend(b.user().id, None).await?;
    assert_eq!(a.friends().await?.friends[0].remark, None);

    a.send_text(conversation, "before").await?;
    a.remove_friend(b.user().id).await?;
    assert!(a.friends().await?.friends.is_empty());
    assert!(b.friends().await?.friends.is_empty());
    assert_code(
        b.send_text(conversation, "after").await,
        ErrorCode::NotFriends,
    );
    // The history stays readable for both.
    assert_eq!(
        b.history(conversation, &Default::default())
            .await?
            .messages
            .len(),
        1
    );
    assert_code(
        a.update_friend(b.user().id, Some("x")).await,
        ErrorCode::NotFound,
    );
    Ok(())
}

/// Everything the one left behind can observe of a friendship that ended.
#[derive(Debug, PartialEq, Eq)]
struct LeftBehind {
    told_friend_removed: bool,
    still_listed: bool,
    send: Option<ErrorCode>,
    open_direct: Option<ErrorCode>,
    /// The other's read position in the members list, after they read.
    peer_read_seq: i64,
    /// The first live event after the other read, typed and came online
    /// again: a marker from someone else when none of those got through.
    first_event_after: &'static str,
    request_status: FriendRequestStatus,
}

/// `actor` ends things with `other` by `end` (a block or a removal), then does
/// everything `other` could notice; returns what `other` noticed.
async fn left_behind(
    server: &TestServer,
    end: impl AsyncFnOnce(&natter_client::Session, natter_protocol::UserId) -> anyhow::Result<()>,
) -> anyhow::Result<LeftBehind> {
    let actor = server.user("actor").await?;
    let other = server.user("other").await?;
    let marker_friend = server.user("marker").await?;
    let chat = server.befriend(&actor, &other).await?;
    let with_marker = server.befriend(&marker_friend, &other).await?;
    let unread = other.send_text(chat, "unread by the actor").await?;
    let other_live = other.connect().await?;
    end(&actor, other.user().id).await?;
    let told_friend_removed = wait_for(&other_live, |event| match event {
        Event::User { event } => match &event.change {
            UserChange::FriendRemoved { user_id } if *user_id == actor.user().id => Some(true),
            _ => None,
        },
        _ => None,
    })
    .await;
    let still_listed = other
        .friends()
        .await?
        .friends
        .iter()
        .any(|f| f.user.id == actor.user().id);
    let send = other
        .send_text(chat, "hello?")
        .await
        .err()
        .and_then(|e| e.code());
    let open_direct = other
        .open_direct(actor.user().id)
        .await
        .err()
        .and_then(|e| e.code());
    // The actor reads, types and comes online again; then a friend writes.
    actor.mark_read(chat, unread.seq).await?;
    let actor_live = actor.connect().await?;
    let _ = actor_live.typing(chat).await;
    marker_friend.send_text(with_marker, "marker").await?;
    let first_event_after = wait_for(&other_live, |event| match event {
        Event::Read { user_id, .. } if *user_id == actor.user().id => Some("read"),
        Event::Typing { user_id, .. } if *user_id == actor.user().id => Some("typing"),
        Event::Presence { user_id, .. } if *user_id == actor.user().id => Some("presence"),
        Event::Message { message } if message.conversation_id == with_marker => Some("marker"),
        _ => None,
    })
    .await;
    let peer_read_seq = other
        .members(chat)
        .await?
        .members
        .iter()
        .find(|m| m.user.id == actor.user().id)
        .map_or(-1, |m| m.read_seq.0);
    let outcome = other.send_friend_request(actor.user().id, None).await?;
    let FriendRequestOutcome::Pending { request } = outcome else {
        panic!("{outcome:?}")
    };
    actor_live.close().await;
    Ok(LeftBehind {
        told_friend_removed,
        still_listed,
        send,
        open_direct,
        peer_read_seq,
        first_event_after,
        request_status: request.status,
    })
}

#[tokio::test]
async fn a_blocked_user_sees_exactly_what_a_removed_friend_sees() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let blocked = left_behind(&server, async |actor, other| Ok(actor.block(other).await?)).await?;
    let removed = left_behind(&server, async |actor, other| {
        Ok(actor.remove_friend(other).await?)
    })
    .await?;
    let expected = LeftBehind {
        told_friend_removed: true,
        still_listed: false,
        send: Some(ErrorCode::NotFriends),
        open_direct: Some(ErrorCode::NotFriends),
        peer_read_seq: 0,
        first_event_after: "marker",
        request_status: FriendRequestStatus::Pending,
    };
    assert_eq!(removed, expected);
    assert_eq!(blocked, expected);
    Ok(())
}

#[tokio::test]
async fn the_blocker_is_refused_and_a_block_can_be_lifted() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let mallory = server.user("mallory").await?;
    let conversation = server.befriend(&alice, &mallory).await?;
    alice.block(mallory.user().id).await?;
    assert_eq!(alice.blocks().await?.users[0].id, mallory.user().id);
    assert!(alice.friends().await?.friends.is_empty());
    assert_code(
        alice.send_text(conversation, "hi").await,
        ErrorCode::Blocked,
    );
    assert_code(
        alice.send_friend_request(mallory.user().id, None).await,
        ErrorCode::Blocked,
    );
    // Mallory's request stays invisible to alice.
    mallory
        .send_friend_request(alice.user().id, Some("please"))
        .await?;
    assert!(alice.friend_requests().await?.incoming.is_empty());
    assert_eq!(mallory.friend_requests().await?.outgoing.len(), 1);
    // The history stays readable for both.
    assert_eq!(
        mallory
            .history(conversation, &Default::default())
            .await?
            .messages
            .len(),
        alice
            .history(conversation, &Default::default())
            .await?
            .messages
            .len()
    );
    alice.unblock(mallory.user().id).await?;
    assert!(alice.blocks().await?.users.is_empty());
    assert_code(alice.unblock(mallory.user().id).await, ErrorCode::NotFound);
    // Unblocking restores no friendship: as after a removal, it takes a request.
    assert!(alice.friends().await?.friends.is_empty());
    Ok(())
}

/// The next `friend_request_updated` entry a device is told of.
async fn next_request_update(
    live: &natter_client::Connection,
) -> natter_protocol::contacts::FriendRequest {
    wait_for(live, |event| match event {
        Event::User { event } => match &event.change {
            UserChange::FriendRequestUpdated { request } => Some(request.clone()),
            _ => None,
        },
        _ => None,
    })
    .await
}

#[tokio::test]
async fn every_device_of_both_people_hears_of_requests_a_block_settles() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let alice_phone = server.login(&alice.user().username, "phone").await?;
    let carol = server.user("carol").await?;
    let dave = server.user("dave").await?;
    let phone = alice_phone.connect().await?;
    let carol_live = carol.connect().await?;
    // Alice's own request to carol is withdrawn by the block: both hear it.
    let FriendRequestOutcome::Pending { request: to_carol } =
        alice.send_friend_request(carol.user().id, None).await?
    else {
        panic!("pending")
    };
    next_request_update(&phone).await;
    alice.block(carol.user().id).await?;
    for live in [&phone, &carol_live] {
        let update = next_request_update(live).await;
        assert_eq!(
            (update.id, update.status),
            (to_carol.id, FriendRequestStatus::Cancelled)
        );
    }
    assert!(carol.friend_requests().await?.incoming.is_empty());
    // Dave's request to alice leaves alice's view when she blocks him: her
    // devices see it declined, while dave, who is not told, sees it pending.
    let FriendRequestOutcome::Pending { request: from_dave } =
        dave.send_friend_request(alice.user().id, None).await?
    else {
        panic!("pending")
    };
    alice.block(dave.user().id).await?;
    let update = next_request_update(&phone).await;
    assert_eq!(
        (update.id, update.status),
        (from_dave.id, FriendRequestStatus::Declined)
    );
    assert!(alice_phone.friend_requests().await?.incoming.is_empty());
    let outgoing = dave.friend_requests().await?.outgoing;
    assert_eq!(outgoing.len(), 1);
    assert_eq!(outgoing[0].status, FriendRequestStatus::Pending);
    Ok(())
}

#[tokio::test]
async fn direct_messages_need_friendship_unless_the_server_opens_them() -> anyhow::Result<()> {
    let closed = TestServer::start().await?;
    let a = closed.user("a").await?;
    let b = closed.user("b").await?;
    assert_code(a.open_direct(b.user().id).await, ErrorCode::NotFriends);

    let open = TestServer::start_with(|c| c.contacts.open_direct_messages = true).await?;
    let a = open.user("a").await?;
    let b = open.user("b").await?;
    let conversation = a.open_direct(b.user().id).await?;
    a.send_text(conversation.id, "hello stranger").await?;
    let page = b.history(conversation.id, &Default::default()).await?;
    assert_eq!(page.messages.len(), 1);
    // Opening again gives the same conversation.
    assert_eq!(b.open_direct(a.user().id).await?.id, conversation.id);
    Ok(())
}

#[tokio::test]
async fn a_request_hidden_by_a_block_is_settled_when_the_two_become_friends() -> anyhow::Result<()>
{
    let server = TestServer::start().await?;
    let carol = server.user("carol").await?;
    let dave = server.user("dave").await?;
    dave.block(carol.user().id).await?;
    carol.send_friend_request(dave.user().id, None).await?;
    dave.unblock(carol.user().id).await?;
    let outcome = dave.send_friend_request(carol.user().id, None).await?;
    let FriendRequestOutcome::Pending { request } = outcome else {
        panic!("{outcome:?}")
    };
    // Carol's other device: the one that accepts knows already.
    let carol_live = server
        .login(&carol.user().username, "tablet")
        .await?
        .connect()
        .await?;
    let dave_live = dave.connect().await?;
    carol.accept_friend_request(request.id).await?;
    assert!(
        carol.friend_requests().await?.outgoing.is_empty(),
        "nothing stays pending between friends"
    );
    assert!(dave.friend_requests().await?.incoming.is_empty());
    // Both hear of both requests settled, the hidden one included.
    for live in [&carol_live, &dave_live] {
        let mut settled = vec![
            next_request_update(live).await,
            next_request_update(live).await,
        ];
        settled.sort_by_key(|r| r.id);
        assert!(
            settled
                .iter()
                .all(|r| r.status == FriendRequestStatus::Accepted),
            "{settled:?}"
        );
        assert_eq!(settled[1].id, request.id);
    }
    Ok(())
}

#[tokio::test]
async fn blocking_withdraws_the_blockers_own_pending_request() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let FriendRequestOutcome::Pending { request } =
        alice.send_friend_request(bob.user().id, None).await?
    else {
        panic!("pending")
    };
    alice.block(bob.user().id).await?;
    assert!(bob.accept_friend_request(request.id).await.is_err());
    assert!(alice.friends().await?.friends.is_empty());
    assert!(bob.friend_requests().await?.incoming.is_empty());
    Ok(())
}

/// The pending requests come in bounded pages, newest first, each page split
/// into those to the caller and those from them; the SDK merges every page.
#[tokio::test]
async fn pending_friend_requests_come_in_pages_newest_first() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let mut asked = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let someone = server.user(name).await?;
        someone.send_friend_request(alice.user().id, None).await?;
        asked.push(someone.user().id);
    }
    let erin = server.user("erin").await?;
    alice.send_friend_request(erin.user().id, None).await?;

    let page = |after: Option<String>| natter_protocol::conversations::PageQuery {
        limit: Some(2),
        after,
    };
    let first = alice.friend_requests_page(&page(None)).await?;
    assert_eq!(
        first.outgoing.iter().map(|r| r.to.id).collect::<Vec<_>>(),
        [erin.user().id]
    );
    assert_eq!(
        first.incoming.iter().map(|r| r.from.id).collect::<Vec<_>>(),
        [asked[2]]
    );
    let second = alice
        .friend_requests_page(&page(first.next.clone()))
        .await?;
    assert!(second.outgoing.is_empty());
    assert_eq!(
        second
            .incoming
            .iter()
            .map(|r| r.from.id)
            .collect::<Vec<_>>(),
        [asked[1], asked[0]]
    );
    assert_eq!(second.next, None);

    let all = alice.friend_requests().await?;
    assert_eq!((all.incoming.len(), all.outgoing.len()), (3, 1));
    assert_code(
        alice
            .friend_requests_page(&page(Some("not-a-cursor".into())))
            .await,
        ErrorCode::InvalidRequest,
    );
    Ok(())
}

#[tokio::test]
async fn a_live_friend_added_says_whether_the_new_friend_is_online() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    // Both online before they are friends: no presence event will tell them.
    let alice_live = alice.connect().await?;
    let _bob_live = bob.connect().await?;
    let FriendRequestOutcome::Pending { request } =
        alice.send_friend_request(bob.user().id, None).await?
    else {
        panic!("expected pending");
    };
    let accepted = bob.accept_friend_request(request.id).await?;
    assert!(accepted.online, "the accept reply says alice is online");
    let added = wait_for(&alice_live, |event| match event {
        Event::User { event } => match &event.change {
            UserChange::FriendAdded { friend } => Some(friend.clone()),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(added.user.id, bob.user().id);
    assert!(added.online, "bob is online, and the live event says so");
    Ok(())
}
