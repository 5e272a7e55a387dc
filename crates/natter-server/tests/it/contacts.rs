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

#[tokio::test]
async fn a_blocked_user_cannot_reach_the_blocker_and_is_not_told() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let mallory = server.user("mallory").await?;
    let conversation = server.befriend(&alice, &mallory).await?;
    let alice_live = alice.connect().await?;
    let mallory_live = mallory.connect().await?;

    alice.block(mallory.user().id).await?;
    assert_eq!(alice.blocks().await?.users[0].id, mallory.user().id);

    // Messages: refused as if no longer friends.
    assert_code(
        mallory.send_text(conversation, "hello?").await,
        ErrorCode::NotFriends,
    );
    assert_code(
        alice.send_text(conversation, "hi").await,
        ErrorCode::Blocked,
    );
    // Presence: alice looks offline to mallory, with no last-seen time.
    let seen = mallory.friends().await?.friends;
    assert!(!seen[0].online && seen[0].last_seen_at.is_none());

    // Friend requests after removal: pending for mallory, invisible to alice.
    alice.remove_friend(mallory.user().id).await?;
    let outcome = mallory
        .send_friend_request(alice.user().id, Some("please"))
        .await?;
    let FriendRequestOutcome::Pending { request } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(request.status, FriendRequestStatus::Pending);
    assert!(alice.friend_requests().await?.incoming.is_empty());
    assert_eq!(mallory.friend_requests().await?.outgoing.len(), 1);

    // Typing from mallory does not reach alice; a message from a friend does, after it.
    let carol = server.user("carol").await?;
    let with_carol = server.befriend(&carol, &alice).await?;
    let _ = mallory_live.typing(conversation).await;
    carol.send_text(with_carol, "marker").await?;
    let first = wait_for(&alice_live, |event| match event {
        Event::Typing { user_id, .. } if *user_id == mallory.user().id => Some("typing"),
        Event::Message { message } if message.conversation_id == with_carol => Some("marker"),
        _ => None,
    })
    .await;
    assert_eq!(first, "marker");

    alice.unblock(mallory.user().id).await?;
    assert!(alice.blocks().await?.users.is_empty());
    assert_code(alice.unblock(mallory.user().id).await, ErrorCode::NotFound);
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
    carol.accept_friend_request(request.id).await?;
    assert!(
        carol.friend_requests().await?.outgoing.is_empty(),
        "nothing stays pending between friends"
    );
    assert!(dave.friend_requests().await?.incoming.is_empty());
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
