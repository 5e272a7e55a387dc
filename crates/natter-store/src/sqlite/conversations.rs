//! Conversations, members and timelines on SQLite.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use natter_protocol::conversations::{
    ConversationKind, ConversationSummary, HistoryQuery, Member, MessagePage, ReadPosition, Role,
    SystemEvent,
};
use natter_protocol::limits::{PAGE_DEFAULT, PAGE_MAX};
use natter_protocol::sync::UserChange;
use natter_protocol::{ConversationId, ErrorCode, Seq, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, params};

use super::contacts::ensure_direct;
use super::rows::{
    MESSAGE_COLUMNS, PROFILE_COLUMNS, add_member, all_rows, are_friends, cursor_of, delete_member,
    find_message, get_profile, has_blocked, insert_message, into_page, is_group, member_ids,
    message_at, parse_cursor, parse_role, profile_at, push_event, require_member, role_name,
    system_message, tick,
};
use super::{SqliteStore, db_error};
use crate::{
    Appended, Changes, ConversationStore, GroupLimits, MemberIds, NewMessage, Page, PageRequest,
    ReadMoved, StoreError, StoreResult,
};

const SUMMARY_SELECT: &str = "SELECT c.id, c.kind, c.name, c.announcement, c.member_count, c.last_seq, \
     c.created_at, c.updated_at, m.role, m.read_seq, c.version \
     FROM members m JOIN conversations c ON c.id = m.conversation_id";

/// Summaries of the user's conversations matching `filter` (SQL over `c` and `m`,
/// with `?1` the user and `?2` the argument), newest activity first.
pub(super) fn summaries(
    conn: &Connection,
    user: UserId,
    filter: &str,
    arg: i64,
) -> StoreResult<Vec<ConversationSummary>> {
    Ok(
        summaries_ordered(conn, user, filter, arg, "c.updated_at DESC", None)?
            .into_iter()
            .map(|(_, summary)| summary)
            .collect(),
    )
}

/// The user's conversations whose sync version is above `after`, lowest
/// version first, at most `limit`, each with its version.
pub(super) fn changed_after(
    conn: &Connection,
    user: UserId,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<(i64, ConversationSummary)>> {
    summaries_ordered(
        conn,
        user,
        "c.version > ?2",
        after,
        "c.version",
        Some(limit),
    )
}

fn summaries_ordered(
    conn: &Connection,
    user: UserId,
    filter: &str,
    arg: i64,
    order: &str,
    limit: Option<u32>,
) -> StoreResult<Vec<(i64, ConversationSummary)>> {
    struct Head {
        id: ConversationId,
        kind: ConversationKind,
        name: String,
        announcement: Option<String>,
        member_count: u32,
        last_seq: i64,
        created_at: i64,
        updated_at: i64,
        role: String,
        read_seq: i64,
        version: i64,
    }
    let limit = limit.map_or(-1, i64::from);
    let sql = format!(
        "{SUMMARY_SELECT} WHERE m.user_id = ?1 AND {filter} ORDER BY {order} LIMIT {limit}"
    );
    let heads = all_rows(conn, &sql, params![user.0, arg], |row| {
        let kind: String = row.get(1)?;
        Ok(Head {
            id: ConversationId(row.get(0)?),
            kind: if kind == "group" {
                ConversationKind::Group
            } else {
                ConversationKind::Direct
            },
            name: row.get(2)?,
            announcement: row.get(3)?,
            member_count: row.get(4)?,
            last_seq: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
            role: row.get(8)?,
            read_seq: row.get(9)?,
            version: row.get(10)?,
        })
    })?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        let last_message = if head.last_seq > 0 {
            find_message(conn, head.id, Seq(head.last_seq))?
        } else {
            None
        };
        let peer = if head.kind == ConversationKind::Direct {
            direct_peer(conn, head.id, user)?
        } else {
            None
        };
        let name = match &peer {
            Some(peer) => peer.display_name.clone(),
            None => head.name,
        };
        out.push((
            head.version,
            ConversationSummary {
                id: head.id,
                kind: head.kind,
                name,
                peer,
                announcement: head.announcement,
                member_count: head.member_count,
                my_role: Some(parse_role(&head.role)),
                last_seq: Seq(head.last_seq),
                read_seq: Seq(head.read_seq),
                unread: u32::try_from((head.last_seq - head.read_seq).max(0)).unwrap_or(u32::MAX),
                last_message,
                created_at: Timestamp(head.created_at),
                updated_at: Timestamp(head.updated_at),
            },
        ));
    }
    Ok(out)
}

fn direct_peer(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<Option<natter_protocol::accounts::UserProfile>> {
    conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.conversation_id = ?1 AND m.user_id != ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row([conversation.0, user.0], |row| profile_at(row, 0))
            .optional()
    })
    .map_err(db_error)
}

/// The caller's role in a group; `NotFound` for non-members and for direct conversations.
fn require_group_member(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
) -> StoreResult<Role> {
    let role = require_member(conn, conversation, user)?;
    if !is_group(conn, conversation)? {
        return Err(StoreError::NotFound);
    }
    Ok(role)
}

/// Where a sender stands in a conversation, in one query: `NotFound` for
/// non-members. Returns whether it is a group, and its last seq.
fn sender_view(
    conn: &Connection,
    conversation: ConversationId,
    sender: UserId,
) -> StoreResult<(bool, i64)> {
    conn.prepare_cached(
        "SELECT c.kind = 'group', c.last_seq FROM members m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.conversation_id = ?1 AND m.user_id = ?2",
    )
    .and_then(|mut stmt| stmt.query_row([conversation.0, sender.0], |row| Ok((row.get(0)?, row.get(1)?))).optional())
    .map_err(db_error)?
    .ok_or(StoreError::NotFound)
}

/// Checks that `sender` may write to the direct conversation, in one query;
/// returns the peer.
fn check_direct_send(
    conn: &Connection,
    conversation: ConversationId,
    sender: UserId,
    needs_friendship: bool,
) -> StoreResult<Option<UserId>> {
    let peer = conn
        .prepare_cached(
            "SELECT m.user_id, \
               EXISTS (SELECT 1 FROM blocks WHERE user_id = ?2 AND blocked_id = m.user_id), \
               EXISTS (SELECT 1 FROM blocks WHERE user_id = m.user_id AND blocked_id = ?2), \
               EXISTS (SELECT 1 FROM friendships WHERE user_id = ?2 AND friend_id = m.user_id) \
                 AND EXISTS (SELECT 1 FROM friendships WHERE user_id = m.user_id AND friend_id = ?2) \
             FROM members m WHERE m.conversation_id = ?1 AND m.user_id != ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row([conversation.0, sender.0], |row| {
                Ok((UserId(row.get(0)?), row.get::<_, bool>(1)?, row.get::<_, bool>(2)?, row.get::<_, bool>(3)?))
            })
            .optional()
        })
        .map_err(db_error)?;
    let Some((peer, sender_blocked_peer, peer_blocked_sender, friends)) = peer else {
        return Ok(None);
    };
    if sender_blocked_peer {
        return Err(StoreError::Rejected(ErrorCode::Blocked));
    }
    // A blocked sender sees the same refusal as a removed friend: they are not told.
    if peer_blocked_sender || (needs_friendship && !friends) {
        return Err(StoreError::Rejected(ErrorCode::NotFriends));
    }
    Ok(Some(peer))
}

fn find_duplicate(
    conn: &Connection,
    message: &NewMessage,
) -> StoreResult<Option<natter_protocol::conversations::Message>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND sender_id = ?2 AND client_msg_id = ?3"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(params![message.conversation_id.0, message.sender.0, message.client_msg_id.0], message_at)
            .optional()
    })
    .map_err(db_error)
}

fn kind_of(conn: &Connection, conversation: ConversationId) -> StoreResult<ConversationKind> {
    Ok(if is_group(conn, conversation)? {
        ConversationKind::Group
    } else {
        ConversationKind::Direct
    })
}

/// Longest range of newly read messages whose authors are looked up one by one;
/// past it, every other member is told.
const AUTHOR_SCAN_MAX: i64 = 500;

/// Who cares that `reader` read `(before, after]`: the other authors of those
/// messages, whose "read by" changed.
fn read_audience(
    conn: &Connection,
    conversation: ConversationId,
    reader: UserId,
    before: i64,
    after: i64,
) -> StoreResult<Arc<[UserId]>> {
    if after - before > AUTHOR_SCAN_MAX {
        let others: Vec<UserId> = member_ids(conn, conversation)?
            .iter()
            .copied()
            .filter(|&m| m != reader)
            .collect();
        return Ok(others.into());
    }
    let authors = all_rows(
        conn,
        "SELECT DISTINCT m.sender_id FROM messages m \
         JOIN members x ON x.conversation_id = m.conversation_id AND x.user_id = m.sender_id \
         WHERE m.conversation_id = ?1 AND m.seq > ?2 AND m.seq <= ?3 AND m.sender_id != ?4",
        params![conversation.0, before, after, reader.0],
        |row| row.get(0).map(UserId),
    )?;
    Ok(authors.into())
}

fn last_seq(conn: &Connection, conversation: ConversationId) -> StoreResult<i64> {
    conn.prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([conversation.0], |row| row.get(0))
                .optional()
        })
        .map_err(db_error)?
        .ok_or(StoreError::NotFound)
}

fn check_group_size(
    conn: &Connection,
    conversation: ConversationId,
    adding: usize,
    limits: GroupLimits,
) -> StoreResult<()> {
    let count: i64 = conn
        .prepare_cached("SELECT member_count FROM conversations WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([conversation.0], |row| row.get(0)))
        .map_err(db_error)?;
    if count + adding as i64 > i64::from(limits.max_members) {
        return Err(StoreError::Rejected(ErrorCode::GroupFull));
    }
    Ok(())
}

/// Adds `users` (friends of `actor`) and tells everyone.
/// `TooManyGroups` when `user` is already in as many groups as a user may be.
fn check_group_count(conn: &Connection, user: UserId, limits: GroupLimits) -> StoreResult<()> {
    let count: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM members m JOIN conversations c ON c.id = m.conversation_id \
             WHERE m.user_id = ?1 AND c.kind = 'group'",
        )
        .and_then(|mut stmt| stmt.query_row([user.0], |row| row.get(0)))
        .map_err(db_error)?;
    if count >= i64::from(limits.max_groups_per_user) {
        return Err(StoreError::Rejected(ErrorCode::TooManyGroups));
    }
    Ok(())
}

fn add_members(
    conn: &Connection,
    changes: &mut Changes,
    actor: UserId,
    conversation: ConversationId,
    users: &[UserId],
    limits: GroupLimits,
    now: Timestamp,
) -> StoreResult<()> {
    for &user in users {
        get_profile(conn, user)?;
        if has_blocked(conn, actor, user)? {
            return Err(StoreError::Rejected(ErrorCode::Blocked));
        }
        // Someone who blocked the actor cannot be pulled into a group by them;
        // the actor gets the same answer as for a non-friend and is not told.
        if !are_friends(conn, actor, user)? || has_blocked(conn, user, actor)? {
            return Err(StoreError::Rejected(ErrorCode::NotFriends));
        }
        check_group_count(conn, user, limits)?;
        add_member(conn, conversation, user, Role::Member, now)?;
    }
    if !users.is_empty() {
        system_message(
            conn,
            changes,
            conversation,
            actor,
            SystemEvent::MembersAdded {
                by: actor,
                users: users.to_vec(),
            },
            None,
            now,
        )?;
        // The news of one's own arrival is not unread.
        for &user in users {
            conn.prepare_cached(
                "UPDATE members SET read_seq = (SELECT last_seq FROM conversations WHERE id = ?1) \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut stmt| stmt.execute([conversation.0, user.0]))
            .map_err(db_error)?;
        }
        for &user in users {
            push_event(
                conn,
                changes,
                user,
                now,
                UserChange::ConversationJoined {
                    conversation_id: conversation,
                },
            )?;
        }
    }
    Ok(())
}

fn set_member_role(
    conn: &Connection,
    conversation: ConversationId,
    user: UserId,
    role: Role,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut stmt| stmt.execute(params![conversation.0, user.0, role_name(role)]))
        .map(drop)
        .map_err(db_error)
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn open_direct(
        &self,
        user: UserId,
        peer: UserId,
        needs_friendship: bool,
        now: Timestamp,
    ) -> StoreResult<ConversationId> {
        self.write(move |conn| {
            if user == peer {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            get_profile(conn, peer)?;
            if has_blocked(conn, peer, user)?
                || (needs_friendship && !are_friends(conn, user, peer)?)
            {
                return Err(StoreError::Rejected(ErrorCode::NotFriends));
            }
            ensure_direct(conn, user, peer, now)
        })
        .await
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        self.write(move |conn| {
            let conversation = message.conversation_id;
            let (group, last) = sender_view(conn, conversation, message.sender)?;
            if let Some(original) = find_duplicate(conn, &message)? {
                return Ok(Appended {
                    message: original,
                    members: member_ids(conn, conversation)?,
                    duplicate: true,
                });
            }
            // For a direct conversation the audience is the two people: no member query.
            let direct_audience = if group {
                None
            } else {
                let peer = check_direct_send(
                    conn,
                    conversation,
                    message.sender,
                    message.direct_needs_friendship,
                )?;
                Some(peer.map_or_else(|| vec![message.sender], |peer| vec![message.sender, peer]))
            };
            if let Some(reply_to) = message.reply_to
                && (reply_to.0 < 1 || reply_to.0 > last)
            {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            let stored = insert_message(
                conn,
                conversation,
                message.sender,
                Some(&message.client_msg_id),
                message.content,
                message.reply_to,
                message.now,
            )?;
            let members = match direct_audience {
                Some(audience) => audience.into(),
                None => member_ids(conn, conversation)?,
            };
            Ok(Appended {
                message: stored,
                members,
                duplicate: false,
            })
        })
        .await
    }

    async fn page_messages(
        &self,
        user: UserId,
        conversation: ConversationId,
        query: HistoryQuery,
    ) -> StoreResult<MessagePage> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            let limit = i64::from(query.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX));
            let after = query.after.map_or(0, |s| s.0);
            let before = query.before.map_or(i64::MAX, |s| s.0);
            // Without `after`, read backwards from `before` (or the end); with it, forwards.
            let (sql, descending) = if query.after.is_some() {
                ("seq > ?2 AND seq < ?3 ORDER BY seq ASC", false)
            } else {
                ("seq > ?2 AND seq < ?3 ORDER BY seq DESC", true)
            };
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND {sql} LIMIT ?4"
            );
            let params = params![conversation.0, after, before, limit + 1];
            let mut messages = all_rows(conn, &sql, params, message_at)?;
            let has_more = messages.len() as i64 > limit;
            messages.truncate(limit as usize);
            if descending {
                messages.reverse();
            }
            Ok(MessagePage { messages, has_more })
        })
        .await
    }

    async fn mark_read(
        &self,
        user: UserId,
        conversation: ConversationId,
        seq: Seq,
        now: Timestamp,
    ) -> StoreResult<ReadMoved> {
        self.write(move |conn| {
            require_member(conn, conversation, user)?;
            let kind = kind_of(conn, conversation)?;
            let last = last_seq(conn, conversation)?;
            let before: i64 = conn
                .prepare_cached(
                    "SELECT read_seq FROM members WHERE conversation_id = ?1 AND user_id = ?2",
                )
                .and_then(|mut stmt| stmt.query_row([conversation.0, user.0], |row| row.get(0)))
                .map_err(db_error)?;
            let target = seq.0.clamp(0, last);
            let position = |read_seq: i64| ReadPosition {
                conversation_id: conversation,
                read_seq: Seq(read_seq),
                unread: u32::try_from((last - read_seq).max(0)).unwrap_or(u32::MAX),
            };
            if target <= before {
                let nothing = ReadMoved {
                    position: position(before),
                    kind,
                    audience: Arc::from([]),
                    changes: Changes::default(),
                };
                return Ok(nothing);
            }
            conn.prepare_cached(
                "UPDATE members SET read_seq = ?3, delivered_seq = max(delivered_seq, ?3) \
                 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut stmt| stmt.execute(params![conversation.0, user.0, target]))
            .map_err(db_error)?;
            let mut changes = Changes::default();
            let change = UserChange::ReadPosition {
                conversation_id: conversation,
                read_seq: Seq(target),
            };
            push_event(conn, &mut changes, user, now, change)?;
            let audience = read_audience(conn, conversation, user, before, target)?;
            Ok(ReadMoved {
                position: position(target),
                kind,
                audience,
                changes,
            })
        })
        .await
    }

    async fn list_conversations(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<ConversationSummary>> {
        self.read(move |conn| {
            // Newest activity first; the cursor is the last one's (updated_at, id).
            let filter = match page.after.as_deref().map(|c| parse_cursor(c, 2)) {
                None => "?2 = ?2".to_owned(),
                Some(cursor) => {
                    let [at, id] = cursor?[..] else {
                        return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
                    };
                    format!("(c.updated_at, c.id) < ({at}, {id}) AND ?2 = ?2")
                }
            };
            let rows = summaries_ordered(
                conn,
                user,
                &filter,
                0,
                "c.updated_at DESC, c.id DESC",
                Some(page.limit + 1),
            )?;
            let page = into_page(rows, page.limit, |(_, c)| {
                cursor_of(&[c.updated_at.0, c.id.0])
            });
            Ok(Page {
                items: page.items.into_iter().map(|(_, c)| c).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn get_conversation(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationSummary> {
        self.read(move |conn| {
            summaries(conn, user, "c.id = ?2", conversation.0)?
                .pop()
                .ok_or(StoreError::NotFound)
        })
        .await
    }

    async fn list_members(
        &self,
        user: UserId,
        conversation: ConversationId,
        page: PageRequest,
    ) -> StoreResult<Page<Member>> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            // Owner, admins, members, each by joining time; the cursor is the
            // last one's (rank, joined_at, id).
            let (rank, joined, id) = match page.after.as_deref().map(|c| parse_cursor(c, 3)) {
                None => (-1, i64::MIN, i64::MIN),
                Some(cursor) => {
                    let [rank, joined, id] = cursor?[..] else {
                        return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
                    };
                    (rank, joined, id)
                }
            };
            let sql = format!(
                "SELECT {PROFILE_COLUMNS}, m.role, m.joined_at, m.read_seq, \
                 CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END AS rank FROM members m \
                 JOIN users u ON u.id = m.user_id WHERE m.conversation_id = ?1 \
                 AND (rank, m.joined_at, u.id) > (?2, ?3, ?4) \
                 ORDER BY rank, m.joined_at, u.id LIMIT ?5"
            );
            let rows = all_rows(
                conn,
                &sql,
                params![conversation.0, rank, joined, id, i64::from(page.limit) + 1],
                |row| {
                    let role: String = row.get(4)?;
                    Ok((
                        Member {
                            user: profile_at(row, 0)?,
                            role: parse_role(&role),
                            joined_at: Timestamp(row.get(5)?),
                            read_seq: Seq(row.get(6)?),
                        },
                        row.get::<_, i64>(7)?,
                    ))
                },
            )?;
            let page = into_page(rows, page.limit, |(m, rank)| {
                cursor_of(&[*rank, m.joined_at.0, m.user.id.0])
            });
            Ok(Page {
                items: page.items.into_iter().map(|(m, _)| m).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn conversation_kind(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<ConversationKind> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            kind_of(conn, conversation)
        })
        .await
    }

    async fn member_ids(
        &self,
        user: UserId,
        conversation: ConversationId,
    ) -> StoreResult<MemberIds> {
        self.read(move |conn| {
            require_member(conn, conversation, user)?;
            Ok(MemberIds {
                kind: kind_of(conn, conversation)?,
                ids: member_ids(conn, conversation)?,
            })
        })
        .await
    }

    async fn create_group(
        &self,
        creator: UserId,
        name: String,
        members: Vec<UserId>,
        limits: GroupLimits,
        now: Timestamp,
    ) -> StoreResult<(ConversationId, Changes)> {
        self.write(move |conn| {
            let invited: Vec<UserId> = members
                .into_iter()
                .filter(|&u| u != creator)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if invited.len() + 1 > limits.max_members as usize {
                return Err(StoreError::Rejected(ErrorCode::GroupFull));
            }
            check_group_count(conn, creator, limits)?;
            let version = tick(conn)?;
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO conversations (kind, name, version, created_at, updated_at) \
                     VALUES ('group', ?1, ?2, ?3, ?3) RETURNING id",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![name, version, now.0], |row| row.get(0))
                })
                .map_err(db_error)?;
            let conversation = ConversationId(id);
            add_member(conn, conversation, creator, Role::Owner, now)?;
            let mut changes = Changes::default();
            system_message(
                conn,
                &mut changes,
                conversation,
                creator,
                SystemEvent::GroupCreated { by: creator, name },
                None,
                now,
            )?;
            push_event(
                conn,
                &mut changes,
                creator,
                now,
                UserChange::ConversationJoined {
                    conversation_id: conversation,
                },
            )?;
            add_members(
                conn,
                &mut changes,
                creator,
                conversation,
                &invited,
                limits,
                now,
            )?;
            Ok((conversation, changes))
        })
        .await
    }

    async fn update_group(
        &self,
        actor: UserId,
        conversation: ConversationId,
        name: Option<String>,
        announcement: Option<String>,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            if require_group_member(conn, conversation, actor)? < Role::Admin {
                return Err(StoreError::Rejected(ErrorCode::Forbidden));
            }
            let mut changes = Changes::default();
            if let Some(name) = name {
                conn.prepare_cached("UPDATE conversations SET name = ?2 WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute(params![conversation.0, name]))
                    .map_err(db_error)?;
                system_message(
                    conn,
                    &mut changes,
                    conversation,
                    actor,
                    SystemEvent::Renamed { by: actor, name },
                    None,
                    now,
                )?;
            }
            if let Some(text) = announcement {
                let stored = if text.is_empty() {
                    None
                } else {
                    Some(text.clone())
                };
                conn.prepare_cached("UPDATE conversations SET announcement = ?2 WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute(params![conversation.0, stored]))
                    .map_err(db_error)?;
                let event = SystemEvent::AnnouncementSet { by: actor, text };
                system_message(conn, &mut changes, conversation, actor, event, None, now)?;
            }
            Ok(changes)
        })
        .await
    }

    async fn invite_members(
        &self,
        actor: UserId,
        conversation: ConversationId,
        users: Vec<UserId>,
        limits: GroupLimits,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            require_group_member(conn, conversation, actor)?;
            let mut fresh = Vec::new();
            for user in users.into_iter().collect::<BTreeSet<_>>() {
                if super::rows::member_role(conn, conversation, user)?.is_none() {
                    fresh.push(user);
                }
            }
            if fresh.is_empty() {
                return Err(StoreError::Rejected(ErrorCode::AlreadyMember));
            }
            check_group_size(conn, conversation, fresh.len(), limits)?;
            let mut changes = Changes::default();
            add_members(conn, &mut changes, actor, conversation, &fresh, limits, now)?;
            Ok(changes)
        })
        .await
    }

    async fn remove_member(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            let actor_role = require_group_member(conn, conversation, actor)?;
            let mut changes = Changes::default();
            if target == actor {
                let others = member_ids(conn, conversation)?.len() > 1;
                if actor_role == Role::Owner && others {
                    return Err(StoreError::Rejected(ErrorCode::OwnerMustTransfer));
                }
                delete_member(conn, conversation, actor)?;
                system_message(
                    conn,
                    &mut changes,
                    conversation,
                    actor,
                    SystemEvent::MemberLeft { user: actor },
                    Some(actor),
                    now,
                )?;
                let change = UserChange::ConversationLeft {
                    conversation_id: conversation,
                    removed_by: None,
                };
                push_event(conn, &mut changes, actor, now, change)?;
                return Ok(changes);
            }
            let target_role = super::rows::member_role(conn, conversation, target)?
                .ok_or(StoreError::NotFound)?;
            if actor_role < Role::Admin || actor_role <= target_role {
                return Err(StoreError::Rejected(ErrorCode::Forbidden));
            }
            delete_member(conn, conversation, target)?;
            let event = SystemEvent::MemberRemoved {
                by: actor,
                user: target,
            };
            system_message(
                conn,
                &mut changes,
                conversation,
                actor,
                event,
                Some(target),
                now,
            )?;
            let change = UserChange::ConversationLeft {
                conversation_id: conversation,
                removed_by: Some(actor),
            };
            push_event(conn, &mut changes, target, now, change)?;
            Ok(changes)
        })
        .await
    }

    async fn set_role(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        role: Role,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            if require_group_member(conn, conversation, actor)? != Role::Owner {
                return Err(StoreError::Rejected(ErrorCode::Forbidden));
            }
            if role == Role::Owner || target == actor {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            super::rows::member_role(conn, conversation, target)?.ok_or(StoreError::NotFound)?;
            set_member_role(conn, conversation, target, role)?;
            let mut changes = Changes::default();
            system_message(
                conn,
                &mut changes,
                conversation,
                actor,
                SystemEvent::RoleChanged {
                    by: actor,
                    user: target,
                    role,
                },
                None,
                now,
            )?;
            Ok(changes)
        })
        .await
    }

    async fn transfer_ownership(
        &self,
        actor: UserId,
        conversation: ConversationId,
        target: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            if require_group_member(conn, conversation, actor)? != Role::Owner {
                return Err(StoreError::Rejected(ErrorCode::Forbidden));
            }
            if target == actor {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            super::rows::member_role(conn, conversation, target)?.ok_or(StoreError::NotFound)?;
            set_member_role(conn, conversation, target, Role::Owner)?;
            set_member_role(conn, conversation, actor, Role::Admin)?;
            let mut changes = Changes::default();
            let event = SystemEvent::OwnershipTransferred {
                from: actor,
                to: target,
            };
            system_message(conn, &mut changes, conversation, actor, event, None, now)?;
            Ok(changes)
        })
        .await
    }
}
