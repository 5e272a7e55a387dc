//! Pages of the lists a user can grow (friends, conversations, members): a
//! client asks for at most `LIST_PAGE_MAX` items at a time, so no one answer
//! grows with what someone else did to the user (2,000 groups, say).

use natter_protocol::conversations::PageQuery;
use natter_protocol::limits::{LIST_PAGE_DEFAULT, LIST_PAGE_MAX};
use natter_store::PageRequest;

/// The store's request for a client's page query: the size clamped to
/// 1..=`LIST_PAGE_MAX` (default `LIST_PAGE_DEFAULT`).
pub fn page_request(query: PageQuery) -> PageRequest {
    PageRequest {
        limit: query
            .limit
            .unwrap_or(LIST_PAGE_DEFAULT)
            .clamp(1, LIST_PAGE_MAX),
        after: query.after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_clamped() {
        let limit = |limit| page_request(PageQuery { limit, after: None }).limit;
        assert_eq!(limit(None), LIST_PAGE_DEFAULT);
        assert_eq!(limit(Some(0)), 1);
        assert_eq!(limit(Some(7)), 7);
        assert_eq!(limit(Some(1_000_000)), LIST_PAGE_MAX);
    }
}
