//! Display names as people may see them: one normaliser for every connector and the core.
//!
//! A display name is chosen by whoever owns the account, so it is hostile input that the bridge
//! then prints next to a platform label it vouches for (`Ada (Telegram):`, a Discord webhook
//! username). [`normalize`] makes sure that what a reader sees is what the bridge means:
//!
//! - characters that are not shown, or that change how other characters are shown, are removed:
//!   Unicode's `Default_Ignorable_Code_Point` set (bidi controls U+202A–202E, U+2066–2069,
//!   U+200E/F, U+061C; zero-width U+200B–200D, U+2060–2064, U+FEFF; Hangul fillers U+3164,
//!   U+115F, U+1160, U+FFA0; U+180E; variation selectors; tag characters …), every other format
//!   (`Cf`) and control (`Cc`) character, unassigned code points, and the blank braille pattern
//!   U+2800 (a visible-width blank that no property marks);
//! - line breaks and runs of any white space fold into one space, and the ends are trimmed, so a
//!   name is always one line;
//! - a grapheme keeps at most [`MAX_MARKS`] combining marks (a "Zalgo" stack cannot cover the
//!   lines around it);
//! - a platform label in brackets inside the name (`(Matrix)`, `（Telegram）`) becomes `[Matrix]`,
//!   so only the label the bridge adds reads as one;
//! - the result is cut at a grapheme boundary to the caller's limit, and an empty result becomes
//!   [`FALLBACK`].
//!
//! [`labelled`] cuts the name *before* adding ` (Label)`, so the label always shows in full.
//! The character classes come from `regex`'s Unicode tables (maintained with each Unicode
//! release), not from a list kept here.

use regex::Regex;
use std::sync::LazyLock;
use unicode_segmentation::UnicodeSegmentation;

/// The longest name the bridge stores or shows, in characters (before any label).
pub const MAX_NAME_CHARS: usize = 64;

/// What a name that normalises to nothing is shown as.
pub const FALLBACK: &str = "Unnamed";

/// The most combining marks one grapheme keeps.
pub const MAX_MARKS: usize = 4;

/// Invisible, format and control characters (white space is folded, not removed).
static HIDDEN: LazyLock<Regex> = LazyLock::new(|| {
    // `[…--\s]`: the classes minus white space, which the next step folds into a space.
    Regex::new(r"[[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\p{Cn}\x{2800}]--\s]+")
        .unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

static WHITE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\s+").unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

/// A bracketed platform label inside a name, with the brackets that look like `(` and `)`.
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[(（﹙⁽₍]\s*(matrix|telegram|discord)\s*[)）﹚⁾₎]")
        .unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

static MARK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\p{M}$").unwrap_or_else(|e| unreachable!("a fixed pattern compiles: {e}"))
});

fn is_mark(c: char) -> bool {
    let mut buf = [0u8; 4];
    MARK.is_match(c.encode_utf8(&mut buf))
}

/// Whether `raw` carries control characters (line breaks included) or bidi controls: someone
/// chose them to change how a name reads. [`normalize`] removes them; this says they were there.
pub fn has_control_or_bidi(raw: &str) -> bool {
    raw.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// `raw` as a one-line, visible name of at most `max` characters (at least one: the fallback is
/// cut too). Idempotent: `normalize(&normalize(s, m), m) == normalize(s, m)`.
pub fn normalize(raw: &str, max: usize) -> String {
    let max = max.max(1);
    let visible = HIDDEN.replace_all(raw, "");
    let folded = WHITE.replace_all(&visible, " ");
    let labels = LABEL.replace_all(folded.trim(), "[$1]");
    let mut out = String::with_capacity(labels.len().min(max * 4));
    let mut used = 0usize;
    for g in labels.graphemes(true) {
        let kept = cap_marks(g);
        let len = kept.chars().count();
        if used + len > max {
            break;
        }
        used += len;
        out.push_str(&kept);
    }
    let out = out.trim_end();
    if out.is_empty() {
        return truncate(FALLBACK, max);
    }
    out.to_owned()
}

/// A grapheme with at most [`MAX_MARKS`] combining marks (the first ones).
fn cap_marks(g: &str) -> String {
    let mut marks = 0usize;
    g.chars()
        .filter(|c| {
            if is_mark(*c) {
                marks += 1;
                marks <= MAX_MARKS
            } else {
                true
            }
        })
        .collect()
}

/// `name (label)` in at most `max` characters: the name is normalised and cut first, so the label
/// is always whole. `label` is the bridge's own (`Telegram`), never user input.
pub fn labelled(raw: &str, label: &str, max: usize) -> String {
    let suffix = format!(" ({label})");
    let room = max.saturating_sub(suffix.chars().count()).max(1);
    format!("{}{suffix}", normalize(raw, room.min(MAX_NAME_CHARS)))
}

/// The attribution before relayed text, `Name (Label):`, with the name normalised and cut to
/// [`MAX_NAME_CHARS`] before the label is added.
pub fn attribution(raw: &str, label: &str) -> String {
    let max = MAX_NAME_CHARS + label.chars().count() + 3;
    format!("{}:", labelled(raw, label, max))
}

/// `s` cut to at most `max` characters at a grapheme boundary (a grapheme longer than `max` on
/// its own is cut by characters: something is always kept when `max > 0`).
pub fn truncate(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0usize;
    for g in s.graphemes(true) {
        let len = g.chars().count();
        if used + len > max {
            if used == 0 {
                out.extend(g.chars().take(max));
            }
            break;
        }
        used += len;
        out.push_str(g);
    }
    out
}

/// Whether `text` shows nothing at all: white space and the characters [`normalize`] removes,
/// or nothing. Such a message is never relayed.
pub fn is_blank(text: &str) -> bool {
    HIDDEN.replace_all(text, "").trim().is_empty()
}

/// Whether `c` is one of the characters [`normalize`] never lets through (besides white space
/// other than a plain space). For tests and assertions.
pub fn is_hidden(c: char) -> bool {
    let mut buf = [0u8; 4];
    let s = c.encode_utf8(&mut buf);
    HIDDEN.is_match(s) || (c != ' ' && WHITE.is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_fillers_bidi_and_zero_width_characters_are_removed() {
        let raw = "Staff\u{3164}\u{3164} \u{202E}(Matrix)\u{200B}\u{2066}\u{FEFF}\u{2800}\u{115F}";
        assert_eq!(normalize(raw, 64), "Staff [Matrix]");
        assert_eq!(normalize("\u{3164}\u{3164}", 64), FALLBACK);
        assert_eq!(normalize("", 3), "Unn");
    }

    #[test]
    fn newlines_and_runs_of_white_space_fold_into_one_space() {
        assert_eq!(
            normalize(" Ada\nCouncil\u{2028}Officer\t\u{00A0}\u{3000} x ", 64),
            "Ada Council Officer x"
        );
    }

    #[test]
    fn the_label_is_added_after_the_cut() {
        let name = format!("Staff (Matrix){}", "x".repeat(200));
        let l = labelled(&name, "Telegram", 80);
        assert!(l.ends_with(" (Telegram)"), "{l}");
        assert!(l.chars().count() <= 80);
        assert_eq!(labelled("İlknur", "Matrix", 80), "İlknur (Matrix)");
    }

    #[test]
    fn cuts_keep_graphemes_whole_and_stacks_of_marks_short() {
        // "é" as e + U+0301, then a family emoji joined by ZWJ (the joiners are removed).
        assert_eq!(normalize("ée\u{301}", 2), "é");
        let zalgo = format!("Z{}", "\u{0336}".repeat(50));
        assert_eq!(normalize(&zalgo, 64).chars().count(), 1 + MAX_MARKS);
        assert_eq!(truncate("ab", 0), "");
        assert_eq!(truncate(&"\u{301}".repeat(10), 3).chars().count(), 3);
    }
}

#[cfg(test)]
mod properties {
    //! The normaliser's contract on arbitrary input, deterministic in CI (see
    //! `testing::fuzz_config`).
    use super::*;
    use crate::testing::fuzz_config;
    use proptest::prelude::*;

    /// Names rich in the characters that matter: hidden ones, white space, marks, labels.
    fn hostile() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("\u{3164}".to_owned()),
            Just("\u{202E}".to_owned()),
            Just("\u{2066}".to_owned()),
            Just("\u{200D}".to_owned()),
            Just("\u{E0041}".to_owned()),
            Just("\u{0301}".to_owned()),
            Just("\n".to_owned()),
            Just(" ".to_owned()),
            Just("\u{3000}".to_owned()),
            Just("(Matrix)".to_owned()),
            Just("（telegram）".to_owned()),
            Just("İ".to_owned()),
            Just("👨‍👩‍👧".to_owned()),
            "[a-zA-Zé ]{1,8}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(atom, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(fuzz_config(256))]

        #[test]
        fn fuzz_names_normalize(raw in hostile(), max in 1usize..100) {
            let n = normalize(&raw, max);
            prop_assert!(!n.is_empty());
            prop_assert!(n.chars().count() <= max, "{:?}", n);
            prop_assert!(!n.chars().any(is_hidden), "{:?}", n);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' '), "{:?}", n);
            prop_assert_eq!(normalize(&n, max), n.clone(), "idempotent");
        }

        #[test]
        fn fuzz_names_labelled(raw in hostile(), label in "(Matrix|Telegram|Discord)", max in 20usize..100) {
            let l = labelled(&raw, &label, max);
            let suffix = format!(" ({label})");
            prop_assert!(l.ends_with(&suffix), "{:?}", l);
            prop_assert!(l.chars().count() <= max, "{:?}", l);
            // The label the bridge adds is the only one that reads as a label.
            prop_assert_eq!(l.matches(&suffix).count(), 1, "{:?}", l);
            prop_assert!(!l.chars().any(is_hidden), "{:?}", l);
        }
    }
}

#[cfg(test)]
mod control_tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_noticed_but_emoji_joiners_are_not() {
        assert!(has_control_or_bidi("Ada\u{202e}"));
        assert!(has_control_or_bidi("Ada\nLovelace"));
        assert!(has_control_or_bidi("\u{2067}Ada"));
        assert!(!has_control_or_bidi("Ada 👩‍💻"));
        assert!(!has_control_or_bidi("Zoë ❤️"));
    }
}
