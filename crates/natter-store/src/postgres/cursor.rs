//! The change-stream clock on PostgreSQL: the cursors writers assign and the
//! horizon readers stop below (the design is in the module doc of
//! [`crate::postgres`]).
//!
//! Public so that tests can drive writer and reader transactions in an order
//! they choose; the server reaches all of this only through the store traits.

use deadpool_postgres::{Object, Transaction};
use natter_protocol::sync::{UserChange, UserEvent};
use natter_protocol::{SyncCursor, Timestamp, UserId};
use tokio_postgres::IsolationLevel;

use super::db_error;
use super::encoding::{decode_change, encode_change};
use crate::{StoreError, StoreResult};

/// Bits of a cursor that number the entries of one transaction.
const INDEX_BITS: u32 = 16;

/// Transaction ids from here on would make cursors of 2^53 or more, which
/// JSON clients (JavaScript numbers) cannot hold exactly.
const MAX_TXID: i64 = 1 << (53 - INDEX_BITS);

/// The cursors of one write transaction: `(txid << 16) | n` for its n-th
/// entry. Take one per transaction, and only in a transaction that writes
/// what it numbers: two in one transaction would hand out the same cursors
/// (the primary key then refuses the second entry).
#[derive(Debug)]
pub struct TxCursors {
    txid: i64,
    next: i64,
}

impl TxCursors {
    /// Starts numbering in `tx`. Assigns `tx` its transaction id now if it
    /// has none yet: from here on no reader's horizon passes it until `tx`
    /// ends.
    pub async fn start(tx: &Transaction<'_>) -> StoreResult<TxCursors> {
        let row = tx
            .query_one("SELECT pg_current_xact_id()::text::bigint", &[])
            .await
            .map_err(db_error)?;
        let txid: i64 = row.try_get(0).map_err(db_error)?;
        if txid >= MAX_TXID {
            tracing::error!(txid, "transaction ids too high for sync cursors");
            return Err(StoreError::Unavailable(format!(
                "PostgreSQL transaction id {txid} is past what sync cursors can hold (2^37)"
            )));
        }
        Ok(TxCursors { txid, next: 0 })
    }

    /// The next cursor of this transaction, above every cursor a reader has
    /// been given so far. Fails (rather than overlap the next transaction's)
    /// after 65,536 entries.
    pub fn next_cursor(&mut self) -> StoreResult<SyncCursor> {
        if self.next >= 1 << INDEX_BITS {
            return Err(StoreError::Unavailable(
                "more than 65,536 change-stream entries in one transaction".into(),
            ));
        }
        let cursor = (self.txid << INDEX_BITS) | self.next;
        self.next += 1;
        Ok(SyncCursor(cursor))
    }
}

/// Starts a read transaction whose statements share one snapshot, as the
/// horizon and the rows below it must.
pub async fn begin_read(client: &mut Object) -> StoreResult<Transaction<'_>> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(db_error)
}

/// The cursor below which everything is final in `tx`'s snapshot: every
/// transaction that could still write a smaller cursor has ended, and every
/// later one writes at or above it. Call it in a [`begin_read`] transaction
/// and read only rows below it, in the same transaction.
pub async fn read_horizon(tx: &Transaction<'_>) -> StoreResult<i64> {
    let row = tx
        .query_one(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            &[],
        )
        .await
        .map_err(db_error)?;
    let xmin: i64 = row.try_get(0).map_err(db_error)?;
    Ok(xmin << INDEX_BITS)
}

/// Appends an entry to `user`'s change stream with the transaction's next cursor.
pub async fn append_user_event(
    tx: &Transaction<'_>,
    cursors: &mut TxCursors,
    user: UserId,
    at: Timestamp,
    change: UserChange,
) -> StoreResult<UserEvent> {
    let cursor = cursors.next_cursor()?;
    let (kind, bytes) = encode_change(&change)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO user_events (cursor, user_id, at, change_kind, change) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(db_error)?;
    tx.execute(&insert, &[&cursor.0, &user.0, &at.0, &kind, &bytes])
        .await
        .map_err(db_error)?;
    Ok(UserEvent { cursor, at, change })
}

/// Up to `limit` of `user`'s entries with `since < cursor < horizon`, in
/// cursor order. `horizon` must come from [`read_horizon`] in the same `tx`.
pub async fn user_events_after(
    tx: &Transaction<'_>,
    user: UserId,
    since: SyncCursor,
    horizon: i64,
    limit: u32,
) -> StoreResult<Vec<UserEvent>> {
    let select = tx
        .prepare_cached(
            "SELECT cursor, at, change_kind, change FROM user_events \
             WHERE user_id = $1 AND cursor > $2 AND cursor < $3 ORDER BY cursor LIMIT $4",
        )
        .await
        .map_err(db_error)?;
    let rows = tx
        .query(&select, &[&user.0, &since.0, &horizon, &i64::from(limit)])
        .await
        .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let kind: i16 = row.try_get(2).map_err(db_error)?;
            let bytes: &[u8] = row.try_get(3).map_err(db_error)?;
            Ok(UserEvent {
                cursor: SyncCursor(row.try_get(0).map_err(db_error)?),
                at: Timestamp(row.try_get(1).map_err(db_error)?),
                change: decode_change(kind, bytes)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_number_the_entries_of_a_transaction_and_stop_before_overlapping() {
        let mut cursors = TxCursors { txid: 5, next: 0 };
        assert_eq!(cursors.next_cursor().expect("first"), SyncCursor(5 << 16));
        assert_eq!(
            cursors.next_cursor().expect("second"),
            SyncCursor((5 << 16) | 1)
        );
        cursors.next = (1 << 16) - 1;
        assert_eq!(
            cursors.next_cursor().expect("last"),
            SyncCursor((6 << 16) - 1)
        );
        assert!(
            cursors.next_cursor().is_err(),
            "would be the next transaction's"
        );
    }
}
