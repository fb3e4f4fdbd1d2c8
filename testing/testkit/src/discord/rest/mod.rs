//! REST API v10 as the connector uses it, with Discord's status codes, JSON error bodies
//! (`code`, `message`, `errors`), rate-limit headers and 429 bodies.
//!
//! Helpers return `Result<_, Response>` so a handler can answer a Discord error with `?`-like
//! early returns; the response is built once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod body;
mod cdn;
mod dms;
mod gateway;
mod messages;
pub(crate) mod recorder;
mod threads;
mod validate;
mod webhook_messages;
mod webhooks;

use body::*;
use cdn::*;
use dms::*;
use gateway::*;
use messages::*;
use threads::*;
use validate::*;
use webhook_messages::*;
use webhooks::*;

use super::faults::{Fault, FaultRoute};
use super::payloads;
use super::ratelimit::Taken;
use super::state::{Author, RecordedRequest, State, WebhookRec, GUILD_FORUM, PUBLIC_THREAD};
use super::util::now_ms;
use super::Shared;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request};
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
        .route("/api/v10/users/@me/channels", post(create_dm))
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
            put(add_reaction).delete(delete_own_reaction),
        )
        .route(
            "/api/v10/channels/{cid}/messages/{mid}/reactions/{emoji}/{uid}",
            axum::routing::delete(delete_user_reaction),
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
        // Bodies up to the largest upload limit (level 3 boosts) are read; each route then
        // holds the files to its guild's limit.
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

// ---- responses ---------------------------------------------------------------------------------

/// Sets a bucket's `X-RateLimit-*` headers.
fn rate_headers(h: &mut HeaderMap, t: &Taken) {
    let pairs = [
        ("x-ratelimit-limit", t.limit.to_string()),
        ("x-ratelimit-remaining", t.remaining.to_string()),
        (
            "x-ratelimit-reset",
            format!("{:.3}", t.reset_ms as f64 / 1000.0),
        ),
        (
            "x-ratelimit-reset-after",
            format!("{:.3}", t.reset_after_ms as f64 / 1000.0),
        ),
        ("x-ratelimit-bucket", t.bucket.clone()),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

/// Discord's 429 for an exhausted bucket: `retry_after` in seconds, scope `user`.
fn rate_limited(t: &Taken) -> Response {
    let retry_after = t.reset_after_ms as f64 / 1000.0;
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": false,
        })),
    )
        .into_response();
    let h = r.headers_mut();
    rate_headers(h, t);
    let retry = t.reset_after_ms.div_ceil(1000).to_string();
    for (k, v) in [
        ("retry-after", retry.as_str()),
        ("x-ratelimit-scope", "user"),
    ] {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    r
}

/// A success; the call adds its bucket's rate-limit headers.
fn ok(status: StatusCode, body: Value) -> Response {
    if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(body)).into_response()
    }
}

/// A Discord JSON error: `{"code": .., "message": ..}` (plus `errors` for form errors).
pub fn api_error(status: u16, code: u32, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Discord's "Invalid Form Body" with one error at `field`, a dotted path that Discord nests
/// (`embeds.0.title` → `{"embeds": {"0": {"title": {"_errors": [..]}}}}`).
fn form_error(field: &str, code: &str, message: &str) -> Response {
    let mut errors = json!({"_errors": [{"code": code, "message": message}]});
    for part in field.rsplit('.') {
        errors = json!({ part: errors });
    }
    let body = json!({
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": errors,
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
            let pairs = [
                ("x-ratelimit-limit", "5".to_owned()),
                ("x-ratelimit-bucket", "fault".to_owned()),
                (
                    "x-ratelimit-reset",
                    format!("{:.3}", now_ms() as f64 / 1000.0 + retry_after),
                ),
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

/// A channel id from the path that names a channel this Discord has; Discord answers
/// 404 / 10003 "Unknown Channel" otherwise.
fn known_channel(st: &State, raw: &str) -> Result<u64, Response> {
    let cid = id(raw)?;
    if !st.channels.contains_key(&cid) {
        return Err(api_error(404, 10003, "Unknown Channel"));
    }
    visible(st, cid)?;
    Ok(cid)
}

/// A channel the bot lacks VIEW_CHANNEL in: Discord answers its calls about it with
/// 403 / 50001 "Missing Access" (not 50013, which is for an action the bot may not take where
/// it can see).
fn visible(st: &State, cid: u64) -> Result<(), Response> {
    if st.bot_sees(cid) {
        Ok(())
    } else {
        Err(api_error(403, 50001, "Missing Access"))
    }
}

/// Channel and message ids from the path that name a live message; Discord answers
/// 404 / 10008 "Unknown Message" otherwise (for an unparsable id too).
fn known_message(st: &State, cid: &str, mid: &str) -> Result<(u64, u64), Response> {
    match (id(cid), id(mid)) {
        (Ok(c), _) if st.channels.contains_key(&c) && !st.bot_sees(c) => {
            Err(api_error(403, 50001, "Missing Access"))
        }
        (Ok(c), Ok(m)) if st.live_message(c, m).is_some() => Ok((c, m)),
        _ => Err(api_error(404, 10008, "Unknown Message")),
    }
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
                Ok(()) => {
                    let taken = st.buckets.take(method.as_str(), uri.path(), now_ms());
                    let mut resp = if taken.exhausted && st.enforce_rate_limits {
                        rate_limited(&taken)
                    } else {
                        match st.take_fault(route) {
                            Some(Fault::LostResponse) => {
                                let _ = work(&mut st);
                                api_error(502, 0, "502: Bad Gateway")
                            }
                            Some(f) => fault_response(f),
                            None => work(&mut st),
                        }
                    };
                    // An injected 429 keeps the headers it was given.
                    if !resp.headers().contains_key("x-ratelimit-bucket") {
                        rate_headers(resp.headers_mut(), &taken);
                    }
                    resp
                }
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
