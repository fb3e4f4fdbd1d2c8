//! `RichText`: the formatted-text tree that travels between connectors.
//!
//! Text never crosses the boundary as HTML or Markdown: each connector parses its platform's markup
//! into this tree and renders the tree back, escaping whatever its platform would read as markup.
//! That is how a resident's `<b>` or `**` arrives as the literal characters they typed.
//!
//! The tree is deliberately small: what every platform can show, or degrade to readably. It is
//! bounded by construction ([`bounds`]: nesting depth, span count, and the length past which a
//! message is held), links are found and deceptive ones revealed in one place ([`links`]), and
//! splitting keeps grapheme clusters whole ([`RichText::split`]).

pub mod bounds;
pub mod links;

pub use bounds::{walk, MAX_CHARS, MAX_DEPTH, MAX_SPANS, PARSE_DEPTH};
pub use links::{find_urls, is_deceptive, safe_code_lang};

use crate::ids::RemoteUserId;
use serde::{Deserialize, Serialize, Serializer};
use unicode_segmentation::UnicodeSegmentation;

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

    /// Splits the text into parts of at most `max` characters of plain text, at whitespace where
    /// possible and never inside a grapheme cluster (an emoji sequence, a letter and its accents)
    /// unless one cluster is longer than a whole part, keeping each part's formatting. An empty
    /// text gives one empty part.
    pub fn split(&self, max: usize) -> Vec<RichText> {
        let max = max.max(1);
        if self.char_len() <= max {
            return vec![self.clone()];
        }
        split_parts(&self.spans, max, max)
    }

    /// Splits like [`RichText::split`] with `head` (an attribution, a quote line) at the start of
    /// the first part, where it counts against the limit. The head never makes a part on its own:
    /// the first part always carries some of the text (unless the text is empty, or the head
    /// alone fills a part).
    pub fn split_with_head(&self, head: Vec<Span>, max: usize) -> Vec<RichText> {
        let max = max.max(1);
        let head_len = RichText {
            spans: head.clone(),
        }
        .char_len();
        if head_len + self.char_len() <= max || self.is_empty() || head_len >= max {
            let mut whole = self.clone();
            whole.prepend(head);
            return whole.split(max);
        }
        let mut parts = split_parts(&self.spans, max - head_len, max);
        if let Some(first) = parts.first_mut() {
            first.prepend(head);
        }
        parts
    }
}

/// Splits `spans` into parts: the first of at most `first_max` characters, the others of at
/// most `max`.
fn split_parts(spans: &[Span], first_max: usize, max: usize) -> Vec<RichText> {
    let mut leaves = Vec::new();
    flatten(spans, &mut Vec::new(), &mut leaves);
    let mut parts: Vec<Vec<Leaf>> = Vec::new();
    let mut current: Vec<Leaf> = Vec::new();
    let mut used = 0usize;
    let limit = |parts: &Vec<Vec<Leaf>>| if parts.is_empty() { first_max } else { max };
    for leaf in leaves {
        let mut leaf = leaf;
        loop {
            let max = limit(&parts);
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
                    let at = grapheme_cut(&leaf.text, room, true);
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

/// A wrapper a leaf sits inside, outermost first.
#[derive(Debug, Clone, PartialEq)]
enum Wrap {
    Bold,
    Italic,
    Quote,
    Spoiler,
    Link(String),
}

#[derive(Debug, Clone, PartialEq)]
enum LeafKind {
    Text,
    Code,
    Pre(Option<String>),
    Mention(Option<RemoteUserId>),
    GroupMention,
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
            Span::GroupMention { name } => (LeafKind::GroupMention, name.clone()),
            Span::Bold(c)
            | Span::Italic(c)
            | Span::Quote(c)
            | Span::Spoiler(c)
            | Span::Link { children: c, .. } => {
                wraps.push(match s {
                    Span::Bold(_) => Wrap::Bold,
                    Span::Italic(_) => Wrap::Italic,
                    Span::Quote(_) => Wrap::Quote,
                    Span::Spoiler(_) => Wrap::Spoiler,
                    Span::Link { url, .. } => Wrap::Link(url.clone()),
                    _ => unreachable!("matched above"),
                });
                flatten(c, wraps, out);
                wraps.pop();
                continue;
            }
        };
        let atomic = matches!(kind, LeafKind::Mention(_) | LeafKind::GroupMention);
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
                    LeafKind::GroupMention => Span::GroupMention {
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
                    Wrap::Spoiler => Span::Spoiler(children),
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
/// white space that fits, or (when `hard` and there is none) at the last grapheme boundary that
/// fits. Never inside a grapheme cluster, unless the first cluster alone is longer than `room`
/// and the cut is `hard`.
fn cut_point(text: &str, room: usize, hard: bool) -> Option<usize> {
    if room == 0 {
        return None;
    }
    let mut used = 0usize;
    let mut after_space = None;
    for (at, g) in text.grapheme_indices(true) {
        let len = g.chars().count();
        if used + len > room {
            break;
        }
        used += len;
        if g.chars().all(char::is_whitespace) {
            after_space = Some(at + g.len());
        }
    }
    after_space.or_else(|| {
        let at = grapheme_cut(text, room, hard);
        (hard && at > 0).then_some(at)
    })
}

/// The byte index of the last grapheme boundary within `room` characters; when the first
/// grapheme is longer than that and `force`, the byte index of the `room`-th character.
fn grapheme_cut(text: &str, room: usize, force: bool) -> usize {
    let mut used = 0usize;
    let mut end = 0usize;
    for (at, g) in text.grapheme_indices(true) {
        let len = g.chars().count();
        if used + len > room {
            break;
        }
        used += len;
        end = at + g.len();
    }
    if end == 0 && force {
        return text.char_indices().nth(room).map_or(text.len(), |(i, _)| i);
    }
    end
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

    #[test]
    fn split_never_cuts_a_grapheme_cluster() {
        // A flag is two regional indicators; "é" here is e + U+0301.
        let t = RichText::plain("🇺🇦".repeat(10) + &"e\u{301}".repeat(10));
        for max in 3..12 {
            for p in t.split(max) {
                let plain = p.to_plain();
                assert!(plain.chars().count() <= max);
                assert!(!plain.starts_with('\u{301}'), "{plain:?}");
                assert!(plain.graphemes(true).all(|g| g == "🇺🇦" || g == "e\u{301}"));
            }
        }
    }

    #[test]
    fn the_head_never_makes_a_part_of_its_own() {
        let head = vec![
            Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
            Span::Text(" ".into()),
        ];
        let t = RichText::plain("x".repeat(50));
        let parts = t.split_with_head(head.clone(), 30);
        assert!(
            parts[0].to_plain().starts_with("Ada (Telegram): x"),
            "{parts:?}"
        );
        assert!(parts.iter().all(|p| p.char_len() <= 30));
        let all: String = parts.iter().map(RichText::to_plain).collect();
        assert_eq!(all.matches('x').count(), 50);
        assert_eq!(
            RichText::plain("hi").split_with_head(head, 30)[0].to_plain(),
            "Ada (Telegram): hi"
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
