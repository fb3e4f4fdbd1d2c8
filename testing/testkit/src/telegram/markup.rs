//! `parse_mode`: HTML and MarkdownV2 turned into plain text plus `MessageEntity` objects, the way
//! the Bot API does it (offsets and lengths in UTF-16 code units), failing with Telegram's own
//! `can't parse entities: …` wording on malformed input. The error texts follow the Bot API
//! server (tdlib's `MessageEntity.cpp`).

use serde_json::{json, Value};

/// Plain text and its entities.
pub type Parsed = (String, Vec<Value>);

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// An entity being built: kind, extra fields, start offset in UTF-16 units.
struct Open {
    tag: String,
    kind: &'static str,
    extra: Option<(&'static str, String)>,
    start: usize,
}

fn close(open: Open, text: &str, entities: &mut Vec<Value>) {
    let len = utf16_len(text) - open.start;
    if len == 0 {
        return;
    }
    let mut e = json!({ "type": open.kind, "offset": open.start, "length": len });
    if let Some((k, v)) = open.extra {
        e[k] = json!(v);
    }
    entities.push(e);
}

/// Parses `parse_mode=HTML` text.
pub fn parse_html(input: &str) -> Result<Parsed, String> {
    let mut text = String::new();
    let mut entities = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < input.len() {
        let c = bytes[i];
        if c == b'&' {
            if let Some((decoded, used)) = decode_entity(&input[i..]) {
                text.push(decoded);
                i += used;
            } else {
                text.push('&');
                i += 1;
            }
            continue;
        }
        if c != b'<' {
            let ch = input[i..].chars().next().unwrap_or('\u{fffd}');
            text.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let begin = i;
        let Some(end_rel) = input[i..].find('>') else {
            return Err(if bytes.get(i + 1) == Some(&b'/') {
                format!("Unclosed end tag at byte offset {begin}")
            } else {
                format!("Unclosed start tag at byte offset {begin}")
            });
        };
        let inner = &input[i + 1..i + end_rel];
        i += end_rel + 1;
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            let Some(open) = stack.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            if open.tag != name {
                return Err(format!(
                    "Unmatched end tag at byte offset {begin}, expected \"</{}>\", found \"</{name}>\"",
                    open.tag
                ));
            }
            close(open, &text, &mut entities);
            continue;
        }
        let name_end = inner
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .unwrap_or(inner.len());
        let name = inner[..name_end].to_ascii_lowercase();
        let attrs = parse_attrs(&inner[name_end..]);
        let attr = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
        let (kind, extra): (&'static str, Option<(&'static str, String)>) = match name.as_str() {
            "b" | "strong" => ("bold", None),
            "i" | "em" => ("italic", None),
            "u" | "ins" => ("underline", None),
            "s" | "strike" | "del" => ("strikethrough", None),
            "tg-spoiler" => ("spoiler", None),
            "span" if attr("class").as_deref() == Some("tg-spoiler") => ("spoiler", None),
            "a" => match attr("href") {
                Some(h) => ("text_link", Some(("url", h))),
                None => ("text_link", None),
            },
            "code" => match (stack.last(), attr("class")) {
                (Some(p), Some(class)) if p.kind == "pre" => {
                    if let Some(lang) = class.strip_prefix("language-") {
                        if let Some(p) = stack.last_mut() {
                            p.extra = Some(("language", lang.to_owned()));
                        }
                    }
                    ("code", None)
                }
                _ => ("code", None),
            },
            "pre" => ("pre", None),
            "blockquote" if attr("expandable").is_some() => ("expandable_blockquote", None),
            "blockquote" => ("blockquote", None),
            _ => {
                return Err(format!(
                    "Unsupported start tag \"{name}\" at byte offset {begin}"
                ))
            }
        };
        stack.push(Open {
            tag: name,
            kind,
            extra,
            start: utf16_len(&text),
        });
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        ));
    }
    // A `code` inside `pre` is the pre's language marker, not an entity of its own.
    dedupe_pre_code(&mut entities);
    entities.sort_by_key(|e| {
        (
            e["offset"].as_u64(),
            std::cmp::Reverse(e["length"].as_u64()),
        )
    });
    Ok((text, entities))
}

fn dedupe_pre_code(entities: &mut Vec<Value>) {
    let pres: Vec<(Value, Value)> = entities
        .iter()
        .filter(|e| e["type"] == "pre")
        .map(|e| (e["offset"].clone(), e["length"].clone()))
        .collect();
    entities.retain(|e| {
        !(e["type"] == "code"
            && pres
                .iter()
                .any(|(o, l)| &e["offset"] == o && &e["length"] == l))
    });
}

fn parse_attrs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            if let Some(q) = r.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &r[1..];
                let end = body.find(q).unwrap_or(body.len());
                value = decode_all(&body[..end]);
                rest = body.get(end + 1..).unwrap_or("").trim_start();
            } else {
                let end = r.find(char::is_whitespace).unwrap_or(r.len());
                value = decode_all(&r[..end]);
                rest = r[end..].trim_start();
            }
        }
        if !key.is_empty() {
            out.push((key, value));
        }
    }
    out
}

fn decode_all(s: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        if let Some((c, used)) = decode_entity(&s[i..]) {
            out.push(c);
            i += used;
        } else {
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `&lt;` `&gt;` `&amp;` `&quot;` and numeric references; anything else stays literal.
fn decode_entity(s: &str) -> Option<(char, usize)> {
    let end = s.find(';')?;
    if end > 10 {
        return None;
    }
    let name = &s[1..end];
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let n = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(n)?
        }
    };
    Some((c, end + 1))
}

const RESERVED: &str = "_*[]()~`>#+-=|{}.!";

/// Parses `parse_mode=MarkdownV2` text.
pub fn parse_markdown_v2(input: &str) -> Result<Parsed, String> {
    let mut text = String::new();
    let mut entities = Vec::new();
    // (marker, kind, start offset, byte offset of the marker)
    let mut stack: Vec<(&'static str, &'static str, usize, usize)> = Vec::new();
    let mut i = 0;
    let mut line_start = true;
    while i < input.len() {
        let rest = &input[i..];
        let c = rest.chars().next().unwrap_or('\u{fffd}');
        if c == '\\' {
            if let Some(n) = rest[1..].chars().next().filter(|n| (*n as u32) < 127) {
                text.push(n);
                i += 1 + n.len_utf8();
                line_start = false;
                continue;
            }
        }
        if line_start && c == '>' {
            let end = rest.find('\n').unwrap_or(rest.len());
            let (line, _) = parse_markdown_v2(&rest[1..end])?;
            let start = utf16_len(&text);
            text.push_str(&line);
            entities
                .push(json!({"type": "blockquote", "offset": start, "length": utf16_len(&line)}));
            i += end;
            continue;
        }
        line_start = c == '\n';
        if let Some(body) = rest.strip_prefix("```") {
            let Some(close) = body.find("```") else {
                return Err(format!("Can't find end of Pre entity at byte offset {i}"));
            };
            let block = &body[..close];
            let (lang, code) = match block.split_once('\n') {
                Some((l, code)) if !l.contains(' ') => (Some(l.to_owned()), code),
                _ => (None, block),
            };
            let code = unescape_code(code);
            let start = utf16_len(&text);
            text.push_str(&code);
            let mut e = json!({"type": "pre", "offset": start, "length": utf16_len(&code)});
            if let Some(l) = lang.filter(|l| !l.is_empty()) {
                e["language"] = json!(l);
            }
            entities.push(e);
            i += 3 + close + 3;
            continue;
        }
        if c == '`' {
            let body = &rest[1..];
            let Some(close) = find_unescaped(body, '`') else {
                return Err(format!("Can't find end of Code entity at byte offset {i}"));
            };
            let code = unescape_code(&body[..close]);
            let start = utf16_len(&text);
            text.push_str(&code);
            entities.push(json!({"type": "code", "offset": start, "length": utf16_len(&code)}));
            i += 1 + close + 1;
            continue;
        }
        if c == '[' {
            // [text](url): the text is parsed as markdown, the url taken as written.
            let body = &rest[1..];
            let close = find_unescaped(body, ']')
                .ok_or_else(|| format!("Can't find end of TextUrl entity at byte offset {i}"))?;
            let after = &body[close + 1..];
            let Some(url_part) = after.strip_prefix('(') else {
                return Err(
                    "Character '[' is reserved and must be escaped with the preceding '\\'".into(),
                );
            };
            let url_end = find_unescaped(url_part, ')')
                .ok_or_else(|| format!("Can't find end of TextUrl entity at byte offset {i}"))?;
            let (inner, inner_entities) = parse_markdown_v2(&body[..close])?;
            let start = utf16_len(&text);
            for mut e in inner_entities {
                e["offset"] = json!(e["offset"].as_u64().unwrap_or(0) + start as u64);
                entities.push(e);
            }
            text.push_str(&inner);
            entities.push(json!({"type": "text_link", "offset": start,
                "length": utf16_len(&inner), "url": unescape_code(&url_part[..url_end])}));
            i += 1 + close + 1 + 1 + url_end + 1;
            continue;
        }
        let marker: Option<(&'static str, &'static str)> = if rest.starts_with("__") {
            Some(("__", "underline"))
        } else if rest.starts_with("||") {
            Some(("||", "spoiler"))
        } else {
            match c {
                '*' => Some(("*", "bold")),
                '_' => Some(("_", "italic")),
                '~' => Some(("~", "strikethrough")),
                _ => None,
            }
        };
        if let Some((m, kind)) = marker {
            if let Some(pos) = stack.iter().rposition(|(sm, ..)| *sm == m) {
                if pos + 1 != stack.len() {
                    let (_, inner_kind, _, at) = stack[stack.len() - 1];
                    return Err(format!(
                        "Can't find end of {} entity at byte offset {at}",
                        entity_name(inner_kind)
                    ));
                }
                let (_, kind, start, _) = stack.remove(pos);
                let len = utf16_len(&text) - start;
                if len > 0 {
                    entities.push(json!({"type": kind, "offset": start, "length": len}));
                }
            } else {
                stack.push((m, kind, utf16_len(&text), i));
            }
            i += m.len();
            continue;
        }
        if RESERVED.contains(c) {
            return Err(format!(
                "Character '{c}' is reserved and must be escaped with the preceding '\\'"
            ));
        }
        text.push(c);
        i += c.len_utf8();
    }
    if let Some((_, kind, _, at)) = stack.last() {
        return Err(format!(
            "Can't find end of {} entity at byte offset {at}",
            entity_name(kind)
        ));
    }
    entities.sort_by_key(|e| {
        (
            e["offset"].as_u64(),
            std::cmp::Reverse(e["length"].as_u64()),
        )
    });
    Ok((text, entities))
}

fn entity_name(kind: &str) -> &'static str {
    match kind {
        "bold" => "Bold",
        "italic" => "Italic",
        "underline" => "Underline",
        "strikethrough" => "Strikethrough",
        "spoiler" => "Spoiler",
        _ => "Unknown",
    }
}

fn find_unescaped(s: &str, target: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == target {
            return Some(i);
        }
    }
    None
}

fn unescape_code(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn html_makes_entities_with_utf16_offsets() {
        let (t, e) =
            parse_html("😀 <b>bold &amp; <i>it</i></b> <a href=\"https://x.org/?a=1&amp;b\">l</a>")
                .expect("valid html");
        assert_eq!(t, "😀 bold & it l");
        assert_eq!(e[0], json!({"type":"bold","offset":3,"length":9}));
        assert_eq!(e[1], json!({"type":"italic","offset":10,"length":2}));
        assert_eq!(
            e[2],
            json!({"type":"text_link","offset":13,"length":1,"url":"https://x.org/?a=1&b"})
        );
    }

    #[test]
    fn html_pre_with_language() {
        let (t, e) =
            parse_html("<pre><code class=\"language-rust\">fn x() {}</code></pre>").expect("valid");
        assert_eq!(t, "fn x() {}");
        assert_eq!(
            e,
            vec![json!({"type":"pre","offset":0,"length":9,"language":"rust"})]
        );
    }

    #[test]
    fn malformed_html_fails_like_telegram() {
        assert_eq!(
            parse_html("<b>x").unwrap_err(),
            "Can't find end tag corresponding to start tag \"b\""
        );
        assert_eq!(
            parse_html("a <foo>").unwrap_err(),
            "Unsupported start tag \"foo\" at byte offset 2"
        );
        assert_eq!(
            parse_html("<b>x</i>").unwrap_err(),
            "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\""
        );
        assert_eq!(
            parse_html("x</b>").unwrap_err(),
            "Unexpected end tag at byte offset 1"
        );
        assert_eq!(
            parse_html("1 < 2").unwrap_err(),
            "Unclosed start tag at byte offset 2"
        );
    }

    #[test]
    fn markdown_v2_entities_and_escapes() {
        let (t, e) = parse_markdown_v2(r"*b _i_* \*not\* `c\`d` [l](http://x.org)").expect("valid");
        assert_eq!(t, "b i *not* c`d l");
        assert!(e.contains(&json!({"type":"bold","offset":0,"length":3})));
        assert!(e.contains(&json!({"type":"italic","offset":2,"length":1})));
        assert!(e.contains(&json!({"type":"code","offset":10,"length":3})));
        assert!(
            e.contains(&json!({"type":"text_link","offset":14,"length":1,"url":"http://x.org"}))
        );
    }

    #[test]
    fn malformed_markdown_v2_fails_like_telegram() {
        assert_eq!(
            parse_markdown_v2("Hello.").unwrap_err(),
            "Character '.' is reserved and must be escaped with the preceding '\\'"
        );
        assert_eq!(
            parse_markdown_v2("*bold").unwrap_err(),
            "Can't find end of Bold entity at byte offset 0"
        );
    }
}
