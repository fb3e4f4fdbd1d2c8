//! Splitting a `RichText` into parts of at most a number of characters: at white space where
//! possible, never inside a grapheme cluster (unless one cluster is longer than a part), never
//! inside a mention that fits a part, each part keeping the formatting around its text.
//!
//! The tree is flattened into leaves that each carry the wrappers around them (`flatten`), the
//! leaves are cut into parts (`split_parts`, `cut_point`), and each part is rebuilt into a tree
//! (`rebuild`).

use super::{RichText, Span};
use crate::ids::RemoteUserId;
use unicode_segmentation::UnicodeSegmentation;

impl RichText {
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
}
