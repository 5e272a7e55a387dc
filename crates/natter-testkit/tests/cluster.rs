//! The scale-out mode (RELIABILITY.md R1 on a cluster): three
//! `natter-test-server` processes on one PostgreSQL database and one Redis,
//! behind a balancer. Users on different nodes chat, see each other's
//! presence and typing; a node killed with SIGKILL mid-load and a Redis
//! restarted mid-load lose nothing acknowledged, duplicate nothing, and every
//! client catches up.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natter_client::{Client, Connection, ConnectionEvent, Session};
use natter_protocol::conversations::{MessageContent, SendMessageRequest};
use natter_protocol::ws::Event;
use natter_protocol::{ClientMsgId, ConversationId, UserId};
use natter_testkit::workload::{Ack, Verdict, send_all, verify};
use natter_testkit::{ClusterOptions, TestCluster, befriend, register};
use tokio::sync::watch;

const SERVER: &str = env!("CARGO_BIN_EXE_natter-test-server");

/// Long enough for a node's death to be noticed (lease 3 s, sweep each 1 s)
/// on a loaded machine; events normally arrive in milliseconds.
const PATIENCE: Duration = Duration::from_secs(30);

async fn cluster() -> anyhow::Result<Option<TestCluster>> {
    TestCluster::start(Path::new(SERVER), ClusterOptions::default()).await
}

/// Waits for the first event `pick` accepts, skipping others.
async fn expect<T>(
    connection: &Connection,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        anyhow::ensure!(!left.is_zero(), "no {what} within {PATIENCE:?}");
        match connection.next_event_timeout(left).await? {
            Some(ConnectionEvent::Event(event)) => {
                if let Some(found) = pick(&event) {
                    return Ok(found);
                }
            }
            Some(_) => {}
            None => anyhow::bail!("the connection ended before {what}"),
        }
    }
}

fn text(id: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_msg_id: ClientMsgId(id.into()),
        content: MessageContent::Text { text: id.into() },
        reply_to: None,
    }
}

fn presence_of(user: UserId, online: bool) -> impl FnMut(&Event) -> Option<()> {
    move |event| match event {
        Event::Presence {
            user_id, online: o, ..
        } if *user_id == user && *o == online => Some(()),
        _ => None,
    }
}

fn message_with(id: &'static str) -> impl FnMut(&Event) -> Option<()> {
    move |event| match event {
        Event::Message { message } if message.client_msg_id.as_ref().is_some_and(|c| c.0 == id) => {
            Some(())
        }
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_on_different_nodes_chat_and_see_presence_and_typing() -> anyhow::Result<()> {
    let Some(mut cluster) = cluster().await? else {
        return Ok(());
    };
    let on = |node: usize| Client::new(&cluster.node_url(node));
    let alice = register(&on(0)?, "alice").await?;
    let bob = register(&on(1)?, "bob").await?;
    let carol = register(&on(2)?, "carol").await?;
    let direct = befriend(&alice, &bob).await?;
    befriend(&alice, &carol).await?;
    befriend(&bob, &carol).await?;

    let alice_live = alice.connect().await?;
    let bob_live = bob.connect().await?;
    // Bob's node announced him; Alice's node delivered it.
    expect(&alice_live, "bob online", presence_of(bob.user().id, true)).await?;
    let carol_live = carol.connect().await?;
    expect(
        &alice_live,
        "carol online",
        presence_of(carol.user().id, true),
    )
    .await?;

    alice.send_message(direct, &text("hello bob")).await?;
    expect(&bob_live, "alice's message", message_with("hello bob")).await?;

    let group = alice
        .create_group("three nodes", &[bob.user().id, carol.user().id])
        .await?
        .id;
    carol.send_message(group, &text("hi from node 2")).await?;
    expect(
        &alice_live,
        "carol's message",
        message_with("hi from node 2"),
    )
    .await?;
    expect(&bob_live, "carol's message", message_with("hi from node 2")).await?;

    bob_live.typing(direct).await?;
    let bob_id = bob.user().id;
    expect(&alice_live, "bob typing", |event| match event {
        Event::Typing {
            conversation_id,
            user_id,
        } if *conversation_id == direct && *user_id == bob_id => Some(()),
        _ => None,
    })
    .await?;

    // Carol's node dies: no goodbye reaches anyone, yet her lease lapses
    // and her friends on the other nodes learn she is offline.
    cluster.kill(2)?;
    expect(
        &alice_live,
        "carol offline",
        presence_of(carol.user().id, false),
    )
    .await?;
    expect(
        &bob_live,
        "carol offline",
        presence_of(carol.user().id, false),
    )
    .await?;
    drop(carol_live);
    Ok(())
}

/// Messages of `conversations` each live connection saw, by client message id.
type Seen = Arc<Mutex<HashSet<(ConversationId, String)>>>;

/// Collects what a connection receives until told to stop.
fn watch_messages(
    connection: Connection,
    mut stop: watch::Receiver<bool>,
) -> (Seen, tokio::task::JoinHandle<()>) {
    let seen: Seen = Arc::default();
    let into = seen.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                event = connection.next_event() => match event {
                    Some(ConnectionEvent::Event(Event::Message { message })) => {
                        if let Some(id) = message.client_msg_id
                            && let Ok(mut seen) = into.lock()
                        {
                            seen.insert((message.conversation_id, id.0));
                        }
                    }
                    Some(_) => {}
                    None => return,
                },
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    });
    (seen, task)
}

/// The load of R1 through the balancer while `fault` strikes once, then the
/// check: nothing acknowledged lost or duplicated, timelines gap-free and the
/// same for every member, and every live connection saw every message of its
/// conversations (live, or fetched to fill the gap after a reconnect).
async fn survives(
    cluster: &mut TestCluster,
    fault: impl FnOnce(&mut TestCluster) -> anyhow::Result<()>,
) -> anyhow::Result<Verdict> {
    const PER_SENDER: usize = 150;
    let client = Client::new(&cluster.url())?;
    let (a, b, c) = (
        register(&client, "a").await?,
        register(&client, "b").await?,
        register(&client, "c").await?,
    );
    let direct = befriend(&a, &b).await?;
    befriend(&a, &c).await?;
    let group = a
        .create_group("cluster load", &[b.user().id, c.user().id])
        .await?
        .id;

    let (stop, stopping) = watch::channel(false);
    let mut watchers = Vec::new();
    for (session, conversations) in [
        (&a, vec![direct, group]),
        (&b, vec![direct, group]),
        (&c, vec![group]),
    ] {
        let (seen, task) = watch_messages(session.connect().await?, stopping.clone());
        watchers.push((seen, task, conversations));
    }

    let acks = Arc::new(Mutex::new(Vec::new()));
    let (progress, mut watch_progress) = watch::channel(0usize);
    let workload: [(Session, &'static str, Vec<ConversationId>); 3] = [
        (a.clone(), "a", vec![group, direct]),
        (b.clone(), "b", vec![direct, group]),
        (c.clone(), "c", vec![group]),
    ];
    let mut senders = Vec::new();
    for (session, name, conversations) in workload {
        senders.push(tokio::spawn(send_all(
            session,
            name,
            conversations,
            PER_SENDER,
            acks.clone(),
            progress.clone(),
        )));
    }
    let total = 3 * PER_SENDER;
    watch_progress.wait_for(|&n| n >= total / 3).await?;
    fault(cluster)?;
    let mut retries = 0;
    for task in senders {
        retries += task.await??;
    }

    let acked: Vec<Ack> = acks
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .clone();
    anyhow::ensure!(
        acked.len() == total,
        "{} of {total} acknowledged",
        acked.len()
    );
    let conversations = [(direct, vec![&a, &b]), (group, vec![&a, &b, &c])];
    let (verdict, stored) = verify(&conversations, &acked, total).await?;

    // Every client catches up: each live connection ends up with every text
    // message of its conversations.
    for (seen, _, conversations) in &watchers {
        let expected: HashSet<(ConversationId, String)> = conversations
            .iter()
            .flat_map(|c| stored[c].iter())
            .filter_map(|m| Some((m.conversation_id, m.client_msg_id.as_ref()?.0.clone())))
            .collect();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let missing = {
                let seen = seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                expected.difference(&seen).count()
            };
            if missing == 0 {
                break;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "a client is still missing {missing} messages"
            );
            // Catching up is many events; polling the shared set is simplest.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stop.send_replace(true);
    for (_, task, _) in watchers {
        task.await?;
    }
    println!(
        "cluster R1: lost {} duplicated {} unexpected {} of {total}; client retries {retries}",
        verdict.lost, verdict.duplicated, verdict.unexpected
    );
    Ok(verdict)
}

const CLEAN: Verdict = Verdict {
    lost: 0,
    duplicated: 0,
    unexpected: 0,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_load_loses_nothing_and_its_clients_move_on() -> anyhow::Result<()> {
    let Some(mut cluster) = cluster().await? else {
        return Ok(());
    };
    let verdict = survives(&mut cluster, |cluster| cluster.kill(1)).await?;
    assert_eq!(verdict, CLEAN);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_load_loses_nothing_and_everyone_catches_up() -> anyhow::Result<()> {
    let Some(mut cluster) = cluster().await? else {
        return Ok(());
    };
    let verdict = survives(&mut cluster, TestCluster::restart_redis).await?;
    assert_eq!(verdict, CLEAN);
    Ok(())
}

/// The reconnect storm (RELIABILITY.md L2) on a cluster: clients spread over
/// three nodes; one node dies with SIGKILL, and every client it held comes
/// back through the balancer at the same instant (no jitter), each
/// authenticating and syncing on a surviving node. All are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_of_a_dead_node_reconnecting_at_once_are_all_served() -> anyhow::Result<()> {
    const USERS: usize = 30;
    let options = ClusterOptions {
        // 30 users stand for many (each login costs a password hash).
        max_connections_per_user: Some(5_000),
        ..ClusterOptions::default()
    };
    let Some(mut cluster) = TestCluster::start(Path::new(SERVER), options).await? else {
        return Ok(());
    };
    // A client's socket, and the balancer's two ends once it reconnects.
    let clients = natter_testkit::storm::clients_that_fit(1_500, 3);
    let client = Client::new(&cluster.url())?;
    let mut tokens = Vec::new();
    for i in 0..USERS {
        tokens.push(
            register(&client, &format!("storm{i}"))
                .await?
                .token()
                .to_owned(),
        );
    }
    let ws = |http: String| {
        format!(
            "{}{}",
            http.replacen("http://", "ws://", 1),
            natter_protocol::ws::WS_PATH
        )
    };

    // Everyone online, each on a node of their own (i mod 3).
    let mut first = Vec::new();
    for i in 0..clients {
        let (url, token) = (ws(cluster.node_url(i % 3)), tokens[i % USERS].clone());
        first.push(tokio::spawn(async move {
            natter_testkit::storm::connect_and_sync(&url, &token, Default::default()).await
        }));
    }
    let mut on_dead_node = Vec::new();
    for (i, task) in first.into_iter().enumerate() {
        let (socket, _) = task.await??;
        if i % 3 == 0 {
            on_dead_node.push((i, socket));
        }
    }

    cluster.kill(0)?;
    for (_, socket) in &mut on_dead_node {
        natter_testkit::storm::until_closed(socket).await;
    }
    let front_door = ws(cluster.url());
    let storm: Vec<(String, String)> = on_dead_node
        .iter()
        .map(|(i, _)| (front_door.clone(), tokens[i % USERS].clone()))
        .collect();
    drop(on_dead_node);
    let report = natter_testkit::storm::storm(storm).await?;
    eprintln!("reconnect storm after a node died: {}", report.summary());
    Ok(())
}
