//! Password rules (ASVS 6.2): 8 to 1024 characters, no composition rules,
//! and none of the few thousand passwords attackers try first.

use natter_protocol::ErrorCode;
use natter_protocol::limits::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};

use crate::error::{ApiError, ApiResult};

/// Guesses below which a password counts as common: the 3,000 most used
/// passwords and their obvious variants (a digit appended, capitalised, the
/// username repeated) fall under it.
const MIN_GUESSES: u64 = 10_000;

/// zxcvbn's matching grows faster than linearly with length; a long password
/// is judged by its start, which is where common ones differ anyway.
const JUDGED_CHARS: usize = 64;

/// Refuses passwords of the wrong length and common ones. `personal` holds
/// what an attacker would try first for this account (username, display name).
pub fn check_password(password: &str, personal: &[&str]) -> ApiResult<()> {
    let count = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&count) {
        return Err(ApiError::new(
            ErrorCode::WeakPassword,
            "Passwords have 8 to 1024 characters.",
        ));
    }
    let judged: String = password.chars().take(JUDGED_CHARS).collect();
    if zxcvbn::zxcvbn(&judged, personal).guesses() < MIN_GUESSES {
        return Err(ApiError::new(
            ErrorCode::WeakPassword,
            "This password is one of the most common ones, or made from the username: choose another.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for weak in [
            "password",
            "password1",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
            "aaaaaaaa",
            "zaq12wsx",
            "alicealice",
        ] {
            assert!(check_password(weak, &["alice"]).is_err(), "{weak}");
        }
    }

    #[test]
    fn ordinary_passwords_pass_without_composition_rules() {
        for fine in [
            "correct horse battery",
            "new password 1",
            "sunshine99",
            "我的密码很长很安全",
            "a long sentence about the weather in Hangzhou, the tea and the lake in spring",
        ] {
            let outcome = check_password(fine, &["alice"]);
            assert!(outcome.is_ok(), "{fine}: {outcome:?}");
        }
    }

    #[test]
    fn length_is_checked_first() {
        assert!(check_password("Xy7#q2!", &[]).is_err());
        assert!(check_password(&"p".repeat(1025), &[]).is_err());
    }
}
