//! Limits on a `RichText`, and the iterative walk and flattening that keep every tree inside them.
//!
//! The contract: no tree deeper than [`MAX_DEPTH`] or larger than [`MAX_SPANS`] spans is ever
//! built from platform input or written to the store. Parsers flatten formatting nested deeper
//! than [`PARSE_DEPTH`] as they read (the text stays, the extra levels go), and
//! [`RichText::bounded`] flattens any tree that got past them, without recursion on its depth and
//! without dropping a deep tree recursively. The head room between the two limits is for the
//! core's own wrappers (a card's quote, a reply quote). Renderers and visitors may therefore
//! recurse on a tree: its depth is bounded by construction, far below any stack limit and below
//! serde_json's recursion limit (128 levels, three per nested link), so whatever is written reads
//! back.

use super::{normalize, RichText, Span};

/// The deepest nesting of formatting spans a parser produces.
pub const PARSE_DEPTH: usize = 12;

/// The deepest nesting a `RichText` may have anywhere, the store included.
pub const MAX_DEPTH: usize = 16;

/// The most spans (formatting and leaves) a `RichText` keeps; formatting beyond it is dropped,
/// the text kept.
pub const MAX_SPANS: usize = 4096;

/// The longest text the bridge relays without a moderator, in characters of plain text: past it a
/// message is held as too long (`HoldReason::TooLong`), whatever the link's `max_length`.
pub const MAX_CHARS: usize = 16_000;

impl Span {
    /// The children of a formatting span.
    pub fn children(&self) -> Option<&[Span]> {
        match self {
            Span::Bold(c) | Span::Italic(c) | Span::Quote(c) | Span::Spoiler(c) => Some(c),
            Span::Link { children, .. } => Some(children),
            Span::Text(_)
            | Span::Code(_)
            | Span::Pre { .. }
            | Span::Mention { .. }
            | Span::GroupMention { .. } => None,
        }
    }
}

/// Calls `f` on every span with its depth (0 for top-level spans), parents before children,
/// in document order. Iterative: safe on a tree of any depth.
pub fn walk<'a>(spans: &'a [Span], mut f: impl FnMut(&'a Span, usize)) {
    let mut stack: Vec<std::slice::Iter<'a, Span>> = vec![spans.iter()];
    loop {
        let depth = stack.len() - 1;
        let next = match stack.last_mut() {
            None => return,
            Some(it) => it.next(),
        };
        match next {
            None => {
                stack.pop();
                if stack.is_empty() {
                    return;
                }
            }
            Some(s) => {
                f(s, depth);
                if let Some(c) = s.children() {
                    stack.push(c.iter());
                }
            }
        }
    }
}

/// A formatting span without its children.
enum Container {
    Bold,
    Italic,
    Quote,
    Spoiler,
    Link(String),
}

impl Container {
    fn of(span: Span) -> Result<(Container, Vec<Span>), Span> {
        match span {
            Span::Bold(c) => Ok((Container::Bold, c)),
            Span::Italic(c) => Ok((Container::Italic, c)),
            Span::Quote(c) => Ok((Container::Quote, c)),
            Span::Spoiler(c) => Ok((Container::Spoiler, c)),
            Span::Link { url, children } => Ok((Container::Link(url), children)),
            leaf => Err(leaf),
        }
    }

    fn with(self, children: Vec<Span>) -> Span {
        match self {
            Container::Bold => Span::Bold(children),
            Container::Italic => Span::Italic(children),
            Container::Quote => Span::Quote(children),
            Container::Spoiler => Span::Spoiler(children),
            Container::Link(url) => Span::Link { url, children },
        }
    }
}

impl RichText {
    /// How deeply formatting nests: 0 for plain text, 1 for `**bold**`, and so on.
    pub fn depth(&self) -> usize {
        let mut max = 0;
        walk(&self.spans, |s, d| {
            if s.children().is_some() {
                max = max.max(d + 1);
            }
        });
        max
    }

    /// The number of spans in the tree, formatting and leaves.
    pub fn span_count(&self) -> usize {
        let mut n = 0usize;
        walk(&self.spans, |_, _| n += 1);
        n
    }

    /// Whether the tree is within `max_depth` and [`MAX_SPANS`].
    pub fn is_bounded(&self, max_depth: usize) -> bool {
        let mut ok = true;
        let mut n = 0usize;
        walk(&self.spans, |s, d| {
            n += 1;
            if s.children().is_some() && d + 1 > max_depth {
                ok = false;
            }
        });
        ok && n <= MAX_SPANS
    }

    /// The same text with formatting nested deeper than `max_depth` flattened into the level
    /// above it, and formatting past [`MAX_SPANS`] spans dropped (the text always stays). A tree
    /// already within the limits is returned unchanged. Consumes the tree level by level, so a
    /// tree of any depth is neither walked nor dropped recursively.
    pub fn bounded(self, max_depth: usize) -> RichText {
        if self.is_bounded(max_depth) {
            return self;
        }
        // Output frames: the open formatting spans being rebuilt, the root first.
        let mut out: Vec<(Option<Container>, Vec<Span>)> = vec![(None, Vec::new())];
        // Input: the children still to read of each open input span, and whether that span was
        // kept (has an output frame) or flattened.
        let mut input: Vec<(std::vec::IntoIter<Span>, bool)> =
            vec![(self.spans.into_iter(), false)];
        let mut budget = MAX_SPANS;
        loop {
            let next = match input.last_mut() {
                None => break,
                Some((it, _)) => it.next(),
            };
            let Some(span) = next else {
                if let Some((_, true)) = input.pop() {
                    if let Some((Some(kind), children)) = out.pop() {
                        push(&mut out, kind.with(children));
                    }
                }
                continue;
            };
            match Container::of(span) {
                Ok((kind, children)) => {
                    let keep = out.len() <= max_depth && budget > 0;
                    if keep {
                        budget -= 1;
                        out.push((Some(kind), Vec::new()));
                    }
                    input.push((children.into_iter(), keep));
                }
                Err(leaf) if budget > 0 => {
                    budget -= 1;
                    push(&mut out, leaf);
                }
                Err(leaf) => {
                    let mut plain = String::new();
                    leaf.write_plain(&mut plain);
                    push(&mut out, Span::Text(plain));
                }
            }
        }
        while out.len() > 1 {
            if let Some((Some(kind), children)) = out.pop() {
                push(&mut out, kind.with(children));
            }
        }
        let root = out.pop().map(|(_, c)| c).unwrap_or_default();
        RichText {
            spans: normalize(root),
        }
    }
}

/// Appends `span` to the innermost output frame, merging text into text.
fn push(out: &mut [(Option<Container>, Vec<Span>)], span: Span) {
    if let Some((_, children)) = out.last_mut() {
        match (children.last_mut(), span) {
            (Some(Span::Text(prev)), Span::Text(t)) => prev.push_str(&t),
            (_, s) => children.push(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::nested_links;

    #[test]
    fn depth_and_counts_are_iterative_and_exact() {
        assert_eq!(RichText::plain("x").depth(), 0);
        assert_eq!(nested_links(5).depth(), 5);
        assert_eq!(nested_links(5).span_count(), 6);
    }

    #[test]
    fn a_deep_tree_is_flattened_to_the_limit_and_keeps_its_text() {
        let t = nested_links(40).bounded(PARSE_DEPTH);
        assert_eq!(t.depth(), PARSE_DEPTH);
        assert_eq!(t.to_plain(), "deep");
        let within = nested_links(3);
        assert_eq!(within.clone().bounded(PARSE_DEPTH), within);
    }

    #[test]
    fn formatting_past_the_span_budget_is_dropped_but_not_the_text() {
        let spans: Vec<Span> = (0..MAX_SPANS + 10)
            .map(|i| Span::Bold(vec![Span::Text(format!("{i} "))]))
            .collect();
        let t = RichText { spans };
        let plain = t.to_plain();
        let b = t.bounded(MAX_DEPTH);
        assert!(b.span_count() <= MAX_SPANS + 1, "{}", b.span_count());
        assert_eq!(b.to_plain(), plain);
    }
}
