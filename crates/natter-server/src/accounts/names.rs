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

/// Which [`search_key`] the stored keys were made with. Raised whenever the
/// function changes; at start, keys made by an older one are made again.
pub const KEY_VERSION: i64 = 2;

/// The key for uniqueness and search, under which look-alike spellings
/// collide: `Alice`, `ＡＬＩＣＥ`, a Cyrillic `аlice`, `aIice` and `al1ce`.
///
/// The UTS #39 confusable skeleton comes first, on the text as written: it
/// maps `I`, `1` and `|` to `l` and `0` to `O`, which lowercasing first would
/// have turned into `i` and kept apart (version 1 did, and let `aIice` in
/// beside `alice`). Then case is folded, the skeleton of the result taken once
/// more (lowercasing makes new letters), and `i` counted as `l`: in many
/// fonts `al1ce`, `aIice` and `alice` cannot be told apart at a glance.
pub fn search_key(text: &str) -> String {
    let normalized: String = text.nfkc().collect();
    let lower: String = skeleton(&normalized).flat_map(char::to_lowercase).collect();
    let folded: String = skeleton(&lower).flat_map(char::to_lowercase).collect();
    folded
        .nfkc()
        .map(|c| if c == 'i' { 'l' } else { c })
        .collect()
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
        for (a, b) in [
            ("Alice", "alice"),
            ("ＡＬＩＣＥ", "alice"),   // fullwidth
            ("\u{0430}lice", "alice"), // Cyrillic а
            ("aIice", "alice"),        // capital I for l
            ("al1ce", "alice"),        // digit one
            ("PayPaI", "paypal"),
            ("IIama", "llama"),
            ("Ilama", "llama"),
            ("b0b", "bob"),    // digit zero
            ("rnary", "mary"), // r n for m
            ("Ａｌ１ｃｅ", "alice"),
        ] {
            assert_eq!(key(a), key(b), "{a} and {b}");
        }
        assert_ne!(key("alice"), key("alicia"));
        assert_ne!(key("bob"), key("bab"));
        assert_eq!(key("张伟明"), key("张伟明"));
        assert_ne!(key("张伟明"), key("张伟"));
    }

    /// The username parser takes untrusted text at registration, login and
    /// search; it lives in this crate, outside the fuzz targets, so random
    /// text from the scripts users write (and the characters attackers use)
    /// is thrown at it here: it never panics, and what it accepts is stable.
    #[test]
    fn random_text_never_panics_and_accepted_names_are_stable() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let ranges: &[(u32, u32)] = &[
            (0x20, 0x7e),       // ASCII
            (0x00, 0x1f),       // controls
            (0xa0, 0x24f),      // Latin-1 and Latin Extended
            (0x300, 0x36f),     // combining marks
            (0x400, 0x4ff),     // Cyrillic
            (0x4e00, 0x9fff),   // CJK
            (0xff00, 0xffef),   // fullwidth and halfwidth forms
            (0x200b, 0x202e),   // zero-width and bidi controls
            (0x1f300, 0x1faff), // emoji
            (0x1d400, 0x1d7ff), // mathematical letters (NFKC folds them)
        ];
        let mut rng = StdRng::seed_from_u64(0x6e61_6d65);
        for _ in 0..20_000 {
            let length = rng.random_range(0..40);
            let text: String = (0..length)
                .filter_map(|_| {
                    let (low, high) = ranges[rng.random_range(0..ranges.len())];
                    char::from_u32(rng.random_range(low..=high))
                })
                .collect();
            let key = search_key(&text);
            assert!(
                key.chars().count() <= text.chars().count() * 18 + 1,
                "{text:?}"
            );
            if let Some(name) = parse_username(&text) {
                assert_eq!(
                    parse_username(&name.display),
                    Some(name.clone()),
                    "{text:?}"
                );
                assert_eq!(search_key(&name.display), name.key, "{text:?}");
                assert!(name.display.chars().all(|c| !c.is_control()), "{text:?}");
            }
        }
    }
}
