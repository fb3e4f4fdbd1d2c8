//! Telegram text and entities → `RichText`.
//!
//! Entities become spans (spoilers stay spoilers); kinds `RichText` has no span for (underline,
//! strikethrough, hashtags, auto-detected URLs, custom emoji) keep their text and lose the
//! styling. Offsets and lengths are UTF-16 code units, mapped to byte offsets once. Bounded
//! whatever the update says: at most [`MAX_ENTITIES`] entities are read, an entity that overlaps
//! one already placed keeps its text only, and entities nested deeper than `PARSE_DEPTH` keep
//! their text only.

use civicbridge_api::rich_text::{safe_code_lang, PARSE_DEPTH};
use civicbridge_api::{RemoteUserId, RichText, Span};
use std::ops::Range;
use teloxide::types::{MessageEntity, MessageEntityKind as K};

/// The most entities read from one message (Telegram sends at most 100).
pub const MAX_ENTITIES: usize = 1000;

/// Text and entities as received → `RichText`.
pub fn from_telegram(text: &str, entities: &[MessageEntity]) -> RichText {
    let entities = &entities[..entities.len().min(MAX_ENTITIES)];
    // UTF-16 offset -> byte offset, for every char boundary.
    let mut map = Vec::with_capacity(text.len() + 1);
    for (b, c) in text.char_indices() {
        for _ in 0..c.len_utf16() {
            map.push(b);
        }
    }
    map.push(text.len());
    let byte = |u: usize| map.get(u).copied().unwrap_or(text.len());
    let mut spans: Vec<(Range<usize>, &K)> = entities
        .iter()
        .filter(|e| styled(&e.kind))
        .map(|e| (byte(e.offset)..byte(e.offset + e.length), &e.kind))
        .filter(|(r, _)| r.start < r.end)
        .collect();
    spans.sort_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    RichText {
        spans: build(text, 0..text.len(), &spans, 0),
    }
    .bounded(PARSE_DEPTH)
}

fn styled(k: &K) -> bool {
    matches!(
        k,
        K::Bold
            | K::Italic
            | K::Code
            | K::Pre { .. }
            | K::TextLink { .. }
            | K::Mention
            | K::TextMention { .. }
            | K::Blockquote
            | K::ExpandableBlockquote
            | K::Spoiler
    )
}

/// Spans of `text[range]` under `depth` formatting spans; `entities` lie within `range`.
fn build(
    text: &str,
    range: Range<usize>,
    entities: &[(Range<usize>, &K)],
    depth: usize,
) -> Vec<Span> {
    if depth >= PARSE_DEPTH {
        // Too deep: the text stays, the formatting goes.
        return vec![Span::Text(text[range].to_owned())];
    }
    let mut out = Vec::new();
    let mut pos = range.start;
    let mut i = 0;
    while i < entities.len() {
        let (r, kind) = &entities[i];
        if r.start < pos {
            // Overlaps an entity already placed: keep the text, drop the style.
            i += 1;
            continue;
        }
        let end = r.end.min(range.end);
        let children_end = entities[i + 1..]
            .iter()
            .position(|(c, _)| c.start >= end)
            .map_or(entities.len(), |p| i + 1 + p);
        if pos < r.start {
            out.push(Span::Text(text[pos..r.start].to_owned()));
        }
        let inner = &text[r.start..end];
        let children = || {
            build(
                text,
                r.start..end,
                &entities[i + 1..children_end],
                depth + 1,
            )
        };
        out.push(match kind {
            K::Bold => Span::Bold(children()),
            K::Italic => Span::Italic(children()),
            K::Blockquote | K::ExpandableBlockquote => Span::Quote(children()),
            K::Spoiler => Span::Spoiler(children()),
            K::Code => Span::Code(inner.to_owned()),
            K::Pre { language } => Span::Pre {
                lang: safe_code_lang(language.as_deref()).map(str::to_owned),
                code: inner.to_owned(),
            },
            K::TextLink { url } => Span::Link {
                url: url.to_string(),
                children: children(),
            },
            K::TextMention { user } => Span::Mention {
                user: Some(RemoteUserId::new(user.id.0.to_string())),
                name: inner.to_owned(),
            },
            K::Mention => Span::Mention {
                user: None,
                name: inner.trim_start_matches('@').to_owned(),
            },
            _ => Span::Text(inner.to_owned()),
        });
        pos = end;
        i = children_end;
    }
    if pos < range.end {
        out.push(Span::Text(text[pos..range.end].to_owned()));
    }
    merge_text(out)
}

fn merge_text(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match (out.last_mut(), s) {
            (Some(Span::Text(a)), Span::Text(b)) => a.push_str(&b),
            (_, s) => out.push(s),
        }
    }
    out
}
