//! The HTTP side: `/bot<token>/<method>` (method names case-insensitive, GET or POST),
//! `/file/bot<token>/<path>` downloads, the long-polling `getUpdates`, fault injection, and the
//! small control API under `/control/` (see the module doc of `telegram`).

use super::error::{ApiError, ApiResult};
use super::faults::{Fault, Faults};
use super::methods;
use super::params::Params;
use super::world::World;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// The largest request body accepted: 50 MB of file plus framing.
pub(crate) const MAX_BODY: usize = 50 * 1024 * 1024 + 64 * 1024;

/// Longest `getUpdates` wait the server grants (Telegram caps long polls too).
const MAX_POLL: Duration = Duration::from_secs(50);

#[derive(Debug)]
pub(crate) struct Shared {
    pub token: String,
    /// The token was revoked (@BotFather /revoke): every call answers 401 from now on.
    pub revoked: std::sync::atomic::AtomicBool,
    world: Mutex<World>,
    faults: Mutex<Faults>,
    /// Bumped on every change a waiting `getUpdates` may care about.
    changed: watch::Sender<u64>,
    /// `getUpdates` calls now waiting for an update.
    pub polls_waiting: AtomicUsize,
    /// TCP connections accepted so far (a client that keeps its connection alive opens one).
    pub connections: Arc<AtomicUsize>,
    /// Every answer's method and JSON body, while recording (the shape test checks them against
    /// the official typings).
    pub recorded: Mutex<Option<Vec<(String, Value)>>>,
}

/// Counts a waiting poll for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub(crate) fn new(token: String, world: World) -> Self {
        Shared {
            token,
            revoked: std::sync::atomic::AtomicBool::new(false),
            world: Mutex::new(world),
            faults: Mutex::new(Faults::default()),
            changed: watch::channel(0).0,
            polls_waiting: AtomicUsize::new(0),
            connections: Arc::new(AtomicUsize::new(0)),
            recorded: Mutex::new(None),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Wakes waiting polls after a change.
    pub(crate) fn notify(&self) {
        self.changed.send_modify(|v| *v += 1);
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{bot}/{method}", any(api))
        .route("/file/{bot}/{*path}", get(file))
        .merge(super::control::routes())
        .merge(super::private::routes())
        // Bots may upload files of up to 50 MB; the body carries some multipart framing too.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

fn reply(result: ApiResult) -> Response {
    let (status, body) = answer(result);
    (status, axum::Json(body)).into_response()
}

fn answer(result: ApiResult) -> (StatusCode, Value) {
    match result {
        Ok(v) => (StatusCode::OK, json!({"ok": true, "result": v})),
        Err(e) => (
            StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
    }
}

/// [`reply`], keeping the answer while [`Shared::recorded`] is on.
fn recorded_reply(shared: &Shared, method: &str, result: ApiResult) -> Response {
    let (status, body) = answer(result);
    if let Some(r) = shared
        .recorded
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_mut()
    {
        r.push((method.to_owned(), body.clone()));
    }
    (status, axum::Json(body)).into_response()
}

fn authorised(shared: &Shared, segment: &str) -> bool {
    segment.strip_prefix("bot") == Some(shared.token.as_str())
        && !shared.revoked.load(Ordering::SeqCst)
}

async fn api(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    req: Request,
) -> Response {
    // The whole body is read before anything may refuse the call. An answer sent while the
    // client is still sending leaves the rest of a chunked upload unread, and hyper then closes
    // the kept-alive connection instead of reading the next request from it.
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return reply(Err(ApiError::entity_too_large())),
    };
    let req = Request::from_parts(parts, Body::from(body));
    if !authorised(&shared, &bot) {
        return reply(Err(if bot.starts_with("bot") {
            ApiError::unauthorized()
        } else {
            ApiError::not_found()
        }));
    }
    let method = method.to_ascii_lowercase();
    let fault = shared.faults().take(&method);
    match fault {
        Some(Fault::TooManyRequests { retry_after }) => {
            return reply(Err(ApiError::too_many_requests(retry_after)))
        }
        Some(Fault::ServerError) => return reply(Err(ApiError::internal())),
        Some(Fault::DropConnection) => return dropped(),
        Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    let params = match Params::from_request(req).await {
        Ok(p) => p,
        Err(e) => return reply(Err(e)),
    };
    tracing::debug!(target: "telegram_fake", %method, "call");
    if method == "getupdates" {
        let updates = get_updates(&shared, &params).await;
        return recorded_reply(&shared, &method, updates);
    }
    let result = {
        let mut w = shared.world();
        methods::call(&mut w, &method, &params)
    };
    shared.notify();
    match result {
        Some(result) => recorded_reply(&shared, &method, result),
        None => reply(Err(ApiError::not_found())),
    }
}

/// A 200 whose body breaks off: the client sees the connection drop mid-answer.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault"))
    });
    Response::new(Body::from_stream(stream))
}

/// `getUpdates`: confirms every update below `offset`, then answers at once if updates are
/// waiting or waits up to `timeout` seconds for one. A newer `getUpdates` ends an older waiting
/// one with 409, as Telegram does when two bot instances poll.
async fn get_updates(shared: &Shared, p: &Params) -> ApiResult {
    let offset = p.int("offset")?;
    let limit = p.int("limit")?.unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(p.int("timeout")?.unwrap_or(0).max(0) as u64).min(MAX_POLL);
    let mut rx = shared.changed.subscribe();
    let generation = {
        let mut w = shared.world();
        if w.webhook.is_some() {
            return Err(ApiError::conflict(
                "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            ));
        }
        // Telegram remembers the last `allowed_updates` that named any type (see `World`).
        w.set_allowed_updates(p.json("allowed_updates").ok().flatten().as_ref());
        match offset {
            Some(o) if o > 0 => w.updates.retain(|(id, _)| *id >= o),
            Some(o) if o < 0 => {
                let keep = o.unsigned_abs() as usize;
                let drop = w.updates.len().saturating_sub(keep);
                w.updates.drain(..drop);
            }
            _ => {}
        }
        w.poll_generation += 1;
        w.poll_generation
    };
    shared.notify();
    rx.borrow_and_update();
    let deadline = tokio::time::Instant::now() + timeout;
    let _waiting = Waiting::new(&shared.polls_waiting);
    loop {
        {
            let w = shared.world();
            if w.poll_generation != generation {
                return Err(ApiError::conflict(
                    "terminated by other getUpdates request; make sure that only one bot instance is running",
                ));
            }
            if !w.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let batch: Vec<Value> = w
                    .updates
                    .iter()
                    .take(limit)
                    .map(|(_, u)| u.clone())
                    .collect();
                return Ok(Value::Array(batch));
            }
        }
        let _ = tokio::time::timeout_at(deadline, rx.changed()).await;
    }
}

async fn file(
    State(shared): State<Arc<Shared>>,
    Path((bot, path)): Path<(String, String)>,
) -> Response {
    if !authorised(&shared, &bot) {
        return reply(Err(ApiError::unauthorized()));
    }
    let data = {
        let w = shared.world();
        w.files
            .values()
            .find(|f| f.path == path)
            .map(|f| f.data.clone())
    };
    match data {
        Some(d) if d.len() <= methods::MAX_DOWNLOAD => (StatusCode::OK, d).into_response(),
        Some(_) => reply(Err(ApiError::bad_request("file is too big"))),
        None => reply(Err(ApiError::not_found())),
    }
}
