//! Channel messages: create (JSON or multipart, `enforce_nonce`), list, get, edit, delete,
//! reactions.

use super::*;

pub(super) fn uploads(files: Vec<Upload>) -> Vec<(String, Option<String>, Vec<u8>)> {
    files
        .into_iter()
        .map(|f| (f.filename, f.content_type, f.data))
        .collect()
}

/// The id in `message_reference`, checked to exist in `channel` (Discord: 50035 otherwise).
pub(super) fn reference(st: &State, body: &Value, channel: u64) -> Result<Option<u64>, Response> {
    let Some(r) = body.get("message_reference").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let mid = r
        .get("message_id")
        .and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .and_then(|s| s.parse::<u64>().ok());
    let required = r.get("fail_if_not_exists").and_then(Value::as_bool) != Some(false);
    match mid {
        Some(m) if st.live_message(channel, m).is_some() => Ok(Some(m)),
        // Without fail_if_not_exists, Discord posts the message without the reference.
        _ if !required => Ok(None),
        _ => Err(form_error(
            "message_reference",
            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
            "Unknown message",
        )),
    }
}

pub(super) async fn create_message(
    s: S,
    Path(cid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let (body, files) = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    s.call(
        &method,
        &uri,
        &headers,
        body.clone(),
        FaultRoute::CreateMessage,
        true,
        |st| {
            let cid = match id(&cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            if st.channels.get(&cid).is_none_or(|c| c.kind == GUILD_FORUM) {
                return api_error(404, 10003, "Unknown Channel");
            }
            if let Err(r) = visible(st, cid) {
                return r;
            }
            let guild = st.channels.get(&cid).map_or(0, |c| c.guild_id);
            if let Err(r) = check_upload_size(st, guild, &files) {
                return r;
            }
            let Checked {
                content,
                allowed,
                embeds,
            } = match check_content(&body, files.len()) {
                Ok(x) => x,
                Err(r) => return r,
            };
            let reference = match reference(st, &body, cid) {
                Ok(r) => r,
                Err(r) => return r,
            };
            // A DM to someone who does not accept it (`state/dms.rs`).
            if let Some(why) = st.dm_refusal(cid) {
                return api_error(403, why.code(), why.message());
            }
            let bot = st.bot_id;
            // `enforce_nonce`: a second create with the same nonce by the same author within a
            // few minutes returns the first message instead of posting again.
            let nonce = body.get("nonce").and_then(|n| {
                n.as_str()
                    .map(str::to_owned)
                    .or_else(|| n.as_u64().map(|x| x.to_string()))
            });
            let enforce = body.get("enforce_nonce").and_then(Value::as_bool) == Some(true);
            if let (Some(n), true) = (&nonce, enforce) {
                if n.chars().count() > 25 {
                    return form_error(
                        "nonce",
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be 25 or fewer in length.",
                    );
                }
                if let Some(&existing) = st.nonces.get(&(cid, n.clone())) {
                    if st.messages.get(&existing).is_some_and(|m| !m.deleted) {
                        return ok(StatusCode::OK, payloads::message(st, existing));
                    }
                }
            }
            // Bots may set only SUPPRESS_EMBEDS (4) and SUPPRESS_NOTIFICATIONS (4096).
            let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0);
            if flags & !(4 | 4096) != 0 {
                return form_error("flags", "MESSAGE_FLAGS_INVALID", "Invalid flags");
            }
            st.next_flags = flags;
            st.next_embeds = embeds.unwrap_or_default();
            let mid = st.add_message(
                cid,
                Author::User(bot),
                &content,
                reference,
                uploads(files),
                allowed,
                None,
            );
            if let (Some(n), true) = (nonce, enforce) {
                st.nonces.insert((cid, n), mid);
            }
            ok(StatusCode::OK, payloads::message(st, mid))
        },
    )
}

/// `GET /channels/{id}/messages?after=&before=&limit=`: newest first, as Discord returns them.
pub(super) async fn list_messages(
    s: S,
    Path(cid): Path<String>,
    Query(q): Q,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| {
            let cid = match known_channel(st, &cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            let num = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
            let limit = num("limit").unwrap_or(50);
            if !(1..=100).contains(&limit) {
                return form_error(
                    "limit",
                    "NUMBER_TYPE_MAX",
                    "int value should be less than or equal to 100.",
                );
            }
            let mut ids: Vec<u64> = st
                .messages
                .values()
                .filter(|m| m.channel_id == cid && !m.deleted)
                .filter(|m| num("after").is_none_or(|a| m.id > a))
                .filter(|m| num("before").is_none_or(|b| m.id < b))
                .map(|m| m.id)
                .collect();
            // With `after`, the page is the oldest `limit` after it; otherwise the newest.
            if num("after").is_some() {
                ids.truncate(limit as usize);
            } else {
                let skip = ids.len().saturating_sub(limit as usize);
                ids.drain(..skip);
            }
            ids.reverse();
            let list: Vec<Value> = ids.iter().map(|m| payloads::message(st, *m)).collect();
            ok(StatusCode::OK, json!(list))
        },
    )
}

pub(super) async fn get_message(
    s: S,
    Path((cid, mid)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| {
            let (_, mid) = match known_message(st, &cid, &mid) {
                Ok(ids) => ids,
                Err(r) => return r,
            };
            ok(StatusCode::OK, payloads::message(st, mid))
        },
    )
}

pub(super) async fn edit_message(
    s: S,
    Path((cid, mid)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let (body, _files) = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    s.call(
        &method,
        &uri,
        &headers,
        body.clone(),
        FaultRoute::EditMessage,
        true,
        |st| {
            let (Ok(cid), Ok(mid)) = (id(&cid), id(&mid)) else {
                return api_error(404, 10008, "Unknown Message");
            };
            let Some(m) = st.live_message(cid, mid) else {
                return api_error(404, 10008, "Unknown Message");
            };
            if m.author != Author::User(st.bot_id) {
                return api_error(403, 50005, "Cannot edit a message authored by another user");
            }
            let c = match check_edit(m, &body) {
                Ok(x) => x,
                Err(r) => return r,
            };
            st.set_embeds(mid, c.embeds);
            st.edit_message(mid, &c.content, c.allowed);
            ok(StatusCode::OK, payloads::message(st, mid))
        },
    )
}

pub(super) async fn delete_message(
    s: S,
    Path((cid, mid)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::DeleteMessage,
        true,
        |st| {
            let (_, mid) = match known_message(st, &cid, &mid) {
                Ok(ids) => ids,
                Err(r) => return r,
            };
            st.delete_message(mid);
            ok(StatusCode::NO_CONTENT, Value::Null)
        },
    )
}

pub(super) async fn add_reaction(
    s: S,
    Path((cid, mid, emoji)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| {
            let (_, mid) = match known_message(st, &cid, &mid) {
                Ok(ids) => ids,
                Err(r) => return r,
            };
            if !known_emoji(st, &emoji) {
                return api_error(400, 10014, "Unknown Emoji");
            }
            let bot = st.bot_id;
            st.add_reaction(mid, &emoji, bot);
            ok(StatusCode::NO_CONTENT, Value::Null)
        },
    )
}

/// Delete Own Reaction (`…/reactions/{emoji}/@me`) and Delete User Reaction
/// (`…/reactions/{emoji}/{user_id}`, which needs Manage Messages for someone else's). Both
/// answer 204, also when the reaction is not there (nothing is dispatched then); an emoji
/// Discord does not know is 400 / 10014, as for adding.
pub(super) async fn delete_own_reaction(
    s: S,
    Path((cid, mid, emoji)): Path<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let who = "@me".to_owned();
    delete_reaction(&s, (cid, mid, emoji, who), &method, &uri, &headers)
}

pub(super) async fn delete_user_reaction(
    s: S,
    Path(ids): Path<(String, String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    delete_reaction(&s, ids, &method, &uri, &headers)
}

fn delete_reaction(
    s: &S,
    (cid, mid, emoji, who): (String, String, String, String),
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    s.call(
        method,
        uri,
        headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| {
            let (_, mid) = match known_message(st, &cid, &mid) {
                Ok(ids) => ids,
                Err(r) => return r,
            };
            if !known_emoji(st, &emoji) {
                return api_error(400, 10014, "Unknown Emoji");
            }
            let user = if who == "@me" {
                st.bot_id
            } else {
                match id(&who) {
                    Ok(u) => u,
                    Err(r) => return r,
                }
            };
            if user != st.bot_id && !st.can_manage_messages {
                return api_error(403, 50013, "Missing Permissions");
            }
            st.remove_reaction(mid, &emoji, user);
            ok(StatusCode::NO_CONTENT, Value::Null)
        },
    )
}

/// Whether a reaction's emoji (already percent-decoded) is one Discord knows: a Unicode emoji
/// (with or without its variation selector or a skin tone), or `name:id` of a custom emoji
/// with that name in a server the bot is in (bots may use those anywhere; every server of
/// the fake has the bot).
pub(super) fn known_emoji(st: &State, emoji: &str) -> bool {
    match emoji.rsplit_once(':') {
        Some((name, id)) => id
            .parse::<u64>()
            .ok()
            .and_then(|id| st.emojis.get(&id))
            .is_some_and(|(g, n)| {
                st.guilds.contains_key(g) && n == name.rsplit(':').next().unwrap_or(name)
            }),
        None => emojis::get(emoji).is_some(),
    }
}
