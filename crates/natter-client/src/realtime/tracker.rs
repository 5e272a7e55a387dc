//! What the connection has already delivered: the bookkeeping behind
//! "never twice, never out of order, no silent gaps".

use std::collections::{BTreeSet, HashMap};

use natter_protocol::conversations::ConversationSummary;
use natter_protocol::{ConversationId, Seq, SyncCursor};

/// What to do with a message that arrived live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Already delivered (or below the baseline): drop it.
    Duplicate,
    /// The next one in order: deliver it.
    Next,
    /// Messages are missing between `after` (the last delivered seq) and this
    /// one: fetch them first.
    Gap { after: Seq },
}

/// Per-conversation delivery positions plus the sync cursor.
///
/// Invariants: a conversation's position only grows, and a message is
/// delivered only if its seq is above the position (which then moves to it),
/// so no `(conversation, seq)` is delivered twice and each conversation's
/// messages come out in ascending seq. A conversation the tracker has never
/// heard of is at position 0: its whole timeline is new to the connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    /// Advanced only from sync replies, and only once everything that sync
    /// reported has been delivered: a catch-up that fails halfway is redone
    /// from the same cursor.
    cursor: SyncCursor,
    /// The highest delivered seq of each conversation. Below it, everything
    /// the server could provide has been delivered.
    delivered: HashMap<ConversationId, Seq>,
    /// Cursors of user events delivered live, above `cursor`; a later sync
    /// lists them again.
    user_events: BTreeSet<SyncCursor>,
}

impl Tracker {
    pub(crate) fn new(cursor: SyncCursor, delivered: HashMap<ConversationId, Seq>) -> Tracker {
        Tracker {
            cursor,
            delivered,
            user_events: BTreeSet::new(),
        }
    }

    pub(crate) fn cursor(&self) -> SyncCursor {
        self.cursor
    }

    pub(crate) fn position(&self, conversation_id: ConversationId) -> Seq {
        self.delivered
            .get(&conversation_id)
            .copied()
            .unwrap_or_default()
    }

    pub(crate) fn positions(&self) -> HashMap<ConversationId, Seq> {
        self.delivered.clone()
    }

    pub(crate) fn classify(&self, conversation_id: ConversationId, seq: Seq) -> Verdict {
        let position = self.position(conversation_id);
        if seq <= position {
            Verdict::Duplicate
        } else if seq.0 == position.0 + 1 {
            Verdict::Next
        } else {
            Verdict::Gap { after: position }
        }
    }

    /// Records `seq` as delivered if it is above the position; returns whether
    /// the caller should deliver it.
    pub(crate) fn accept(&mut self, conversation_id: ConversationId, seq: Seq) -> bool {
        let position = self.delivered.entry(conversation_id).or_default();
        if seq > *position {
            *position = seq;
            true
        } else {
            false
        }
    }

    /// Treats everything up to `seq` as delivered without delivering it: the
    /// starting point of a "from now on" connection, or a range the server
    /// refused to show.
    pub(crate) fn skip_to(&mut self, conversation_id: ConversationId, seq: Seq) {
        self.accept(conversation_id, seq);
    }

    /// Where to fetch history from if a sync reports `summary` beyond our position.
    pub(crate) fn missing_after(&self, summary: &ConversationSummary) -> Option<Seq> {
        let position = self.position(summary.id);
        (summary.last_seq > position).then_some(position)
    }

    /// Whether a user event is new (then it is recorded as delivered).
    pub(crate) fn accept_user_event(&mut self, cursor: SyncCursor) -> bool {
        cursor > self.cursor && self.user_events.insert(cursor)
    }

    /// Moves the sync cursor forward once a sync's changes are all delivered.
    pub(crate) fn advance_cursor(&mut self, cursor: SyncCursor) {
        if cursor > self.cursor {
            self.cursor = cursor;
            self.user_events = self.user_events.split_off(&SyncCursor(cursor.0 + 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: ConversationId = ConversationId(3);

    fn tracker_at(seq: i64) -> Tracker {
        Tracker::new(SyncCursor(10), HashMap::from([(C, Seq(seq))]))
    }

    #[test]
    fn live_messages_are_classified_against_the_position() {
        for (position, seq, expected) in [
            (5, 6, Verdict::Next),
            (5, 5, Verdict::Duplicate),
            (5, 1, Verdict::Duplicate),
            (5, 9, Verdict::Gap { after: Seq(5) }),
            (0, 1, Verdict::Next),
            (0, 2, Verdict::Gap { after: Seq(0) }),
        ] {
            assert_eq!(
                tracker_at(position).classify(C, Seq(seq)),
                expected,
                "position {position}, seq {seq}"
            );
        }
        // Never seen: everything from seq 1 is missing.
        assert_eq!(
            Tracker::default().classify(ConversationId(99), Seq(4)),
            Verdict::Gap { after: Seq(0) }
        );
    }

    #[test]
    fn nothing_is_accepted_twice_and_positions_only_grow() {
        let mut tracker = tracker_at(5);
        assert!(tracker.accept(C, Seq(6)));
        assert!(!tracker.accept(C, Seq(6)), "same seq again");
        assert!(
            tracker.accept(C, Seq(9)),
            "jumping over a hole the server could not fill"
        );
        assert!(
            !tracker.accept(C, Seq(7)),
            "below the position: late duplicate"
        );
        assert_eq!(tracker.position(C), Seq(9));
        tracker.skip_to(C, Seq(4));
        assert_eq!(tracker.position(C), Seq(9), "skip_to never moves backwards");
        tracker.skip_to(ConversationId(4), Seq(20));
        assert_eq!(tracker.classify(ConversationId(4), Seq(21)), Verdict::Next);
    }

    #[test]
    fn user_events_are_deduplicated_until_the_cursor_passes_them() {
        let mut tracker = tracker_at(0);
        assert!(
            !tracker.accept_user_event(SyncCursor(10)),
            "at the cursor: came with the last sync"
        );
        assert!(tracker.accept_user_event(SyncCursor(12)), "live");
        assert!(
            !tracker.accept_user_event(SyncCursor(12)),
            "again from the next sync"
        );
        assert!(
            tracker.accept_user_event(SyncCursor(11)),
            "an earlier one the socket missed"
        );
        tracker.advance_cursor(SyncCursor(11));
        assert_eq!(tracker.cursor(), SyncCursor(11));
        assert!(
            !tracker.accept_user_event(SyncCursor(12)),
            "kept: still above the cursor"
        );
        tracker.advance_cursor(SyncCursor(5));
        assert_eq!(
            tracker.cursor(),
            SyncCursor(11),
            "the cursor never moves back"
        );
        tracker.advance_cursor(SyncCursor(20));
        assert!(
            tracker.user_events.is_empty(),
            "pruned once the cursor passed them"
        );
    }
}
