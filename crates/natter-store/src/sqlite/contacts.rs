//! Friend requests, friendships and blocks on SQLite.

use async_trait::async_trait;
use natter_protocol::accounts::UserProfile;
use natter_protocol::contacts::{FriendRequest, FriendRequestList, FriendRequestStatus};
use natter_protocol::conversations::Role;
use natter_protocol::sync::UserChange;
use natter_protocol::{ConversationId, ErrorCode, FriendRequestId, Timestamp, UserId};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{
    PROFILE_COLUMNS, add_member, all_rows, are_friends, get_profile, has_blocked, into_page,
    profile_at, push_event, tick,
};
use super::{SqliteStore, db_error};
use crate::{
    Changes, ContactStore, FriendRecord, FriendRequestSent, Page, PageRequest, Relation,
    StoreError, StoreResult,
};

fn status_name(status: FriendRequestStatus) -> &'static str {
    match status {
        FriendRequestStatus::Pending => "pending",
        FriendRequestStatus::Accepted => "accepted",
        FriendRequestStatus::Declined => "declined",
        FriendRequestStatus::Cancelled => "cancelled",
    }
}

fn parse_status(name: &str) -> FriendRequestStatus {
    match name {
        "accepted" => FriendRequestStatus::Accepted,
        "declined" => FriendRequestStatus::Declined,
        "cancelled" => FriendRequestStatus::Cancelled,
        _ => FriendRequestStatus::Pending,
    }
}

/// A request row with both profiles; `hidden` tells whether the recipient may see it.
struct RequestRow {
    request: FriendRequest,
    hidden: bool,
}

const REQUEST_SELECT: &str = "SELECT r.id, r.greeting, r.status, r.created_at, r.updated_at, r.hidden, \
     f.id, f.username, f.display_name, f.created_at, t.id, t.username, t.display_name, t.created_at \
     FROM friend_requests r JOIN users f ON f.id = r.from_id JOIN users t ON t.id = r.to_id";

fn request_at(row: &Row<'_>) -> rusqlite::Result<RequestRow> {
    let status: String = row.get(2)?;
    Ok(RequestRow {
        request: FriendRequest {
            id: FriendRequestId(row.get(0)?),
            greeting: row.get(1)?,
            status: parse_status(&status),
            created_at: Timestamp(row.get(3)?),
            updated_at: Timestamp(row.get(4)?),
            from: profile_at(row, 6)?,
            to: profile_at(row, 10)?,
        },
        hidden: row.get(5)?,
    })
}

fn find_request(conn: &Connection, id: FriendRequestId) -> StoreResult<Option<RequestRow>> {
    conn.prepare_cached(&format!("{REQUEST_SELECT} WHERE r.id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id.0], request_at).optional())
        .map_err(db_error)
}

fn pending_between(conn: &Connection, from: UserId, to: UserId) -> StoreResult<Option<RequestRow>> {
    conn.prepare_cached(&format!(
        "{REQUEST_SELECT} WHERE r.from_id = ?1 AND r.to_id = ?2 AND r.status = 'pending' ORDER BY r.id DESC LIMIT 1"
    ))
    .and_then(|mut stmt| stmt.query_row([from.0, to.0], request_at).optional())
    .map_err(db_error)
}

fn set_status(
    conn: &Connection,
    id: FriendRequestId,
    status: FriendRequestStatus,
    now: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached("UPDATE friend_requests SET status = ?2, updated_at = ?3 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(params![id.0, status_name(status), now.0]))
        .map(drop)
        .map_err(db_error)
}

/// The direct conversation of two users, created with both as members if new.
pub(super) fn ensure_direct(
    conn: &Connection,
    a: UserId,
    b: UserId,
    now: Timestamp,
) -> StoreResult<ConversationId> {
    let key = format!("{}:{}", a.0.min(b.0), a.0.max(b.0));
    let existing = conn
        .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?1")
        .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)).optional())
        .map_err(db_error)?;
    if let Some(id) = existing {
        return Ok(ConversationId(id));
    }
    let version = tick(conn)?;
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO conversations (kind, direct_key, version, created_at, updated_at) \
             VALUES ('direct', ?1, ?2, ?3, ?3) RETURNING id",
        )
        .and_then(|mut stmt| stmt.query_row(params![key, version, now.0], |row| row.get(0)))
        .map_err(db_error)?;
    let id = ConversationId(id);
    add_member(conn, id, a, Role::Member, now)?;
    if a != b {
        add_member(conn, id, b, Role::Member, now)?;
    }
    Ok(id)
}

pub(super) fn friend_record(
    conn: &Connection,
    user: UserId,
    friend: UserId,
) -> StoreResult<Option<FriendRecord>> {
    conn.prepare_cached(&format!(
        "{FRIEND_SELECT} WHERE fs.user_id = ?1 AND fs.friend_id = ?2"
    ))
    .and_then(|mut stmt| stmt.query_row([user.0, friend.0], friend_at).optional())
    .map_err(db_error)
}

const FRIEND_SELECT: &str = "SELECT u.id, u.username, u.display_name, u.created_at, fs.remark, fs.since, \
     u.last_seen_at, fs.conversation_id, u.username_key FROM friendships fs JOIN users u ON u.id = fs.friend_id";

fn friend_at(row: &Row<'_>) -> rusqlite::Result<FriendRecord> {
    Ok(FriendRecord {
        user: profile_at(row, 0)?,
        remark: row.get(4)?,
        since: Timestamp(row.get(5)?),
        last_seen_at: row.get::<_, Option<i64>>(6)?.map(Timestamp),
        conversation_id: ConversationId(row.get(7)?),
    })
}

/// Makes `a` and `b` friends (both directions) and tells both. Every other
/// request still waiting between the two (a hidden one, or the other
/// direction) is settled as accepted, and both are told; `settling` is the
/// request the caller settles and announces itself.
fn make_friends(
    conn: &Connection,
    changes: &mut Changes,
    a: UserId,
    b: UserId,
    settling: Option<FriendRequestId>,
    now: Timestamp,
) -> StoreResult<()> {
    let conversation = ensure_direct(conn, a, b, now)?;
    for (user, friend) in [(a, b), (b, a)] {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO friendships (user_id, friend_id, since, conversation_id) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut stmt| stmt.execute(params![user.0, friend.0, now.0, conversation.0]))
        .map_err(db_error)?;
    }
    let waiting = all_rows(
        conn,
        &format!(
            "{REQUEST_SELECT} WHERE r.status = 'pending' \
             AND ((r.from_id = ?1 AND r.to_id = ?2) OR (r.from_id = ?2 AND r.to_id = ?1)) ORDER BY r.id"
        ),
        [a.0, b.0],
        request_at,
    )?;
    for mut row in waiting {
        if Some(row.request.id) == settling {
            continue;
        }
        set_status(conn, row.request.id, FriendRequestStatus::Accepted, now)?;
        row.request.status = FriendRequestStatus::Accepted;
        row.request.updated_at = now;
        // They are friends now: even a request hidden from its recipient is
        // no secret any more, and both sides' lists must drop it.
        row.hidden = false;
        announce(conn, changes, &row, now, false)?;
    }
    for (user, friend) in [(a, b), (b, a)] {
        let record = friend_record(conn, user, friend)?.ok_or(StoreError::NotFound)?;
        push_event(
            conn,
            changes,
            user,
            now,
            UserChange::FriendAdded {
                friend: record.into_friend(false),
            },
        )?;
    }
    Ok(())
}

/// Ends the friendship of `a` and `b` on both sides, if there is one, and tells
/// both; the direct conversation and its history stay. Whether there was one.
fn end_friendship(
    conn: &Connection,
    changes: &mut Changes,
    a: UserId,
    b: UserId,
    now: Timestamp,
) -> StoreResult<bool> {
    let deleted = conn
        .prepare_cached(
            "DELETE FROM friendships WHERE (user_id = ?1 AND friend_id = ?2) OR (user_id = ?2 AND friend_id = ?1)",
        )
        .and_then(|mut stmt| stmt.execute([a.0, b.0]))
        .map_err(db_error)?;
    if deleted == 0 {
        return Ok(false);
    }
    push_event(
        conn,
        changes,
        a,
        now,
        UserChange::FriendRemoved { user_id: b },
    )?;
    push_event(
        conn,
        changes,
        b,
        now,
        UserChange::FriendRemoved { user_id: a },
    )?;
    Ok(true)
}

/// Tells the sender and (unless hidden) the recipient that a request changed.
fn announce(
    conn: &Connection,
    changes: &mut Changes,
    row: &RequestRow,
    now: Timestamp,
    received: bool,
) -> StoreResult<()> {
    let request = &row.request;
    push_event(
        conn,
        changes,
        request.from.id,
        now,
        UserChange::FriendRequestUpdated {
            request: request.clone(),
        },
    )?;
    if !row.hidden {
        let change = if received {
            UserChange::FriendRequestReceived {
                request: request.clone(),
            }
        } else {
            UserChange::FriendRequestUpdated {
                request: request.clone(),
            }
        };
        push_event(conn, changes, request.to.id, now, change)?;
    }
    Ok(())
}

/// Loads a request addressed to or sent by `user` (per `as_recipient`), pending.
fn own_pending(
    conn: &Connection,
    user: UserId,
    id: FriendRequestId,
    as_recipient: bool,
) -> StoreResult<RequestRow> {
    let row = find_request(conn, id)?.ok_or(StoreError::NotFound)?;
    // Between a blocker and the blocked, nothing can be accepted or declined.
    if as_recipient
        && (has_blocked(conn, row.request.from.id, row.request.to.id)?
            || has_blocked(conn, row.request.to.id, row.request.from.id)?)
    {
        return Err(StoreError::NotFound);
    }
    let mine = if as_recipient {
        row.request.to.id == user && !row.hidden
    } else {
        row.request.from.id == user
    };
    if !mine {
        return Err(StoreError::NotFound);
    }
    if row.request.status != FriendRequestStatus::Pending {
        return Err(StoreError::Rejected(ErrorCode::RequestNotPending));
    }
    Ok(row)
}

/// Declines (as its recipient) or cancels (as its sender) a pending request,
/// and tells both sides.
fn end_request(
    conn: &Connection,
    user: UserId,
    request: FriendRequestId,
    as_recipient: bool,
    status: FriendRequestStatus,
    now: Timestamp,
) -> StoreResult<Changes> {
    let mut row = own_pending(conn, user, request, as_recipient)?;
    set_status(conn, request, status, now)?;
    row.request.status = status;
    row.request.updated_at = now;
    let mut changes = Changes::default();
    announce(conn, &mut changes, &row, now, false)?;
    Ok(changes)
}

#[async_trait]
impl ContactStore for SqliteStore {
    async fn send_friend_request(
        &self,
        from: UserId,
        to: UserId,
        greeting: String,
        now: Timestamp,
    ) -> StoreResult<(FriendRequestSent, Changes)> {
        self.write(move |conn| {
            if from == to {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            get_profile(conn, to)?;
            if are_friends(conn, from, to)? {
                return Err(StoreError::Rejected(ErrorCode::AlreadyFriends));
            }
            if has_blocked(conn, from, to)? {
                return Err(StoreError::Rejected(ErrorCode::Blocked));
            }
            let blocked_by_recipient = has_blocked(conn, to, from)?;
            let mut changes = Changes::default();
            if !blocked_by_recipient
                && let Some(mut reverse) = pending_between(conn, to, from)?
                && !reverse.hidden
            {
                make_friends(conn, &mut changes, from, to, Some(reverse.request.id), now)?;
                set_status(conn, reverse.request.id, FriendRequestStatus::Accepted, now)?;
                reverse.request.status = FriendRequestStatus::Accepted;
                reverse.request.updated_at = now;
                announce(conn, &mut changes, &reverse, now, false)?;
                let record = friend_record(conn, from, to)?.ok_or(StoreError::NotFound)?;
                return Ok((FriendRequestSent::Friends(record), changes));
            }
            if let Some(existing) = pending_between(conn, from, to)? {
                return Ok((FriendRequestSent::Pending(existing.request), changes));
            }
            let id: i64 = conn
                .prepare_cached(
                    "INSERT INTO friend_requests (from_id, to_id, greeting, status, hidden, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?5) RETURNING id",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(params![from.0, to.0, greeting, blocked_by_recipient, now.0], |row| row.get(0))
                })
                .map_err(db_error)?;
            let row = find_request(conn, FriendRequestId(id))?.ok_or(StoreError::NotFound)?;
            announce(conn, &mut changes, &row, now, true)?;
            Ok((FriendRequestSent::Pending(row.request), changes))
        })
        .await
    }

    async fn accept_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<(FriendRecord, Changes)> {
        self.write(move |conn| {
            let mut row = own_pending(conn, user, request, true)?;
            let mut changes = Changes::default();
            let sender = row.request.from.id;
            make_friends(conn, &mut changes, user, sender, Some(request), now)?;
            set_status(conn, request, FriendRequestStatus::Accepted, now)?;
            row.request.status = FriendRequestStatus::Accepted;
            row.request.updated_at = now;
            announce(conn, &mut changes, &row, now, false)?;
            let record = friend_record(conn, user, sender)?.ok_or(StoreError::NotFound)?;
            Ok((record, changes))
        })
        .await
    }

    async fn decline_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            end_request(
                conn,
                user,
                request,
                true,
                FriendRequestStatus::Declined,
                now,
            )
        })
        .await
    }

    async fn cancel_friend_request(
        &self,
        user: UserId,
        request: FriendRequestId,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            end_request(
                conn,
                user,
                request,
                false,
                FriendRequestStatus::Cancelled,
                now,
            )
        })
        .await
    }

    async fn list_friend_requests(&self, user: UserId) -> StoreResult<FriendRequestList> {
        self.read(move |conn| {
            let list = |filter: &str| -> StoreResult<Vec<FriendRequest>> {
                let sql = format!(
                    "{REQUEST_SELECT} WHERE {filter} AND r.status = 'pending' ORDER BY r.id DESC"
                );
                all_rows(conn, &sql, [user.0], |row| {
                    request_at(row).map(|r| r.request)
                })
            };
            let incoming = list("r.to_id = ?1 AND r.hidden = 0")?;
            let outgoing = list("r.from_id = ?1")?;
            Ok(FriendRequestList { incoming, outgoing })
        })
        .await
    }

    async fn list_friends(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> StoreResult<Page<FriendRecord>> {
        self.read(move |conn| {
            // The cursor is the last friend's username key (they are unique).
            let after = page.after.unwrap_or_default();
            let rows = all_rows(
                conn,
                &format!(
                    "{FRIEND_SELECT} WHERE fs.user_id = ?1 AND u.username_key > ?2 \
                     ORDER BY u.username_key LIMIT ?3"
                ),
                params![user.0, after, i64::from(page.limit) + 1],
                |row| Ok((friend_at(row)?, row.get::<_, String>(8)?)),
            )?;
            let page = into_page(rows, page.limit, |(_, key)| key.clone());
            Ok(Page {
                items: page.items.into_iter().map(|(record, _)| record).collect(),
                next: page.next,
            })
        })
        .await
    }

    async fn update_remark(
        &self,
        user: UserId,
        friend: UserId,
        remark: Option<String>,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE friendships SET remark = ?3 WHERE user_id = ?1 AND friend_id = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![user.0, friend.0, remark]))
                .map_err(db_error)?;
            if updated == 0 {
                return Err(StoreError::NotFound);
            }
            let mut changes = Changes::default();
            push_event(
                conn,
                &mut changes,
                user,
                now,
                UserChange::FriendUpdated {
                    user_id: friend,
                    remark,
                },
            )?;
            Ok(changes)
        })
        .await
    }

    async fn remove_friend(
        &self,
        user: UserId,
        friend: UserId,
        now: Timestamp,
    ) -> StoreResult<Changes> {
        self.write(move |conn| {
            let mut changes = Changes::default();
            if !end_friendship(conn, &mut changes, user, friend, now)? {
                return Err(StoreError::NotFound);
            }
            Ok(changes)
        })
        .await
    }

    async fn block(&self, user: UserId, target: UserId, now: Timestamp) -> StoreResult<Changes> {
        self.write(move |conn| {
            if user == target {
                return Err(StoreError::Rejected(ErrorCode::InvalidRequest));
            }
            get_profile(conn, target)?;
            conn.prepare_cached("INSERT OR IGNORE INTO blocks (user_id, blocked_id, created_at) VALUES (?1, ?2, ?3)")
                .and_then(|mut stmt| stmt.execute(params![user.0, target.0, now.0]))
                .map_err(db_error)?;
            let mut changes = Changes::default();
            // A block ends a friendship as a removal does: the blocked user
            // sees exactly what a removed friend sees.
            end_friendship(conn, &mut changes, user, target, now)?;
            // The blocker's own pending request to the target is withdrawn, and
            // both are told, as for any cancel.
            if let Some(mut own) = pending_between(conn, user, target)? {
                set_status(conn, own.request.id, FriendRequestStatus::Cancelled, now)?;
                own.request.status = FriendRequestStatus::Cancelled;
                own.request.updated_at = now;
                announce(conn, &mut changes, &own, now, false)?;
            }
            // Requests already waiting from the blocked user disappear from the
            // blocker's view: the blocker's devices see them declined, while
            // the sender keeps seeing them pending, as an unanswered request.
            let waiting = all_rows(
                conn,
                &format!("{REQUEST_SELECT} WHERE r.from_id = ?2 AND r.to_id = ?1 AND r.status = 'pending' AND r.hidden = 0"),
                [user.0, target.0],
                request_at,
            )?;
            for row in waiting {
                conn.prepare_cached("UPDATE friend_requests SET hidden = 1 WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute([row.request.id.0]))
                    .map_err(db_error)?;
                let mut seen = row.request;
                seen.status = FriendRequestStatus::Declined;
                seen.updated_at = now;
                push_event(conn, &mut changes, user, now, UserChange::FriendRequestUpdated { request: seen })?;
            }
            push_event(conn, &mut changes, user, now, UserChange::BlockChanged { user_id: target, blocked: true })?;
            Ok(changes)
        })
        .await
    }

    async fn unblock(&self, user: UserId, target: UserId, now: Timestamp) -> StoreResult<Changes> {
        self.write(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM blocks WHERE user_id = ?1 AND blocked_id = ?2")
                .and_then(|mut stmt| stmt.execute([user.0, target.0]))
                .map_err(db_error)?;
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            let mut changes = Changes::default();
            push_event(
                conn,
                &mut changes,
                user,
                now,
                UserChange::BlockChanged {
                    user_id: target,
                    blocked: false,
                },
            )?;
            Ok(changes)
        })
        .await
    }

    async fn list_blocks(&self, user: UserId) -> StoreResult<Vec<UserProfile>> {
        self.read(move |conn| {
            all_rows(
                conn,
                &format!(
                    "SELECT {PROFILE_COLUMNS} FROM blocks b JOIN users u ON u.id = b.blocked_id \
                     WHERE b.user_id = ?1 ORDER BY u.username_key"
                ),
                [user.0],
                |row| profile_at(row, 0),
            )
        })
        .await
    }

    async fn relation(&self, a: UserId, b: UserId) -> StoreResult<Relation> {
        self.read(move |conn| {
            Ok(Relation {
                friends: are_friends(conn, a, b)?,
                a_blocked_b: has_blocked(conn, a, b)?,
                b_blocked_a: has_blocked(conn, b, a)?,
            })
        })
        .await
    }

    async fn list_presence_audience(&self, user: UserId) -> StoreResult<Vec<UserId>> {
        self.read(move |conn| {
            all_rows(
                conn,
                "SELECT fs.friend_id FROM friendships fs WHERE fs.user_id = ?1 AND NOT EXISTS \
                     (SELECT 1 FROM blocks b WHERE b.user_id = ?1 AND b.blocked_id = fs.friend_id)",
                [user.0],
                |row| row.get(0).map(UserId),
            )
        })
        .await
    }
}
