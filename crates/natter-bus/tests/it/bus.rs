//! The bus: delivery to every handler on every node, once, in order.

use std::sync::Arc;

use bytes::Bytes;
use natter_bus::{
    Audience, Bus, BusError, BusMessage, NodeId, RedisBus, RedisBusOptions, RedisPresence,
};
use natter_protocol::{DeviceId, UserId};

use crate::support::{Backend, Env, Recorder, contract, tagged};

contract!(
    publish_reaches_every_handler_on_every_node_once_in_order,
    targets_and_exceptions_arrive_as_published,
    a_handler_registered_later_receives_what_follows,
);

const EACH: usize = 100;

async fn publish_reaches_every_handler_on_every_node_once_in_order(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let nodes = env.buses(2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let recorders: Vec<_> = (0..4).map(|_| Recorder::new()).collect();
    a.subscribe(recorders[0].clone());
    a.subscribe(recorders[1].clone());
    b.subscribe(recorders[2].clone());
    b.subscribe(recorders[3].clone());

    // Interleaved, so that each node receives both streams at once.
    for i in 0..EACH {
        a.publish(tagged(&format!("a{i}")))
            .await
            .expect("publishes");
        b.publish(tagged(&format!("b{i}")))
            .await
            .expect("publishes");
    }
    // A chain of markers, each published after the previous one arrived on the
    // other node: Redis delivers one channel in order to every subscriber, so
    // once a node sees the other's later marker, any duplicate of what it
    // published itself would already have reached its handlers.
    a.publish(tagged("end-a")).await.expect("publishes");
    for recorder in &recorders[2..] {
        recorder.wait_for_tag("end-a").await;
    }
    b.publish(tagged("end-b")).await.expect("publishes");
    for recorder in &recorders[..2] {
        recorder.wait_for_tag("end-b").await;
    }
    a.publish(tagged("fin-a")).await.expect("publishes");
    for recorder in &recorders[2..] {
        recorder.wait_for_tag("fin-a").await;
    }

    let from = |tags: &[String], node: char| -> Vec<String> {
        tags.iter()
            .filter(|t| t.starts_with(node) && t[1..].parse::<usize>().is_ok())
            .cloned()
            .collect()
    };
    let expected_a: Vec<String> = (0..EACH).map(|i| format!("a{i}")).collect();
    let expected_b: Vec<String> = (0..EACH).map(|i| format!("b{i}")).collect();
    for (i, recorder) in recorders.iter().enumerate() {
        let tags = recorder.tags();
        assert_eq!(
            tags.len(),
            2 * EACH + 3,
            "handler {i} got duplicates or missed some"
        );
        assert_eq!(from(&tags, 'a'), expected_a, "handler {i}, node a's order");
        assert_eq!(from(&tags, 'b'), expected_b, "handler {i}, node b's order");
    }
}

async fn targets_and_exceptions_arrive_as_published(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let nodes = env.buses(2).await;
    let far = Recorder::new();
    nodes[1].subscribe(far.clone());
    let sent = vec![
        BusMessage::Deliver {
            to: Audience::Devices(Arc::from(vec![
                (UserId(1), DeviceId(10)),
                (UserId(2), DeviceId(20)),
            ])),
            except: Some(DeviceId(11)),
            frame: Bytes::from_static(b"{\"type\":\"event\"}"),
        },
        BusMessage::Deliver {
            to: Audience::Users(Arc::from(vec![UserId(3), UserId(4)])),
            except: None,
            frame: Bytes::from_static(&[0xff, 0x00]),
        },
        BusMessage::Disconnect {
            user: UserId(5),
            devices: Arc::from(vec![DeviceId(50), DeviceId(51)]),
        },
    ];
    for message in &sent {
        nodes[0].publish(message.clone()).await.expect("publishes");
    }
    far.wait_until("three messages", |r| r.seen().len() >= sent.len())
        .await;
    assert_eq!(far.seen(), sent);
}

async fn a_handler_registered_later_receives_what_follows(backend: Backend) {
    let Some(env) = Env::new(backend).await else {
        return;
    };
    let nodes = env.buses(2).await;
    let early = Recorder::new();
    nodes[1].subscribe(early.clone());
    nodes[0].publish(tagged("before")).await.expect("publishes");
    early.wait_for_tag("before").await;

    let late = Recorder::new();
    nodes[1].subscribe(late.clone());
    nodes[0].publish(tagged("after")).await.expect("publishes");
    late.wait_for_tag("after").await;
    early.wait_for_tag("after").await;

    assert_eq!(late.tags(), ["after"]);
    assert_eq!(early.tags(), ["before", "after"]);
}

// Redis only: the queue, the subscription's recovery, and shutdown.

/// Runs on the test's single thread, so the publishing task cannot drain the
/// queue while the loop runs: what does not fit must be refused at once.
#[tokio::test]
async fn on_redis_publish_refuses_at_once_when_its_queue_is_full() {
    let Some(env) = Env::new(Backend::Redis).await else {
        return;
    };
    let redis = env.redis().expect("a redis env");
    let a = redis
        .bus(RedisBusOptions {
            queue_capacity: 4,
            ..RedisBusOptions::default()
        })
        .await;
    let b = redis.bus(RedisBusOptions::default()).await;
    let near = Recorder::new();
    let far = Recorder::new();
    a.subscribe(near.clone());
    b.subscribe(far.clone());

    let mut accepted = Vec::new();
    let mut refused = 0;
    for i in 0..10_000 {
        let tag = format!("m{i}");
        match a.publish(tagged(&tag)).await {
            Ok(()) => accepted.push(tag),
            Err(BusError::Unavailable(_)) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    // Nothing can have gone through Redis yet: this node's handlers got every
    // message directly, the other node none.
    assert_eq!(near.tags().len(), 10_000);
    assert!(far.tags().is_empty());
    assert_eq!(accepted.len(), 4, "the queue holds 4");
    assert_eq!(refused, 10_000 - 4);

    let end = publish_when_room(&a, "end").await;
    far.wait_for_tag(&end).await;
    accepted.push(end);
    assert_eq!(far.tags(), accepted, "what was accepted arrives, in order");
}

async fn publish_when_room(bus: &RedisBus, tag: &str) -> String {
    crate::support::eventually("room in the publish queue", || async move {
        bus.publish(tagged(tag)).await.ok()
    })
    .await;
    tag.to_owned()
}

#[tokio::test]
async fn on_redis_a_killed_subscription_comes_back_and_says_so() {
    let Some(redis) = Env::redis_exclusive().await else {
        return;
    };
    let a = redis.bus(RedisBusOptions::default()).await;
    let b = redis.bus(RedisBusOptions::default()).await;
    let near = Recorder::new();
    let far = Recorder::new();
    a.subscribe(near.clone());
    b.subscribe(far.clone());
    a.publish(tagged("before")).await.expect("publishes");
    far.wait_for_tag("before").await;
    assert_eq!((near.interruptions(), far.interruptions()), (0, 0));

    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut redis.connection().await)
        .await
        .expect("kills subscriptions");
    assert!(
        killed >= 2,
        "killed {killed} subscriptions, expected both nodes'"
    );

    near.wait_until("a's interruption", |r| r.interruptions() >= 1)
        .await;
    far.wait_until("b's interruption", |r| r.interruptions() >= 1)
        .await;
    a.publish(tagged("after")).await.expect("publishes");
    b.publish(tagged("back")).await.expect("publishes");
    far.wait_for_tag("after").await;
    near.wait_for_tag("back").await;
    assert_eq!((near.interruptions(), far.interruptions()), (1, 1));
}

/// Pings keep a quiet subscription checked; their answers must not read as a
/// lost connection.
#[tokio::test]
async fn on_redis_pinging_a_quiet_subscription_does_not_interrupt_it() {
    let Some(redis) = Env::redis_exclusive().await else {
        return;
    };
    let a = redis.bus(RedisBusOptions::default()).await;
    let b = redis
        .bus(RedisBusOptions {
            ping_interval: std::time::Duration::from_millis(20),
            ..RedisBusOptions::default()
        })
        .await;
    let far = Recorder::new();
    b.subscribe(far.clone());
    let mut connection = redis.connection().await;
    let mut subscriptions = async || -> Vec<String> {
        let clients: String = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("TYPE")
            .arg("pubsub")
            .query_async(&mut connection)
            .await
            .expect("lists clients");
        clients.lines().map(str::to_owned).collect()
    };
    let id = |line: &String| line.split(' ').next().unwrap_or_default().to_owned();
    let before: Vec<String> = subscriptions().await.iter().map(id).collect();
    // The one wait on a clock: that nothing happens (no reconnection) can only
    // be seen over time; ten ping periods are enough for a wrong reading of
    // the answer to have shown.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = subscriptions().await;
    // Alone among the bus tests, so the pubsub clients are a's and b's.
    assert!(
        after.iter().any(|l| l.contains("cmd=ping")),
        "b pinged: {after:?}"
    );
    assert_eq!(
        after.iter().map(id).collect::<Vec<_>>(),
        before,
        "no reconnection"
    );
    a.publish(tagged("still there")).await.expect("publishes");
    far.wait_for_tag("still there").await;
    assert_eq!(far.interruptions(), 0);
}

#[tokio::test]
async fn on_redis_shutdown_sends_what_is_queued_then_refuses() {
    let Some(env) = Env::new(Backend::Redis).await else {
        return;
    };
    let redis = env.redis().expect("a redis env");
    let a = redis.bus(RedisBusOptions::default()).await;
    let b = redis.bus(RedisBusOptions::default()).await;
    let far = Recorder::new();
    b.subscribe(far.clone());
    // Published and shut down without yielding: the message is still queued.
    a.publish(tagged("last")).await.expect("publishes");
    a.shutdown().await;
    far.wait_for_tag("last").await;
    assert!(matches!(
        a.publish(tagged("too late")).await,
        Err(BusError::Unavailable(_))
    ));
}

#[tokio::test]
async fn connecting_to_an_unreachable_redis_names_it_without_the_password() {
    // Port 1 on loopback refuses at once; no Redis is needed.
    let url = "redis://:secret@127.0.0.1:1";
    let shown = "redis://:***@127.0.0.1:1";
    let bus = RedisBus::connect(url, "t:", NodeId::random()).await;
    let presence = RedisPresence::connect(url, "t:", NodeId::random()).await;
    for error in [bus.err(), presence.err()] {
        let error = error.expect("fails to connect");
        assert!(
            matches!(&error, BusError::Connect { url, .. } if url == shown),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains(shown) && !text.contains("secret"), "{text}");
    }
}

#[tokio::test]
async fn in_process_publish_with_no_handler_is_fine() {
    let Some(env) = Env::new(Backend::InProcess).await else {
        return;
    };
    let nodes = env.buses(1).await;
    nodes[0].publish(tagged("nobody")).await.expect("publishes");
    let recorder = Recorder::new();
    nodes[0].subscribe(recorder.clone());
    nodes[0]
        .publish(tagged("somebody"))
        .await
        .expect("publishes");
    assert_eq!(recorder.tags(), ["somebody"]);
}
