use natter_protocol::conversations::{HistoryQuery, MessageContent, SendMessageRequest};
use natter_protocol::sync::UserChange;
use natter_protocol::ws::Event;
use natter_protocol::{ClientMsgId, ErrorCode, Seq};
use natter_testkit::TestServer;

use crate::{assert_code, wait_for};

fn text(id: &str, body: &str) -> SendMessageRequest {
    SendMessageRequest {
        client_msg_id: ClientMsgId(id.into()),
        content: MessageContent::Text { text: body.into() },
        reply_to: None,
    }
}

#[tokio::test]
async fn a_message_reaches_every_online_device_of_both_people() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let alice_laptop = server.login(&alice.user().username, "laptop").await?;

    let alice_phone_live = alice.connect().await?;
    let alice_laptop_live = alice_laptop.connect().await?;
    let bob_live = bob.connect().await?;

    let sent = alice_phone_live
        .send_text(conversation, "你好 Bob 👋🎉")
        .await?;
    assert_eq!(sent.seq, Seq(1));
    assert!(sent.sent_at.0 > 0);
    for live in [&bob_live, &alice_laptop_live] {
        let got = wait_for(live, |event| match event {
            Event::Message { message } if message.conversation_id == conversation => {
                Some(message.clone())
            }
            _ => None,
        })
        .await;
        assert_eq!(got, sent);
    }
    // And bob answers over HTTP; alice's socket hears it.
    let reply = bob.send_text(conversation, "hi!").await?;
    assert_eq!(reply.seq, Seq(2));
    let got = wait_for(&alice_phone_live, |event| match event {
        Event::Message { message } if message.seq == Seq(2) => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got.content, MessageContent::Text { text: "hi!".into() });
    Ok(())
}

#[tokio::test]
async fn the_same_client_message_id_three_times_makes_one_message() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let live = alice.connect().await?;

    let first = alice
        .send_message(conversation, &text("dup-1", "once"))
        .await?;
    let second = live.send(conversation, text("dup-1", "once")).await?;
    let third = alice
        .send_message(conversation, &text("dup-1", "once, really"))
        .await?;
    assert_eq!(first, second);
    assert_eq!(
        first, third,
        "a resend returns the original, even with other content"
    );
    let page = bob.history(conversation, &HistoryQuery::default()).await?;
    assert_eq!(page.messages.len(), 1);
    // Another sender may use the same id: ids are per sender.
    let bobs = bob
        .send_message(conversation, &text("dup-1", "mine"))
        .await?;
    assert_eq!(bobs.seq, Seq(2));
    Ok(())
}

#[tokio::test]
async fn history_pages_backwards_and_forwards_by_seq() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    for i in 1..=130 {
        alice
            .send_text(conversation, &format!("message {i}"))
            .await?;
    }
    let seqs = |page: &natter_protocol::conversations::MessagePage| {
        page.messages.iter().map(|m| m.seq.0).collect::<Vec<_>>()
    };

    let newest = bob.history(conversation, &HistoryQuery::default()).await?;
    assert_eq!(seqs(&newest), (81..=130).collect::<Vec<_>>());
    assert!(newest.has_more);
    let older = bob
        .history(
            conversation,
            &HistoryQuery {
                before: Some(Seq(81)),
                after: None,
                limit: Some(100),
            },
        )
        .await?;
    assert_eq!(seqs(&older), (1..=80).collect::<Vec<_>>());
    assert!(!older.has_more);
    let forward = bob
        .history(
            conversation,
            &HistoryQuery {
                before: None,
                after: Some(Seq(10)),
                limit: Some(5),
            },
        )
        .await?;
    assert_eq!(seqs(&forward), vec![11, 12, 13, 14, 15]);
    assert!(forward.has_more);
    let capped = bob
        .history(
            conversation,
            &HistoryQuery {
                before: None,
                after: Some(Seq(0)),
                limit: Some(1000),
            },
        )
        .await?;
    assert_eq!(capped.messages.len(), 100, "at most 100 per page");
    let tail = bob
        .history(
            conversation,
            &HistoryQuery {
                before: None,
                after: Some(Seq(130)),
                limit: None,
            },
        )
        .await?;
    assert!(tail.messages.is_empty() && !tail.has_more);
    Ok(())
}

#[tokio::test]
async fn text_limits_and_kinds_are_enforced() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;

    // 5461 three-byte characters and one byte more: exactly 16 KiB.
    let at_limit = "字".repeat(16 * 1024 / 3) + "a";
    assert_eq!(at_limit.len(), 16 * 1024);
    alice.send_text(conversation, &at_limit).await?;
    assert_code(
        alice
            .send_text(conversation, &(at_limit.clone() + "a"))
            .await,
        ErrorCode::TooLarge,
    );
    assert_code(
        alice.send_text(conversation, "   ").await,
        ErrorCode::InvalidRequest,
    );
    let sticker = SendMessageRequest {
        client_msg_id: ClientMsgId("s1".into()),
        content: MessageContent::Sticker {
            pack: "p".into(),
            sticker: "s".into(),
        },
        reply_to: None,
    };
    assert_code(
        alice.send_message(conversation, &sticker).await,
        ErrorCode::UnsupportedKind,
    );
    let mut bad_id = text("", "x");
    assert_code(
        alice.send_message(conversation, &bad_id).await,
        ErrorCode::InvalidRequest,
    );
    bad_id.client_msg_id = ClientMsgId("x".repeat(65));
    assert_code(
        alice.send_message(conversation, &bad_id).await,
        ErrorCode::InvalidRequest,
    );
    let mut reply = text("r1", "answer");
    reply.reply_to = Some(Seq(99));
    assert_code(
        alice.send_message(conversation, &reply).await,
        ErrorCode::InvalidRequest,
    );
    reply.reply_to = Some(Seq(1));
    assert_eq!(
        alice.send_message(conversation, &reply).await?.reply_to,
        Some(Seq(1))
    );
    // Only the accepted messages were stored.
    assert_eq!(
        bob.history(conversation, &HistoryQuery::default())
            .await?
            .messages
            .len(),
        2
    );
    Ok(())
}

#[tokio::test]
async fn read_receipts_reach_the_sender_and_the_readers_other_devices() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let bob_tablet = server.login(&bob.user().username, "tablet").await?;
    let alice_live = alice.connect().await?;
    let bob_tablet_live = bob_tablet.connect().await?;

    for i in 0..3 {
        alice.send_text(conversation, &format!("m{i}")).await?;
    }
    let summary = bob.conversation(conversation).await?;
    assert_eq!((summary.unread, summary.last_seq), (3, Seq(3)));
    assert_eq!(
        alice.conversation(conversation).await?.unread,
        0,
        "sending counts as reading"
    );

    let position = bob.mark_read(conversation, Seq(2)).await?;
    assert_eq!((position.read_seq, position.unread), (Seq(2), 1));
    let read = wait_for(&alice_live, |event| match event {
        Event::Read {
            user_id, read_seq, ..
        } if *user_id == bob.user().id => Some(*read_seq),
        _ => None,
    })
    .await;
    assert_eq!(read, Seq(2));
    let own = wait_for(&bob_tablet_live, |event| match event {
        Event::User { event } => match &event.change {
            UserChange::ReadPosition { read_seq, .. } => Some(*read_seq),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(own, Seq(2));
    // Never backwards, never past the end.
    assert_eq!(bob.mark_read(conversation, Seq(1)).await?.read_seq, Seq(2));
    assert_eq!(
        bob.mark_read(conversation, Seq(500)).await?.read_seq,
        Seq(3)
    );
    assert_eq!(bob.conversation(conversation).await?.unread, 0);
    let members = alice.members(conversation).await?.members;
    assert!(
        members
            .iter()
            .any(|m| m.user.id == bob.user().id && m.read_seq == Seq(3))
    );
    Ok(())
}

#[tokio::test]
async fn typing_is_shown_to_the_other_member() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let alice_live = alice.connect().await?;
    let bob_live = bob.connect().await?;
    alice_live.typing(conversation).await?;
    let who = wait_for(&bob_live, |event| match event {
        Event::Typing {
            conversation_id,
            user_id,
        } if *conversation_id == conversation => Some(*user_id),
        _ => None,
    })
    .await;
    assert_eq!(who, alice.user().id);
    Ok(())
}

#[tokio::test]
async fn presence_goes_online_and_offline_for_friends() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    server.befriend(&alice, &bob).await?;
    let alice_live = alice.connect().await?;
    let bob_live = bob.connect().await?;
    let online = wait_for(&alice_live, |event| match event {
        Event::Presence {
            user_id, online, ..
        } if *user_id == bob.user().id => Some(*online),
        _ => None,
    })
    .await;
    assert!(online);
    bob_live.close().await;
    let (online, last_seen) = wait_for(&alice_live, |event| match event {
        Event::Presence {
            user_id,
            online,
            last_seen_at,
        } if *user_id == bob.user().id => Some((*online, *last_seen_at)),
        _ => None,
    })
    .await;
    assert!(!online);
    assert!(last_seen.is_some());
    let friends = alice.friends().await?.friends;
    assert!(!friends[0].online && friends[0].last_seen_at.is_some());
    Ok(())
}

#[tokio::test]
async fn a_new_display_name_reaches_friends_at_once_and_no_one_else() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let stranger = server.user("stranger").await?;
    let dave = server.user("dave").await?;
    server.befriend(&alice, &bob).await?;
    server.befriend(&dave, &stranger).await?;
    let bob_live = bob.connect().await?;
    let stranger_live = stranger.connect().await?;

    alice.update_me("Alice Liddell").await?;
    let shown = wait_for(&bob_live, |event| match event {
        Event::Profile { user } if user.id == alice.user().id => Some(user.display_name.clone()),
        _ => None,
    })
    .await;
    assert_eq!(shown, "Alice Liddell");

    // Events reach one connection in order: by the time dave's message
    // arrives, a profile event for the stranger would have come first.
    let chat = dave.open_direct(stranger.user().id).await?.id;
    dave.send_text(chat, "after the rename").await?;
    let before_message = wait_for(&stranger_live, |event| match event {
        Event::Profile { user } => Some(Err(user.id)),
        Event::Message { message } if message.conversation_id == chat => Some(Ok(())),
        _ => None,
    })
    .await;
    assert_eq!(
        before_message,
        Ok(()),
        "a stranger was told of alice's new name"
    );
    Ok(())
}

#[tokio::test]
async fn in_a_group_a_read_receipt_reaches_the_authors_of_what_was_read() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let author = server.user("author").await?;
    let reader = server.user("reader").await?;
    let bystander = server.user("bystander").await?;
    server.befriend(&author, &reader).await?;
    server.befriend(&author, &bystander).await?;
    let group = author
        .create_group("g", &[reader.user().id, bystander.user().id])
        .await?
        .id;
    let author_live = author.connect().await?;
    let bystander_live = bystander.connect().await?;
    let sent = author.send_text(group, "please read").await?;
    reader.mark_read(group, sent.seq).await?;
    let read = wait_for(&author_live, |event| match event {
        Event::Read {
            user_id, read_seq, ..
        } if *user_id == reader.user().id => Some(*read_seq),
        _ => None,
    })
    .await;
    assert_eq!(read, sent.seq);
    // The bystander wrote nothing that was read: the next thing it hears is the marker.
    let marker = author.send_text(group, "marker").await?;
    let first = wait_for(&bystander_live, |event| match event {
        Event::Read { .. } => Some(None),
        Event::Message { message } if message.seq == marker.seq => Some(Some(message.seq)),
        _ => None,
    })
    .await;
    assert_eq!(first, Some(marker.seq));
    Ok(())
}

#[tokio::test]
async fn typing_frames_are_throttled_per_connection() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let conversation = server.befriend(&alice, &bob).await?;
    let alice_live = alice.connect().await?;
    let bob_live = bob.connect().await?;
    for _ in 0..8 {
        alice_live.typing(conversation).await?;
    }
    let marker = alice.send_text(conversation, "marker").await?;
    let mut typing = 0;
    loop {
        match bob_live.next_event_timeout(crate::WAIT).await? {
            Some(natter_client::ConnectionEvent::Event(Event::Typing { .. })) => typing += 1,
            Some(natter_client::ConnectionEvent::Event(Event::Message { message }))
                if message.seq == marker.seq =>
            {
                break;
            }
            Some(_) => {}
            None => anyhow::bail!("ended"),
        }
    }
    assert_eq!(
        typing, 3,
        "of eight typing frames in a burst, the first three pass"
    );
    Ok(())
}

/// A burst of sends from many sockets at once (on PostgreSQL they share
/// transactions): every send is stored once with a gap-free seq, a retry in
/// the same burst gets the original, a refused send takes nothing of the
/// others with it, and a member online hears every message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sends_is_stored_gap_free_and_a_refused_send_takes_nothing_with_it()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let erin = server.user("erin").await?;
    let carol = server.user("carol").await?;
    let direct = server.befriend(&alice, &bob).await?;
    server.befriend(&alice, &erin).await?;
    let group = alice
        .create_group("burst", &[bob.user().id, erin.user().id])
        .await?
        .id;
    let listener = erin.connect().await?;
    let mut sockets = Vec::new();
    for (session, device) in [(&alice, "a"), (&bob, "b")] {
        for n in 0..4 {
            let login = server
                .login(&session.user().username, &format!("{device}{n}"))
                .await?;
            sockets.push(std::sync::Arc::new(login.connect().await?));
        }
    }
    let outsider = std::sync::Arc::new(carol.connect().await?);

    const SENDS: usize = 80;
    let mut tasks = Vec::new();
    for i in 0..SENDS {
        let socket = sockets[i % sockets.len()].clone();
        // Every 8th send repeats the id its socket used 8 sends earlier.
        let id = if i >= 8 && i % 8 == 3 {
            format!("burst-{}", i - 8)
        } else {
            format!("burst-{i}")
        };
        let into = if i % 10 == 9 { direct } else { group };
        tasks.push(tokio::spawn(async move {
            let answer = socket.send(into, text(&id, &id)).await;
            (i, id, into, answer)
        }));
        if i % 16 == 0 {
            let outsider = outsider.clone();
            tasks.push(tokio::spawn(async move {
                let answer = outsider
                    .send(group, text(&format!("intruder-{i}"), "let me in"))
                    .await;
                (usize::MAX, String::new(), group, answer)
            }));
        }
    }
    let mut seq_of_id = std::collections::HashMap::new();
    let mut refused = 0;
    for task in tasks {
        let (i, id, into, answer) = task.await?;
        if i == usize::MAX {
            assert_code(answer, ErrorCode::NotFound);
            refused += 1;
            continue;
        }
        let message = answer?;
        assert_eq!(message.conversation_id, into);
        let seq = *seq_of_id.entry((into, id.clone())).or_insert(message.seq);
        assert_eq!(seq, message.seq, "a retry of {id} got the original");
    }
    assert_eq!(refused, SENDS.div_ceil(16));

    let mut wanted = 0;
    for conversation in [group, direct] {
        let distinct = seq_of_id.keys().filter(|(c, _)| *c == conversation).count();
        let page = HistoryQuery {
            limit: Some(100),
            ..HistoryQuery::default()
        };
        let history = alice.history(conversation, &page).await?.messages;
        // Gap-free (a group starts with the system messages of its creation).
        let seqs: Vec<i64> = history.iter().map(|m| m.seq.0).collect();
        let expected: Vec<i64> = (1..=i64::try_from(history.len())?).collect();
        assert_eq!(seqs, expected, "no gap");
        let burst: Vec<Seq> = history
            .iter()
            .filter(|m| {
                m.client_msg_id
                    .as_ref()
                    .is_some_and(|id| id.0.starts_with("burst-"))
            })
            .map(|m| m.seq)
            .collect();
        assert_eq!(burst.len(), distinct, "one message per distinct id");
        assert!(
            history.iter().all(|m| m.sender_id != carol.user().id),
            "nothing of the outsider's was stored"
        );
        if conversation == group {
            wanted = distinct;
        }
    }
    // Erin hears every group message (retries may be heard twice).
    let mut heard = std::collections::BTreeSet::new();
    while heard.len() < wanted {
        let seq = wait_for(&listener, |event| match event {
            Event::Message { message } if message.conversation_id == group => Some(message.seq),
            _ => None,
        })
        .await;
        heard.insert(seq.0);
    }
    assert_eq!(heard.len(), wanted);
    Ok(())
}
