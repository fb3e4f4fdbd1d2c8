//! `RichText`: the formatted-text tree that travels between connectors.
//!
//! Text never crosses the boundary as HTML or Markdown: each connector parses its platform's markup
//! into this tree and renders the tree back, escaping whatever its platform would read as markup.
//! That is how a resident's `<b>` or `**` arrives as the literal characters they typed.
//!
//! The tree is deliberately small: what every platform can show, or degrade to readably.

use crate::ids::RemoteUserId;
use serde::{Deserialize, Serialize};

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
}

/// Formatted text: a sequence of spans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RichText {
    pub spans: Vec<Span>,
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

    /// Every link target in the text, including bare URLs typed as plain text.
    pub fn links(&self) -> Vec<String> {
        let mut out = Vec::new();
        visit(&self.spans, &mut |s| match s {
            Span::Link { url, .. } => out.push(url.clone()),
            Span::Text(t) => out.extend(bare_urls(t)),
            _ => {}
        });
        out
    }

    /// Whether the text tries to notify a whole room (`@everyone`, `@here`, `@room`, `@channel`).
    pub fn has_mass_mention(&self) -> bool {
        let plain = self.to_plain().to_lowercase();
        ["@everyone", "@here", "@room", "@channel", "@all"]
            .iter()
            .any(|m| plain.contains(m))
    }

    /// Prepends spans (used for attribution such as a bold `Name (Telegram):`).
    pub fn prepend(&mut self, spans: impl IntoIterator<Item = Span>) {
        let mut v: Vec<Span> = spans.into_iter().collect();
        v.append(&mut self.spans);
        self.spans = v;
    }

    /// Replaces every mention with plain `@name` text, for targets where the mentioned person
    /// does not exist.
    pub fn mentions_to_text(&mut self) {
        fn walk(spans: &mut [Span]) {
            for s in spans.iter_mut() {
                match s {
                    Span::Mention { name, .. } => *s = Span::Text(format!("@{name}")),
                    Span::Bold(c) | Span::Italic(c) | Span::Quote(c) => walk(c),
                    Span::Link { children, .. } => walk(children),
                    _ => {}
                }
            }
        }
        walk(&mut self.spans);
    }

    /// Splits the text into parts of at most `max` characters of plain text, at whitespace where
    /// possible, keeping each part's formatting. An empty text gives one empty part.
    pub fn split(&self, max: usize) -> Vec<RichText> {
        let max = max.max(1);
        if self.char_len() <= max {
            return vec![self.clone()];
        }
        let mut leaves = Vec::new();
        flatten(&self.spans, &mut Vec::new(), &mut leaves);
        let mut parts: Vec<Vec<Leaf>> = Vec::new();
        let mut current: Vec<Leaf> = Vec::new();
        let mut used = 0usize;
        for leaf in leaves {
            let mut leaf = leaf;
            loop {
                let len = leaf.text.chars().count();
                if used + len <= max {
                    used += len;
                    current.push(leaf);
                    break;
                }
                let room = max - used;
                match cut_point(&leaf.text, room, used == 0 || leaf.atomic) {
                    Some(at) if !leaf.atomic => {
                        let rest = leaf.text.split_off(at);
                        if !leaf.text.is_empty() {
                            current.push(leaf.clone());
                        }
                        parts.push(std::mem::take(&mut current));
                        used = 0;
                        leaf.text = rest.trim_start().to_owned();
                        if leaf.text.is_empty() {
                            break;
                        }
                    }
                    _ if !current.is_empty() => {
                        parts.push(std::mem::take(&mut current));
                        used = 0;
                        if !leaf.atomic {
                            leaf.text = leaf.text.trim_start().to_owned();
                        }
                    }
                    _ => {
                        // An atomic leaf (a mention) longer than a whole part: cut it anyway.
                        let at = byte_index(&leaf.text, room);
                        let rest = leaf.text.split_off(at);
                        current.push(leaf.clone());
                        parts.push(std::mem::take(&mut current));
                        leaf.text = rest;
                    }
                }
            }
        }
        if !current.is_empty() {
            parts.push(current);
        }
        parts
            .into_iter()
            .map(|p| RichText {
                spans: rebuild(&p, 0),
            })
            .filter(|p| !p.spans.is_empty())
            .collect()
    }
}

impl Span {
    fn write_plain(&self, out: &mut String) {
        match self {
            Span::Text(t) | Span::Code(t) => out.push_str(t),
            Span::Pre { code, .. } => out.push_str(code),
            Span::Mention { name, .. } => {
                out.push('@');
                out.push_str(name);
            }
            Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Link { children: c, .. } => {
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
            Span::Link { url, children } => Span::Link {
                url,
                children: normalize(children),
            },
            other => other,
        };
        match (&s, out.last_mut()) {
            (Span::Text(t), _) if t.is_empty() => {}
            (Span::Bold(c) | Span::Italic(c) | Span::Quote(c), _) if c.is_empty() => {}
            (Span::Text(t), Some(Span::Text(prev))) => prev.push_str(t),
            _ => out.push(s),
        }
    }
    out
}

fn visit<'a>(spans: &'a [Span], f: &mut impl FnMut(&'a Span)) {
    for s in spans {
        f(s);
        match s {
            Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Link { children: c, .. } => {
                visit(c, f)
            }
            _ => {}
        }
    }
}

fn bare_urls(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split_whitespace()
        .filter(|w| {
            let w = w.to_ascii_lowercase();
            w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")
        })
        .map(str::to_owned)
}

/// A wrapper a leaf sits inside, outermost first.
#[derive(Debug, Clone, PartialEq)]
enum Wrap {
    Bold,
    Italic,
    Quote,
    Link(String),
}

#[derive(Debug, Clone, PartialEq)]
enum LeafKind {
    Text,
    Code,
    Pre(Option<String>),
    Mention(Option<RemoteUserId>),
}

#[derive(Debug, Clone)]
struct Leaf {
    wraps: Vec<Wrap>,
    kind: LeafKind,
    text: String,
    /// Never split inside (mentions): move it whole to the next part instead.
    atomic: bool,
}

fn flatten(spans: &[Span], wraps: &mut Vec<Wrap>, out: &mut Vec<Leaf>) {
    for s in spans {
        let (kind, text) = match s {
            Span::Text(t) => (LeafKind::Text, t.clone()),
            Span::Code(t) => (LeafKind::Code, t.clone()),
            Span::Pre { lang, code } => (LeafKind::Pre(lang.clone()), code.clone()),
            Span::Mention { user, name } => (LeafKind::Mention(user.clone()), name.clone()),
            Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Link { children: c, .. } => {
                wraps.push(match s {
                    Span::Bold(_) => Wrap::Bold,
                    Span::Italic(_) => Wrap::Italic,
                    Span::Quote(_) => Wrap::Quote,
                    Span::Link { url, .. } => Wrap::Link(url.clone()),
                    _ => unreachable!("matched above"),
                });
                flatten(c, wraps, out);
                wraps.pop();
                continue;
            }
        };
        let atomic = matches!(kind, LeafKind::Mention(_));
        // A mention's plain form carries an `@` that its stored name does not.
        let text = if atomic { format!("@{text}") } else { text };
        out.push(Leaf {
            wraps: wraps.clone(),
            kind,
            text,
            atomic,
        });
    }
}

fn rebuild(leaves: &[Leaf], depth: usize) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < leaves.len() {
        match leaves[i].wraps.get(depth) {
            None => {
                let l = &leaves[i];
                out.push(match &l.kind {
                    LeafKind::Text => Span::Text(l.text.clone()),
                    LeafKind::Code => Span::Code(l.text.clone()),
                    LeafKind::Pre(lang) => Span::Pre {
                        lang: lang.clone(),
                        code: l.text.clone(),
                    },
                    LeafKind::Mention(user) => Span::Mention {
                        user: user.clone(),
                        name: l.text.strip_prefix('@').unwrap_or(&l.text).to_owned(),
                    },
                });
                i += 1;
            }
            Some(w) => {
                let end = leaves[i..]
                    .iter()
                    .position(|l| l.wraps.get(depth) != Some(w))
                    .map_or(leaves.len(), |p| i + p);
                let children = rebuild(&leaves[i..end], depth + 1);
                out.push(match w {
                    Wrap::Bold => Span::Bold(children),
                    Wrap::Italic => Span::Italic(children),
                    Wrap::Quote => Span::Quote(children),
                    Wrap::Link(url) => Span::Link {
                        url: url.clone(),
                        children,
                    },
                });
                i = end;
            }
        }
    }
    out
}

/// Where to cut `text` so the first piece has at most `room` characters: after the last
/// whitespace that fits, or (when `hard` and there is none) exactly at `room`.
fn cut_point(text: &str, room: usize, hard: bool) -> Option<usize> {
    if room == 0 {
        return None;
    }
    let limit = byte_index(text, room);
    let head = &text[..limit];
    if let Some(pos) = head.rfind(char::is_whitespace) {
        let ws_len = head[pos..].chars().next().map_or(1, char::len_utf8);
        return Some(pos + ws_len);
    }
    hard.then_some(limit)
}

/// The byte index of the `chars`-th character (or the end).
fn byte_index(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        (0..n)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn short_text_is_one_part() {
        let t = RichText::plain("hello");
        assert_eq!(t.split(10), vec![t.clone()]);
    }

    #[test]
    fn split_respects_limit_and_word_boundaries() {
        let t = RichText::plain(words(500));
        let parts = t.split(100);
        assert!(parts.len() > 1);
        for p in &parts {
            assert!(p.char_len() <= 100, "part too long: {}", p.char_len());
            let plain = p.to_plain();
            assert!(!plain.starts_with(' '));
            assert!(plain.split_whitespace().all(|w| w.starts_with('w')));
        }
        let joined: Vec<String> = parts
            .iter()
            .flat_map(|p| {
                p.to_plain()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(joined.join(" "), words(500));
    }

    #[test]
    fn split_keeps_formatting_on_both_sides_of_a_cut() {
        let t = RichText {
            spans: vec![
                Span::Text("intro ".into()),
                Span::Bold(vec![Span::Text(words(40))]),
            ],
        };
        let parts = t.split(50);
        assert!(parts.len() >= 2);
        assert!(matches!(parts[1].spans[0], Span::Bold(_)), "{:?}", parts[1]);
    }

    #[test]
    fn split_cuts_a_word_longer_than_a_part() {
        let t = RichText::plain("x".repeat(25));
        let parts = t.split(10);
        assert_eq!(
            parts.iter().map(RichText::char_len).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
    }

    #[test]
    fn split_counts_characters_not_bytes() {
        let t = RichText::plain("é".repeat(30));
        let parts = t.split(10);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.char_len() == 10));
    }

    #[test]
    fn mentions_are_never_cut_when_they_fit_a_part() {
        let t = RichText {
            spans: vec![
                Span::Text("abcdefgh".into()),
                Span::Mention {
                    user: None,
                    name: "someone".into(),
                },
            ],
        };
        let parts = t.split(10);
        assert_eq!(
            parts[1].spans,
            vec![Span::Mention {
                user: None,
                name: "someone".into()
            }]
        );
    }

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
}
