//! Messages a webhook posted: get, edit and delete with the webhook's token (`thread_id` for
//! those in a thread).

use super::*;

/// A message posted by webhook `w`, in the channel or thread the query names.
pub(super) fn webhook_message(
    st: &State,
    w: &WebhookRec,
    q: &HashMap<String, String>,
    mid: &str,
) -> Result<u64, Response> {
    let target = webhook_target(st, w, q)?;
    let mid = mid
        .parse::<u64>()
        .map_err(|_| api_error(404, 10008, "Unknown Message"))?;
    match st.live_message(target, mid) {
        Some(m) if matches!(&m.author, Author::Webhook { webhook_id, .. } if *webhook_id == w.id) => {
            Ok(mid)
        }
        _ => Err(api_error(404, 10008, "Unknown Message")),
    }
}

pub(super) async fn get_webhook_message(
    s: S,
    Path((wid, token, mid)): Path<(String, String, String)>,
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
        false,
        |st| {
            let w = match webhook_by_token(st, &wid, &token) {
                Ok(w) => w.clone(),
                Err(r) => return r,
            };
            match webhook_message(st, &w, &q, &mid) {
                Ok(mid) => ok(StatusCode::OK, payloads::message(st, mid)),
                Err(r) => r,
            }
        },
    )
}

pub(super) async fn edit_webhook_message(
    s: S,
    Path((wid, token, mid)): Path<(String, String, String)>,
    Query(q): Q,
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
        FaultRoute::EditWebhookMessage,
        false,
        |st| {
            let w = match webhook_by_token(st, &wid, &token) {
                Ok(w) => w.clone(),
                Err(r) => return r,
            };
            let mid = match webhook_message(st, &w, &q, &mid) {
                Ok(m) => m,
                Err(r) => return r,
            };
            let Some(m) = st.messages.get(&mid) else {
                return api_error(404, 10008, "Unknown Message");
            };
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

pub(super) async fn delete_webhook_message(
    s: S,
    Path((wid, token, mid)): Path<(String, String, String)>,
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
        FaultRoute::DeleteWebhookMessage,
        false,
        |st| {
            let w = match webhook_by_token(st, &wid, &token) {
                Ok(w) => w.clone(),
                Err(r) => return r,
            };
            let mid = match webhook_message(st, &w, &q, &mid) {
                Ok(m) => m,
                Err(r) => return r,
            };
            st.delete_message(mid);
            ok(StatusCode::NO_CONTENT, Value::Null)
        },
    )
}
