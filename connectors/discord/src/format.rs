//! `RichText` ⇄ Discord markdown.
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
//!
//! Parsing reads the markdown Discord users write into the small `RichText` tree: bold, italic,
//! code, quotes, links, spoilers (`||…||`), user mentions, and role mentions as group mentions
//! (they notify many). Underline and strike-through have no node in the tree: their text is kept,
//! their styling is not. Formatting nested deeper than `PARSE_DEPTH` is read as text.

use civicbridge_api::rich_text::{safe_code_lang, PARSE_DEPTH};
use civicbridge_api::{RemoteUserId, RichText, Span};

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

/// The length of the bare URL at the start of `s`, if one starts there. Like Discord's
/// autolinker: from `http://` or `https://` to the next white space, `<` or `>` (and `\`, which
/// our escaping uses), without a trailing `.`, `,`, `:`, `;`, `"`, `'`, `)` or `]`; except that
/// a `)` closing a `(` inside the URL stays (`…/wiki/Foo_(bar)`).
fn url_len(s: &str) -> Option<usize> {
    let scheme = ["https://", "http://"]
        .iter()
        .find(|p| s.starts_with(**p))?
        .len();
    let run = s
        .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '\\')
        .unwrap_or(s.len());
    let mut end = run;
    while end > scheme && s[..end].ends_with(['.', ',', ':', ';', '"', '\'', ')', ']']) {
        end -= 1;
    }
    while end < run
        && s[end..].starts_with(')')
        && s[..end].matches('(').count() > s[..end].matches(')').count()
    {
        end += 1;
    }
    (end > scheme).then_some(end)
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

// ---- parsing -----------------------------------------------------------------------------------

/// Looks up the display name of a mentioned user id (from the message's `mentions`).
pub type NameOf<'a> = &'a dyn Fn(u64) -> Option<String>;

/// Parses Discord markdown into `RichText`.
pub fn parse(content: &str, name_of: NameOf<'_>) -> RichText {
    let mut spans = Vec::new();
    let lines: Vec<&str> = content.split('\n').collect();
    let mut i = 0;
    let mut plain_run = String::new();
    let flush_run = |run: &mut String, spans: &mut Vec<Span>| {
        if !run.is_empty() {
            spans.extend(parse_inline(run, name_of, 0));
            run.clear();
        }
    };
    // Inside a fenced code block lines are code: no quote or heading starts there. Only the
    // lines read as running text open or close one (a quote's or a heading's lines are read on
    // their own), at the fences the inline reader reads as fences (`in_code_after`).
    let mut in_code = false;
    while i < lines.len() {
        let line = lines[i];
        let newline = i + 1 < lines.len();
        if in_code {
            in_code = in_code_after(line, true, name_of);
            plain_run.push_str(line);
            if newline {
                plain_run.push('\n');
            }
            i += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix(">>> ") {
            flush_run(&mut plain_run, &mut spans);
            let body = lines[i..].join("\n");
            let body = &body[4..];
            let _ = rest;
            spans.push(Span::Quote(parse_inline(body, name_of, 1)));
            break;
        }
        if line.starts_with("> ") || line == ">" {
            flush_run(&mut plain_run, &mut spans);
            let mut quoted = Vec::new();
            while i < lines.len() && (lines[i].starts_with("> ") || lines[i] == ">") {
                quoted.push(lines[i].get(2..).unwrap_or(""));
                i += 1;
            }
            spans.push(Span::Quote(parse_inline(&quoted.join("\n"), name_of, 1)));
            continue;
        }
        let heading = ["### ", "## ", "# "]
            .iter()
            .find_map(|h| line.strip_prefix(h));
        if let Some(h) = heading {
            flush_run(&mut plain_run, &mut spans);
            spans.push(Span::Bold(parse_inline(h, name_of, 1)));
            if newline {
                spans.push(Span::Text("\n".into()));
            }
            i += 1;
            continue;
        }
        let line = line.strip_prefix("-# ").unwrap_or(line);
        in_code = in_code_after(line, false, name_of);
        plain_run.push_str(line);
        if newline {
            plain_run.push('\n');
        }
        i += 1;
    }
    flush_run(&mut plain_run, &mut spans);
    RichText {
        spans: normalize(spans),
    }
}

pub use civicbridge_api::rich_text::normalize;

/// Whether a fenced code block is open after `line` of running text, given whether one was open
/// before it. A "```" counts where `parse_inline` reads a fence: not behind a backslash, nor
/// inside a bare URL, a `<…>` form, a link's target or inline code, all of which it reads
/// first (the renderer writes a URL with "```" in it as `<…>`, raw).
fn in_code_after(line: &str, mut in_code: bool, name_of: NameOf<'_>) -> bool {
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        if in_code {
            let Some(end) = rest.find("```") else { break };
            in_code = false;
            i += end + 3;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        let skip = if c == '\\' {
            rest[1..]
                .chars()
                .next()
                .filter(|n| is_escapable(*n))
                .map(|n| 1 + n.len_utf8())
        } else if let Some(len) = url_len(rest) {
            Some(len)
        } else if rest.starts_with("```") {
            in_code = true;
            Some(3)
        } else if let Some(body) = rest.strip_prefix("``") {
            body.find("``").filter(|e| *e > 0).map(|e| 4 + e)
        } else if let Some(body) = rest.strip_prefix('`') {
            body.find('`').filter(|e| *e > 0).map(|e| 2 + e)
        } else if c == '<' {
            rest.find('>')
                .filter(|end| angle(&rest[1..*end], name_of).is_some())
                .map(|end| end + 1)
        } else if c == '[' {
            link_at(rest).map(|(len, _)| len)
        } else {
            None
        };
        i += skip.unwrap_or(c.len_utf8());
    }
    in_code
}

/// The length of the `[label](url)` link at the start of `s`, if one starts there, and the
/// index of its label's closing `]`.
fn link_at(s: &str) -> Option<(usize, usize)> {
    // An empty label is no link (Discord shows the characters).
    let end = find_close(s.get(1..)?, "](", None).filter(|e| *e > 0)?;
    let after = &s[1 + end + 2..];
    let close = after.find(')')?;
    let url = &after[..close];
    ((url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(char::is_whitespace))
    .then_some((1 + end + 2 + close + 1, 1 + end))
}

fn is_escapable(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace()
}

/// Where `delim` closes in `s` (byte index), skipping escapes and, for single `*`/`_`, doubled
/// delimiters.
fn find_close(s: &str, delim: &str, single: Option<char>) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if let Some(escaped) = rest.strip_prefix('\\') {
            i += 1 + escaped.chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if rest.starts_with(delim) {
            match single {
                Some(c) if rest[1..].starts_with(c) => {
                    i += 2;
                    continue;
                }
                _ => return Some(i),
            }
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Inline markdown of `s`, read as spans nested `depth` levels deep already: past
/// `PARSE_DEPTH`, formatting marks are read as the characters they are.
fn parse_inline(s: &str, name_of: NameOf<'_>, depth: usize) -> Vec<Span> {
    if depth >= PARSE_DEPTH {
        return vec![Span::Text(s.to_owned())];
    }

    let mut out: Vec<Span> = Vec::new();
    let mut text = String::new();
    let push_text = |text: &mut String, out: &mut Vec<Span>| {
        if !text.is_empty() {
            out.push(Span::Text(std::mem::take(text)));
        }
    };
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let Some(c) = rest.chars().next() else { break };
        if c == '\\' {
            if let Some(n) = rest[1..].chars().next().filter(|n| is_escapable(*n)) {
                text.push(n);
                i += 1 + n.len_utf8();
                continue;
            }
        }
        // Markup characters inside a bare URL are not markup.
        if let Some(len) = url_len(rest) {
            text.push_str(&rest[..len]);
            i += len;
            continue;
        }
        if let Some(body) = rest.strip_prefix("```") {
            if let Some(end) = body.find("```") {
                let raw = &body[..end];
                let (lang, code) = match raw.split_once('\n') {
                    Some((l, c)) if !l.contains(char::is_whitespace) => {
                        (Some(l.to_owned()).filter(|l| !l.is_empty()), c)
                    }
                    _ => (None, raw),
                };
                push_text(&mut text, &mut out);
                out.push(Span::Pre {
                    lang,
                    code: code.strip_suffix('\n').unwrap_or(code).to_owned(),
                });
                i += 6 + end;
                continue;
            }
        }
        if let Some(body) = rest.strip_prefix("``") {
            if let Some(end) = body.find("``").filter(|e| *e > 0) {
                let code = &body[..end];
                let code = code.strip_prefix(' ').unwrap_or(code);
                let code = code.strip_suffix(' ').unwrap_or(code);
                push_text(&mut text, &mut out);
                out.push(Span::Code(code.to_owned()));
                i += 4 + end;
                continue;
            }
        }
        if let Some(body) = rest.strip_prefix('`') {
            if let Some(end) = body.find('`').filter(|e| *e > 0) {
                push_text(&mut text, &mut out);
                out.push(Span::Code(body[..end].to_owned()));
                i += 2 + end;
                continue;
            }
        }
        let mut matched = false;
        for delim in ["**", "__", "~~", "||"] {
            if let Some(body) = rest.strip_prefix(delim) {
                if let Some(end) = find_close(body, delim, None).filter(|e| *e > 0) {
                    push_text(&mut text, &mut out);
                    let inner = parse_inline(&body[..end], name_of, depth + 1);
                    match delim {
                        "**" => out.push(Span::Bold(inner)),
                        "||" => out.push(Span::Spoiler(inner)),
                        // No underline or strike-through in the tree: keep the words.
                        _ => out.extend(inner),
                    }
                    i += 4 + end;
                    matched = true;
                    break;
                }
            }
        }
        if matched {
            continue;
        }
        if c == '*' || c == '_' {
            let body = &rest[1..];
            let opens = body.chars().next().is_some_and(|n| !n.is_whitespace());
            let close = find_close(body, &c.to_string(), Some(c))
                .filter(|e| *e > 0)
                .filter(|e| {
                    let before_ok = c == '_' || !body[..*e].ends_with(char::is_whitespace);
                    let after = body[e + 1..].chars().next();
                    let after_ok =
                        c == '*' || !after.is_some_and(|a| a.is_alphanumeric() || a == '_');
                    before_ok && after_ok
                });
            if let (true, Some(end)) = (opens, close) {
                push_text(&mut text, &mut out);
                out.push(Span::Italic(parse_inline(&body[..end], name_of, depth + 1)));
                i += 2 + end;
                continue;
            }
        }
        if c == '[' {
            if let Some((len, label_end)) = link_at(rest) {
                push_text(&mut text, &mut out);
                out.push(Span::Link {
                    url: rest[label_end + 2..len - 1].to_owned(),
                    children: parse_inline(&rest[1..label_end], name_of, depth + 1),
                });
                i += len;
                continue;
            }
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                if let Some(span) = angle(&rest[1..end], name_of) {
                    push_text(&mut text, &mut out);
                    out.push(span);
                    i += end + 1;
                    continue;
                }
            }
        }
        text.push(c);
        i += c.len_utf8();
    }
    push_text(&mut text, &mut out);
    normalize(out)
}

/// `<…>` forms: user mentions, role mentions (as group mentions), channel mentions, custom emoji,
/// suppressed-embed links.
fn angle(inner: &str, name_of: NameOf<'_>) -> Option<Span> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(id) = inner
        .strip_prefix("@!")
        .or_else(|| inner.strip_prefix('@'))
        .filter(|d| digits(d))
    {
        let n: u64 = id.parse().ok()?;
        return Some(Span::Mention {
            user: Some(RemoteUserId::new(id)),
            name: name_of(n).unwrap_or_else(|| id.to_owned()),
        });
    }
    if inner.strip_prefix("@&").is_some_and(digits) {
        // A role mention notifies everyone in the role: a mass mention, whatever its name.
        return Some(Span::GroupMention {
            name: "role".into(),
        });
    }
    if inner.strip_prefix('#').is_some_and(digits) {
        return Some(Span::Text("#channel".into()));
    }
    if inner.starts_with("http://") || inner.starts_with("https://") {
        return Some(Span::Link {
            url: inner.to_owned(),
            children: vec![Span::Text(inner.to_owned())],
        });
    }
    let emoji = inner
        .strip_prefix("a:")
        .or_else(|| inner.strip_prefix(':'))
        .and_then(|e| e.split_once(':'))
        .filter(|(_, id)| digits(id));
    emoji.map(|(name, _)| Span::Text(format!(":{name}:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: u64) -> Option<String> {
        None
    }

    #[test]
    fn escapes_markup_mentions_and_pings() {
        assert_eq!(
            render(&RichText::plain(
                "**x** @everyone <@123> _y_ ~~z~~ ||s|| `c` [l](http://a.b)"
            )),
            r"\*\*x\*\* \@everyone \<\@123> \_y\_ \~\~z\~\~ \|\|s\|\| \`c\` \[l](<http://a.b>)"
        );
        assert_eq!(
            render(&RichText::plain("> q\n# h\n- l")),
            "\\> q\n\\# h\n\\- l"
        );
    }

    /// The counterexample of `formatted_trees_keep_their_words` (issue 13): an italic span
    /// followed only by white space inside a bold one rendered as `***x*\n**`, whose closing
    /// `*` merged with the bold's `**`, so the words came out with stars in them.
    #[test]
    fn italic_before_trailing_white_space_in_bold_keeps_its_words() {
        let t = RichText {
            spans: vec![
                Span::Bold(vec![
                    Span::Italic(vec![Span::Code("A".into())]),
                    Span::Text("\n".into()),
                ]),
                Span::Text("a".into()),
            ],
        };
        let md = render(&t);
        assert_eq!(md, "**_`A`_**\na");
        let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
        assert_eq!(shown, "A\na");
        assert_eq!(parse(&md, &none).to_plain(), "A\na");
    }

    /// The counterexample of `fuzz_discord_formatted_trees_keep_their_words` (`cc 50bf7806`): the
    /// escaped `\*` of a bold span's text next to its italic's `*` looked like a `**` inside,
    /// so the bold marks were dropped; the italic `_A_` at the end of it, written to close
    /// before the bold's `**`, then touched the next italic's `_` and read as `__`.
    #[test]
    fn an_escaped_star_beside_an_italic_star_keeps_the_bold() {
        let t = RichText {
            spans: vec![
                Span::Bold(vec![
                    Span::Text("*".into()),
                    Span::Italic(vec![Span::Code("A".into())]),
                ]),
                Span::Bold(vec![
                    Span::Text("A".into()),
                    Span::Italic(vec![Span::Text("A".into())]),
                ]),
                Span::Italic(vec![Span::Bold(vec![Span::Text("a".into())])]),
            ],
        };
        let md = render(&t);
        assert_eq!(md, "**\\**`A`*A_A_**_**a**_");
        let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
        assert_eq!(shown, "*AAAa");
        assert_eq!(parse(&md, &none), {
            let mut t = t.clone();
            // The two bold spans, adjacent, are one.
            if let [Span::Bold(a), Span::Bold(b), _] = &mut t.spans[..] {
                a.append(b);
            }
            t.spans.remove(1);
            t
        });
    }

    /// A bold span that cannot be marked (a URL inside has a `**` the reader would close it at)
    /// is written as its children alone, and they are written knowing what follows the span:
    /// its last italic must not end in a `_` touching the next italic's `_`.
    #[test]
    fn an_unmarked_bold_span_ends_in_marks_that_fit_what_follows() {
        let t = RichText {
            spans: vec![
                Span::Bold(vec![
                    Span::Text("https://x.org/**a ".into()),
                    Span::Italic(vec![Span::Text("b".into())]),
                ]),
                Span::Italic(vec![Span::Bold(vec![Span::Text("c".into())])]),
            ],
        };
        let md = render(&t);
        assert_eq!(md, "<https://x.org/**a> *b*_**c**_");
        let shown = civicbridge_testkit::discord::markdown::shown_text(&md, &none);
        assert_eq!(shown, "https://x.org/**a bc");
        assert_eq!(parse(&md, &none).to_plain(), "https://x.org/**a bc");
    }

    /// The counterexample of `fuzz_discord_parse_any_markdown` (`cc 49755d2e`): a URL with
    /// "```" in it, written as `<…>`, counted as a fence when the lines were sorted into code
    /// and quotes, so the real code block's opening fence on the next line was taken for a
    /// closing one and its `>>> ` line for a block quote.
    #[test]
    fn a_fence_inside_a_url_opens_no_code_block() {
        let typed = "||https://x.org/(a)```<@123>```>>> ```";
        let t = parse(typed, &none);
        let url = "https://x.org/(a)```";
        assert_eq!(
            t.spans,
            vec![
                Span::Text(format!("||{url}")),
                Span::Mention {
                    user: Some(RemoteUserId::new("123")),
                    name: "123".into()
                },
                Span::Pre {
                    lang: None,
                    code: ">>> ".into()
                },
            ]
        );
        let md = render(&t);
        assert_eq!(md, format!("\\|\\|<{url}>\\@123\n```\n>>> \n```"));
        let link = |children: &str| Span::Link {
            url: url.into(),
            children: vec![Span::Text(children.into())],
        };
        let back = parse(&md, &none);
        assert_eq!(
            back.spans,
            vec![
                Span::Text("||".into()),
                link(url),
                Span::Text("@123\n".into()),
                Span::Pre {
                    lang: None,
                    code: ">>> ".into()
                },
            ]
        );
        assert_eq!(render(&back), md);
        // Nor in a link's target, behind a backslash or in inline code.
        for line in [
            "[x](https://x.org/a```)".to_owned(),
            "\\``` and `` a`b ``".to_owned(),
            "`x```".to_owned(),
        ] {
            let t = parse(&format!("{line}\n> q"), &none);
            assert!(
                matches!(t.spans.last(), Some(Span::Quote(_))),
                "{line}: {t:?}"
            );
        }
    }

    /// A code block inside a quote is read with the quote: the fences on its `> ` lines leave
    /// no block open after it, so a later quote is still a quote.
    #[test]
    fn a_code_block_in_a_quote_leaves_no_fence_open_after_it() {
        let t = RichText {
            spans: vec![
                Span::Quote(vec![Span::Pre {
                    lang: None,
                    code: "a".into(),
                }]),
                Span::Text("b\n".into()),
                Span::Quote(vec![Span::Text("c".into())]),
            ],
        };
        let md = render(&t);
        assert_eq!(md, "> ```\n> a\n> ```\nb\n> c\n");
        assert_eq!(parse(&md, &none), t);
    }

    #[test]
    fn a_link_ends_where_a_client_ends_it() {
        assert_eq!(
            render(&RichText::plain(
                "(see https://x.org/a). Or https://x.org/Foo_(bar), ok"
            )),
            r"(see <https://x.org/a>). Or <https://x.org/Foo_(bar)>, ok"
        );
    }

    #[test]
    fn code_blocks_cannot_be_closed_from_inside() {
        let attack = RichText {
            spans: vec![Span::Pre {
                lang: Some("x\n```\n# COUNCIL NOTICE\n[pay](https://evil.example)".into()),
                code: "let x;".into(),
            }],
        };
        assert_eq!(render(&attack), "```\nlet x;\n```");
        let fence_inside = RichText {
            spans: vec![Span::Pre {
                lang: Some("rust".into()),
                code: "a\n```\n# h".into(),
            }],
        };
        assert_eq!(render(&fence_inside), "a\n\\`\\`\\`\n\\# h");
    }

    #[test]
    fn spoilers_and_role_mentions_both_ways() {
        let t = parse("a ||secret|| <@&77>", &none);
        assert_eq!(
            t.spans,
            vec![
                Span::Text("a ".into()),
                Span::Spoiler(vec![Span::Text("secret".into())]),
                Span::Text(" ".into()),
                Span::GroupMention {
                    name: "role".into()
                },
            ]
        );
        assert!(t.has_mass_mention());
        assert_eq!(render(&t), r"a ||secret|| \@role");
    }

    #[test]
    fn nesting_past_the_parse_limit_is_read_as_text() {
        let deep = format!("{}x{}", "||".repeat(40), "||".repeat(40));
        let t = parse(&deep, &none);
        assert!(t.depth() <= PARSE_DEPTH, "{}", t.depth());
        assert!(t.to_plain().contains('x'));
    }

    #[test]
    fn urls_are_left_alone() {
        assert_eq!(
            render(&RichText::plain("see https://x.org/a_b*c then _")),
            r"see <https://x.org/a_b*c> then \_"
        );
    }

    #[test]
    fn renders_formatting() {
        let t = RichText {
            spans: vec![
                Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
                Span::Text(" a ".into()),
                Span::Italic(vec![Span::Text("b ".into())]),
                Span::Code("c < d".into()),
                Span::Text(" ".into()),
                Span::Link {
                    url: "https://example.org/".into(),
                    children: vec![Span::Text("e".into())],
                },
                Span::Mention {
                    user: Some(RemoteUserId::new("42")),
                    name: "bob".into(),
                },
            ],
        };
        assert_eq!(
            render(&t),
            r"**Ada (Telegram):** a *b* `c < d` [e](https://example.org/)\@bob"
        );
    }

    #[test]
    fn parses_discord_markdown() {
        let names = |id: u64| (id == 42).then(|| "Ada".to_owned());
        let t = parse(
            "**b** *i* _j_ __u__ `c` [l](https://x.y) <@42> <@!7> \\*lit\\* https://q.r/a_b_",
            &names,
        );
        assert_eq!(
            t.spans,
            vec![
                Span::Bold(vec![Span::Text("b".into())]),
                Span::Text(" ".into()),
                Span::Italic(vec![Span::Text("i".into())]),
                Span::Text(" ".into()),
                Span::Italic(vec![Span::Text("j".into())]),
                Span::Text(" u ".into()),
                Span::Code("c".into()),
                Span::Text(" ".into()),
                Span::Link {
                    url: "https://x.y".into(),
                    children: vec![Span::Text("l".into())]
                },
                Span::Text(" ".into()),
                Span::Mention {
                    user: Some(RemoteUserId::new("42")),
                    name: "Ada".into()
                },
                Span::Text(" ".into()),
                Span::Mention {
                    user: Some(RemoteUserId::new("7")),
                    name: "7".into()
                },
                Span::Text(" *lit* https://q.r/a_b_".into()),
            ]
        );
        let q = parse("> quoted\n> more\nafter\n```rs\nfn x() {}\n```", &none);
        assert_eq!(
            q.spans,
            vec![
                Span::Quote(vec![Span::Text("quoted\nmore".into())]),
                Span::Text("after\n".into()),
                Span::Pre {
                    lang: Some("rs".into()),
                    code: "fn x() {}".into()
                },
            ]
        );
    }
}

#[cfg(test)]
mod properties {
    //! Property tests: escaping makes any typed text arrive verbatim, as read by the local
    //! Discord's independent markdown reader and by our own parser; formatted trees keep their
    //! words through a round trip.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use civicbridge_testkit::discord::markdown::shown_text;
    use civicbridge_testkit::discord::payloads::pings_everyone;
    use proptest::prelude::*;

    fn none(_: u64) -> Option<String> {
        None
    }

    /// Text rich in markup characters, mentions, URLs and line starts.
    fn typed() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                atom(),
                Just("[x](https://e.x)".to_owned()),
                Just("https://x.org/a_b*c".to_owned()),
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    /// Typed text without URLs: inside bold or italic spans, a URL that itself contains `*` or
    /// `_` can end the formatting early, in Discord as in our reading of it (a known limit).
    fn typed_no_url() -> impl Strategy<Value = String> {
        prop::collection::vec(atom(), 0..24).prop_map(|v| v.concat())
    }

    fn atom() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_owned()),
            Just("**".to_owned()),
            Just("_".to_owned()),
            Just("__".to_owned()),
            Just("~~".to_owned()),
            Just("||".to_owned()),
            Just("`".to_owned()),
            Just("```".to_owned()),
            Just("\\".to_owned()),
            Just("> ".to_owned()),
            Just("# ".to_owned()),
            Just("- ".to_owned()),
            Just("\n".to_owned()),
            Just(" ".to_owned()),
            Just("@everyone".to_owned()),
            Just("@here".to_owned()),
            Just("<@123>".to_owned()),
            Just("<#5>".to_owned()),
            Just("<".to_owned()),
            Just(">".to_owned()),
            "[a-zA-Zé0-9]{1,6}",
        ]
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9]{1,8}"
    }

    fn leaf() -> impl Strategy<Value = Span> {
        prop_oneof![
            word().prop_map(Span::Text),
            typed_no_url()
                .prop_filter("non-empty", |s| !s.is_empty())
                .prop_map(Span::Text),
            // White space alone between formatting (`<b><i>a</i> </b>` from Matrix).
            "[ \n]{1,2}".prop_map(Span::Text),
            word().prop_map(Span::Code),
            word().prop_map(|n| Span::Mention {
                user: Some(RemoteUserId::new("9")),
                name: n
            }),
            word().prop_map(|name| Span::GroupMention { name }),
        ]
    }

    fn tree() -> impl Strategy<Value = Vec<Span>> {
        // Link labels are words: a label that looks like a link is shown as `label (url)`.
        let span = leaf().prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Bold),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Italic),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Spoiler),
                (word(), prop::collection::vec(word(), 1..3)).prop_map(|(w, c)| Span::Link {
                    url: format!("https://example.org/{w}"),
                    children: vec![Span::Text(c.join(" "))]
                }),
            ]
        });
        prop::collection::vec(span, 0..6)
    }

    /// Any Discord markdown, including what a hostile resident types.
    fn markdown() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                atom(),
                Just("||".to_owned()),
                Just("<@&1>".to_owned()),
                Just("[".to_owned()),
                Just("](https://e.x/".to_owned()),
                Just(")".to_owned()),
                Just(">>> ".to_owned()),
                Just("https://x.org/(a)".to_owned()),
                any::<char>().prop_map(String::from),
            ],
            0..64,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(fuzz_config(512))]

        #[test]
        fn fuzz_discord_typed_text_is_shown_verbatim(s in typed()) {
            let md = render(&RichText::plain(s.clone()));
            prop_assert_eq!(shown_text(&md, &none), s.clone(), "markdown: {}", md);
        }

        #[test]
        fn fuzz_discord_typed_text_parses_back_to_itself(s in typed()) {
            let md = render(&RichText::plain(s.clone()));
            prop_assert_eq!(parse(&md, &none).to_plain(), s, "markdown: {}", md);
        }

        #[test]
        fn fuzz_discord_rendered_text_never_pings(s in typed()) {
            let md = render(&RichText::plain(s));
            // Even if Discord parsed every mention (no allowed_mentions at all).
            prop_assert!(!pings_everyone(&md, None), "{}", md);
            prop_assert!(!md.contains("<@1"), "{}", md);
        }

        #[test]
        fn fuzz_discord_formatted_trees_keep_their_words(spans in tree()) {
            let t = RichText { spans };
            let md = render(&t);
            let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
            prop_assert_eq!(words(&shown_text(&md, &none)), words(&t.to_plain()), "markdown: {}", md);
            prop_assert_eq!(words(&parse(&md, &none).to_plain()), words(&t.to_plain()), "markdown: {}", md);
        }

        /// Whatever a resident types: no panic, a bounded tree, and after one round trip (which
        /// may show a link's target next to its label) rendering and reading are stable.
        #[test]
        fn fuzz_discord_parse_any_markdown(md in markdown()) {
            let t = parse(&md, &none);
            prop_assert!(t.is_bounded(PARSE_DEPTH), "{:?}", t);
            let t2 = parse(&render(&t), &none);
            let again = render(&t2);
            let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
            prop_assert_eq!(words(&parse(&again, &none).to_plain()), words(&t2.to_plain()), "markdown: {}", again);
        }

        /// Spoilers stay spoilers: every word of a spoiler is inside `||…||` as Discord reads it.
        #[test]
        fn fuzz_discord_spoilers_stay_hidden(spans in tree()) {
            let t = RichText { spans: vec![Span::Spoiler(spans)] };
            let md = render(&t);
            let back = parse(&md, &none);
            let outside: Vec<&Span> = back.spans.iter().filter(|s| !matches!(s, Span::Spoiler(_))).collect();
            prop_assert!(outside.iter().all(|s| matches!(s, Span::Text(t) if t.trim().is_empty())),
                "markdown: {} read as {:?}", md, back);
        }
    }
}
