//! `RichText` <-> Matrix `body` + `formatted_body` (`org.matrix.custom.html`).
//!
//! Outbound, every character a person typed is HTML-escaped, so `<b>` arrives as the literal
//! characters; `body` is the plain text. Inbound, the HTML is parsed by a small tolerant
//! tokenizer ([`html`]) and only the tags the model knows become formatting: `b/strong`,
//! `i/em`, `code`, `pre`, `a` (matrix.to user links become mentions), `blockquote`, `br`. The
//! text inside every other tag survives as plain text; `mx-reply` (reply fallbacks), `script`
//! and `style` are dropped with their content.

mod html;
mod render;

pub use html::parse_html;
pub use render::{render_html, render_plain};

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

/// The rich text of a message from its `body` and optional HTML.
pub fn from_matrix(body: &str, html: Option<&str>) -> RichText {
    match html {
        Some(h) => RichText {
            spans: normalize(parse_html(h)),
        },
        None => RichText::plain(strip_reply_fallback(body)),
    }
}

#[cfg(test)]
mod tests;
