//! REST API v10 as the connector uses it, with Discord's status codes, JSON error bodies
//! (`code`, `message`, `errors`), rate-limit headers and 429 bodies.
//!
//! Helpers return `Result<_, Response>` so a handler can answer a Discord error with `?`-like
//! early returns; the response is built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

use super::faults::{Fault, FaultRoute};
use super::payloads;
use super::state::{Author, RecordedRequest, State, WebhookRec, GUILD_FORUM, PUBLIC_THREAD};
use super::util::now_ms;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type S = axum::extract::State<Arc<Shared>>;
type Q = Query<HashMap<String, String>>;

/// The most characters a message's `content` may have.
pub const MAX_CONTENT: usize = 2000;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v10/gateway", get(get_gateway))
        .route("/api/v10/gateway/bot", get(get_gateway_bot))
        .route("/api/v10/users/@me", get(get_me))
        .route("/api/v10/channels/{cid}", get(get_channel))
        .route(
            "/api/v10/channels/{cid}/messages",
            get(list_messages).post(create_message),
        )
        .route(
            "/api/v10/channels/{cid}/messages/{mid}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/v10/channels/{cid}/messages/{mid}/threads",
            post(start_thread_from_message),
        )
        .route(
            "/api/v10/channels/{cid}/messages/{mid}/reactions/{emoji}/@me",
            put(add_reaction),
        )
        .route("/api/v10/channels/{cid}/threads", post(start_forum_thread))
        .route(
            "/api/v10/channels/{cid}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route("/api/v10/webhooks/{wid}", get(get_webhook))
        .route(
            "/api/v10/webhooks/{wid}/{token}",
            get(get_webhook_with_token).post(execute_webhook),
        )
        .route(
            "/api/v10/webhooks/{wid}/{token}/messages/{mid}",
            get(get_webhook_message)
                .patch(edit_webhook_message)
                .delete(delete_webhook_message),
        )
        .route("/attachments/{cid}/{fid}/{name}", get(download))
        .fallback(not_found)
}

// ---- responses ---------------------------------------------------------------------------------

fn rate_headers(h: &mut HeaderMap, bucket: &str) {
    let reset = (now_ms() as f64 / 1000.0) + 1.0;
    let pairs = [
        ("x-ratelimit-limit", "5".to_owned()),
        ("x-ratelimit-remaining", "4".to_owned()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        ("x-ratelimit-reset-after", "1.000".to_owned()),
        ("x-ratelimit-bucket", format!("fake-{bucket}")),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

fn ok(status: StatusCode, body: Value, bucket: &str) -> Response {
    let mut r = if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(body)).into_response()
    };
    rate_headers(r.headers_mut(), bucket);
    r
}

/// A Discord JSON error: `{"code": .., "message": ..}` (plus `errors` for form errors).
pub fn api_error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn form_error(field: &str, code: &str, message: &str) -> Response {
    let body = json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {field: {"_errors": [{"code": code, "message": message}]}},
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn fault_response(f: Fault) -> Response {
    match f {
        Fault::RateLimited {
            retry_after,
            global,
        } => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                Json(json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global,
                })),
            )
                .into_response();
            let h = r.headers_mut();
            rate_headers(h, "limited");
            let pairs = [
                ("retry-after", format!("{}", retry_after.ceil() as u64)),
                ("x-ratelimit-remaining", "0".to_owned()),
                ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
                (
                    "x-ratelimit-scope",
                    if global { "global" } else { "user" }.to_owned(),
                ),
            ];
            for (k, v) in pairs {
                if let Ok(v) = HeaderValue::from_str(&v) {
                    h.insert(k, v);
                }
            }
            if global {
                h.insert("x-ratelimit-global", HeaderValue::from_static("true"));
            }
            r
        }
        Fault::ServerError => api_error(500, 0, "500: Internal Server Error"),
        Fault::LostResponse => api_error(502, 0, "502: Bad Gateway"),
        Fault::Api {
            status,
            code,
            message,
        } => api_error(status, code, &message),
    }
}

async fn not_found() -> Response {
    api_error(404, 0, "404: Not Found")
}

// ---- request plumbing --------------------------------------------------------------------------

/// A file part of a multipart body.
struct Upload {
    filename: String,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Reads a JSON body, or a multipart body with `payload_json` and `files[n]` parts.
async fn read_body(req: Request) -> Result<(Value, Vec<Upload>), Response> {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if is_multipart {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| api_error(400, 50035, &format!("Invalid Form Body: {e}")))?;
        let mut payload = Value::Null;
        let mut files = Vec::new();
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| api_error(400, 50035, &format!("Invalid Form Body: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let data = field
                .bytes()
                .await
                .map_err(|e| api_error(400, 50035, &format!("Invalid Form Body: {e}")))?;
            if name == "payload_json" {
                payload = serde_json::from_slice(&data).map_err(|_| {
                    api_error(400, 50109, "The request body contains invalid JSON.")
                })?;
            } else if name.starts_with("files[") || name == "file" {
                files.push(Upload {
                    filename: filename.unwrap_or_else(|| "file".into()),
                    content_type,
                    data: data.to_vec(),
                });
            }
        }
        return Ok((payload, files));
    }
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|_| api_error(413, 40005, "Request entity too large"))?;
    if bytes.is_empty() {
        return Ok((Value::Null, Vec::new()));
    }
    let v = serde_json::from_slice(&bytes)
        .map_err(|_| api_error(400, 50109, "The request body contains invalid JSON."))?;
    Ok((v, Vec::new()))
}

fn bot_auth(st: &State, headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bot {}", st.token);
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == expected => Ok(()),
        _ => Err(api_error(401, 0, "401: Unauthorized")),
    }
}

fn id(s: &str) -> Result<u64, Response> {
    s.parse().map_err(|_| {
        form_error(
            "id",
            "NUMBER_TYPE_COERCE",
            &format!("Value \"{s}\" is not snowflake."),
        )
    })
}

impl Shared {
    /// Runs one REST call: auth (unless a webhook token authorises it), fault injection, the work,
    /// then records the call and wakes gateway connections.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: Value,
        route: FaultRoute,
        needs_bot: bool,
        work: impl FnOnce(&mut State) -> Response,
    ) -> Response {
        let resp = {
            let mut st = self.lock();
            let auth = if needs_bot {
                bot_auth(&st, headers)
            } else {
                Ok(())
            };
            let resp = match auth {
                Err(r) => r,
                Ok(()) => match st.take_fault(route) {
                    Some(Fault::LostResponse) => {
                        let _ = work(&mut st);
                        api_error(502, 0, "502: Bad Gateway")
                    }
                    Some(f) => fault_response(f),
                    None => work(&mut st),
                },
            };
            st.requests.push(RecordedRequest {
                method: method.to_string(),
                path: uri.path().to_owned(),
                query: uri.query().map(str::to_owned),
                body,
                status: resp.status().as_u16(),
            });
            resp
        };
        self.notify();
        resp
    }
}

// ---- gateway and users -------------------------------------------------------------------------

async fn get_gateway(s: S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Gateway,
        false,
        |st| {
            let url = format!("{}/gateway", st.base_url.replacen("http", "ws", 1));
            ok(StatusCode::OK, json!({"url": url}), "gateway")
        },
    )
}

async fn get_gateway_bot(s: S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.call(&method, &uri, &headers, Value::Null, FaultRoute::Gateway, true, |st| {
        let url = format!("{}/gateway", st.base_url.replacen("http", "ws", 1));
        let body = json!({
            "url": url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000u64, "max_concurrency": 1},
        });
        ok(StatusCode::OK, body, "gateway")
    })
}

async fn get_me(s: S, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    s.call(
        &method,
        &uri,
        &headers,
        Value::Null,
        FaultRoute::Any,
        true,
        |st| ok(StatusCode::OK, payloads::current_user(st), "users"),
    )
}

async fn get_channel(
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
            let cid = match id(&cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            if !st.channels.contains_key(&cid) {
                return api_error(404, 10003, "Unknown Channel");
            }
            ok(StatusCode::OK, payloads::channel(st, cid), "channel")
        },
    )
}

// ---- messages ----------------------------------------------------------------------------------

/// Validates `content` and `allowed_mentions` as Discord does for create, execute and edit.
fn check_content(
    body: &Value,
    files: usize,
    creating: bool,
) -> Result<(String, Option<Value>), Response> {
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
    if creating && content.is_empty() && files == 0 {
        return Err(api_error(400, 50006, "Cannot send an empty message"));
    }
    let allowed = body
        .get("allowed_mentions")
        .cloned()
        .filter(|v| !v.is_null());
    Ok((content, allowed))
}

fn uploads(files: Vec<Upload>) -> Vec<(String, Option<String>, Vec<u8>)> {
    files
        .into_iter()
        .map(|f| (f.filename, f.content_type, f.data))
        .collect()
}

/// The id in `message_reference`, checked to exist in `channel` (Discord: 50035 otherwise).
fn reference(st: &State, body: &Value, channel: u64) -> Result<Option<u64>, Response> {
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

async fn create_message(
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
            let (content, allowed) = match check_content(&body, files.len(), true) {
                Ok(x) => x,
                Err(r) => return r,
            };
            let reference = match reference(st, &body, cid) {
                Ok(r) => r,
                Err(r) => return r,
            };
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
                        return ok(StatusCode::OK, payloads::message(st, existing), "messages");
                    }
                }
            }
            // Bots may set only SUPPRESS_EMBEDS (4) and SUPPRESS_NOTIFICATIONS (4096).
            let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0);
            if flags & !(4 | 4096) != 0 {
                return form_error("flags", "MESSAGE_FLAGS_INVALID", "Invalid flags");
            }
            st.next_flags = flags;
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
            ok(StatusCode::OK, payloads::message(st, mid), "messages")
        },
    )
}

/// `GET /channels/{id}/messages?after=&before=&limit=`: newest first, as Discord returns them.
async fn list_messages(
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
            let cid = match id(&cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            if !st.channels.contains_key(&cid) {
                return api_error(404, 10003, "Unknown Channel");
            }
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
            ok(StatusCode::OK, json!(list), "messages")
        },
    )
}

async fn get_message(
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
            let (Ok(cid), Ok(mid)) = (id(&cid), id(&mid)) else {
                return api_error(404, 10008, "Unknown Message");
            };
            if st.live_message(cid, mid).is_none() {
                return api_error(404, 10008, "Unknown Message");
            }
            ok(StatusCode::OK, payloads::message(st, mid), "messages")
        },
    )
}

async fn edit_message(
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
            let (content, allowed) = match check_content(&body, 0, false) {
                Ok(x) => x,
                Err(r) => return r,
            };
            st.edit_message(mid, &content, allowed);
            ok(StatusCode::OK, payloads::message(st, mid), "messages")
        },
    )
}

async fn delete_message(
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
            let (Ok(cid), Ok(mid)) = (id(&cid), id(&mid)) else {
                return api_error(404, 10008, "Unknown Message");
            };
            if st.live_message(cid, mid).is_none() {
                return api_error(404, 10008, "Unknown Message");
            }
            st.delete_message(mid);
            ok(StatusCode::NO_CONTENT, Value::Null, "messages-delete")
        },
    )
}

async fn add_reaction(
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
            let (Ok(cid), Ok(mid)) = (id(&cid), id(&mid)) else {
                return api_error(404, 10008, "Unknown Message");
            };
            if st.live_message(cid, mid).is_none() {
                return api_error(404, 10008, "Unknown Message");
            }
            let bot = st.bot_id;
            st.add_reaction(mid, &emoji, bot);
            ok(StatusCode::NO_CONTENT, Value::Null, "reactions")
        },
    )
}

// ---- threads -----------------------------------------------------------------------------------

fn thread_name(body: &Value) -> Result<String, Response> {
    match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() && n.chars().count() <= 100 => Ok(n.to_owned()),
        _ => Err(form_error(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        )),
    }
}

async fn start_thread_from_message(
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
            if ch.kind != super::state::GUILD_TEXT {
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
            ok(StatusCode::CREATED, payloads::channel(st, mid), "threads")
        },
    )
}

async fn start_forum_thread(
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
            let (content, allowed) = match check_content(&msg, files.len(), true) {
                Ok(x) => x,
                Err(r) => return r,
            };
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
            ok(StatusCode::CREATED, v, "threads")
        },
    )
}

// ---- webhooks ----------------------------------------------------------------------------------

async fn list_webhooks(
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
            let cid = match id(&cid) {
                Ok(c) => c,
                Err(r) => return r,
            };
            if !st.channels.contains_key(&cid) {
                return api_error(404, 10003, "Unknown Channel");
            }
            if !st.can_manage_webhooks {
                return api_error(403, 50013, "Missing Permissions");
            }
            let hooks: Vec<Value> = st
                .webhooks
                .values()
                .filter(|w| w.channel_id == cid)
                .map(|w| payloads::webhook(st, w.id, true))
                .collect();
            ok(StatusCode::OK, json!(hooks), "webhooks")
        },
    )
}

async fn create_webhook(
    s: S,
    Path(cid): Path<String>,
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
            let guild_id = ch.guild_id;
            if ch.kind == PUBLIC_THREAD {
                return api_error(400, 50024, "Cannot execute action on this channel type");
            }
            if !st.can_manage_webhooks {
                return api_error(403, 50013, "Missing Permissions");
            }
            let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty()
                || name.chars().count() > 80
                || name.to_lowercase().contains("discord")
            {
                return form_error(
                    "name",
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 80 in length.",
                );
            }
            let creator = st.bot_id;
            let wid = st.add_webhook(cid, guild_id, name, creator);
            ok(StatusCode::OK, payloads::webhook(st, wid, true), "webhooks")
        },
    )
}

async fn get_webhook(
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
            ok(StatusCode::OK, payloads::webhook(st, wid, true), "webhooks")
        },
    )
}

/// Finds the webhook `wid` and checks `token` (Discord: 10015 unknown, 50027 bad token).
fn webhook_by_token<'a>(st: &'a State, wid: &str, token: &str) -> Result<&'a WebhookRec, Response> {
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

async fn get_webhook_with_token(
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
                ok(StatusCode::OK, v, "webhooks")
            }
            Err(r) => r,
        },
    )
}

/// The channel a webhook call targets: its own channel, or `thread_id` if that is a thread in it.
fn webhook_target(
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

async fn execute_webhook(
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
            let mut target = match webhook_target(st, &w, &q) {
                Ok(t) => t,
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
            let (content, allowed) = match check_content(&body, files.len(), true) {
                Ok(x) => x,
                Err(r) => return r,
            };
            let username = body
                .get("username")
                .and_then(Value::as_str)
                .map_or_else(|| w.name.clone(), str::to_owned);
            if username.chars().count() > 80 || username.to_lowercase().contains("discord") {
                return form_error(
                    "username",
                    "USERNAME_INVALID",
                    "Username cannot contain \"discord\"",
                );
            }
            let avatar_url = body
                .get("avatar_url")
                .and_then(Value::as_str)
                .map(str::to_owned);
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
            if q.get("wait").is_some_and(|v| v == "true") {
                ok(StatusCode::OK, payloads::message(st, mid), "webhook-exec")
            } else {
                ok(StatusCode::NO_CONTENT, Value::Null, "webhook-exec")
            }
        },
    )
}

/// A message posted by webhook `w`, in the channel or thread the query names.
fn webhook_message(
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

async fn get_webhook_message(
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
                Ok(mid) => ok(StatusCode::OK, payloads::message(st, mid), "webhook-msg"),
                Err(r) => r,
            }
        },
    )
}

async fn edit_webhook_message(
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
            let (content, allowed) = match check_content(&body, 0, false) {
                Ok(x) => x,
                Err(r) => return r,
            };
            st.edit_message(mid, &content, allowed);
            ok(StatusCode::OK, payloads::message(st, mid), "webhook-msg")
        },
    )
}

async fn delete_webhook_message(
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
            ok(StatusCode::NO_CONTENT, Value::Null, "webhook-msg")
        },
    )
}

// ---- CDN ---------------------------------------------------------------------------------------

async fn download(
    s: S,
    Path((cid, fid, name)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    let st = s.lock();
    let fresh = q.get("ex") == Some(&format!("{:x}", st.cdn_generation));
    let file = fid
        .parse::<u64>()
        .ok()
        .and_then(|f| st.files.get(&f))
        .filter(|f| fresh && f.channel_id.to_string() == cid && f.filename == name);
    match file {
        Some(f) => {
            let ct = f
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            ([("content-type", ct)], Bytes::from(f.data.clone())).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            "This content is no longer available.",
        )
            .into_response(),
    }
}
