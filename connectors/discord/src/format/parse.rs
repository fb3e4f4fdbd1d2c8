//! Discord markdown → `RichText`.
//!
//! Parsing reads the markdown Discord users write into the small `RichText` tree: bold, italic,
//! code, quotes, links, spoilers (`||…||`), user mentions, and role mentions as group mentions
//! (they notify many). Underline and strike-through have no node in the tree: their text is kept,
//! their styling is not. Formatting nested deeper than `PARSE_DEPTH` is read as text.

use super::scan::{find_close, url_len};
use civicbridge_api::rich_text::{normalize, PARSE_DEPTH};
use civicbridge_api::{RemoteUserId, RichText, Span};

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
        if line.starts_with(">>> ") {
            // A block quote takes this line (after its marker) and every line after it.
            flush_run(&mut plain_run, &mut spans);
            let body = lines[i..].join("\n");
            let body = &body[">>> ".len()..];
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
