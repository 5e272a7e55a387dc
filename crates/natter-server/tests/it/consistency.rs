//! RELIABILITY.md O4, in the style of Zulip's `verify_action`: for each kind
//! of change, a device that applies what `sync` returns after its cursor ends
//! with exactly the state a fresh load shows. A change that produced no event
//! (or the wrong one) would leave that device wrong forever.

use std::collections::{BTreeMap, BTreeSet};

use natter_client::Session;
use natter_protocol::contacts::{FriendRequestOutcome, FriendRequestStatus};
use natter_protocol::conversations::{ConversationSummary, UpdateGroupRequest};
use natter_protocol::sync::{SyncResponse, UserChange};
use natter_protocol::{FriendRequestId, Seq, SyncCursor};
use natter_testkit::TestServer;

/// What a device shows: conversations, friends (with remarks), pending
/// requests, blocks and the user's own name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct View {
    conversations: BTreeMap<i64, ConversationSummary>,
    friends: BTreeMap<i64, Option<String>>,
    incoming: BTreeSet<i64>,
    outgoing: BTreeSet<i64>,
    blocks: BTreeSet<i64>,
    display_name: String,
}

impl View {
    /// Everything loaded from scratch.
    async fn load(session: &Session) -> anyhow::Result<View> {
        let requests = session.friend_requests().await?;
        let pending = |list: &[natter_protocol::contacts::FriendRequest]| {
            list.iter()
                .filter(|r| r.status == FriendRequestStatus::Pending)
                .map(|r| r.id.0)
                .collect()
        };
        Ok(View {
            conversations: session
                .conversations()
                .await?
                .conversations
                .into_iter()
                .map(|c| (c.id.0, c))
                .collect(),
            friends: session
                .friends()
                .await?
                .friends
                .into_iter()
                .map(|f| (f.user.id.0, f.remark))
                .collect(),
            incoming: pending(&requests.incoming),
            outgoing: pending(&requests.outgoing),
            blocks: session
                .blocks()
                .await?
                .users
                .iter()
                .map(|u| u.id.0)
                .collect(),
            display_name: session.me().await?.display_name,
        })
    }

    /// What a client does with a sync answer that is not a reset.
    fn apply(&mut self, me: i64, delta: SyncResponse) -> anyhow::Result<()> {
        anyhow::ensure!(!delta.reset, "a small change must not need a reset");
        for event in delta.events {
            match event.change {
                UserChange::FriendRequestReceived { request }
                | UserChange::FriendRequestUpdated { request } => {
                    let list = if request.to.id.0 == me {
                        &mut self.incoming
                    } else {
                        &mut self.outgoing
                    };
                    if request.status == FriendRequestStatus::Pending {
                        list.insert(request.id.0);
                    } else {
                        list.remove(&request.id.0);
                    }
                }
                UserChange::FriendAdded { friend } => {
                    self.friends.insert(friend.user.id.0, friend.remark);
                }
                UserChange::FriendRemoved { user_id } => {
                    self.friends.remove(&user_id.0);
                }
                UserChange::FriendUpdated { user_id, remark } => {
                    self.friends.insert(user_id.0, remark);
                }
                UserChange::BlockChanged { user_id, blocked } => {
                    if blocked {
                        self.blocks.insert(user_id.0);
                    } else {
                        self.blocks.remove(&user_id.0);
                    }
                }
                // Its summary comes with the conversations that changed.
                UserChange::ConversationJoined { .. } => {}
                UserChange::ConversationLeft {
                    conversation_id, ..
                } => {
                    self.conversations.remove(&conversation_id.0);
                }
                UserChange::ReadPosition {
                    conversation_id,
                    read_seq,
                } => {
                    if let Some(summary) = self.conversations.get_mut(&conversation_id.0) {
                        summary.read_seq = summary.read_seq.max(read_seq);
                        summary.unread = (summary.last_seq.0 - summary.read_seq.0).max(0) as u32;
                    }
                }
                UserChange::ProfileUpdated { display_name } => self.display_name = display_name,
            }
        }
        for summary in delta.conversations {
            self.conversations.insert(summary.id.0, summary);
        }
        Ok(())
    }
}

/// Applies what changed since `cursor` and compares with a fresh load.
async fn verify(
    what: &str,
    device: &Session,
    view: &mut View,
    cursor: &mut SyncCursor,
) -> anyhow::Result<()> {
    let delta = device.sync(*cursor).await?;
    *cursor = delta.cursor;
    view.apply(device.user().id.0, delta)?;
    let fresh = View::load(device).await?;
    assert_eq!(
        *view, fresh,
        "after {what}, the synced view differs from a fresh load"
    );
    Ok(())
}

fn pending(outcome: FriendRequestOutcome) -> anyhow::Result<FriendRequestId> {
    match outcome {
        FriendRequestOutcome::Pending { request } => Ok(request.id),
        other => anyhow::bail!("expected a pending request, got {other:?}"),
    }
}

#[tokio::test]
async fn applying_each_sync_delta_gives_the_state_a_fresh_load_shows() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let bob = server.user("bob").await?;
    let (alice, carol, dave, erin) = (
        server.user("alice").await?,
        server.user("carol").await?,
        server.user("dave").await?,
        server.user("erin").await?,
    );
    // Bob's phone acts; bob's laptop (`bob`) only syncs.
    let phone = server.login(&bob.user().username, "phone").await?;
    let mut view = View::load(&bob).await?;
    let mut cursor = bob.sync(SyncCursor(0)).await?.cursor;
    let (a, b, c, d, e) = (
        alice.user().id,
        bob.user().id,
        carol.user().id,
        dave.user().id,
        erin.user().id,
    );

    let request = pending(alice.send_friend_request(b, Some("hi")).await?)?;
    verify("a request arrives", &bob, &mut view, &mut cursor).await?;
    let direct = phone.accept_friend_request(request).await?.conversation_id;
    verify("the phone accepts it", &bob, &mut view, &mut cursor).await?;
    alice.send_text(direct, "hello bob").await?;
    verify("a message arrives", &bob, &mut view, &mut cursor).await?;
    phone.mark_read(direct, Seq(1)).await?;
    verify("the phone reads it", &bob, &mut view, &mut cursor).await?;
    phone.update_friend(a, Some("Ali")).await?;
    verify("the phone sets a remark", &bob, &mut view, &mut cursor).await?;

    let from_carol = pending(carol.send_friend_request(b, None).await?)?;
    verify("a second request", &bob, &mut view, &mut cursor).await?;
    phone.decline_friend_request(from_carol).await?;
    verify("the phone declines it", &bob, &mut view, &mut cursor).await?;
    let to_dave = pending(phone.send_friend_request(d, None).await?)?;
    verify("the phone asks dave", &bob, &mut view, &mut cursor).await?;
    dave.accept_friend_request(to_dave).await?;
    verify("dave accepts", &bob, &mut view, &mut cursor).await?;
    let to_erin = pending(phone.send_friend_request(e, None).await?)?;
    phone.cancel_friend_request(to_erin).await?;
    verify(
        "the phone asks erin, then cancels",
        &bob,
        &mut view,
        &mut cursor,
    )
    .await?;

    let group = alice.create_group("club", &[b]).await?.id;
    verify("alice adds bob to a group", &bob, &mut view, &mut cursor).await?;
    let rename = UpdateGroupRequest {
        name: Some("book club".into()),
        announcement: Some("Thursdays".into()),
    };
    alice.update_group(group, &rename).await?;
    alice.send_text(group, "welcome").await?;
    verify(
        "the group is renamed and spoken in",
        &bob,
        &mut view,
        &mut cursor,
    )
    .await?;
    phone.mark_read(group, Seq(3)).await?;
    verify("the phone reads the group", &bob, &mut view, &mut cursor).await?;
    alice.remove_member(group, b).await?;
    verify("alice removes bob", &bob, &mut view, &mut cursor).await?;

    phone.block(c).await?;
    verify("the phone blocks carol", &bob, &mut view, &mut cursor).await?;
    phone.unblock(c).await?;
    verify("the phone unblocks carol", &bob, &mut view, &mut cursor).await?;
    phone.update_me("Bobby").await?;
    verify("the phone renames bob", &bob, &mut view, &mut cursor).await?;
    dave.remove_friend(b).await?;
    verify("dave ends the friendship", &bob, &mut view, &mut cursor).await?;
    Ok(())
}
