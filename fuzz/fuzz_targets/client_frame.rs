//! Every WebSocket text frame a client sends goes through
//! `decode_client_frame`: it must never panic, and what it accepts must
//! survive a round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_protocol::ws::decode_client_frame;

fuzz_target!(|data: &[u8]| {
    // The server reads only text frames, which the WebSocket layer has already
    // checked to be UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match decode_client_frame(text) {
        Ok(frame) => {
            let encoded = serde_json::to_string(&frame).expect("a decoded frame encodes");
            let again = decode_client_frame(&encoded).expect("an encoded frame decodes");
            assert_eq!(frame, again);
        }
        Err(error) => assert!(!error.message.is_empty()),
    }
});
