//! `natter friends [list]`, `friends add|accept|decline|cancel|remove|block|unblock`.
//!
//! People are named as a person would type them: a username (an `@` in front
//! is allowed), or a friend's remark. Names compare case-insensitively.

use std::io::Write;

use natter_client::Session;
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::contacts::{
    Friend, FriendRequest, FriendRequestOutcome, SearchUsersQuery,
};

use super::map_err;
use crate::error::CommandError;
use crate::{format, json};

/// How many pages of user search [`find_user`] reads before giving up: the
/// search matches display names too, so the exact username may not be first.
const SEARCH_PAGES: usize = 5;

fn same(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// The name as typed, without surrounding blanks or a leading `@`.
fn wanted(name: &str) -> &str {
    let name = name.trim();
    name.strip_prefix('@').unwrap_or(name)
}

fn not_found(what: &'static str, name: &str) -> CommandError {
    CommandError::NotFound {
        what,
        name: name.to_owned(),
    }
}

/// The friend a person means by `name`: their username or the remark the
/// caller gave them.
pub async fn find_friend(session: &Session, name: &str) -> Result<Friend, CommandError> {
    let name = wanted(name);
    let friends = session.friends().await.map_err(map_err(session))?;
    friends
        .friends
        .into_iter()
        .find(|f| {
            same(&f.user.username, name) || f.remark.as_deref().is_some_and(|r| same(r, name))
        })
        .ok_or_else(|| not_found("friend", name))
}

/// Any user, by exact username (or a friend's remark).
pub async fn find_user(session: &Session, name: &str) -> Result<UserProfile, CommandError> {
    let name = wanted(name);
    if name.is_empty() {
        return Err(CommandError::Usage("give a username".into()));
    }
    if let Ok(friend) = find_friend(session, name).await {
        return Ok(friend.user);
    }
    let mut offset = None;
    for _ in 0..SEARCH_PAGES {
        let page = session
            .search_users(&SearchUsersQuery {
                q: name.to_owned(),
                limit: Some(100),
                offset,
            })
            .await
            .map_err(map_err(session))?;
        if let Some(user) = page.users.into_iter().find(|u| same(&u.username, name)) {
            return Ok(user);
        }
        match page.next_offset {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    Err(not_found("user", name))
}

/// `natter friends` / `friends list`: friends with presence, then pending
/// requests, incoming and outgoing. As text, one line each with tab-separated
/// columns: `name  online|offline  conversation #ID`, `name  incoming
/// greeting`, `name  outgoing`.
pub async fn friends(
    session: &Session,
    out: &mut dyn Write,
    json: bool,
) -> Result<(), CommandError> {
    let friends = session.friends().await.map_err(map_err(session))?;
    let requests = session.friend_requests().await.map_err(map_err(session))?;
    if json {
        return json::write_line(
            out,
            &json::FriendsRecord {
                friends: &friends.friends,
                incoming: &requests.incoming,
                outgoing: &requests.outgoing,
            },
        );
    }
    let w = CommandError::Output;
    for friend in &friends.friends {
        let state = if friend.online { "online" } else { "offline" };
        let remark = friend
            .remark
            .as_deref()
            .map(|r| format!(" ({})", format::safe_line(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "{}{remark}\t{state}\tconversation #{}",
            format::safe_line(&friend.user.username),
            friend.conversation_id
        )
        .map_err(w)?;
    }
    for request in &requests.incoming {
        writeln!(
            out,
            "{}\tincoming\t{}",
            format::safe_line(&request.from.username),
            format::safe_line(&request.greeting)
        )
        .map_err(w)?;
    }
    for request in &requests.outgoing {
        writeln!(out, "{}\toutgoing", format::safe_line(&request.to.username)).map_err(w)?;
    }
    Ok(())
}

/// `natter friends add NAME`: asks to be friends. When they had already
/// asked the caller, the two are friends at once.
pub async fn add(
    session: &Session,
    name: &str,
    greeting: Option<&str>,
) -> Result<FriendRequestOutcome, CommandError> {
    let user = find_user(session, name).await?;
    if user.id == session.user().id {
        return Err(CommandError::Usage("you cannot befriend yourself".into()));
    }
    session
        .send_friend_request(user.id, greeting)
        .await
        .map_err(map_err(session))
}

/// The pending request from (`incoming`) or to the user named `name`.
async fn find_request(
    session: &Session,
    name: &str,
    incoming: bool,
) -> Result<FriendRequest, CommandError> {
    let name = wanted(name);
    let requests = session.friend_requests().await.map_err(map_err(session))?;
    let (list, what) = if incoming {
        (requests.incoming, "pending friend request from a user")
    } else {
        (requests.outgoing, "pending friend request to a user")
    };
    list.into_iter()
        .find(|r| {
            let other = if incoming { &r.from } else { &r.to };
            same(&other.username, name)
        })
        .ok_or_else(|| not_found(what, name))
}

/// `natter friends accept NAME`: accepts the request `NAME` sent; returns the
/// new friend.
pub async fn accept(session: &Session, name: &str) -> Result<Friend, CommandError> {
    let request = find_request(session, name, true).await?;
    session
        .accept_friend_request(request.id)
        .await
        .map_err(map_err(session))
}

/// `natter friends decline NAME`: declines the request `NAME` sent.
pub async fn decline(session: &Session, name: &str) -> Result<FriendRequest, CommandError> {
    let request = find_request(session, name, true).await?;
    session
        .decline_friend_request(request.id)
        .await
        .map_err(map_err(session))?;
    Ok(request)
}

/// `natter friends cancel NAME`: withdraws the request the caller sent `NAME`.
pub async fn cancel(session: &Session, name: &str) -> Result<FriendRequest, CommandError> {
    let request = find_request(session, name, false).await?;
    session
        .cancel_friend_request(request.id)
        .await
        .map_err(map_err(session))?;
    Ok(request)
}

/// `natter friends remove NAME`: ends the friendship.
pub async fn remove(session: &Session, name: &str) -> Result<UserProfile, CommandError> {
    let friend = find_friend(session, name).await?;
    session
        .remove_friend(friend.user.id)
        .await
        .map_err(map_err(session))?;
    Ok(friend.user)
}

/// `natter friends block NAME`: blocks any user.
pub async fn block(session: &Session, name: &str) -> Result<UserProfile, CommandError> {
    let user = find_user(session, name).await?;
    if user.id == session.user().id {
        return Err(CommandError::Usage("you cannot block yourself".into()));
    }
    session.block(user.id).await.map_err(map_err(session))?;
    Ok(user)
}

/// `natter friends unblock NAME`: unblocks a user the caller blocked.
pub async fn unblock(session: &Session, name: &str) -> Result<UserProfile, CommandError> {
    let name = wanted(name);
    let blocks = session.blocks().await.map_err(map_err(session))?;
    let user = blocks
        .users
        .into_iter()
        .find(|u| same(&u.username, name))
        .ok_or_else(|| not_found("blocked user", name))?;
    session.unblock(user.id).await.map_err(map_err(session))?;
    Ok(user)
}
