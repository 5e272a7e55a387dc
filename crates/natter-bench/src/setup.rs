//! Creating the users, friendships and groups a scenario needs, over HTTP
//! through the SDK. Usernames carry a per-run prefix, so runs against the
//! same server never collide.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use natter_client::protocol::ConversationId;
use natter_client::protocol::accounts::{LoginRequest, RegisterRequest};
use natter_client::protocol::contacts::FriendRequestOutcome;
use natter_client::{Client, Session};

use crate::error::BenchError;

/// The password of every bench user.
pub const PASSWORD: &str = "natter bench password";

/// Requests in flight during setup. Registration and login hash passwords,
/// which the server bounds itself; more than this only queues.
const SETUP_CONCURRENCY: usize = 8;

/// A prefix unique to this run: `b` plus 6 hex digits.
pub fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64 ^ d.as_secs());
    format!(
        "b{:06x}",
        (nanos ^ u64::from(std::process::id()) << 8) & 0xff_ffff
    )
}

/// Registers and logs in `count` users named `{prefix}_{i}`.
pub async fn users(
    client: &Client,
    prefix: &str,
    count: usize,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<Session>, BenchError> {
    progress.set_length(count as u64);
    progress.set_position(0);
    let sessions: Vec<(usize, Session)> = stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            let username = format!("{prefix}_{i}");
            async move {
                client
                    .register(&RegisterRequest {
                        username: username.clone(),
                        password: PASSWORD.into(),
                        display_name: None,
                    })
                    .await?;
                let session = client
                    .login(&LoginRequest {
                        username,
                        password: PASSWORD.into(),
                        device: Some("natter bench".into()),
                    })
                    .await?;
                Ok::<_, BenchError>((i, session))
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .inspect_ok(|_| progress.inc(1))
        .try_collect()
        .await?;
    let mut sessions = sessions;
    sessions.sort_by_key(|(i, _)| *i);
    Ok(sessions.into_iter().map(|(_, s)| s).collect())
}

/// Makes `a` and `b` friends; returns their direct conversation.
pub async fn befriend(a: &Session, b: &Session) -> Result<ConversationId, BenchError> {
    match a.send_friend_request(b.user().id, None).await? {
        FriendRequestOutcome::Pending { request } => {
            Ok(b.accept_friend_request(request.id).await?.conversation_id)
        }
        FriendRequestOutcome::Friends { friend } => Ok(friend.conversation_id),
    }
}

/// Befriends each pair, concurrently; returns the conversations in order.
pub async fn befriend_all(
    pairs: Vec<(Session, Session)>,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<ConversationId>, BenchError> {
    progress.set_length(pairs.len() as u64);
    progress.set_position(0);
    let mut done: Vec<(usize, ConversationId)> = stream::iter(pairs.into_iter().enumerate())
        .map(|(i, (a, b))| async move { Ok::<_, BenchError>((i, befriend(&a, &b).await?)) })
        .buffer_unordered(SETUP_CONCURRENCY * 2)
        .inspect_ok(|_| progress.inc(1))
        .try_collect()
        .await?;
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, c)| c).collect())
}

/// Creates a group owned by `owner` with every one of `members` (who must
/// be the owner's friends), inviting 500 at a time.
pub async fn group(
    owner: &Session,
    name: &str,
    members: &[Session],
) -> Result<ConversationId, BenchError> {
    let ids: Vec<_> = members.iter().map(|m| m.user().id).collect();
    let mut chunks = ids.chunks(500);
    let first = chunks.next().unwrap_or(&[]);
    let group = owner.create_group(name, first).await?;
    for chunk in chunks {
        owner.invite(group.id, chunk).await?;
    }
    Ok(group.id)
}

/// Shared handle to the sessions, for tasks.
pub type Sessions = Arc<Vec<Session>>;
