//! `GET /gateway`, `GET /gateway/bot`, `/users/@me`, `GET /channels/{id}`.

use super::*;

pub(super) async fn get_gateway(s: S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Gateway,
        false,
        |st| {
            let url = format!("{}/gateway", st.base_url.replacen("http", "ws", 1));
            ok(StatusCode::OK, json!({"url": url}))
        },
    )
}

pub(super) async fn get_gateway_bot(
    s: S,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    s.call(&method, &uri, &headers, Value::Null, FaultRoute::Gateway, true, |st| {
        let url = format!("{}/gateway", st.base_url.replacen("http", "ws", 1));
        let body = json!({
            "url": url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000u64, "max_concurrency": 1},
        });
        ok(StatusCode::OK, body)
    })
}

pub(super) async fn get_me(s: S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| ok(StatusCode::OK, payloads::current_user(st)),
    )
}

pub(super) async fn get_channel(
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
            ok(StatusCode::OK, payloads::channel(st, cid))
        },
    )
}
