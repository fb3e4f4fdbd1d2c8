//! `RichText`: the formatted-text tree that travels between connectors.
//!
//! Text never crosses the boundary as HTML or Markdown: each connector parses its platform's markup
//! into this tree and renders the tree back, escaping whatever its platform would read as markup.
//! That is how a resident's `<b>` or `**` arrives as the literal characters they typed.
//!
//! The tree is deliberately small: what every platform can show, or degrade to readably. It is
//! bounded by construction ([`bounds`]: nesting depth, span count, and the length past which a
//! message is held), links are found and deceptive ones revealed in one place ([`links`]), and
//! splitting keeps grapheme clusters whole ([`RichText::split`], in `split`). Who a text would
//! notify (mass mentions, mentions of people on another platform) is in `mentions`.

pub mod bounds;
pub mod links;
mod mentions;
mod split;

pub use bounds::{walk, MAX_CHARS, MAX_DEPTH, MAX_SPANS, PARSE_DEPTH};
pub use links::{find_urls, is_deceptive, safe_code_lang};

use crate::ids::RemoteUserId;
use serde::{Deserialize, Serialize, Serializer};

/// One node of formatted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    /// Literal text; may contain newlines.
    Text(String),
    Bold(Vec<Span>),
    Italic(Vec<Span>),
    /// Inline code.
    Code(String),
    /// A code block.
    Pre {
        lang: Option<String>,
        code: String,
    },
    Link {
        url: String,
        children: Vec<Span>,
    },
    /// A mention of a person. `user` is their id on the *source* platform, so it never pings
    /// anyone on another platform; connectors render it as plain `@name` unless the user is local.
    Mention {
        user: Option<RemoteUserId>,
        name: String,
    },
    Quote(Vec<Span>),
    /// Hidden until the reader reveals it: Telegram's `spoiler` entity, Discord's `||…||`,
    /// Matrix's `data-mx-spoiler`. Moderators see it; it stays hidden on every platform.
    Spoiler(Vec<Span>),
    /// A mention that notifies a group of people on the source platform (a Discord role). It
    /// counts as a mass mention and is shown as plain `@name` everywhere, never as a ping.
    GroupMention {
        name: String,
    },
}

/// Formatted text: a sequence of spans.
///
/// Serialised as the list of spans. Whatever is written is within [`MAX_DEPTH`], so every stored
/// value reads back (serde_json refuses input nested past 128 levels).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RichText {
    pub spans: Vec<Span>,
}

impl Serialize for RichText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.is_bounded(MAX_DEPTH) {
            self.spans.serialize(serializer)
        } else {
            self.clone().bounded(MAX_DEPTH).spans.serialize(serializer)
        }
    }
}

impl From<&str> for RichText {
    fn from(s: &str) -> Self {
        RichText::plain(s)
    }
}

impl RichText {
    pub fn plain(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            return RichText::default();
        }
        RichText {
            spans: vec![Span::Text(s)],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.to_plain().is_empty()
    }

    /// The text a person would read with all formatting removed.
    pub fn to_plain(&self) -> String {
        let mut out = String::new();
        for s in &self.spans {
            s.write_plain(&mut out);
        }
        out
    }

    /// Length in Unicode scalar values of the plain text: what platforms count against limits.
    pub fn char_len(&self) -> usize {
        self.to_plain().chars().count()
    }

    /// The same text made safe to store and relay: nesting and size within the parsers' bounds
    /// ([`PARSE_DEPTH`], [`MAX_SPANS`]), deceptive links revealed, unsafe code languages dropped.
    /// The core applies it to every inbound text.
    pub fn hardened(self) -> RichText {
        let mut t = self.bounded(PARSE_DEPTH);
        t.reveal_deceptive_links();
        t
    }

    /// Prepends spans (used for attribution such as a bold `Name (Telegram):`).
    pub fn prepend(&mut self, spans: impl IntoIterator<Item = Span>) {
        let mut v: Vec<Span> = spans.into_iter().collect();
        v.append(&mut self.spans);
        self.spans = v;
    }
}

impl Span {
    fn write_plain(&self, out: &mut String) {
        match self {
            Span::Text(t) | Span::Code(t) => out.push_str(t),
            Span::Pre { code, .. } => out.push_str(code),
            Span::Mention { name, .. } | Span::GroupMention { name } => {
                out.push('@');
                out.push_str(name);
            }
            Span::Bold(c)
            | Span::Italic(c)
            | Span::Quote(c)
            | Span::Spoiler(c)
            | Span::Link { children: c, .. } => {
                for s in c {
                    s.write_plain(out);
                }
            }
        }
    }
}

/// Merges adjacent text spans and drops empty ones, recursively, so equal texts have equal trees:
/// the canonical shape every connector's parser produces.
pub fn normalize(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        let s = match s {
            Span::Bold(c) => Span::Bold(normalize(c)),
            Span::Italic(c) => Span::Italic(normalize(c)),
            Span::Quote(c) => Span::Quote(normalize(c)),
            Span::Spoiler(c) => Span::Spoiler(normalize(c)),
            Span::Link { url, children } => Span::Link {
                url,
                children: normalize(children),
            },
            other => other,
        };
        match (&s, out.last_mut()) {
            (Span::Text(t), _) if t.is_empty() => {}
            (Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Spoiler(c), _)
                if c.is_empty() => {}
            (Span::Text(t), Some(Span::Text(prev))) => prev.push_str(t),
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_merges_text_and_drops_empty_spans() {
        let spans = vec![
            Span::Text("a".into()),
            Span::Text(String::new()),
            Span::Text("b".into()),
            Span::Bold(vec![]),
            Span::Italic(vec![Span::Text("c".into()), Span::Text("d".into())]),
        ];
        assert_eq!(
            normalize(spans),
            vec![
                Span::Text("ab".into()),
                Span::Italic(vec![Span::Text("cd".into())])
            ]
        );
    }

    #[test]
    fn a_tree_deeper_than_the_store_allows_is_written_flattened_and_reads_back() {
        let mut span = Span::Text("deep".into());
        for _ in 0..200 {
            span = Span::Quote(vec![span]);
        }
        let t = RichText { spans: vec![span] };
        let json = serde_json::to_string(&t).expect("serialises");
        let back: RichText = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back.depth(), MAX_DEPTH);
        assert_eq!(back.to_plain(), "deep");
    }
}
