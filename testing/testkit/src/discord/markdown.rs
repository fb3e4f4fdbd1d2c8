//! What a Discord client shows for a message's `content`: markdown rendered away, escapes
//! resolved, mentions shown as `@name`. The fake's own reading of Discord markdown, written from
//! Discord's rules independently of any connector, so tests of escaping check something real.

/// Renders `content` to the plain text a reader sees. `user_name` resolves `<@id>` mentions.
pub fn shown_text(content: &str, user_name: &dyn Fn(u64) -> Option<String>) -> String {
    // Line prefixes (quotes, headings, subtext) first, then inline markup over the whole text,
    // since code blocks span lines.
    let mut lines = Vec::new();
    let mut block_quote = false;
    // Inside a fenced code block lines are shown as they are: no quote, heading or subtext.
    let mut in_code = false;
    for line in content.split('\n') {
        let mut line = line;
        let starts_in_code = in_code;
        in_code ^= line.matches("```").count() % 2 == 1;
        if starts_in_code {
            lines.push(line);
            continue;
        }
        if !block_quote {
            if let Some(rest) = line.strip_prefix(">>> ") {
                block_quote = true;
                line = rest;
            } else if let Some(rest) = line.strip_prefix("> ") {
                line = rest;
            }
        }
        for h in ["### ", "## ", "# ", "-# "] {
            if let Some(rest) = line.strip_prefix(h) {
                line = rest;
                break;
            }
        }
        lines.push(line);
    }
    let mut out = String::new();
    inline(&lines.join("\n"), user_name, &mut out);
    out
}

fn is_escapable(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace()
}

/// The byte index where `delim` closes in `s`, skipping escaped characters.
fn find_close(s: &str, delim: &str, single: Option<char>) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if b[i] == b'\\' {
            i += s[i + 1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            continue;
        }
        if s[i..].starts_with(delim) {
            match single {
                // A single `*`/`_` does not close at a doubled one.
                Some(c) if s[i + 1..].starts_with(c) => {
                    i += 2;
                    continue;
                }
                _ => return Some(i),
            }
        }
        i += s[i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn inline(s: &str, user_name: &dyn Fn(u64) -> Option<String>, out: &mut String) {
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        // Escapes: a backslash before punctuation shows the punctuation.
        if c == '\\' {
            if let Some(n) = rest[1..].chars().next().filter(|n| is_escapable(*n)) {
                out.push(n);
                i += 1 + n.len_utf8();
                continue;
            }
        }
        // Bare URLs are links, read verbatim (markup characters inside them are not markup).
        if rest.starts_with("http://") || rest.starts_with("https://") {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '\\')
                .unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            i += end;
            continue;
        }
        if let Some(body) = rest.strip_prefix("```") {
            if let Some(end) = body.find("```") {
                let code = &body[..end];
                let code = match code.split_once('\n') {
                    Some((lang, rest)) if !lang.contains(' ') => rest,
                    _ => code,
                };
                out.push_str(code.strip_suffix('\n').unwrap_or(code));
                i += 3 + end + 3;
                continue;
            }
        }
        if let Some(body) = rest.strip_prefix("``") {
            if let Some(end) = body.find("``") {
                let code = &body[..end];
                let code = code.strip_prefix(' ').unwrap_or(code);
                out.push_str(code.strip_suffix(' ').unwrap_or(code));
                i += 2 + end + 2;
                continue;
            }
        }
        if let Some(body) = rest.strip_prefix('`') {
            if let Some(end) = body.find('`').filter(|e| *e > 0) {
                out.push_str(&body[..end]);
                i += 1 + end + 1;
                continue;
            }
        }
        let mut matched = false;
        for delim in ["**", "__", "~~", "||"] {
            if let Some(body) = rest.strip_prefix(delim) {
                if let Some(end) = find_close(body, delim, None).filter(|e| *e > 0) {
                    inline(&body[..end], user_name, out);
                    i += 2 * delim.len() + end;
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
            let close = find_close(body, &c.to_string(), Some(c)).filter(|e| *e > 0);
            let close = close.filter(|e| {
                let before_ok = c == '_' || !body[..*e].ends_with(char::is_whitespace);
                let after = body[e + 1..].chars().next();
                let after_ok = c == '*' || !after.is_some_and(|a| a.is_alphanumeric() || a == '_');
                before_ok && after_ok
            });
            if let (true, Some(end)) = (opens, close) {
                inline(&body[..end], user_name, out);
                i += 1 + end + 1;
                continue;
            }
        }
        if c == '[' {
            if let Some(end) = find_close(&rest[1..], "](", None) {
                let after = &rest[1 + end + 2..];
                if let Some(close) = after.find(')') {
                    let url = &after[..close];
                    if url.starts_with("http://") || url.starts_with("https://") {
                        inline(&rest[1..1 + end], user_name, out);
                        i += 1 + end + 2 + close + 1;
                        continue;
                    }
                }
            }
        }
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let inner = &rest[1..end];
                let user = inner
                    .strip_prefix("@!")
                    .or_else(|| inner.strip_prefix('@'))
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|d| d.parse::<u64>().ok());
                if let Some(id) = user {
                    out.push('@');
                    out.push_str(&user_name(id).unwrap_or_else(|| "unknown-user".into()));
                    i += end + 1;
                    continue;
                }
                if inner.starts_with("http://") || inner.starts_with("https://") {
                    out.push_str(inner);
                    i += end + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(s: &str) -> String {
        shown_text(s, &|id| (id == 42).then(|| "ada".to_owned()))
    }

    #[test]
    fn renders_markup_away() {
        assert_eq!(
            shown("**bold** *it* _it_ __u__ ~~s~~ ||sp|| `c*`"),
            "bold it it u s sp c*"
        );
        assert_eq!(
            shown("[text](https://e.x) <https://f.x>"),
            "text https://f.x"
        );
        assert_eq!(shown("> quoted\nnot"), "quoted\nnot");
        assert_eq!(shown("```rust\nlet x;\n```"), "let x;");
        assert_eq!(
            shown("```\n# not a heading\n> nor a quote\n```\n# h"),
            "# not a heading\n> nor a quote\nh"
        );
        assert_eq!(shown("hi <@42> and <@!42>"), "hi @ada and @ada");
    }

    #[test]
    fn escapes_show_the_character() {
        assert_eq!(
            shown(r"\*\*not bold\*\* \<@42> \@everyone"),
            "**not bold** <@42> @everyone"
        );
        assert_eq!(shown("a * b * c"), "a * b * c");
        assert_eq!(shown("snake_case_name"), "snake_case_name");
    }
}
