//! Who a text would notify: mass mentions (`@everyone`, `@here`, `@room`, a Discord role), and
//! mentions turned into plain `@name` text for platforms where the person does not exist.

use super::bounds::walk;
use super::{RichText, Span};

impl RichText {
    /// Whether the text tries to notify a whole room or group: `@everyone`, `@here` (Discord),
    /// `@room` (Matrix) typed as words, in any case, outside code, or a group mention (a Discord
    /// role). `@Allison`, `bob@heredia.org` and `@room:server` (a user id) are not.
    pub fn has_mass_mention(&self) -> bool {
        let mut found = false;
        walk(&self.spans, |s, _| match s {
            Span::GroupMention { .. } => found = true,
            Span::Text(t) => found |= has_mass_token(t),
            _ => {}
        });
        found
    }

    /// Replaces every mention with plain `@name` text, for targets where the mentioned person
    /// does not exist.
    pub fn mentions_to_text(&mut self) {
        fn walk(spans: &mut [Span]) {
            for s in spans.iter_mut() {
                match s {
                    Span::Mention { name, .. } | Span::GroupMention { name } => {
                        *s = Span::Text(format!("@{name}"))
                    }
                    Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Spoiler(c) => walk(c),
                    Span::Link { children, .. } => walk(children),
                    _ => {}
                }
            }
        }
        walk(&mut self.spans);
    }
}

/// The mass-mention tokens, lower case.
const MASS_TOKENS: [&str; 3] = ["@everyone", "@here", "@room"];

/// Whether `text` has a mass-mention token standing as a word of its own.
fn has_mass_token(text: &str) -> bool {
    let lower = text.to_lowercase();
    MASS_TOKENS.iter().any(|token| {
        lower.match_indices(token).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            let mut after = lower[at + token.len()..].chars();
            // Part of a word, an address or a user id (`bob@here.org`, `@heredia`, `@room:x`).
            let glued = |c: char| c.is_alphanumeric() || "_-@:+".contains(c);
            let word_before = before.is_some_and(|c| glued(c) || c == '.');
            let word_after = match after.next() {
                Some('.') => after.next().is_some_and(char::is_alphanumeric),
                Some(c) => glued(c),
                None => false,
            };
            !word_before && !word_after
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_and_mass_mentions() {
        let t = RichText {
            spans: vec![
                Span::Text("see https://x.org and ".into()),
                Span::Link {
                    url: "https://y.org".into(),
                    children: vec![Span::Text("y".into())],
                },
                Span::Text(" @Everyone".into()),
            ],
        };
        assert_eq!(
            t.links(),
            vec!["https://x.org".to_owned(), "https://y.org".to_owned()]
        );
        assert!(t.has_mass_mention());
        assert!(!RichText::plain("mail me at a@example.org").has_mass_mention());
    }

    #[test]
    fn mass_mentions_are_the_platforms_real_tokens_only() {
        for yes in [
            "@everyone",
            "hi @here!",
            "(@room)",
            "@Room, look",
            "x\n@here.",
        ] {
            assert!(RichText::plain(yes).has_mass_mention(), "{yes}");
        }
        for no in [
            "@Allison",
            "bob@heredia.org",
            "@heredia",
            "@room:matrix.org",
            "ask @all of them",
            "@channel",
            "@here.org",
        ] {
            assert!(!RichText::plain(no).has_mass_mention(), "{no}");
        }
        let role = RichText {
            spans: vec![Span::GroupMention {
                name: "tenants".into(),
            }],
        };
        assert!(role.has_mass_mention());
        assert_eq!(role.to_plain(), "@tenants");
        let code = RichText {
            spans: vec![Span::Code("@everyone".into())],
        };
        assert!(!code.has_mass_mention(), "code never pings");
    }
}
