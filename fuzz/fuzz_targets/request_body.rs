//! Every JSON body of the HTTP API. The first byte picks the type; the rest is
//! the body. Decoding must never panic, and what decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use natter_protocol::{accounts, contacts, conversations};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(body: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(body) {
        let encoded = serde_json::to_vec(&value).expect("a decoded body encodes");
        let again: T = serde_json::from_slice(&encoded).expect("an encoded body decodes");
        assert_eq!(value, again);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 14 {
        0 => round_trip::<accounts::RegisterRequest>(body),
        1 => round_trip::<accounts::LoginRequest>(body),
        2 => round_trip::<accounts::UpdateProfileRequest>(body),
        3 => round_trip::<accounts::ChangePasswordRequest>(body),
        4 => round_trip::<contacts::SendFriendRequest>(body),
        5 => round_trip::<contacts::UpdateFriendRequest>(body),
        6 => round_trip::<conversations::OpenDirectRequest>(body),
        7 => round_trip::<conversations::SendMessageRequest>(body),
        8 => round_trip::<conversations::MarkReadRequest>(body),
        9 => round_trip::<conversations::CreateGroupRequest>(body),
        10 => round_trip::<conversations::UpdateGroupRequest>(body),
        11 => round_trip::<conversations::InviteRequest>(body),
        12 => round_trip::<conversations::SetRoleRequest>(body),
        _ => round_trip::<conversations::TransferRequest>(body),
    }
});
