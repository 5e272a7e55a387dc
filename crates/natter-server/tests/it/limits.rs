//! Rate limits (RELIABILITY.md A1): each budget runs out with `rate_limited`, a
//! retry time and nothing done, and one account's or user's budget does not
//! touch another's.

use natter_protocol::ErrorCode;
use natter_protocol::accounts::{LoginRequest, RegisterRequest};
use natter_protocol::conversations::HistoryQuery;
use natter_testkit::{PASSWORD, TestServer};
use serde_json::Value;

use crate::assert_code;

fn login(username: &str, password: &str) -> LoginRequest {
    LoginRequest {
        username: username.into(),
        password: password.into(),
        device: None,
    }
}

#[tokio::test]
async fn logins_are_limited_per_account_alike_for_known_and_unknown_names() -> anyhow::Result<()> {
    let server = TestServer::start_limited(|l| l.logins_per_account_per_minute = 3).await?;
    let victim = server.user("victim").await?;
    let name = victim.user().username.clone();
    let client = server.client();
    // `server.user` logged in once already: two more wrong guesses fit.
    for _ in 0..2 {
        assert_code(
            client.login(&login(&name, "wrong guess")).await,
            ErrorCode::InvalidCredentials,
        );
    }
    let refused = client.login(&login(&name, PASSWORD)).await;
    let Err(natter_client::ClientError::Api {
        code,
        retry_after_ms,
        status,
        ..
    }) = refused
    else {
        panic!("the fourth login in a minute must be refused: {refused:?}");
    };
    assert_eq!((status, code), (429, ErrorCode::RateLimited));
    assert!(retry_after_ms.is_some_and(|ms| ms > 0));
    // An unknown name runs out the same way.
    for _ in 0..3 {
        assert_code(
            client.login(&login("nobody-at-all", "guess guess")).await,
            ErrorCode::InvalidCredentials,
        );
    }
    assert_code(
        client.login(&login("nobody-at-all", "guess guess")).await,
        ErrorCode::RateLimited,
    );
    // Someone else can still log in.
    let other = server.user("other").await?;
    client
        .login(&login(&other.user().username, PASSWORD))
        .await?;
    Ok(())
}

#[tokio::test]
async fn registrations_are_limited_per_address_with_a_retry_after_header() -> anyhow::Result<()> {
    let server = TestServer::start_limited(|l| l.registrations_per_address_per_hour = 2).await?;
    let client = server.client();
    for name in ["first_one", "second_one"] {
        client
            .register(&RegisterRequest {
                username: name.into(),
                password: PASSWORD.into(),
                display_name: None,
            })
            .await?;
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/register", server.url()))
        .json(&serde_json::json!({"username": "third_one", "password": PASSWORD}))
        .send()
        .await?;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=3600).contains(&retry_after));
    let body: Value = response.json().await?;
    assert_eq!(body["code"], "rate_limited");
    assert_code(
        client.login(&login("third_one", PASSWORD)).await,
        ErrorCode::InvalidCredentials,
    );
    Ok(())
}

#[tokio::test]
async fn messages_and_friend_requests_are_limited_per_user() -> anyhow::Result<()> {
    let server = TestServer::start_limited(|l| {
        l.messages_per_user_per_second = 1;
        l.message_burst = 3;
        l.friend_requests_per_user_per_hour = 2;
    })
    .await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let live = alice.connect().await?;
    for i in 0..3 {
        live.send_text(conversation, &format!("m{i}")).await?;
    }
    assert_code(
        alice.send_text(conversation, "one too many").await,
        ErrorCode::RateLimited,
    );
    assert_code(
        live.send_text(conversation, "one too many").await,
        ErrorCode::RateLimited,
    );
    assert_eq!(
        bob.history(conversation, HistoryQuery::default())
            .await?
            .messages
            .len(),
        3,
        "nothing refused was stored"
    );
    // Bob's budget is his own.
    bob.send_text(conversation, "hi").await?;

    // `befriend` spent one of alice's two friend requests: one more fits, then no more.
    let carol = server.user("carol").await?;
    let dave = server.user("dave").await?;
    let erin = server.user("erin").await?;
    alice.send_friend_request(carol.user().id, None).await?;
    assert_code(
        alice.send_friend_request(dave.user().id, None).await,
        ErrorCode::RateLimited,
    );
    erin.send_friend_request(dave.user().id, None).await?;
    Ok(())
}

#[tokio::test]
async fn new_websocket_connections_are_limited_per_address() -> anyhow::Result<()> {
    let server = TestServer::start_limited(|l| l.connections_per_address_per_minute = 2).await?;
    let user = server.user("sockets").await?;
    let _one = user.connect().await?;
    let _two = user.connect().await?;
    let refused = tokio_tungstenite::connect_async(server.ws_url()).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("the third connection in a minute must be refused");
    };
    assert_eq!(response.status(), 429);
    Ok(())
}

#[tokio::test]
async fn group_creation_group_changes_and_syncs_have_budgets() -> anyhow::Result<()> {
    let server = TestServer::start_limited(|l| {
        l.groups_per_user_per_hour = 2;
        l.group_changes_per_user_per_minute = 4;
        l.syncs_per_user_per_minute = 1;
        l.sync_burst = 3;
    })
    .await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let group = alice.create_group("one", &[bob.user().id]).await?;
    alice.create_group("two", &[]).await?;
    assert_code(
        alice.create_group("three", &[bob.user().id]).await,
        ErrorCode::RateLimited,
    );
    // Two creations spent two of four changes: two renames fit, then no more,
    // and nothing refused was written.
    for name in ["renamed once", "renamed twice"] {
        let rename = natter_protocol::conversations::UpdateGroupRequest {
            name: Some(name.into()),
            announcement: None,
        };
        alice.update_group(group.id, &rename).await?;
    }
    let too_many = natter_protocol::conversations::UpdateGroupRequest {
        name: None,
        announcement: Some("spam".into()),
    };
    assert_code(
        alice.update_group(group.id, &too_many).await,
        ErrorCode::RateLimited,
    );
    let history = bob.history(group.id, &HistoryQuery::default()).await?;
    assert!(
        history
            .messages
            .iter()
            .all(|m| !format!("{:?}", m.content).contains("spam")),
        "a refused change wrote nothing"
    );
    // Bob's budgets are his own.
    bob.create_group("bob's", &[]).await?;
    // Syncs: a burst of three, then a wait.
    for _ in 0..3 {
        alice.sync(natter_protocol::SyncCursor(0)).await?;
    }
    assert_code(
        alice.sync(natter_protocol::SyncCursor(0)).await,
        ErrorCode::RateLimited,
    );
    bob.sync(natter_protocol::SyncCursor(0)).await?;
    Ok(())
}

#[tokio::test]
async fn a_user_is_in_at_most_so_many_groups() -> anyhow::Result<()> {
    let server = TestServer::start_with(|config| config.groups.max_groups_per_user = 2).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let carol = server.user("carol").await?;
    server.befriend(&alice, &bob).await?;
    server.befriend(&carol, &bob).await?;
    alice.create_group("a1", &[bob.user().id]).await?;
    alice.create_group("a2", &[bob.user().id]).await?;
    // Alice is in two groups: she cannot create a third.
    assert_code(
        alice.create_group("a3", &[]).await,
        ErrorCode::TooManyGroups,
    );
    // Bob is in two: nobody can add him to another, by creation or invite.
    assert_code(
        carol.create_group("c1", &[bob.user().id]).await,
        ErrorCode::TooManyGroups,
    );
    let solo = carol.create_group("c2", &[]).await?;
    assert_code(
        carol.invite(solo.id, &[bob.user().id]).await,
        ErrorCode::TooManyGroups,
    );
    assert_eq!(carol.members(solo.id).await?.members.len(), 1);
    Ok(())
}
