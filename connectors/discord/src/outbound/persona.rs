//! Who is speaking, as Discord shows it: a webhook message's username (`Name (Platform)`,
//! normalised and made acceptable to Discord), or, without a webhook, a bold `Name (Platform):`
//! in front of the text.

use civicbridge_api::{names, Outgoing, RichText, Span};

/// A webhook username Discord accepts, that shows who is speaking and from where:
/// `Name (Platform)` in 1–80 characters. The name is normalised (`civicbridge_api::names`: no
/// invisible, bidi or control characters, one line) and cut *before* the label is added, so the
/// label always shows in full. Discord refuses names containing "discord" or "clyde" in any case
/// (400, code 50035): a visible `·` breaks them up. Matching is done per character, so a name
/// whose case mapping changes its length (İ, ẞ, ﬁ) cannot shift an index.
pub fn webhook_username(name: &str, platform: &str) -> String {
    const MAX: usize = 80;
    let label = if platform.is_empty() {
        String::new()
    } else {
        // Room for "Telegram, unverified name": the label must show in full.
        format!(" ({})", break_reserved(&names::normalize(platform, 40)))
    };
    let room = MAX - label.chars().count();
    let name = break_reserved(&names::normalize(name, room.min(names::MAX_NAME_CHARS)));
    // Breaking a word up adds characters: cut again (never inside a grapheme).
    let name = names::truncate(&name, room);
    let mut out = format!("{}{label}", name.trim_end());
    if label.is_empty() && ["everyone", "here"].contains(&out.to_lowercase().as_str()) {
        out.push_str(" (bridged)");
    }
    out
}

/// The text of `out` as posted: with the persona's attribution in front unless a webhook shows
/// the persona (`by_webhook`), as the core does for platforms without personas.
pub(super) fn attributed(out: &Outgoing, by_webhook: bool) -> RichText {
    let mut text = out.text.clone();
    if let (Some(p), false) = (&out.persona, by_webhook) {
        text.prepend([
            Span::Bold(vec![Span::Text(attribution(p))]),
            Span::Text(" ".into()),
        ]);
    }
    text
}

/// `Name (Platform):`, for messages posted without a webhook: the same normalised name.
fn attribution(p: &civicbridge_api::Persona) -> String {
    names::attribution(&p.display_name, &p.platform_label)
}

/// Words Discord refuses in webhook usernames.
const RESERVED: [&str; 2] = ["discord", "clyde"];

/// `name` with a `·` after the first three letters of every reserved word, matched per character
/// case-insensitively (a character whose lower case is not one ASCII letter never matches).
fn break_reserved(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let folded: Vec<Option<char>> = chars
        .iter()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.is_ascii() => Some(l),
                _ => None,
            }
        })
        .collect();
    let mut out = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let hit = RESERVED.iter().find(|w| {
            w.chars()
                .enumerate()
                .all(|(k, wc)| folded.get(i + k).copied().flatten() == Some(wc))
        });
        match hit {
            Some(w) => {
                let n = w.chars().count();
                out.extend(&chars[i..i + 3]);
                out.push('·');
                out.extend(&chars[i + 3..i + n]);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_survives_any_name() {
        let filler = format!("Staff (Matrix){}", "\u{3164}".repeat(100));
        assert_eq!(
            webhook_username(&filler, "Telegram"),
            "Staff [Matrix] (Telegram)"
        );
        let long = "x".repeat(200);
        let u = webhook_username(&long, "Telegram");
        assert!(u.ends_with(" (Telegram)") && u.chars().count() <= 80, "{u}");
        assert_eq!(webhook_username("\u{202E}\n", "Matrix"), "Unnamed (Matrix)");
    }

    #[test]
    fn names_whose_case_changes_length_never_panic() {
        assert_eq!(webhook_username("İlknur", "Matrix"), "İlknur (Matrix)");
        assert_eq!(
            webhook_username("STRAẞE ﬁx", "Matrix"),
            "STRAẞE ﬁx (Matrix)"
        );
        assert_eq!(webhook_username("İDiscord", "Matrix"), "İDis·cord (Matrix)");
        assert_eq!(webhook_username("KCLYDE", "Matrix"), "KCLY·DE (Matrix)");
        assert_eq!(webhook_username("everyone", ""), "everyone (bridged)");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn hostile() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("İ".to_owned()),
            Just("ẞ".to_owned()),
            Just("ﬁ".to_owned()),
            Just("Discord".to_owned()),
            Just("cLyDe".to_owned()),
            Just("\u{3164}".to_owned()),
            Just("\u{202E}".to_owned()),
            Just("\n".to_owned()),
            Just("(Matrix)".to_owned()),
            "[a-zA-Z ]{1,6}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(atom, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(fuzz_config(256))]

        /// What Discord accepts, with the label whole, for any name.
        #[test]
        fn fuzz_webhook_username(name in hostile(), label in "(Matrix|Telegram)") {
            let u = webhook_username(&name, &label);
            let suffix = format!(" ({label})");
            prop_assert!(u.ends_with(&suffix), "{:?}", u);
            prop_assert!((1..=80).contains(&u.chars().count()), "{:?}", u);
            let lower = u.to_lowercase();
            prop_assert!(!lower.contains("discord") && !lower.contains("clyde"), "{:?}", u);
            prop_assert!(!u.chars().any(civicbridge_api::names::is_hidden), "{:?}", u);
        }
    }
}
