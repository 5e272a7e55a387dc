//! What user-written text may hold: names (display names, group names,
//! remarks, device names) and message text.
//!
//! Names are shown beside other people's words, so they may not carry
//! characters that change the direction of what follows (an RTL override turns
//! "invoice" + U+202E + "txt.exe" around) or that cannot be seen at all (a name of zero-width
//! spaces, a BOM in front of "admin"). Message text may use direction marks
//! (people write Arabic and Hebrew), but it must hold something visible.

use natter_protocol::limits::NAME_MAX_CHARS;

use crate::error::{ApiError, ApiResult};

/// Characters that reorder the text around them: the bidi embeddings,
/// overrides and isolates, and the marks that act like them.
pub fn is_direction_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that show nothing by themselves. Joiners and variation
/// selectors belong here too: they are needed inside emoji and some scripts,
/// so they are allowed, but they do not make a text visible.
pub fn is_invisible(c: char) -> bool {
    is_direction_control(c)
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                    // combining grapheme joiner
            | '\u{115F}' | '\u{1160}'       // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'       // Mongolian selectors and vowel separator
            | '\u{200B}'..='\u{200D}'       // zero-width space, non-joiner, joiner
            | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
            | '\u{206A}'..='\u{206F}'       // deprecated format characters
            | '\u{3164}'                    // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'       // variation selectors
            | '\u{FEFF}'                    // byte-order mark
            | '\u{FFA0}'                    // halfwidth Hangul filler
            | '\u{1D173}'..='\u{1D17A}'     // musical formatting
            | '\u{E0000}'..='\u{E0FFF}' // tags and variation selectors supplement
        )
}

/// Characters a name may not hold at all: controls, direction controls and
/// the invisible ones that have no use inside a name (only joiners and
/// variation selectors, which emoji and some scripts need, are let through).
fn forbidden_in_name(c: char) -> bool {
    c.is_control()
        || (is_invisible(c)
            && !matches!(c, '\u{200C}' | '\u{200D}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0020}'..='\u{E007F}'))
}

/// Whether `text` shows anything: some character that is neither white space
/// nor invisible.
pub fn has_visible(text: &str) -> bool {
    text.chars().any(|c| !c.is_whitespace() && !is_invisible(c))
}

/// Trims a user-chosen name; `None` when it is empty. Refuses names longer
/// than 64 characters, names with control, direction or invisible
/// characters, and names that show nothing.
pub fn clean_name(raw: &str, field: &str) -> ApiResult<Option<String>> {
    let name = raw.trim();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::invalid(format!(
            "`{field}` must be at most 64 characters."
        )));
    }
    if name.chars().any(forbidden_in_name) || !has_visible(name) {
        return Err(ApiError::invalid(format!(
            "`{field}` may not contain control, invisible or direction-changing characters."
        )));
    }
    Ok(Some(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_what_people_write_and_lose_what_hides_or_reorders() {
        for fine in [
            "Alice",
            "张伟",
            "علي",
            "👨‍👩‍👧 family",
            "❤️ heart",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
            "می‌خواهم",
        ] {
            assert_eq!(
                clean_name(fine, "name").ok().flatten().as_deref(),
                Some(fine),
                "{fine:?}"
            );
        }
        assert_eq!(clean_name("  padded  ", "name"), Ok(Some("padded".into())));
        assert_eq!(clean_name("   ", "name"), Ok(None));
        for bad in [
            "invoice\u{202E}txt.exe",
            "\u{2067}isolate",
            "\u{200F}mark",
            "\u{FEFF}admin",
            "zero\u{200B}width",
            "\u{200D}\u{200D}",
            "\u{3164}",
            "tab\there",
            &"x".repeat(65),
        ] {
            assert!(clean_name(bad, "name").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_text_is_visible_when_something_in_it_shows() {
        assert!(has_visible("hi"));
        assert!(has_visible("\u{200F}שלום"));
        assert!(has_visible("👍"));
        for empty in [
            "",
            " \n\t",
            "\u{200B}\u{200D}",
            "\u{FEFF}\u{2060}",
            "\u{3164} \u{115F}",
        ] {
            assert!(!has_visible(empty), "{empty:?}");
        }
    }
}
