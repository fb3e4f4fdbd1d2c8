//! Threads: started from a message, and forum posts.

use super::*;

pub(super) fn thread_name(body: &Value) -> Result<String, Response> {
    match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n.chars().count() <= 100 => Ok(n.to_owned()),
        _ => Err(form_error(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        )),
    }
}

pub(super) async fn start_thread_from_message(
    s: S,
    Path((cid, mid)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        body.clone(),
        FaultRoute::StartThread,
        true,
        |st| {
            let (Ok(cid), Ok(mid)) = (id(&cid), id(&mid)) else {
                return api_error(404, 10008, "Unknown Message");
            };
            let Some(ch) = st.channels.get(&cid) else {
                return api_error(404, 10003, "Unknown Channel");
            };
            if let Err(r) = visible(st, cid) {
                return r;
            }
            if ch.kind != crate::discord::state::GUILD_TEXT {
                return api_error(400, 50024, "Cannot execute action on this channel type");
            }
            let guild = ch.guild_id;
            if st.live_message(cid, mid).is_none() {
                return api_error(404, 10008, "Unknown Message");
            }
            if st.channels.contains_key(&mid) {
                return api_error(
                    400,
                    160004,
                    "A thread has already been created for this message",
                );
            }
            let name = match thread_name(&body) {
                Ok(n) => n,
                Err(r) => return r,
            };
            let bot = st.bot_id;
            st.insert_channel(mid, guild, &name, PUBLIC_THREAD, Some(cid), Some(bot));
            ok(StatusCode::CREATED, payloads::channel(st, mid))
        },
    )
}

pub(super) async fn start_forum_thread(
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
        FaultRoute::StartThread,
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
            if ch.kind != GUILD_FORUM {
                // Threads without a starter message in text channels are not used by the bridge.
                return api_error(400, 50024, "Cannot execute action on this channel type");
            }
            let guild = ch.guild_id;
            let name = match thread_name(&body) {
                Ok(n) => n,
                Err(r) => return r,
            };
            let msg = body.get("message").cloned().unwrap_or(Value::Null);
            let Checked {
                content,
                allowed,
                embeds,
            } = match check_content(&msg, files.len()) {
                Ok(x) => x,
                Err(r) => return r,
            };
            st.next_embeds = embeds.unwrap_or_default();
            let bot = st.bot_id;
            let tid = st.next_id();
            st.insert_channel(tid, guild, &name, PUBLIC_THREAD, Some(cid), Some(bot));
            st.add_message(
                tid,
                Author::User(bot),
                &content,
                None,
                uploads(files),
                allowed,
                Some(tid),
            );
            let mut v = payloads::channel(st, tid);
            if let Value::Object(o) = &mut v {
                o.insert("message".into(), payloads::message(st, tid));
            }
            ok(StatusCode::CREATED, v)
        },
    )
}
