//! What Discord checks in a message body before posting or editing: `content` length, that a
//! message is not empty (text, files or embeds), `embeds`, `allowed_mentions` and a webhook's
//! `avatar_url`. Refusals are Discord's: 50006 for an empty message, 50035 "Invalid Form Body"
//! with the error under the field otherwise.

use super::*;
use crate::discord::state::MessageRec;

/// A message body as checked: what to store.
pub(super) struct Checked {
    pub content: String,
    pub allowed: Option<Value>,
    /// `Some` when the body has `embeds` (an edit then replaces them).
    pub embeds: Option<Vec<Value>>,
}

/// Validates `content`, `embeds` and `allowed_mentions` as Discord does for create and execute:
/// a message needs text, a file or an embed (50006 otherwise).
pub(super) fn check_content(body: &Value, files: usize) -> Result<Checked, Response> {
    let c = check_fields(body)?;
    let no_embeds = c.embeds.as_ref().is_none_or(Vec::is_empty);
    if c.content.is_empty() && files == 0 && no_embeds {
        return Err(api_error(400, 50006, "Cannot send an empty message"));
    }
    Ok(c)
}

/// Validates an edit of message `m` as Discord does: an edit without `content` (or `embeds`)
/// keeps them, and one that would leave the message with neither text, attachments nor embeds
/// is refused (50006).
pub(super) fn check_edit(m: &MessageRec, body: &Value) -> Result<Checked, Response> {
    let mut c = check_fields(body)?;
    if body.get("content").is_none_or(Value::is_null) {
        c.content = m.content.clone();
    }
    let embeds = c.embeds.as_ref().unwrap_or(&m.embeds);
    if c.content.is_empty() && m.attachments.is_empty() && embeds.is_empty() {
        return Err(api_error(400, 50006, "Cannot send an empty message"));
    }
    Ok(c)
}

fn check_fields(body: &Value) -> Result<Checked, Response> {
    let content = body
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if content.chars().count() > MAX_CONTENT {
        return Err(form_error(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        ));
    }
    let allowed = body
        .get("allowed_mentions")
        .cloned()
        .filter(|v| !v.is_null());
    if let Some(a) = &allowed {
        check_allowed_mentions(a)?;
    }
    let embeds = match body.get("embeds") {
        None | Some(Value::Null) => None,
        Some(e) => Some(check_embeds(e)?),
    };
    Ok(Checked {
        content,
        allowed,
        embeds,
    })
}

/// At most 10 embeds, each an object whose texts fit Discord's limits (title 256, description
/// 4096, 6000 characters in all); stored as Discord returns them, with `type: "rich"`.
fn check_embeds(v: &Value) -> Result<Vec<Value>, Response> {
    let Some(list) = v.as_array() else {
        return Err(form_error("embeds", "BASE_TYPE_ARRAY", "Must be an array."));
    };
    if list.len() > 10 {
        return Err(form_error(
            "embeds",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 10 or fewer in length.",
        ));
    }
    let mut total = 0;
    let mut out = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let Some(o) = e.as_object() else {
            return Err(form_error(
                &format!("embeds.{i}"),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            ));
        };
        for (field, max) in [("title", 256), ("description", 4096)] {
            let n = o
                .get(field)
                .and_then(Value::as_str)
                .map_or(0, |s| s.chars().count());
            if n > max {
                return Err(form_error(
                    &format!("embeds.{i}.{field}"),
                    "BASE_TYPE_MAX_LENGTH",
                    &format!("Must be {max} or fewer in length."),
                ));
            }
            total += n;
        }
        let mut o = o.clone();
        o.insert("type".into(), json!("rich"));
        out.push(Value::Object(o));
    }
    if total > 6000 {
        return Err(form_error(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        ));
    }
    Ok(out)
}

/// `allowed_mentions` as Discord accepts it: `parse` names only `users`, `roles` and
/// `everyone`, and may not name `users` (`roles`) while `users` (`roles`) lists ids.
fn check_allowed_mentions(a: &Value) -> Result<(), Response> {
    let parse = a.get("parse").and_then(Value::as_array);
    for (i, p) in parse.into_iter().flatten().enumerate() {
        if !matches!(p.as_str(), Some("users" | "roles" | "everyone")) {
            return Err(form_error(
                &format!("allowed_mentions.parse.{i}"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            ));
        }
    }
    let parses = |kind: &str| parse.is_some_and(|l| l.iter().any(|p| p.as_str() == Some(kind)));
    for kind in ["users", "roles"] {
        let listed = a
            .get(kind)
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty());
        if listed && parses(kind) {
            return Err(form_error(
                "allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                &format!("parse:[\"{kind}\"] and {kind}: [ids...] are mutually exclusive."),
            ));
        }
        let count = a.get(kind).and_then(Value::as_array).map_or(0, Vec::len);
        if count > 100 {
            return Err(form_error(
                &format!("allowed_mentions.{kind}"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 100 or fewer in length.",
            ));
        }
    }
    Ok(())
}

/// A webhook message's `avatar_url`: Discord fetches it, so it must be a well formed http(s)
/// URL with a host (400 / 50035 otherwise).
pub(super) fn check_avatar_url(body: &Value) -> Result<Option<String>, Response> {
    let bad = || {
        form_error(
            "avatar_url",
            "URL_TYPE_INVALID_URL",
            "Not a well formed URL.",
        )
    };
    let url = match body.get("avatar_url") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(bad()),
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if !host_ok || url.len() > 2048 || url.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(Some(url.clone()))
}
