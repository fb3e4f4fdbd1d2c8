//! Webhooks: create, list, get, execute (`wait`, `thread_id`, `thread_name` in forums); their
//! messages are in `webhook_messages`.

use super::*;

pub(super) async fn list_webhooks(
    s: S,
    Path(cid): Path<String>,
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
            if !st.can_manage_webhooks {
                return api_error(403, 50013, "Missing Permissions");
            }
            let hooks: Vec<Value> = st
                .webhooks
                .values()
                .filter(|w| w.channel_id == cid)
                .map(|w| payloads::webhook(st, w.id, true))
                .collect();
            ok(StatusCode::OK, json!(hooks))
        },
    )
}

pub(super) async fn create_webhook(
    s: S,
    Path(cid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    req: Request,
) -> Response {
    let (body, _) = match read_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    s.call(
        &method,
        &uri,
        &headers,
        body.clone(),
        FaultRoute::CreateWebhook,
        true,
        |st| {
            let cid = match id(&cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            let Some(ch) = st.channels.get(&cid) else {
                return api_error(404, 10003, "Unknown Channel");
            };
            if let Err(r) = visible(st, cid) {
                return r;
            }
            let guild_id = ch.guild_id;
            if ch.kind == PUBLIC_THREAD {
                return api_error(400, 50024, "Cannot execute action on this channel type");
            }
            if !st.can_manage_webhooks {
                return api_error(403, 50013, "Missing Permissions");
            }
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
            if let Err(r) = check_webhook_name("name", name) {
                return r;
            }
            let creator = st.bot_id;
            let wid = st.add_webhook(cid, guild_id, name, creator);
            ok(StatusCode::OK, payloads::webhook(st, wid, true))
        },
    )
}

pub(super) async fn get_webhook(
    s: S,
    Path(wid): Path<String>,
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
            let Ok(wid) = id(&wid) else {
                return api_error(404, 10015, "Unknown Webhook");
            };
            if !st.webhooks.contains_key(&wid) {
                return api_error(404, 10015, "Unknown Webhook");
            }
            if !st.can_manage_webhooks {
                return api_error(403, 50013, "Missing Permissions");
            }
            ok(StatusCode::OK, payloads::webhook(st, wid, true))
        },
    )
}

/// A webhook's name or a message's `username` as Discord allows them: 1–80 characters, not
/// containing "discord" or "clyde" in any case (400 / 50035 with the error under `field`).
pub(super) fn check_webhook_name(field: &str, name: &str) -> Result<(), Response> {
    if name.trim().is_empty() || name.chars().count() > 80 {
        return Err(form_error(
            field,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 80 in length.",
        ));
    }
    let lower = name.to_lowercase();
    if let Some(word) = ["discord", "clyde"].iter().find(|w| lower.contains(*w)) {
        return Err(form_error(
            field,
            "USERNAME_INVALID_CONTAINS",
            &format!("Username cannot contain \"{word}\""),
        ));
    }
    Ok(())
}

/// Finds the webhook `wid` and checks `token` (Discord: 10015 unknown, 50027 bad token).
pub(super) fn webhook_by_token<'a>(
    st: &'a State,
    wid: &str,
    token: &str,
) -> Result<&'a WebhookRec, Response> {
    let w = wid
        .parse::<u64>()
        .ok()
        .and_then(|w| st.webhooks.get(&w))
        .ok_or_else(|| api_error(404, 10015, "Unknown Webhook"))?;
    if w.token != token {
        return Err(api_error(401, 50027, "Invalid Webhook Token"));
    }
    Ok(w)
}

pub(super) async fn get_webhook_with_token(
    s: S,
    Path((wid, token)): Path<(String, String)>,
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
        false,
        |st| match webhook_by_token(st, &wid, &token) {
            Ok(w) => {
                let id = w.id;
                let mut v = payloads::webhook(st, id, true);
                if let Value::Object(o) = &mut v {
                    o.remove("user");
                }
                ok(StatusCode::OK, v)
            }
            Err(r) => r,
        },
    )
}

/// The channel a webhook call targets: its own channel, or `thread_id` if that is a thread in it.
pub(super) fn webhook_target(
    st: &State,
    w: &WebhookRec,
    q: &HashMap<String, String>,
) -> Result<u64, Response> {
    match q.get("thread_id") {
        None => Ok(w.channel_id),
        Some(t) => {
            let t = t
                .parse::<u64>()
                .map_err(|_| api_error(404, 10003, "Unknown Channel"))?;
            match st.channels.get(&t) {
                Some(c) if c.kind == PUBLIC_THREAD && c.parent_id == Some(w.channel_id) => Ok(t),
                _ => Err(api_error(404, 10003, "Unknown Channel")),
            }
        }
    }
}

pub(super) async fn execute_webhook(
    s: S,
    Path((wid, token)): Path<(String, String)>,
    Query(q): Q,
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
        FaultRoute::ExecuteWebhook,
        false,
        |st| {
            let w = match webhook_by_token(st, &wid, &token) {
                Ok(w) => w.clone(),
                Err(r) => return r,
            };
            if let Err(r) = check_upload_size(st, w.guild_id, &files) {
                return r;
            }
            let mut target = match webhook_target(st, &w, &q) {
                Ok(t) => t,
                Err(r) => return r,
            };
            // The body is checked before a forum post is opened for it.
            let Checked {
                content,
                allowed,
                embeds,
            } = match check_content(&body, files.len()) {
                Ok(x) => x,
                Err(r) => return r,
            };
            let username = body
                .get("username")
                .and_then(Value::as_str)
                .map_or_else(|| w.name.clone(), str::to_owned);
            if let Err(r) = check_webhook_name("username", &username) {
                return r;
            }
            let avatar_url = match check_avatar_url(&body) {
                Ok(a) => a,
                Err(r) => return r,
            };
            let in_forum = st
                .channels
                .get(&w.channel_id)
                .is_some_and(|c| c.kind == GUILD_FORUM);
            let thread_name = body
                .get("thread_name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let mut new_post = None;
            if in_forum && target == w.channel_id {
                // Forum webhooks must name a thread or open one.
                let Some(name) = thread_name.filter(|n| !n.is_empty()) else {
                    return api_error(
                        400,
                        220_001,
                        "Webhooks posted to forum channels must have a thread_name or thread_id",
                    );
                };
                let tid = st.next_id();
                st.insert_channel(
                    tid,
                    w.guild_id,
                    &name,
                    PUBLIC_THREAD,
                    Some(w.channel_id),
                    Some(w.id),
                );
                target = tid;
                new_post = Some(tid);
            }
            st.next_embeds = embeds.unwrap_or_default();
            let author = Author::Webhook {
                webhook_id: w.id,
                username,
                avatar_url,
            };
            let mid = st.add_message(
                target,
                author,
                &content,
                None,
                uploads(files),
                allowed,
                new_post,
            );
            // Discord reads a boolean query value as true for `true` and `1` (any case).
            let wait = q
                .get("wait")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
            if wait {
                ok(StatusCode::OK, payloads::message(st, mid))
            } else {
                ok(StatusCode::NO_CONTENT, Value::Null)
            }
        },
    )
}
