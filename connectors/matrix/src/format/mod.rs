//! `RichText` <-> Matrix `body` + `formatted_body` (`org.matrix.custom.html`).
//!
//! Outbound, every character a person typed is HTML-escaped, so `<b>` arrives as the literal
//! characters; `body` is the plain text. Inbound, the HTML is parsed by a small tolerant
//! tokenizer ([`html`]) and only the tags the model knows become formatting: `b/strong`,
//! `i/em`, `code`, `pre`, `a` (matrix.to user links become mentions), `blockquote`, `br`,
//! `span data-mx-spoiler` (a spoiler, both ways). The
//! text inside every other tag survives as plain text; `mx-reply` (reply fallbacks), `script`
//! and `style` are dropped with their content.

mod html;
mod render;

pub use html::parse_html;
pub use render::{render_html, render_plain};

use civicbridge_api::rich_text::PARSE_DEPTH;
use civicbridge_api::RichText;

/// Plain text of a reply body without its legacy fallback: leading `> ` lines and the blank
/// line after them.
pub fn strip_reply_fallback(body: &str) -> &str {
    if !body.starts_with("> ") {
        return body;
    }
    let mut rest = body;
    while let Some(line_end) = rest.find('\n') {
        let line = &rest[..line_end];
        if line.starts_with('>') {
            rest = &rest[line_end + 1..];
        } else {
            break;
        }
    }
    rest.strip_prefix('\n').unwrap_or(rest)
}

pub use civicbridge_api::rich_text::normalize;

/// The most `formatted_body` the reader takes (a homeserver sends at most 64 KiB events); a
/// larger one is ignored and the plain `body` used.
pub const MAX_HTML_BYTES: usize = 256 * 1024;

/// The rich text of a message from its `body` and optional HTML. Always within the parse bounds
/// (`PARSE_DEPTH`, `MAX_SPANS`), whatever the input.
pub fn from_matrix(body: &str, html: Option<&str>) -> RichText {
    match html.filter(|h| h.len() <= MAX_HTML_BYTES) {
        Some(h) => RichText {
            spans: normalize(parse_html(h)),
        }
        .bounded(PARSE_DEPTH),
        None => RichText::plain(strip_reply_fallback(body)),
    }
}

#[cfg(test)]
mod tests;
