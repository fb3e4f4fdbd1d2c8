//! `RichText` ⇄ Discord markdown.
//!
//! Rendering escapes every character Discord could read as markup (`\ * _ ~ ` | < @ [` anywhere,
//! `> # -` at the start of a line), so a resident's `**`, `@everyone` or `<@123>` arrives as the
//! characters they typed. Bare URLs are not escaped (a backslash would end up in the link) but
//! put in angle brackets, so the link ends exactly where it should whatever follows it (Discord
//! then shows no embed for it, which suits relayed text). Worst case the rendered text is twice the
//! plain text (every character escaped), which is why `max_text_len` leaves room below 2,000.
//!
//! Parsing reads the markdown Discord users write into the small `RichText` tree. Underline,
//! strike-through and spoilers have no node in the tree: their text is kept, their styling is not.

use civicbridge_api::{RemoteUserId, RichText, Span};

/// Characters escaped wherever they appear.
const ALWAYS: &[char] = &['\\', '*', '_', '~', '`', '|', '<', '@', '['];
/// Characters escaped at the start of a line (block quotes, headings, lists).
const LINE_START: &[char] = &['>', '#', '-'];

/// The markdown for `text`.
pub fn render(text: &RichText) -> String {
    let mut out = String::new();
    render_spans(&text.spans, &mut out);
    out
}

fn at_line_start(out: &str) -> bool {
    out.is_empty() || out.ends_with('\n') || out.ends_with("> ")
}

/// Escapes literal text; `out` is the text so far, to know where lines start.
pub fn escape_into(text: &str, out: &mut String) {
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if rest.starts_with("http://") || rest.starts_with("https://") {
            // In angle brackets: the link ends exactly there, whatever markup follows, and
            // Discord shows it without an embed.
            let end = url_end(rest);
            out.push('<');
            out.push_str(&rest[..end]);
            out.push('>');
            i += end;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        if ALWAYS.contains(&c) || (LINE_START.contains(&c) && at_line_start(out)) {
            out.push('\\');
        }
        out.push(c);
        i += c.len_utf8();
    }
}

/// A bare URL runs to the next whitespace, `<`, `>` or backslash.
fn url_end(s: &str) -> usize {
    s.find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '\\')
        .unwrap_or(s.len())
}

pub fn escape(text: &str) -> String {
    let mut out = String::new();
    escape_into(text, &mut out);
    out
}

fn render_spans(spans: &[Span], out: &mut String) {
    render_seq(spans, Style::default(), out);
}

/// The marks already open around a sequence.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    bold: bool,
    italic: bool,
}

/// Flattens spans of a style already open (bold in bold, italic in italic add no marks) and
/// merges adjacent spans of one style (`**a****b**` would not read as bold).
fn flatten(spans: &[Span], style: Style) -> Vec<Span> {
    fn walk(spans: &[Span], style: Style, out: &mut Vec<Span>) {
        for s in spans {
            match s {
                Span::Bold(c) if style.bold => walk(c, style, out),
                Span::Italic(c) if style.italic => walk(c, style, out),
                _ => match (out.last_mut(), s) {
                    (Some(Span::Bold(a)), Span::Bold(b))
                    | (Some(Span::Italic(a)), Span::Italic(b)) => a.extend(b.iter().cloned()),
                    _ => out.push(s.clone()),
                },
            }
        }
    }
    let mut out = Vec::new();
    walk(spans, style, &mut out);
    out
}

/// Renders a sequence of spans. Italic is `*x*`, except where a `*` would touch another `*`
/// (bold inside it, bold right after it, or it ends a bold span): there `_x_`, which in turn
/// needs no word character right after it.
fn render_seq(spans: &[Span], style: Style, out: &mut String) {
    let spans = flatten(spans, style);
    let last = spans.len().saturating_sub(1);
    for (i, s) in spans.iter().enumerate() {
        match s {
            Span::Bold(c) => {
                let inner_style = Style {
                    bold: true,
                    ..style
                };
                let mut inner = String::new();
                render_seq(c, inner_style, &mut inner);
                if inner.contains("**") && has_raw(&inner, '*') {
                    // A raw `**` inside (in a URL) would close the span early: no bold here.
                    render_seq(c, style, out);
                } else {
                    wrap("**", &inner, out);
                }
            }
            Span::Italic(c) => {
                let inner_style = Style {
                    italic: true,
                    ..style
                };
                let mut inner = String::new();
                render_seq(c, inner_style, &mut inner);
                let core = inner.trim();
                // What the next span renders to starts right after the closing mark.
                let next = spans.get(i + 1).and_then(|n| first_rendered(n, style));
                let closes_bold = style.bold && i == last;
                let star_touches = core.starts_with('*')
                    || core.ends_with('*')
                    || next == Some('*')
                    || closes_bold;
                // `_x_` only closes before a non-word character.
                let word_follows = next.is_some_and(char::is_alphanumeric);
                let underscore_ok = !word_follows && !has_raw(&inner, '_');
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
                wrap(mark, &inner, out);
            }
            other => render_span(other, out),
        }
    }
}

/// The first character `span` renders to (mid-line).
fn first_rendered(span: &Span, style: Style) -> Option<char> {
    let mut s = String::from("x");
    render_seq(std::slice::from_ref(span), style, &mut s);
    s[1..].chars().next()
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
fn wrap(mark: &str, inner: &str, out: &mut String) {
    let trimmed_start = inner.trim_start();
    let lead = &inner[..inner.len() - trimmed_start.len()];
    let core = trimmed_start.trim_end();
    let trail = &trimmed_start[core.len()..];
    out.push_str(lead);
    if !core.is_empty() {
        out.push_str(mark);
        out.push_str(core);
        out.push_str(mark);
    }
    out.push_str(trail);
}

fn render_span(span: &Span, out: &mut String) {
    match span {
        Span::Text(t) => escape_into(t, out),
        Span::Bold(_) | Span::Italic(_) => {
            render_seq(std::slice::from_ref(span), Style::default(), out)
        }
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
            out.push_str("```");
            out.push_str(lang.as_deref().unwrap_or(""));
            out.push('\n');
            out.push_str(code);
            if !code.ends_with('\n') {
                out.push('\n');
            }
            out.push_str("```");
        }
        Span::Pre { code, .. } => escape_into(code, out),
        Span::Link { url, children } => {
            let mut label = String::new();
            render_spans(children, &mut label);
            let plain: String = RichText {
                spans: children.clone(),
            }
            .to_plain();
            let safe_url = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.contains(|c: char| c.is_whitespace() || c == ')' || c == '<');
            if plain == *url || label.is_empty() {
                if safe_url {
                    out.push_str(url);
                } else {
                    escape_into(url, out);
                }
            } else if safe_url && (plain.contains("://") || plain.contains(['[', ']'])) {
                // Discord does not show masked links whose label looks like a link (phishing
                // guard) and brackets would end the label early: label, then the URL.
                out.push_str(&label);
                out.push_str(" (");
                out.push_str(url);
                out.push(')');
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
        Span::Mention { name, .. } => {
            // Never a `<@id>`: the id belongs to another platform (or, if local, would ping).
            escape_into(&format!("@{name}"), out);
        }
        Span::Quote(c) => {
            if !at_line_start(out) {
                out.push('\n');
            }
            let mut inner = String::new();
            render_spans(c, &mut inner);
            let lines: Vec<&str> = inner.split('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                out.push_str("> ");
                out.push_str(line);
                if i + 1 < lines.len() {
                    out.push('\n');
                }
            }
            out.push('\n');
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
            spans.extend(parse_inline(run, name_of));
            run.clear();
        }
    };
    while i < lines.len() {
        let line = lines[i];
        let newline = i + 1 < lines.len();
        if let Some(rest) = line.strip_prefix(">>> ") {
            flush_run(&mut plain_run, &mut spans);
            let body = lines[i..].join("\n");
            let body = &body[4..];
            let _ = rest;
            spans.push(Span::Quote(parse_inline(body, name_of)));
            break;
        }
        if line.starts_with("> ") || line == ">" {
            flush_run(&mut plain_run, &mut spans);
            let mut quoted = Vec::new();
            while i < lines.len() && (lines[i].starts_with("> ") || lines[i] == ">") {
                quoted.push(lines[i].get(2..).unwrap_or(""));
                i += 1;
            }
            spans.push(Span::Quote(parse_inline(&quoted.join("\n"), name_of)));
            continue;
        }
        let heading = ["### ", "## ", "# "]
            .iter()
            .find_map(|h| line.strip_prefix(h));
        if let Some(h) = heading {
            flush_run(&mut plain_run, &mut spans);
            spans.push(Span::Bold(parse_inline(h, name_of)));
            if newline {
                spans.push(Span::Text("\n".into()));
            }
            i += 1;
            continue;
        }
        plain_run.push_str(line.strip_prefix("-# ").unwrap_or(line));
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

fn parse_inline(s: &str, name_of: NameOf<'_>) -> Vec<Span> {
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
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = url_end(rest);
            text.push_str(&rest[..end]);
            i += end;
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
                    let inner = parse_inline(&body[..end], name_of);
                    match delim {
                        "**" => out.push(Span::Bold(inner)),
                        // No underline, strike-through or spoiler in the tree: keep the words.
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
                out.push(Span::Italic(parse_inline(&body[..end], name_of)));
                i += 2 + end;
                continue;
            }
        }
        if c == '[' {
            if let Some(end) = find_close(&rest[1..], "](", None) {
                let after = &rest[1 + end + 2..];
                if let Some(close) = after.find(')') {
                    let url = &after[..close];
                    if (url.starts_with("http://") || url.starts_with("https://"))
                        && !url.contains(char::is_whitespace)
                    {
                        push_text(&mut text, &mut out);
                        out.push(Span::Link {
                            url: url.to_owned(),
                            children: parse_inline(&rest[1..1 + end], name_of),
                        });
                        i += 1 + end + 2 + close + 1;
                        continue;
                    }
                }
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

/// `<…>` forms: user mentions, role and channel mentions, custom emoji, suppressed-embed links.
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
        return Some(Span::Text("@role".into()));
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
            r"\*\*x\*\* \@everyone \<\@123> \_y\_ \~\~z\~\~ \|\|s\|\| \`c\` \[l](<http://a.b)>"
        );
        assert_eq!(
            render(&RichText::plain("> q\n# h\n- l")),
            "\\> q\n\\# h\n\\- l"
        );
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
                .prop_filter("non-empty", |s| !s.trim().is_empty())
                .prop_map(Span::Text),
            word().prop_map(Span::Code),
            word().prop_map(|n| Span::Mention {
                user: Some(RemoteUserId::new("9")),
                name: n
            }),
        ]
    }

    fn tree() -> impl Strategy<Value = Vec<Span>> {
        // Link labels are words: a label that looks like a link is shown as `label (url)`.
        let span = leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Bold),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Span::Italic),
                (word(), prop::collection::vec(word(), 1..3)).prop_map(|(w, c)| Span::Link {
                    url: format!("https://example.org/{w}"),
                    children: vec![Span::Text(c.join(" "))]
                }),
            ]
        });
        prop::collection::vec(span, 0..6)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn typed_text_is_shown_verbatim(s in typed()) {
            let md = render(&RichText::plain(s.clone()));
            prop_assert_eq!(shown_text(&md, &none), s.clone(), "markdown: {}", md);
        }

        #[test]
        fn typed_text_parses_back_to_itself(s in typed()) {
            let md = render(&RichText::plain(s.clone()));
            prop_assert_eq!(parse(&md, &none).to_plain(), s, "markdown: {}", md);
        }

        #[test]
        fn rendered_text_never_pings(s in typed()) {
            let md = render(&RichText::plain(s));
            // Even if Discord parsed every mention (no allowed_mentions at all).
            prop_assert!(!pings_everyone(&md, None), "{}", md);
            prop_assert!(!md.contains("<@1"), "{}", md);
        }

        #[test]
        fn formatted_trees_keep_their_words(spans in tree()) {
            let t = RichText { spans };
            let md = render(&t);
            let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
            prop_assert_eq!(words(&shown_text(&md, &none)), words(&t.to_plain()), "markdown: {}", md);
            prop_assert_eq!(words(&parse(&md, &none).to_plain()), words(&t.to_plain()), "markdown: {}", md);
        }
    }
}
