//! `natter groups [list]`, `groups create|invite|kick|leave|rename|members`.
//!
//! A group is named as `natter send --to` names it (see [`crate::names`]):
//! its name (case-insensitive, `group:` optional) or its conversation id
//! (`#12`); a friend of the same name does not get in the way here; people as `natter
//! friends` names them (a username or a remark; members by username).

use std::io::Write;

use natter_client::Session;
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::conversations::{
    ConversationKind, ConversationSummary, Member, UpdateGroupRequest,
};
use natter_client::protocol::{UserId, limits};

use super::{contacts, map_err, resolve_kind};
use crate::error::CommandError;
use crate::{format, json};

fn role(member: &Member) -> String {
    format!("{:?}", member.role).to_lowercase()
}

/// The group `name` names, as the caller sees it.
pub async fn find_group(
    session: &Session,
    name: &str,
) -> Result<ConversationSummary, CommandError> {
    // Among groups only: a friend of the same name is not in the way. A
    // name that fits only a friend is told apart from one that fits nothing.
    let id = match resolve_kind(session, name, Some(ConversationKind::Group)).await {
        Err(CommandError::NotFound { .. }) => resolve_kind(session, name, None).await?,
        found => found?,
    };
    let summary = session.conversation(id).await.map_err(map_err(session))?;
    if summary.kind != ConversationKind::Group {
        return Err(CommandError::Usage(format!(
            "{:?} is a direct conversation, not a group",
            name.trim()
        )));
    }
    Ok(summary)
}

fn check_name(name: &str) -> Result<&str, CommandError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CommandError::Usage("the group name is empty".into()));
    }
    if name.chars().count() > limits::NAME_MAX_CHARS {
        return Err(CommandError::Usage(format!(
            "a group name has at most {} characters",
            limits::NAME_MAX_CHARS
        )));
    }
    Ok(name)
}

async fn friend_ids(session: &Session, names: &[String]) -> Result<Vec<UserId>, CommandError> {
    if names.len() > limits::INVITE_MAX_USERS {
        return Err(CommandError::Usage(format!(
            "at most {} people at once",
            limits::INVITE_MAX_USERS
        )));
    }
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        ids.push(contacts::find_friend(session, name).await?.user.id);
    }
    Ok(ids)
}

/// `natter groups` / `groups list`: the caller's groups. As text:
/// `name  #ID  N members  role`.
pub async fn list(session: &Session, out: &mut dyn Write, json: bool) -> Result<(), CommandError> {
    let conversations = session.conversations().await.map_err(map_err(session))?;
    let groups: Vec<_> = conversations
        .conversations
        .into_iter()
        .filter(|c| c.kind == ConversationKind::Group)
        .collect();
    if json {
        return json::write_pretty(out, &groups);
    }
    for group in &groups {
        let role = group
            .my_role
            .map(|r| format!("{r:?}").to_lowercase())
            .unwrap_or_default();
        writeln!(
            out,
            "{}\t#{}\t{} members\t{role}",
            format::safe_line(&group.name),
            group.id,
            group.member_count
        )
        .map_err(CommandError::Output)?;
    }
    Ok(())
}

/// `natter groups create NAME [--member FRIEND]...`: a group owned by the
/// caller, with these friends in it.
pub async fn create(
    session: &Session,
    name: &str,
    members: &[String],
) -> Result<ConversationSummary, CommandError> {
    let name = check_name(name)?;
    let ids = friend_ids(session, members).await?;
    session
        .create_group(name, &ids)
        .await
        .map_err(map_err(session))
}

/// `natter groups invite GROUP FRIEND...`: adds friends of the caller;
/// returns the members after.
pub async fn invite(
    session: &Session,
    group: &str,
    friends: &[String],
) -> Result<Vec<Member>, CommandError> {
    if friends.is_empty() {
        return Err(CommandError::Usage("name the friends to invite".into()));
    }
    let group = find_group(session, group).await?;
    let ids = friend_ids(session, friends).await?;
    let members = session
        .invite(group.id, &ids)
        .await
        .map_err(map_err(session))?;
    Ok(members.members)
}

/// `natter groups kick GROUP MEMBER`: removes a member (owner or admin).
pub async fn kick(
    session: &Session,
    group: &str,
    member: &str,
) -> Result<UserProfile, CommandError> {
    let group = find_group(session, group).await?;
    let wanted = member.trim().trim_start_matches('@').to_lowercase();
    let members = session.members(group.id).await.map_err(map_err(session))?;
    let Some(member) = members
        .members
        .into_iter()
        .find(|m| m.user.username.to_lowercase() == wanted)
    else {
        return Err(CommandError::NotFound {
            what: "member of the group",
            name: wanted,
        });
    };
    if member.user.id == session.user().id {
        return Err(CommandError::Usage(
            "to leave a group, run `natter groups leave GROUP`".into(),
        ));
    }
    session
        .remove_member(group.id, member.user.id)
        .await
        .map_err(map_err(session))?;
    Ok(member.user)
}

/// `natter groups leave GROUP`.
pub async fn leave(session: &Session, group: &str) -> Result<ConversationSummary, CommandError> {
    let group = find_group(session, group).await?;
    session
        .remove_member(group.id, session.user().id)
        .await
        .map_err(map_err(session))?;
    Ok(group)
}

/// `natter groups rename GROUP NEW_NAME` (owner or admin); returns the group
/// as it is now.
pub async fn rename(
    session: &Session,
    group: &str,
    new_name: &str,
) -> Result<ConversationSummary, CommandError> {
    let new_name = check_name(new_name)?;
    let group = find_group(session, group).await?;
    let update = UpdateGroupRequest {
        name: Some(new_name.to_owned()),
        announcement: None,
    };
    session
        .update_group(group.id, &update)
        .await
        .map_err(map_err(session))?;
    session
        .conversation(group.id)
        .await
        .map_err(map_err(session))
}

/// `natter groups members GROUP`: owner first, then admins, then members. As
/// text: `username  role`.
pub async fn members(
    session: &Session,
    group: &str,
    out: &mut dyn Write,
    json: bool,
) -> Result<(), CommandError> {
    let group = find_group(session, group).await?;
    let members = session.members(group.id).await.map_err(map_err(session))?;
    write_members(out, &members.members, json)
}

/// Members as a JSON array of member records, or `username  role` lines.
pub fn write_members(
    out: &mut dyn Write,
    members: &[Member],
    json: bool,
) -> Result<(), CommandError> {
    if json {
        return json::write_pretty(out, &members);
    }
    for member in members {
        writeln!(
            out,
            "{}\t{}",
            format::safe_line(&member.user.username),
            role(member)
        )
        .map_err(CommandError::Output)?;
    }
    Ok(())
}
