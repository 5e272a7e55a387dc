//! What the SDK and the web client decode from a server (which a client must
//! not trust blindly either): server frames, events and replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_protocol::ws::ServerFrame;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = serde_json::from_slice::<ServerFrame>(data) {
        let encoded = serde_json::to_vec(&frame).expect("a decoded frame encodes");
        let again: ServerFrame = serde_json::from_slice(&encoded).expect("decodes again");
        assert_eq!(frame, again);
    }
});
