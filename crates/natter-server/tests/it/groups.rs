use std::collections::HashMap;
use std::sync::Arc;

use natter_client::ConnectionEvent;
use natter_protocol::conversations::{
    HistoryQuery, Message, MessageContent, Role, SystemEvent, UpdateGroupRequest,
};
use natter_protocol::ws::Event;
use natter_protocol::{ErrorCode, Seq, UserId};
use natter_testkit::{TestServer, all_messages};

use crate::assert_code;

fn system_events(messages: &[Message]) -> Vec<SystemEvent> {
    messages
        .iter()
        .filter_map(|m| match &m.content {
            MessageContent::System { event } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn group_roles_decide_who_may_do_what_and_every_change_is_in_the_history()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let admin = server.user("admin").await?;
    let member = server.user("member").await?;
    let late = server.user("late").await?;
    let outsider = server.user("outsider").await?;
    for friend in [&admin, &member, &late] {
        server.befriend(&owner, friend).await?;
    }
    server.befriend(&member, &outsider).await?;

    // Only friends can be added.
    let refused = owner
        .create_group("Team 团队", &[admin.user().id, outsider.user().id])
        .await;
    assert_code(refused, ErrorCode::NotFriends);
    let group = owner
        .create_group("Team 团队", &[admin.user().id, member.user().id])
        .await?;
    assert_eq!((group.member_count, group.my_role), (3, Some(Role::Owner)));
    let g = group.id;

    assert_code(
        member.set_role(g, admin.user().id, Role::Admin).await,
        ErrorCode::Forbidden,
    );
    owner.set_role(g, admin.user().id, Role::Admin).await?;
    assert_code(
        owner.set_role(g, admin.user().id, Role::Owner).await,
        ErrorCode::InvalidRequest,
    );

    let rename = UpdateGroupRequest {
        name: Some("新名字".into()),
        announcement: None,
    };
    assert_code(member.update_group(g, &rename).await, ErrorCode::Forbidden);
    admin.update_group(g, &rename).await?;
    let announce = UpdateGroupRequest {
        name: None,
        announcement: Some("周五聚餐".into()),
    };
    owner.update_group(g, &announce).await?;
    let seen = member.conversation(g).await?;
    assert_eq!(
        (seen.name.as_str(), seen.announcement.as_deref()),
        ("新名字", Some("周五聚餐"))
    );

    // Any member may invite their own friends; strangers to them may not be added.
    assert_code(
        member.invite(g, &[late.user().id]).await,
        ErrorCode::NotFriends,
    );
    member.invite(g, &[outsider.user().id]).await?;
    assert_code(
        owner.invite(g, &[admin.user().id]).await,
        ErrorCode::AlreadyMember,
    );

    // Kicking: admins over members only; members never.
    assert_code(
        member.remove_member(g, outsider.user().id).await,
        ErrorCode::Forbidden,
    );
    assert_code(
        admin.remove_member(g, owner.user().id).await,
        ErrorCode::Forbidden,
    );
    admin.remove_member(g, outsider.user().id).await?;
    assert_code(
        outsider.history(g, &HistoryQuery::default()).await,
        ErrorCode::NotFound,
    );

    // Leaving: the owner hands over first.
    assert_code(
        owner.remove_member(g, owner.user().id).await,
        ErrorCode::OwnerMustTransfer,
    );
    assert_code(
        admin.transfer_ownership(g, member.user().id).await,
        ErrorCode::Forbidden,
    );
    owner.transfer_ownership(g, admin.user().id).await?;
    owner.remove_member(g, owner.user().id).await?;
    let members = member.members(g).await?.members;
    let roles: HashMap<UserId, Role> = members.iter().map(|m| (m.user.id, m.role)).collect();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[&admin.user().id], Role::Owner);
    assert_eq!(roles[&member.user().id], Role::Member);

    let (o, a, m, x) = (
        owner.user().id,
        admin.user().id,
        member.user().id,
        outsider.user().id,
    );
    let history = all_messages(&member, g).await?;
    assert_eq!(
        system_events(&history),
        vec![
            SystemEvent::GroupCreated {
                by: o,
                name: "Team 团队".into()
            },
            SystemEvent::MembersAdded {
                by: o,
                users: {
                    let mut v = vec![a, m];
                    v.sort();
                    v
                }
            },
            SystemEvent::RoleChanged {
                by: o,
                user: a,
                role: Role::Admin
            },
            SystemEvent::Renamed {
                by: a,
                name: "新名字".into()
            },
            SystemEvent::AnnouncementSet {
                by: o,
                text: "周五聚餐".into()
            },
            SystemEvent::MembersAdded {
                by: m,
                users: vec![x]
            },
            SystemEvent::MemberRemoved { by: a, user: x },
            SystemEvent::OwnershipTransferred { from: o, to: a },
            SystemEvent::MemberLeft { user: o },
        ]
    );
    let seqs: Vec<i64> = history.iter().map(|m| m.seq.0).collect();
    assert_eq!(
        seqs,
        (1..=history.len() as i64).collect::<Vec<_>>(),
        "gap-free"
    );
    Ok(())
}

#[tokio::test]
async fn groups_stop_at_their_member_limit() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.groups.max_members = 3).await?;
    let owner = server.user("owner").await?;
    let mut friends = Vec::new();
    for i in 0..4 {
        let friend = server.user(&format!("f{i}")).await?;
        server.befriend(&owner, &friend).await?;
        friends.push(friend.user().id);
    }
    assert_code(
        owner.create_group("big", &friends).await,
        ErrorCode::GroupFull,
    );
    let group = owner.create_group("small", &friends[..2]).await?;
    assert_code(
        owner.invite(group.id, &friends[2..3]).await,
        ErrorCode::GroupFull,
    );
    Ok(())
}

#[tokio::test]
async fn a_thousand_messages_from_several_senders_arrive_in_one_gap_free_order_for_everyone()
-> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let mut members = Vec::new();
    for i in 0..4 {
        let member = server.user(&format!("m{i}")).await?;
        server.befriend(&owner, &member).await?;
        members.push(member);
    }
    let ids: Vec<UserId> = members.iter().map(|m| m.user().id).collect();
    let group = owner.create_group("load", &ids).await?.id;
    let start_seq = owner.conversation(group).await?.last_seq;

    let mut senders = vec![owner.clone()];
    senders.extend(members.iter().take(3).cloned());
    let listeners = {
        let mut out = Vec::new();
        for member in &members {
            out.push(Arc::new(member.connect().await?));
        }
        out
    };
    let mut tasks = Vec::new();
    for (n, sender) in senders.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..250 {
                sender.send_text(group, &format!("{n}:{i}")).await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let total = 1000;
    let expected_last = Seq(start_seq.0 + total);

    // Live: every listener sees each seq once, ascending, up to the end.
    let mut live_orders = Vec::new();
    for listener in &listeners {
        let mut seen = Vec::new();
        let mut other = Vec::new();
        while seen.last().map(|m: &Message| m.seq) != Some(expected_last) {
            let next = listener
                .next_event_timeout(crate::WAIT)
                .await
                .map_err(|error| {
                    anyhow::anyhow!(
                        "{error} after {} messages (last {:?}) of {total}; other events: {other:?}",
                        seen.len(),
                        seen.last().map(|m| m.seq)
                    )
                })?;
            match next {
                Some(ConnectionEvent::Event(Event::Message { message }))
                    if message.conversation_id == group =>
                {
                    seen.push(message)
                }
                Some(event) => {
                    other.push(format!("{event:?}").chars().take(60).collect::<String>())
                }
                None => anyhow::bail!("connection ended"),
            }
        }
        let seqs: Vec<i64> = seen.iter().map(|m| m.seq.0).collect();
        assert_eq!(
            seqs,
            ((start_seq.0 + 1)..=expected_last.0).collect::<Vec<_>>()
        );
        live_orders.push(seen);
    }
    for order in &live_orders[1..] {
        assert_eq!(order, &live_orders[0], "every member sees the same order");
    }
    // Stored: the same for everyone, gap-free, and each sender's messages in its own order.
    let reference = all_messages(&owner, group).await?;
    for member in &members {
        assert_eq!(all_messages(member, group).await?, reference);
    }
    let texts: Vec<String> = reference
        .iter()
        .filter_map(|m| match &m.content {
            MessageContent::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(texts.len(), 1000);
    for n in 0..4 {
        let mine: Vec<&String> = texts
            .iter()
            .filter(|t| t.starts_with(&format!("{n}:")))
            .collect();
        let expected: Vec<String> = (0..250).map(|i| format!("{n}:{i}")).collect();
        assert_eq!(mine.into_iter().cloned().collect::<Vec<_>>(), expected);
    }
    Ok(())
}

#[tokio::test]
async fn lists_a_user_can_grow_come_in_bounded_pages() -> anyhow::Result<()> {
    use natter_protocol::conversations::PageQuery;
    let server = TestServer::start().await?;
    let owner = server.user("owner").await?;
    let mut friends = Vec::new();
    for i in 0..5 {
        let friend = server.user(&format!("friend{i}")).await?;
        server.befriend(&owner, &friend).await?;
        friends.push(friend);
    }
    let ids: Vec<_> = friends.iter().map(|f| f.user().id).collect();
    let group = owner.create_group("paged", &ids).await?;
    let two = |after: Option<String>| PageQuery {
        limit: Some(2),
        after,
    };
    // Friends: three pages of at most two, each friend once, in username order.
    let mut names = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = owner.friends_page(&two(after)).await?;
        assert!(page.friends.len() <= 2);
        names.extend(page.friends.iter().map(|f| f.user.username.clone()));
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // The same order as one big page: nothing skipped, nothing twice.
    let whole: Vec<_> = owner
        .friends_page(&PageQuery::default())
        .await?
        .friends
        .into_iter()
        .map(|f| f.user.username)
        .collect();
    assert_eq!(names, whole);
    assert_eq!(names.len(), 5);
    // Members: six in pages of two, owner first.
    let first = owner.members_page(group.id, &two(None)).await?;
    assert_eq!(first.members[0].user.id, owner.user().id);
    let mut members = first.members.len();
    let mut next = first.next;
    while let Some(after) = next {
        let page = owner.members_page(group.id, &two(Some(after))).await?;
        members += page.members.len();
        next = page.next;
    }
    assert_eq!(members, 6);
    // Conversations: six (five direct and the group), newest first.
    let page = owner.conversations_page(&two(None)).await?;
    assert_eq!(page.conversations[0].id, group.id);
    assert!(page.next.is_some());
    assert_eq!(owner.conversations().await?.conversations.len(), 6);
    // The SDK's whole-list calls follow the pages.
    assert_eq!(owner.friends().await?.friends.len(), 5);
    // A cursor the server did not make is refused.
    crate::assert_code(
        owner
            .members_page(group.id, &two(Some("not a cursor".into())))
            .await,
        natter_protocol::ErrorCode::InvalidRequest,
    );
    Ok(())
}

/// PROTOCOL.md §8.6: live events of one conversation can overtake each other
/// (each request publishes once its commit is done, and commits are batched).
/// With 50 members sending at once, the SDK waits for overtaken messages
/// instead of fetching history each time; the fetches are counted.
// Several worker threads, as `natter serve` has: on one thread the races that
// reorder publications cannot happen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_senders_at_once_reach_every_socket_in_order_without_a_fetch_storm()
-> anyhow::Result<()> {
    const SENDERS: usize = 50;
    const EACH: usize = 20;
    let server = TestServer::start().await?;
    let owner = server.user("host").await?;
    let mut members = Vec::new();
    for i in 0..SENDERS - 1 {
        let member = server.user(&format!("talker{i}")).await?;
        server.befriend(&owner, &member).await?;
        members.push(member);
    }
    let ids: Vec<_> = members.iter().map(|m| m.user().id).collect();
    let group = owner.create_group("all at once", &ids).await?;
    members.push(owner);
    let start = group.last_seq;
    let watchers: Vec<_> = {
        let mut watchers = Vec::new();
        for member in members.iter().take(4) {
            watchers.push(member.connect().await?);
        }
        watchers
    };
    let members = std::sync::Arc::new(members);
    let mut sending = Vec::new();
    for index in 0..SENDERS {
        let members = members.clone();
        sending.push(tokio::spawn(async move {
            for n in 0..EACH {
                members[index]
                    .send_text(group.id, &format!("{index}/{n}"))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for task in sending {
        task.await??;
    }
    let total = SENDERS * EACH;
    let mut fetches = Vec::new();
    for watcher in &watchers {
        let mut seqs = Vec::new();
        while seqs.len() < total {
            let seq = crate::wait_for(watcher, |event| match event {
                natter_protocol::ws::Event::Message { message }
                    if message.conversation_id == group.id =>
                {
                    Some(message.seq)
                }
                _ => None,
            })
            .await;
            seqs.push(seq.0);
        }
        let expected: Vec<i64> = (start.0 + 1..=start.0 + total as i64).collect();
        assert_eq!(seqs, expected, "every message once, in seq order");
        fetches.push(watcher.gap_fills());
    }
    eprintln!(
        "history fetches per socket for {total} messages from {SENDERS} senders: {fetches:?}"
    );
    // Without the window a fetch followed every overtaken arrival (65 to 115
    // per socket were measured). A few remain possible on a stalled machine.
    assert!(fetches.iter().all(|&f| f <= 5), "{fetches:?}");
    Ok(())
}
