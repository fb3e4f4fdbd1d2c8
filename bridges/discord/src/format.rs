//! `RichText` ⇄ Discord markdown.
//!
//! Rendering escapes every character Discord could read as markup (`\ * _ ~ ` | < @ [` anywhere,
//! `> # -` at the start of a line), so a resident's `**`, `@everyone` or `<@123>` arrives as the
//! characters they typed. Bare URLs are left alone: Discord reads a URL before any markup inside
//! it, and a backslash there would end up in the link. Worst case the rendered text is twice the
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
            let end = url_end(rest);
            out.push_str(&rest[..end]);
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

/// A bare URL runs to the next whitespace or `<`.
fn url_end(s: &str) -> usize {
    s.find(|c: char| c.is_whitespace() || c == '<')
        .unwrap_or(s.len())
}

pub fn escape(text: &str) -> String {
    let mut out = String::new();
    escape_into(text, &mut out);
    out
}

fn render_spans(spans: &[Span], out: &mut String) {
    for s in spans {
        render_span(s, out);
    }
}

/// Renders `children` wrapped in `mark`, keeping edge whitespace outside the marks (Discord does
/// not close `*x *`).
fn wrapped(mark: &str, children: &[Span], out: &mut String) {
    let mut inner = String::new();
    render_spans(children, &mut inner);
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
        Span::Bold(c) => wrapped("**", c, out),
        Span::Italic(c) => wrapped("*", c, out),
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

/// Merges adjacent text spans and drops empty ones, so equal texts have equal trees.
pub fn normalize(spans: Vec<Span>) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for s in spans {
        let s = match s {
            Span::Bold(c) => Span::Bold(normalize(c)),
            Span::Italic(c) => Span::Italic(normalize(c)),
            Span::Quote(c) => Span::Quote(normalize(c)),
            Span::Link { url, children } => Span::Link {
                url,
                children: normalize(children),
            },
            other => other,
        };
        match (&s, out.last_mut()) {
            (Span::Text(t), _) if t.is_empty() => {}
            (Span::Bold(c) | Span::Italic(c) | Span::Quote(c), _) if c.is_empty() => {}
            (Span::Text(t), Some(Span::Text(prev))) => prev.push_str(t),
            _ => out.push(s),
        }
    }
    out
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
            r"\*\*x\*\* \@everyone \<\@123> \_y\_ \~\~z\~\~ \|\|s\|\| \`c\` \[l](http://a.b)"
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
            r"see https://x.org/a_b*c then \_"
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
