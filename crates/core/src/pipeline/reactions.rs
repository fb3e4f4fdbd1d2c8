//! Reactions that cross a link: the people's reactions on every copy of a message are tallied
//! per room, and the bot shows on each copy the keys reacted with on the others (as far as the
//! link's rules let reactions cross between those sides and the target platform takes them).

/// At most this many characters of a reaction key are kept: a key is an emoji or a short word.
pub const MAX_KEY_CHARS: usize = 32;

/// A reaction key made safe to store and show: control, bidi and line characters removed, cut
/// at [`MAX_KEY_CHARS`] on a grapheme boundary. Joiners and variation selectors stay: they are
/// part of emoji. An empty result means the reaction is ignored.
pub fn clean_key(key: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let kept: String = key
        .chars()
        .filter(|c| {
            !c.is_control() && !is_bidi_control(*c) && !matches!(c, '\u{2028}' | '\u{2029}')
        })
        .collect();
    let mut out = String::new();
    let mut chars = 0;
    for g in kept.trim().graphemes(true) {
        chars += g.chars().count();
        if chars > MAX_KEY_CHARS {
            break;
        }
        out.push_str(g);
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}
