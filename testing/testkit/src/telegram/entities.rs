//! What Telegram does to a text and its entities before storing a message, for the bot's texts
//! and residents' alike:
//!
//! 1. An explicit entity list (`entities`, `caption_entities`) is read the way the Bot API server
//!    reads it: every entity needs `offset`, `length` and a known `type`, a `text_link` its
//!    `url`, a `text_mention` its `user`, a `custom_emoji` its `custom_emoji_id`; otherwise
//!    `400 Bad Request: can't parse MessageEntity: …`. Entities of the kinds Telegram finds
//!    itself (`mention`, `hashtag`, `cashtag`, `bot_command`, `url`, `email`, `phone_number`)
//!    are dropped.
//! 2. Leading and trailing whitespace is trimmed, entities are shifted and cut to the text, and
//!    empty ones dropped.
//! 3. Links, e-mail addresses, @mentions, #hashtags, $CASHTAGS and /commands are detected in the
//!    result, except inside code, pre, text links and text mentions.
//!
//! Offsets and lengths are UTF-16 code units throughout.

use super::error::ApiError;
use linkify::{LinkFinder, LinkKind};
use serde_json::{json, Value};

/// Kinds Telegram detects on its own; a client's entities of these kinds are ignored.
const DETECTED: [&str; 7] = [
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
];

/// Kinds a client may send (besides [`DETECTED`]).
const STYLES: [&str; 12] = [
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
];

/// Detected entities never overlap these.
const OPAQUE: [&str; 4] = ["code", "pre", "text_link", "text_mention"];

/// An offset or length past this is refused outright (the Bot API server's bound).
const MAX_OFFSET: i64 = 1_000_000;

fn cant_parse(why: impl AsRef<str>) -> ApiError {
    ApiError::bad_request(format!("can't parse MessageEntity: {}", why.as_ref()))
}

fn int_field(e: &serde_json::Map<String, Value>, k: &str) -> Result<i64, ApiError> {
    match e.get(k) {
        None | Some(Value::Null) => Err(cant_parse(format!("Can't find field \"{k}\""))),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| cant_parse(format!("Field \"{k}\" must be a valid Number"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| cant_parse(format!("Field \"{k}\" must be a valid Number"))),
        Some(_) => Err(cant_parse(format!("Field \"{k}\" must be a Number"))),
    }
}

fn has_string(e: &serde_json::Map<String, Value>, k: &str) -> Result<(), ApiError> {
    match e.get(k) {
        Some(Value::String(_)) => Ok(()),
        None | Some(Value::Null) => Err(cant_parse(format!("Can't find field \"{k}\""))),
        Some(_) => Err(cant_parse(format!("Field \"{k}\" must be of type String"))),
    }
}

/// Reads a client's entity list (already JSON-decoded) as the Bot API server does. Returns the
/// entities kept, with `offset` and `length` as numbers.
pub(crate) fn read_list(list: &Value) -> Result<Vec<Value>, ApiError> {
    let Value::Array(items) = list else {
        return Err(ApiError::bad_request("expected an Array of MessageEntity"));
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(e) = item else {
            return Err(cant_parse("expected an Object"));
        };
        let offset = int_field(e, "offset")?;
        let length = int_field(e, "length")?;
        has_string(e, "type")?;
        let kind = e["type"].as_str().unwrap_or_default();
        if kind.is_empty() {
            return Err(cant_parse("Type must be non-empty"));
        }
        if DETECTED.contains(&kind) {
            continue;
        }
        if !STYLES.contains(&kind) {
            return Err(cant_parse("Unsupported type specified"));
        }
        match kind {
            "text_link" => has_string(e, "url")?,
            "custom_emoji" => has_string(e, "custom_emoji_id")?,
            "text_mention" if !e.get("user").is_some_and(Value::is_object) => {
                return Err(cant_parse("Can't find field \"user\""))
            }
            _ => {}
        }
        if !(0..=MAX_OFFSET).contains(&offset) {
            return Err(ApiError::bad_request(format!(
                "receive an entity with incorrect offset {offset}"
            )));
        }
        if !(0..=MAX_OFFSET).contains(&length) {
            return Err(ApiError::bad_request(format!(
                "receive an entity with incorrect length {length}"
            )));
        }
        // Only the fields of the entity's type come back, as Telegram renders it.
        let mut kept = json!({"type": kind, "offset": offset, "length": length});
        let own: &[&str] = match kind {
            "text_link" => &["url"],
            "text_mention" => &["user"],
            "custom_emoji" => &["custom_emoji_id"],
            "pre" => &["language"],
            _ => &[],
        };
        for k in own {
            match e.get(*k) {
                Some(Value::String(v)) if v.is_empty() => {}
                Some(v) if !v.is_null() => kept[*k] = v.clone(),
                _ => {}
            }
        }
        out.push(kept);
    }
    Ok(out)
}

/// A resident's entities without the kinds Telegram detects itself.
pub(crate) fn styles_only(entities: Vec<Value>) -> Vec<Value> {
    entities
        .into_iter()
        .filter(|e| !e["type"].as_str().is_some_and(|k| DETECTED.contains(&k)))
        .collect()
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Steps 2 and 3: trims `text`, fits `entities` to it, and adds what Telegram detects.
pub(crate) fn finish(text: &str, entities: Vec<Value>) -> (String, Vec<Value>) {
    let trimmed = text.trim();
    let lead = utf16_len(&text[..text.len() - text.trim_start().len()]) as i64;
    let len = utf16_len(trimmed) as i64;
    let mut kept: Vec<Value> = entities
        .into_iter()
        .filter_map(|mut e| {
            let start = e["offset"].as_i64()? - lead;
            let end = start + e["length"].as_i64()?;
            let (start, end) = (start.clamp(0, len), end.clamp(0, len));
            (start < end).then(|| {
                e["offset"] = json!(start);
                e["length"] = json!(end - start);
                e
            })
        })
        .collect();
    let opaque: Vec<(i64, i64)> = kept
        .iter()
        .filter(|e| e["type"].as_str().is_some_and(|k| OPAQUE.contains(&k)))
        .filter_map(|e| {
            let o = e["offset"].as_i64()?;
            Some((o, o + e["length"].as_i64()?))
        })
        .collect();
    for (kind, start, end) in detect(trimmed) {
        if opaque.iter().all(|&(s, e)| end <= s || e <= start) {
            kept.push(json!({"type": kind, "offset": start, "length": end - start}));
        }
    }
    kept.sort_by_key(|e| {
        (
            e["offset"].as_i64(),
            std::cmp::Reverse(e["length"].as_i64()),
        )
    });
    (trimmed.to_owned(), kept)
}

fn word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// What Telegram finds in a text: `(kind, start, end)` in UTF-16 units, not overlapping.
pub(crate) fn detect(text: &str) -> Vec<(&'static str, i64, i64)> {
    // Byte ranges first; converted at the end.
    let mut found: Vec<(&'static str, usize, usize)> = Vec::new();
    let mut finder = LinkFinder::new();
    finder.url_must_have_scheme(false);
    for l in finder.links(text) {
        let kind = match l.kind() {
            LinkKind::Email => "email",
            _ => "url",
        };
        found.push((kind, l.start(), l.end()));
    }
    let free = |found: &[(&str, usize, usize)], s: usize, e: usize| {
        found.iter().all(|&(_, fs, fe)| e <= fs || fe <= s)
    };
    for (i, c) in text.char_indices() {
        let before = text[..i].chars().next_back();
        let rest = &text[i + c.len_utf8()..];
        let run = |ok: fn(char) -> bool| -> usize {
            rest.char_indices()
                .find(|&(_, ch)| !ok(ch))
                .map_or(rest.len(), |(j, _)| j)
        };
        let hit = match c {
            '@' if !before.is_some_and(word) => {
                let n = run(|ch| ch.is_ascii_alphanumeric() || ch == '_');
                (5..=32).contains(&n).then_some(("mention", n))
            }
            '#' if !before.is_some_and(word) => {
                let n = run(word);
                let tag = &rest[..n];
                (n > 0 && tag.chars().count() <= 256 && !tag.chars().all(|c| c.is_ascii_digit()))
                    .then_some(("hashtag", n))
            }
            '$' if !before.is_some_and(word) => {
                let n = run(|ch| ch.is_ascii_uppercase());
                let next = rest[n..].chars().next();
                ((1..=8).contains(&n) && !next.is_some_and(word)).then_some(("cashtag", n))
            }
            '/' if before.is_none_or(char::is_whitespace) => {
                let mut n = run(|ch| ch.is_ascii_alphanumeric() || ch == '_');
                if n > 0 && rest[n..].starts_with('@') {
                    let bot = rest[n + 1..]
                        .char_indices()
                        .find(|&(_, ch)| !(ch.is_ascii_alphanumeric() || ch == '_'))
                        .map_or(rest.len() - n - 1, |(j, _)| j);
                    if bot >= 5 {
                        n += 1 + bot;
                    }
                }
                let next = rest[n..].chars().next();
                ((1..=64).contains(&n) && !next.is_some_and(|ch| word(ch) || ch == '/'))
                    .then_some(("bot_command", n))
            }
            _ => None,
        };
        if let Some((kind, n)) = hit {
            let (s, e) = (i, i + c.len_utf8() + n);
            if free(&found, s, e) {
                found.push((kind, s, e));
            }
        }
    }
    found.sort_by_key(|&(_, s, _)| s);
    found
        .into_iter()
        .map(|(k, s, e)| {
            (
                k,
                utf16_len(&text[..s]) as i64,
                utf16_len(&text[..e]) as i64,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
