//! The query strings the API reads (history pages, user search, sync), as the
//! server decodes them (serde_urlencoded, under axum's `Query`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_protocol::contacts::SearchUsersQuery;
use natter_protocol::conversations::HistoryQuery;
use natter_protocol::sync::SyncQuery;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(history) = serde_urlencoded::from_str::<HistoryQuery>(query) {
        let encoded = serde_urlencoded::to_string(&history).expect("encodes");
        assert_eq!(
            serde_urlencoded::from_str::<HistoryQuery>(&encoded).ok(),
            Some(history)
        );
    }
    let _ = serde_urlencoded::from_str::<SearchUsersQuery>(query);
    let _ = serde_urlencoded::from_str::<SyncQuery>(query);
});
