//! Who may reach whom: one rule for messages, read receipts, typing and
//! presence, so that a block shows nowhere differently from a removal.

use natter_store::Relation;

/// Whether `a` and `b`, standing to each other as `relation` (`a` the one
/// acting), may exchange direct messages and the signals that go with them:
/// read receipts, typing, read positions. Neither may have blocked the other,
/// and they must be friends unless the server lets anyone message anyone.
pub fn may_message(relation: &Relation, open_direct_messages: bool) -> bool {
    !relation.a_blocked_b && !relation.b_blocked_a && (relation.friends || open_direct_messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(friends: bool, a_blocked_b: bool, b_blocked_a: bool, open: bool, expected: bool) {
        let relation = Relation {
            friends,
            a_blocked_b,
            b_blocked_a,
        };
        assert_eq!(
            may_message(&relation, open),
            expected,
            "{relation:?} open={open}"
        );
    }

    #[test]
    fn friends_without_blocks_may_message_and_nobody_else() {
        check(true, false, false, false, true);
        check(false, false, false, false, false);
        check(false, false, false, true, true);
        // A block either way closes it, whatever else holds.
        for open in [false, true] {
            for friends in [false, true] {
                check(friends, true, false, open, false);
                check(friends, false, true, open, false);
            }
        }
    }
}
