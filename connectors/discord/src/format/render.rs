//! `RichText` → Discord markdown.
//!
//! Rendering escapes every character Discord could read as markup (`\ * _ ~ ` | < @ [` anywhere,
//! `> # -` at the start of a line), so a resident's `**`, `@everyone` or `<@123>` arrives as the
//! characters they typed. Bare URLs are not escaped (a backslash would end up in the link) but
//! put in angle brackets, so the link ends exactly where it should whatever follows it (Discord
//! then shows no embed for it, which suits relayed text); where a URL ends is decided as Discord's
//! autolinker does (no trailing `.` or unbalanced `)`). Worst case the rendered
//! text is twice the plain text (every character escaped), which is why `max_text_len` leaves
//! room below 2,000. A code block's language is written only if it is a plain name
//! (`civicbridge_api::rich_text::safe_code_lang`), and code that contains a fence is sent as
//! escaped text, so nothing can close the block early. Spoilers are `||…||`.
//!
//! Each span is rendered once (a container's text does not depend on what precedes it), so the
//! cost is linear in the tree, whatever its shape.

use super::scan::{find_close, url_len};
use civicbridge_api::rich_text::safe_code_lang;
use civicbridge_api::{RichText, Span};

/// Characters escaped wherever they appear.
const ALWAYS: &[char] = &['\\', '*', '_', '~', '`', '|', '<', '@', '['];
/// Characters escaped at the start of a line (block quotes, headings, lists).
const LINE_START: &[char] = &['>', '#', '-'];

/// The markdown for `text`.
pub fn render(text: &RichText) -> String {
    let mut out = String::new();
    render_seq(&text.spans, Style::default(), After::default(), &mut out);
    out
}

fn at_line_start(out: &str) -> bool {
    out.is_empty() || out.ends_with('\n') || out.ends_with("> ")
}

/// Escapes literal text; `out` is the text so far, to know where lines start.
pub fn escape_into(text: &str, out: &mut String) {
    let mut i = 0;
    let mut plain_from = 0;
    while i < text.len() {
        if let Some(len) = url_len(&text[i..]) {
            escape_plain(&text[plain_from..i], out);
            // In angle brackets: the link ends exactly there, whatever markup follows, and
            // Discord shows it without an embed.
            out.push('<');
            out.push_str(&text[i..i + len]);
            out.push('>');
            i += len;
            plain_from = i;
            continue;
        }
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    escape_plain(&text[plain_from..], out);
}

fn escape_plain(text: &str, out: &mut String) {
    for c in text.chars() {
        if ALWAYS.contains(&c) || (LINE_START.contains(&c) && at_line_start(out)) {
            out.push('\\');
        }
        out.push(c);
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::new();
    escape_into(text, &mut out);
    out
}

/// The marks already open around a sequence.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    bold: bool,
    italic: bool,
    spoiler: bool,
}

/// What follows a sequence where it is written, for the marks at its end.
#[derive(Debug, Clone, Copy, Default)]
struct After {
    /// The first character written after the sequence, if any.
    next: Option<char>,
    /// Whether only white space and then a bold span's closing `**` follow the sequence.
    closes_bold: bool,
}

/// Flattens spans of a style already open (bold in bold, italic in italic, spoiler in spoiler add
/// no marks) and merges adjacent spans of one style (`**a****b**` would not read as bold).
fn flatten(spans: &[Span], style: Style) -> Vec<Span> {
    fn walk(spans: &[Span], style: Style, out: &mut Vec<Span>) {
        for s in spans {
            match s {
                Span::Bold(c) if style.bold => walk(c, style, out),
                Span::Italic(c) if style.italic => walk(c, style, out),
                Span::Spoiler(c) if style.spoiler => walk(c, style, out),
                _ => match (out.last_mut(), s) {
                    (Some(Span::Bold(a)), Span::Bold(b))
                    | (Some(Span::Italic(a)), Span::Italic(b))
                    | (Some(Span::Spoiler(a)), Span::Spoiler(b)) => a.extend(b.iter().cloned()),
                    _ => out.push(s.clone()),
                },
            }
        }
    }
    let mut out = Vec::new();
    walk(spans, style, &mut out);
    out
}

/// One span of a sequence, rendered as far as it can be without knowing what precedes it.
enum Piece {
    /// Literal text: escaped at assembly, where line starts are known.
    Text,
    /// Starts on a line of its own (a code block, a quote).
    Block(String),
    /// Markdown that reads the same wherever it stands.
    Inline(String),
}

impl Piece {
    /// The first character the piece renders to in the middle of a line.
    fn first_char(&self, span: &Span) -> Option<char> {
        match self {
            Piece::Text => {
                let mut s = String::from("x");
                render_leaf(span, &mut s);
                s[1..].chars().next()
            }
            Piece::Block(_) => Some('\n'),
            Piece::Inline(s) => s.chars().next(),
        }
    }
}

/// Renders a sequence of spans. Italic is `*x*`, except where a `*` would touch another `*`
/// (bold inside it, bold right after it, or it ends a bold span): there `_x_`, which in turn
/// needs no word character right after it. Pieces are made right to left (an italic span's mark
/// depends on what follows it) and written left to right. `after` is what follows the sequence
/// (nothing but the closing marks of the spans around it, unless it is written without them).
fn render_seq(spans: &[Span], style: Style, after: After, out: &mut String) {
    let spans = flatten(spans, style);
    let mut pieces: Vec<Piece> = Vec::with_capacity(spans.len());
    let mut next: Option<char> = after.next;
    // Whether everything after the current span renders to white space only: then an italic
    // span's closing mark would touch the closing `**` of the bold around it, white space
    // being kept outside the marks.
    let mut blank_after = true;
    for s in spans.iter().rev() {
        let closes_bold = blank_after && (style.bold || after.closes_bold);
        let piece = piece(s, style, next, closes_bold);
        next = piece.first_char(s);
        blank_after &= match (&piece, s) {
            (Piece::Text, Span::Text(t)) => t.chars().all(char::is_whitespace),
            (Piece::Inline(b), _) => b.chars().all(char::is_whitespace),
            _ => false,
        };
        pieces.push(piece);
    }
    pieces.reverse();
    for (s, p) in spans.iter().zip(pieces) {
        match p {
            Piece::Text => render_leaf(s, out),
            Piece::Block(b) => {
                if !at_line_start(out) {
                    out.push('\n');
                }
                out.push_str(&b);
            }
            Piece::Inline(b) => out.push_str(&b),
        }
    }
}

/// The piece for `span` in a sequence of `style`; `next` is the first character of what follows
/// it, `closes_bold` whether only white space follows it inside a bold span.
fn piece(span: &Span, style: Style, next: Option<char>, closes_bold: bool) -> Piece {
    let fresh = |f: &dyn Fn(&mut String)| {
        let mut s = String::new();
        f(&mut s);
        s
    };
    let piece = match span {
        Span::Text(_) => Piece::Text,
        Span::Pre { code, .. } if code.contains("```") => Piece::Text,
        Span::Pre { lang, code } => Piece::Block(code_block(lang.as_deref(), code)),
        Span::Quote(c) => Piece::Block(quote(c)),
        Span::Bold(c) => {
            let inner = fresh(&|s| {
                render_seq(
                    c,
                    Style {
                        bold: true,
                        ..style
                    },
                    After::default(),
                    s,
                )
            });
            if find_close(&inner, "**", None).is_some() {
                // A `**` inside that a reader takes for the closing mark (in a URL; an escaped
                // `\*` next to a `*` is none) would close the span early: no bold here. Then
                // nothing stands between the children and what follows the span, so they are
                // written again knowing it (an italic `_x_` before a `_` would read as `__`).
                Piece::Inline(fresh(&|s| {
                    render_seq(c, style, After { next, closes_bold }, s)
                }))
            } else {
                Piece::Inline(wrap("**", &inner))
            }
        }
        Span::Italic(c) => {
            let inner = fresh(&|s| {
                render_seq(
                    c,
                    Style {
                        italic: true,
                        ..style
                    },
                    After::default(),
                    s,
                )
            });
            let core = inner.trim();
            let star_touches =
                core.starts_with('*') || core.ends_with('*') || next == Some('*') || closes_bold;
            // `_x_` only closes before a non-word character.
            let word_follows = next.is_some_and(|c| c.is_alphanumeric() || c == '_');
            let underscore_ok = !word_follows
                && !has_raw(&inner, '_')
                && !core.starts_with('_')
                && !core.ends_with('_');
            // A mark character left raw inside (in a URL) would close the span early.
            let star_ok = !star_touches && !has_raw(&inner, '*');
            let mark = if star_ok {
                "*"
            } else if underscore_ok {
                "_"
            } else {
                // No mark reads right here: keep the words, drop the slant.
                ""
            };
            Piece::Inline(wrap(mark, &inner))
        }
        Span::Spoiler(c) => {
            let inner = fresh(&|s| {
                render_seq(
                    c,
                    Style {
                        spoiler: true,
                        ..style
                    },
                    After::default(),
                    s,
                )
            });
            // Edge white space stays inside, so the whole text is hidden.
            if inner.is_empty() {
                Piece::Inline(inner)
            } else {
                Piece::Inline(format!("||{inner}||"))
            }
        }
        leaf => Piece::Inline(fresh(&|s| render_leaf(leaf, s))),
    };
    // Formatting that starts with a code block or a quote starts on a line of its own too, as
    // the block inside it would at the top level.
    match piece {
        Piece::Inline(b) if starts_with_block(span) => Piece::Block(b),
        p => p,
    }
}

/// Whether `span` starts with a code block or a quote, however formatting wraps it.
fn starts_with_block(span: &Span) -> bool {
    match span {
        Span::Pre { code, .. } => !code.contains("```"),
        Span::Quote(_) => true,
        Span::Bold(c) | Span::Italic(c) | Span::Spoiler(c) | Span::Link { children: c, .. } => {
            c.first().is_some_and(starts_with_block)
        }
        _ => false,
    }
}

/// A fenced code block: the language only if it is a plain name, the code on lines of its own.
fn code_block(lang: Option<&str>, code: &str) -> String {
    let mut out = String::from("```");
    out.push_str(safe_code_lang(lang).unwrap_or(""));
    out.push('\n');
    out.push_str(code);
    if !code.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("```");
    out
}

fn quote(children: &[Span]) -> String {
    let mut inner = String::new();
    render_seq(children, Style::default(), After::default(), &mut inner);
    let mut out = String::new();
    let lines: Vec<&str> = inner.split('\n').collect();
    for (i, line) in lines.iter().enumerate() {
        out.push_str("> ");
        out.push_str(line);
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// Whether `c` occurs in rendered markdown other than behind a backslash (inside a URL).
fn has_raw(md: &str, c: char) -> bool {
    let mut escaped = false;
    for ch in md.chars() {
        if escaped {
            escaped = false;
        } else if ch == '\\' {
            escaped = true;
        } else if ch == c {
            return true;
        }
    }
    false
}

/// Wraps rendered `inner` in `mark`, keeping edge whitespace outside the marks (Discord does
/// not close `*x *`).
fn wrap(mark: &str, inner: &str) -> String {
    let trimmed_start = inner.trim_start();
    let lead = &inner[..inner.len() - trimmed_start.len()];
    let core = trimmed_start.trim_end();
    let trail = &trimmed_start[core.len()..];
    let mut out = String::with_capacity(inner.len() + 2 * mark.len());
    out.push_str(lead);
    if !core.is_empty() {
        out.push_str(mark);
        out.push_str(core);
        out.push_str(mark);
    }
    out.push_str(trail);
    out
}

/// Renders a span that has no formatting children of its own (and, for a link, its label).
fn render_leaf(span: &Span, out: &mut String) {
    match span {
        Span::Text(t) => escape_into(t, out),
        Span::Bold(_) | Span::Italic(_) | Span::Spoiler(_) | Span::Quote(_) => render_seq(
            std::slice::from_ref(span),
            Style::default(),
            After::default(),
            out,
        ),
        Span::Code(t) if t.is_empty() => {}
        Span::Code(t) if !t.contains('`') => {
            out.push('`');
            out.push_str(t);
            out.push('`');
        }
        Span::Code(t) if !t.contains("``") && !t.starts_with('`') && !t.ends_with('`') => {
            out.push_str("`` ");
            out.push_str(t);
            out.push_str(" ``");
        }
        Span::Code(t) => escape_into(t, out),
        Span::Pre { lang, code } if !code.contains("```") => {
            if !at_line_start(out) {
                out.push('\n');
            }
            out.push_str(&code_block(lang.as_deref(), code));
        }
        // Code that would close any fence: its characters, escaped.
        Span::Pre { code, .. } => escape_into(code, out),
        Span::Link { url, children } => {
            let mut label = String::new();
            render_seq(children, Style::default(), After::default(), &mut label);
            let plain: String = RichText {
                spans: children.clone(),
            }
            .to_plain();
            let safe_url = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.contains(|c: char| c.is_whitespace() || c == ')' || c == '<' || c == '>');
            if plain == *url || label.is_empty() {
                if safe_url {
                    out.push('<');
                    out.push_str(url);
                    out.push('>');
                } else {
                    escape_into(url, out);
                }
            } else if safe_url && (plain.contains("://") || plain.contains(['[', ']'])) {
                // Discord does not show masked links whose label looks like a link (phishing
                // guard) and brackets would end the label early: label, then the URL.
                out.push_str(&label);
                out.push_str(" (<");
                out.push_str(url);
                out.push_str(">)");
            } else if safe_url {
                out.push('[');
                out.push_str(&label);
                out.push_str("](");
                out.push_str(url);
                out.push(')');
            } else {
                out.push_str(&label);
            }
        }
        Span::Mention { name, .. } | Span::GroupMention { name } => {
            // Never a `<@id>` or `<@&id>`: the id belongs to another platform (or, if local,
            // would ping).
            escape_into(&format!("@{name}"), out);
        }
    }
}
