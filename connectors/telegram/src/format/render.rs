//! `RichText` → plain text plus the `MessageEntity`s that style it, for sending without a
//! `parse_mode`.
//!
//! Offsets and lengths are in UTF-16 code units ([`utf16_len`]). Consecutive code blocks and
//! quotes are kept apart by a line break (Telegram merges adjacent entities of one kind), a code
//! block's language is sent only if it is a plain name, and the entity list comes out in one
//! order whatever the tree's nesting.

use super::utf16_len;
use civicbridge_api::rich_text::safe_code_lang;
use civicbridge_api::{RichText, Span};
use teloxide::types::{MessageEntity, MessageEntityKind as K};

/// `RichText` → plain text and the entities that style it.
///
/// Mentions become plain `@name` text: the user they name lives on another platform. Links other
/// than http, https and tg keep their text and show the URL after it (Telegram refuses other
/// schemes in text links). Nested quotes flatten into the outer one.
pub fn to_telegram(text: &RichText) -> (String, Vec<MessageEntity>) {
    let mut out = String::new();
    let mut entities = Vec::new();
    render(&text.spans, &mut out, &mut entities, false);
    // Outer entities first; among entities of one range, a fixed order by kind, so what the bot
    // sends does not depend on how the tree happened to nest them.
    entities.sort_by_key(|e| (e.offset, std::cmp::Reverse(e.length), kind_rank(&e.kind)));
    (out, entities)
}

/// Whether `span` starts (`edge` = first) or ends (`edge` = last) with a code block or a quote,
/// however formatting wraps it.
fn block_at(span: &Span, edge: fn(&[Span]) -> Option<&Span>) -> bool {
    match span {
        Span::Pre { .. } | Span::Quote(_) => true,
        Span::Bold(c) | Span::Italic(c) | Span::Spoiler(c) | Span::Link { children: c, .. } => {
            edge(c).is_some_and(|s| block_at(s, edge))
        }
        _ => false,
    }
}

fn kind_rank(k: &K) -> u8 {
    match k {
        K::Blockquote | K::ExpandableBlockquote => 0,
        K::Spoiler => 1,
        K::TextLink { .. } => 2,
        K::Bold => 3,
        K::Italic => 4,
        K::Pre { .. } => 5,
        K::Code => 6,
        _ => 7,
    }
}

fn render(spans: &[Span], out: &mut String, entities: &mut Vec<MessageEntity>, in_quote: bool) {
    let mut prev_block = false;
    for s in spans {
        if prev_block && block_at(s, <[Span]>::first) && !out.ends_with('\n') {
            // Telegram shows adjacent blocks of one kind as one: keep them apart.
            out.push('\n');
        }
        prev_block = block_at(s, <[Span]>::last);
        let start = utf16_len(out);
        let kind = match s {
            Span::Text(t) => {
                out.push_str(t);
                None
            }
            Span::Mention { name, .. } | Span::GroupMention { name } => {
                out.push('@');
                out.push_str(name);
                None
            }
            Span::Code(c) => {
                out.push_str(c);
                Some(K::Code)
            }
            Span::Pre { lang, code } => {
                out.push_str(code);
                Some(K::Pre {
                    language: safe_code_lang(lang.as_deref()).map(str::to_owned),
                })
            }
            Span::Spoiler(c) => {
                render(c, out, entities, in_quote);
                Some(K::Spoiler)
            }
            Span::Bold(c) => {
                render(c, out, entities, in_quote);
                Some(K::Bold)
            }
            Span::Italic(c) => {
                render(c, out, entities, in_quote);
                Some(K::Italic)
            }
            // Telegram does not nest blockquotes: an inner quote keeps only its text.
            Span::Quote(c) => {
                render(c, out, entities, true);
                (!in_quote).then_some(K::Blockquote)
            }
            Span::Link { url, children } => {
                render(children, out, entities, in_quote);
                match url.parse::<url::Url>() {
                    Ok(url) if matches!(url.scheme(), "http" | "https" | "tg") => {
                        Some(K::TextLink { url })
                    }
                    _ => {
                        out.push_str(&format!(" ({url})"));
                        None
                    }
                }
            }
        };
        let len = utf16_len(out) - start;
        if let Some(kind) = kind.filter(|_| len > 0) {
            entities.push(MessageEntity::new(kind, start, len));
        }
    }
}
