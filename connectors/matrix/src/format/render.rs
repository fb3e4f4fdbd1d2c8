//! `RichText` -> `body` and `formatted_body`.

use civicbridge_api::rich_text::safe_code_lang;
use civicbridge_api::{RichText, Span};

/// The plain `body`: exactly what a person reads, markup characters verbatim.
pub fn render_plain(text: &RichText) -> String {
    text.to_plain()
}

/// The `formatted_body`: HTML with every typed character escaped.
pub fn render_html(text: &RichText) -> String {
    let mut out = String::new();
    for s in &text.spans {
        span(s, &mut out);
    }
    out
}

fn span(s: &Span, out: &mut String) {
    match s {
        Span::Text(t) => escape_text(t, out),
        Span::Bold(c) => wrap("strong", c, out),
        Span::Italic(c) => wrap("em", c, out),
        Span::Quote(c) => wrap("blockquote", c, out),
        Span::Spoiler(c) => {
            out.push_str("<span data-mx-spoiler>");
            for c in c {
                span(c, out);
            }
            out.push_str("</span>");
        }
        Span::GroupMention { name } => escape_text(&format!("@{name}"), out),
        Span::Code(code) => {
            out.push_str("<code>");
            escape(code, out);
            out.push_str("</code>");
        }
        Span::Pre { lang, code } => {
            out.push_str("<pre><code");
            if let Some(lang) = safe_code_lang(lang.as_deref()) {
                out.push_str(" class=\"language-");
                out.push_str(lang);
                out.push('"');
            }
            out.push('>');
            escape(code, out);
            out.push_str("</code></pre>");
        }
        Span::Link { url, children } => {
            if is_safe_url(url) {
                out.push_str("<a href=\"");
                escape(url, out);
                out.push_str("\">");
                for c in children {
                    span(c, out);
                }
                out.push_str("</a>");
            } else {
                for c in children {
                    span(c, out);
                }
            }
        }
        Span::Mention { user, name } => {
            let text = format!("@{}", name.trim_start_matches('@'));
            match user.as_ref().filter(|u| is_matrix_user(u.as_str())) {
                Some(u) => {
                    out.push_str("<a href=\"https://matrix.to/#/");
                    escape(u.as_str(), out);
                    out.push_str("\">");
                    escape(&text, out);
                    out.push_str("</a>");
                }
                None => escape_text(&text, out),
            }
        }
    }
}

fn wrap(tag: &str, children: &[Span], out: &mut String) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    for c in children {
        span(c, out);
    }
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// Escapes text outside code: newlines become `<br>` because HTML collapses them.
fn escape_text(t: &str, out: &mut String) {
    for (i, line) in t.split('\n').enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        escape(line, out);
    }
}

pub(crate) fn escape(t: &str, out: &mut String) {
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn is_safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["https://", "http://", "mailto:", "matrix:"]
        .iter()
        .any(|p| lower.starts_with(p))
}

/// `@local:server`: a user that exists on Matrix, so a pill link makes sense.
fn is_matrix_user(id: &str) -> bool {
    id.starts_with('@') && id.contains(':') && !id.contains(char::is_whitespace)
}
