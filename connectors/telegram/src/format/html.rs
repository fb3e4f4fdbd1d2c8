//! `RichText` → Telegram HTML (`parse_mode=HTML`), for the few places that need markup: every
//! character a person typed is escaped (`<`, `>`, `&` and `"`).

use civicbridge_api::rich_text::safe_code_lang;
use civicbridge_api::{RichText, Span};

/// `RichText` as Telegram HTML (`parse_mode=HTML`), escaping everything a person typed.
pub fn to_html(text: &RichText) -> String {
    let mut out = String::new();
    html(&text.spans, &mut out);
    out
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn html(spans: &[Span], out: &mut String) {
    for s in spans {
        match s {
            Span::Text(t) => escape(t, out),
            Span::Mention { name, .. } | Span::GroupMention { name } => {
                out.push('@');
                escape(name, out);
            }
            Span::Spoiler(c) => wrap("tg-spoiler", c, out),
            Span::Code(c) => {
                out.push_str("<code>");
                escape(c, out);
                out.push_str("</code>");
            }
            Span::Pre { lang, code } => match safe_code_lang(lang.as_deref()) {
                Some(l) => {
                    out.push_str("<pre><code class=\"language-");
                    escape(l, out);
                    out.push_str("\">");
                    escape(code, out);
                    out.push_str("</code></pre>");
                }
                _ => {
                    out.push_str("<pre>");
                    escape(code, out);
                    out.push_str("</pre>");
                }
            },
            Span::Bold(c) => wrap("b", c, out),
            Span::Italic(c) => wrap("i", c, out),
            Span::Quote(c) => wrap("blockquote", c, out),
            Span::Link { url, children } => {
                out.push_str("<a href=\"");
                escape(url, out);
                out.push_str("\">");
                html(children, out);
                out.push_str("</a>");
            }
        }
    }
}

fn wrap(tag: &str, children: &[Span], out: &mut String) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
    html(children, out);
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}
