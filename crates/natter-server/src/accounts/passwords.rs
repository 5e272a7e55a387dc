//! Password rules (ASVS 6.2, NIST SP 800-63B 3.1.1.2): 8 to 1024
//! characters, no composition rules, and not guessable: not a password from
//! the lists attackers try first, not made from the username or display
//! name, not a repeat, sequence, keyboard run or date.

use natter_protocol::limits::{PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
use natter_protocol::{ErrorCode, ErrorReason};

use crate::error::{ApiError, ApiResult};

/// Guesses (zxcvbn's estimate) a password must need: 10^8, zxcvbn's score 3,
/// "safely unguessable" against an online attacker and costly offline with
/// Argon2id. Measured with zxcvbn here: `Password1!` 17,560, `P@ssw0rd!`
/// 11,000, `Summer2026` 23,800, `woaini1314` 85 million, `qwerty2026!` 10
/// million all fall under it; `correct horse` 150 million, `new password 1`
/// 400 million, a random `xk3j9q2m` 100 million and `我的密码很长很安全` a
/// billion pass.
const MIN_GUESSES: u64 = 100_000_000;

/// zxcvbn's matching grows faster than linearly with length; a long password
/// is judged by its start, which is where common ones differ anyway.
const JUDGED_CHARS: usize = 64;

/// Refuses passwords of the wrong length and guessable ones, saying which
/// rule they broke. `personal` holds what an attacker would try first for
/// this account (username, display name).
pub fn check_password(password: &str, personal: &[&str]) -> ApiResult<()> {
    match judge(password, personal) {
        None => Ok(()),
        Some(reason) => Err(ApiError {
            reason: Some(reason),
            ..ApiError::new(ErrorCode::WeakPassword, explain(reason))
        }),
    }
}

/// The rule `password` breaks, if any.
fn judge(password: &str, personal: &[&str]) -> Option<ErrorReason> {
    let count = password.chars().count();
    if count < PASSWORD_MIN_CHARS {
        return Some(ErrorReason::TooShort);
    }
    if count > PASSWORD_MAX_CHARS {
        return Some(ErrorReason::TooLong);
    }
    let judged: String = password.chars().take(JUDGED_CHARS).collect();
    // Each word of a name is tried on its own too ("Alice Liddell": "liddell").
    let words: Vec<String> = personal
        .iter()
        .flat_map(|text| {
            let lower = text.to_lowercase();
            let mut parts: Vec<String> = lower.split_whitespace().map(str::to_owned).collect();
            parts.push(lower);
            parts
        })
        .collect();
    let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(&judged, &inputs);
    if entropy.guesses() >= MIN_GUESSES {
        return None;
    }
    // Name the most telling part of what made it guessable.
    let lower = judged.to_lowercase();
    let uses_personal = words
        .iter()
        .any(|word| word.chars().count() >= 3 && lower.contains(word.as_str()));
    if uses_personal {
        return Some(ErrorReason::PersonalInformation);
    }
    use zxcvbn::feedback::Warning;
    let common = entropy
        .feedback()
        .and_then(|feedback| feedback.warning())
        .is_some_and(|warning| {
            matches!(
                warning,
                Warning::ThisIsATop10Password
                    | Warning::ThisIsATop100Password
                    | Warning::ThisIsACommonPassword
                    | Warning::ThisIsSimilarToACommonlyUsedPassword
            )
        });
    Some(if common {
        ErrorReason::CommonPassword
    } else {
        ErrorReason::Predictable
    })
}

fn explain(reason: ErrorReason) -> &'static str {
    match reason {
        ErrorReason::TooShort => "Passwords have at least 8 characters.",
        ErrorReason::TooLong => "Passwords have at most 1024 characters.",
        ErrorReason::CommonPassword => {
            "This password, or one very like it, is among those attackers try first: choose another."
        }
        ErrorReason::PersonalInformation => {
            "This password is made from your username or name: choose another."
        }
        ErrorReason::Predictable => {
            "This password is easy to guess (repeats, sequences, dates, common words): a few more unrelated words help."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(password: &str, expected: Option<ErrorReason>) {
        assert_eq!(
            judge(password, &["alice", "Alice Liddell"]),
            expected,
            "{password}"
        );
    }

    #[test]
    fn guessable_passwords_are_refused_with_the_rule_they_break() {
        use ErrorReason::*;
        for weak in [
            "password",
            "password1",
            "Password1!",
            "P@ssw0rd!",
            "letmein123",
            "iloveyou1",
            "woaini1314",
            "zaq12wsx",
        ] {
            check(weak, Some(CommonPassword));
        }
        for personal in ["alice12345", "alicealice1", "Alice2026", "liddell2020"] {
            check(personal, Some(PersonalInformation));
        }
        for predictable in [
            "aaaaaaaa1",
            "12345678",
            "Summer2026",
            "qwerty2026!",
            "hunter2hunter2",
        ] {
            assert!(judge(predictable, &["alice"]).is_some(), "{predictable}");
        }
    }

    #[test]
    fn unguessable_passwords_pass_without_composition_rules() {
        for fine in [
            "correct horse battery",
            "new password 1",
            "blue sky 88 tea",
            "xk3j9q2m",
            "我的密码很长很安全",
            "a long sentence about the weather in Hangzhou, the tea and the lake in spring",
        ] {
            check(fine, None);
        }
    }

    #[test]
    fn length_is_checked_first() {
        check("Xy7#q2!", Some(ErrorReason::TooShort));
        check(&"p".repeat(1025), Some(ErrorReason::TooLong));
        let refused = check_password("short", &[]).expect_err("too short");
        assert_eq!(refused.code, ErrorCode::WeakPassword);
        assert_eq!(refused.reason, Some(ErrorReason::TooShort));
    }
}
