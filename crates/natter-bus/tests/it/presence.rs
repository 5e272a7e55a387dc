//! Presence: counted per connection, across nodes, and forgotten with a dead node.

use std::time::Duration;

use natter_bus::{Presence, RedisPresenceOptions};
use natter_protocol::UserId;

use crate::support::{Backend, Env, contract, eventually};

contract!(
    the_first_connection_and_the_last_are_reported,
    a_user_on_two_nodes_is_online_until_both_let_go,
    online_answers_in_the_order_asked,
    with_every_node_alive_a_sweep_finds_nobody,
);

async fn the_first_connection_and_the_last_are_reported(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let node = &env.presences(1).await[0];
    let (u, other) = (UserId(1), UserId(2));
    assert!(node.connected(u).await.expect("ok"), "first");
    assert!(!node.connected(u).await.expect("ok"), "second");
    assert!(
        node.connected(other).await.expect("ok"),
        "another user's first"
    );
    assert!(!node.disconnected(u).await.expect("ok"), "one left");
    assert_eq!(node.online(&[u]).await.expect("ok"), [true]);
    assert!(node.disconnected(u).await.expect("ok"), "last");
    assert!(
        !node.disconnected(u).await.expect("ok"),
        "nothing left to close"
    );
    assert_eq!(node.online(&[u, other]).await.expect("ok"), [false, true]);
    assert!(node.connected(u).await.expect("ok"), "first again");
}

async fn a_user_on_two_nodes_is_online_until_both_let_go(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let nodes = env.presences(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let u = UserId(7);
    assert!(a.connected(u).await.expect("ok"));
    assert!(!b.connected(u).await.expect("ok"), "already online on a");
    assert!(!a.disconnected(u).await.expect("ok"), "still on b");
    for node in [a, b] {
        assert_eq!(node.online(&[u]).await.expect("ok"), [true]);
    }
    assert!(b.disconnected(u).await.expect("ok"), "gone from both");
    for node in [a, b] {
        assert_eq!(node.online(&[u]).await.expect("ok"), [false]);
    }
}

async fn online_answers_in_the_order_asked(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let node = &env.presences(1).await[0];
    let users: Vec<UserId> = (100..400).map(UserId).collect();
    for user in users.iter().filter(|u| u.0 % 3 == 0) {
        node.connected(*user).await.expect("ok");
    }
    let mut asked = users.clone();
    asked.reverse();
    asked.push(UserId(999));
    asked.push(UserId(300));
    let expected: Vec<bool> = asked.iter().map(|u| u.0 % 3 == 0 && u.0 < 400).collect();
    assert_eq!(node.online(&asked).await.expect("ok"), expected);
    assert_eq!(node.online(&[]).await.expect("ok"), Vec::<bool>::new());
}

async fn with_every_node_alive_a_sweep_finds_nobody(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let nodes = env.presences(2).await;
    nodes[0].connected(UserId(1)).await.expect("ok");
    nodes[1].connected(UserId(2)).await.expect("ok");
    for node in &nodes {
        assert_eq!(node.sweep_expired().await.expect("ok"), []);
    }
    assert_eq!(
        nodes[0].online(&[UserId(1), UserId(2)]).await.expect("ok"),
        [true, true]
    );
}

/// Node `a` dies (dropped: its heartbeat stops, its lease is left to lapse, as
/// after SIGKILL). Users only it held go offline and are reported exactly once
/// between two nodes sweeping at the same time; a user also on a live node is
/// not; a user whose last live connection closed in between is not reported again.
#[tokio::test]
async fn on_redis_a_dead_nodes_users_are_swept_once() {
    let Some(env) = Env::new(Backend::Redis).await else {
        return;
    };
    let redis = env.redis().expect("a redis env");
    let short = RedisPresenceOptions {
        lease: Duration::from_secs(1),
    };
    let a = redis.presence(short).await;
    let b = redis.presence(RedisPresenceOptions::default()).await;
    let c = redis.presence(RedisPresenceOptions::default()).await;
    let (only_a, a_and_b, left_b) = (UserId(1), UserId(2), UserId(3));
    assert!(a.connected(only_a).await.expect("ok"));
    assert!(a.connected(a_and_b).await.expect("ok"));
    assert!(!b.connected(a_and_b).await.expect("ok"));
    assert!(a.connected(left_b).await.expect("ok"));
    assert!(!b.connected(left_b).await.expect("ok"));
    drop(a);

    let b_ref = &b;
    eventually("a's lease to lapse", || async move {
        let online = b_ref.online(&[only_a]).await.expect("ok");
        (online == [false]).then_some(())
    })
    .await;
    assert_eq!(
        b.online(&[only_a, a_and_b, left_b]).await.expect("ok"),
        [false, true, true],
        "a's entries no longer count, b's do"
    );
    assert!(
        b.disconnected(left_b).await.expect("ok"),
        "b held left_b's last live connection"
    );

    let (from_b, from_c) = tokio::join!(b.sweep_expired(), c.sweep_expired());
    let mut reported = from_b.expect("ok");
    reported.extend(from_c.expect("ok"));
    assert_eq!(reported, [only_a], "each user once, on one node");
    for node in [&b, &c] {
        assert_eq!(node.sweep_expired().await.expect("ok"), []);
    }
    assert_eq!(
        c.online(&[only_a, a_and_b, left_b]).await.expect("ok"),
        [false, true, false]
    );
    assert!(
        b.disconnected(a_and_b).await.expect("ok"),
        "b held the last"
    );
}

/// A node that shuts down gives its lease up at once: nobody waits for it to lapse.
#[tokio::test]
async fn on_redis_shutdown_lets_the_next_sweep_report_at_once() {
    let Some(env) = Env::new(Backend::Redis).await else {
        return;
    };
    let redis = env.redis().expect("a redis env");
    let a = redis.presence(RedisPresenceOptions::default()).await;
    let b = redis.presence(RedisPresenceOptions::default()).await;
    assert!(a.connected(UserId(5)).await.expect("ok"));
    assert_eq!(b.online(&[UserId(5)]).await.expect("ok"), [true]);
    a.shutdown().await.expect("shuts down");
    assert_eq!(b.online(&[UserId(5)]).await.expect("ok"), [false]);
    assert_eq!(b.sweep_expired().await.expect("ok"), [UserId(5)]);
    assert_eq!(b.sweep_expired().await.expect("ok"), []);
}

/// The heartbeat, not the first lease alone, keeps a node's users online.
#[tokio::test]
async fn on_redis_the_heartbeat_keeps_a_short_lease_alive() {
    let Some(env) = Env::new(Backend::Redis).await else {
        return;
    };
    let redis = env.redis().expect("a redis env");
    let a = redis
        .presence(RedisPresenceOptions {
            lease: Duration::from_millis(600),
        })
        .await;
    let b = redis.presence(RedisPresenceOptions::default()).await;
    assert!(a.connected(UserId(9)).await.expect("ok"));
    let lease_key = format!("{}node:{}", redis.prefix, a.node());
    let mut connection = redis.connection().await;
    let mut ttl = async || -> i64 {
        redis::cmd("PTTL")
            .arg(&lease_key)
            .query_async(&mut connection)
            .await
            .expect("ok")
    };
    let mut previous = ttl().await;
    assert!(previous > 0, "a holds a lease ({previous} ms left)");
    // Renewed when its time left goes back up; polled, as the renewal is not observable.
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    loop {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let now = ttl().await;
        assert!(now > 0, "the lease lapsed");
        if now > previous {
            break;
        }
        previous = now;
        assert!(tokio::time::Instant::now() < deadline, "no heartbeat");
    }
    assert_eq!(b.online(&[UserId(9)]).await.expect("ok"), [true]);
    assert_eq!(b.sweep_expired().await.expect("ok"), []);
}
