//! Username rules: which names are valid, and the key under which look-alike
//! spellings collide.

use natter_protocol::limits::{USERNAME_MAX_CHARS, USERNAME_MIN_CHARS};
use unicode_normalization::UnicodeNormalization;
use unicode_security::skeleton;

/// A username as shown (NFKC-normalized, case kept) and its uniqueness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
}

/// Validates a username: 3–32 characters, each a letter of any script, a digit,
/// `_`, `-` or `.`.
pub fn parse_username(raw: &str) -> Option<Username> {
    let display: String = raw.nfkc().collect();
    let count = display.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&count) {
        return None;
    }
    if !display
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return None;
    }
    Some(Username {
        key: search_key(&display),
        display,
    })
}

/// The key for uniqueness and search: NFKC, lowercase, then the UTS #39
/// confusable skeleton, so that `Alice`, `ＡＬＩＣＥ` and a Cyrillic `аlice` collide.
pub fn search_key(text: &str) -> String {
    let folded: String = text.nfkc().flat_map(char::to_lowercase).collect();
    let skeleton: String = skeleton(&folded).collect();
    // The skeleton may leave upper case or decomposed forms; fold once more.
    skeleton.nfkc().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected_key: Option<&str>) {
        assert_eq!(
            parse_username(raw).map(|u| u.key),
            expected_key.map(str::to_owned),
            "{raw}"
        );
    }

    #[test]
    fn usernames_follow_the_rules() {
        check("alice", Some(&search_key("alice")));
        check("ab", None);
        check(&"x".repeat(33), None);
        check(&"x".repeat(32), Some(&search_key(&"x".repeat(32))));
        check("al ice", None);
        check("al<ice", None);
        check("张伟", None); // two characters: too short
        assert!(parse_username("张伟明").is_some());
        assert!(parse_username("bob_the-builder.2").is_some());
        assert!(parse_username("").is_none());
        assert!(parse_username("a\u{0}b").is_none());
    }

    #[test]
    fn look_alikes_collide() {
        let key = |s: &str| parse_username(s).map(|u| u.key);
        assert_eq!(key("Alice"), key("alice"));
        assert_eq!(key("ＡＬＩＣＥ"), key("alice")); // fullwidth
        assert_eq!(key("\u{0430}lice"), key("alice")); // Cyrillic а
        assert_ne!(key("alice"), key("alicia"));
        assert_eq!(key("张伟明"), key("张伟明"));
    }
}
