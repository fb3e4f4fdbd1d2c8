//! The admin API under `/api/v1/`, for scripts and the command line while the bridge runs.
//! Every call carries `Authorization: Bearer <token>` (see [`super::tokens`]).
//!
//! - `GET /api/v1/links`: the links in force, with their rooms and moderation room.
//! - `POST /api/v1/links/{link}/commands` with `{"command": "!approve #3"}`: any
//!   moderation-room command (`!approve`, `!reject`, `!edit`, `!takedown`, `!queue`, `!rules`,
//!   `!set`, `!trust`, `!block`, `!audit`, `!parked`, `!retry`, `!drop`) on that link, through the
//!   same code, permissions and audit entries as in the room ([`crate::ops::remote`]), as the
//!   token's name with its role. Answers `{"reply": …, "refused": false, "declined": false}`;
//!   403 with the same shape when the token's role is not enough (the refusal is audited, as
//!   in the room); 409 when the command did nothing (no such held item, an outdated revision);
//!   400 for what is not a command; 404 for a link not in force.
//!
//! - the audit log, erasure and pruning: see [`super::records`].
//!
//! No token, or one that is not configured, gets 401, and is audited as `token:?` (at most one
//! entry a second, counting those it stands for, so a flood cannot grow the log without
//! bound). Until the daemon has started, calls get 503. Bodies over [`BODY_LIMIT`] get 413.

use super::AdminState;
use crate::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use crate::moderation::commands::permissions::Actor;
use crate::ops::remote::{RemoteCommands, RemoteError};
use crate::store::LinkRecord;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use civicbridge_api::LinkId;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;

/// The largest request body read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What the API acts on, once the daemon has started.
#[derive(Debug, Clone)]
pub struct Api {
    /// Replaced whole by a config reload ([`ApiSlot::set_tokens`]).
    pub tokens: Arc<std::sync::RwLock<super::tokens::Tokens>>,
    pub commands: RemoteCommands,
    /// The links in force, as the daemon publishes them.
    pub links: watch::Receiver<Arc<Vec<LinkRecord>>>,
}

/// Set by the daemon when it has started; empty before (and in a daemon without tokens).
#[derive(Debug, Clone, Default)]
pub struct ApiSlot {
    api: Arc<OnceLock<Api>>,
    refusals: Arc<RefusalLog>,
}

impl ApiSlot {
    pub fn set(&self, api: Api) {
        let _ = self.api.set(api);
    }

    /// Puts new tokens in force (a config reload); false before the daemon has started.
    pub fn set_tokens(&self, tokens: super::tokens::Tokens) -> bool {
        let Some(api) = self.api.get() else {
            return false;
        };
        *api.tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tokens;
        true
    }
}

/// Coalesces audited 401s to one entry a second.
#[derive(Debug, Default)]
struct RefusalLog {
    /// The second of the last entry written.
    last_second: AtomicU64,
    /// Refusals since, not written.
    unwritten: AtomicU64,
}

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/links", get(links))
        .route("/api/v1/links/{link}/commands", post(command))
        .merge(super::records::routes())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandRequest {
    command: String,
}

#[derive(Debug, Serialize)]
struct CommandReply {
    reply: String,
    refused: bool,
    declined: bool,
}

/// The answer to a remote command that did not run.
pub(super) fn failed(e: RemoteError) -> Response {
    match e {
        RemoteError::NotACommand(usage) => error(StatusCode::BAD_REQUEST, usage),
        RemoteError::Refused(why) => error(StatusCode::FORBIDDEN, why),
        RemoteError::Store(e) => {
            tracing::error!(error = %e, "an admin API call failed");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store failed; see the log",
            )
        }
    }
}

pub(super) fn error(code: StatusCode, text: impl Into<String>) -> Response {
    (code, Json(json!({ "error": text.into() }))).into_response()
}

/// Why a call is not served.
#[derive(Debug, Clone, Copy)]
pub(super) enum Denied {
    Starting,
    Unauthorised,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Starting => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the bridge is starting; try again shortly",
            ),
            Denied::Unauthorised => error(
                StatusCode::UNAUTHORIZED,
                "a valid `Authorization: Bearer <token>` from [admin] tokens is needed",
            ),
        }
    }
}

/// The API and the caller's actor, or why not.
pub(super) fn authorise(
    state: &AdminState,
    headers: &HeaderMap,
    path: &str,
) -> Result<(Api, Actor), Denied> {
    let Some(api) = state.api.api.get().cloned() else {
        return Err(Denied::Starting);
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The scheme is case-insensitive (RFC 9110); the token is not.
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim);
    let found = presented.and_then(|p| {
        let tokens = api
            .tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens.check(p).map(|t| Actor::Token {
            name: t.name.clone(),
            role: t.role,
        })
    });
    match found {
        Some(actor) => Ok((api.clone(), actor)),
        None => {
            let why = if presented.is_some() {
                "unknown token"
            } else {
                "no token"
            };
            audit_unauthorised(&state.api.refusals, &api.commands, why, path);
            Err(Denied::Unauthorised)
        }
    }
}

fn audit_unauthorised(log: &RefusalLog, commands: &RemoteCommands, why: &str, path: &str) {
    let second = crate::store::now_ms() / 1000;
    if log.last_second.swap(second, Ordering::Relaxed) == second {
        log.unwritten.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let also = log.unwritten.swap(0, Ordering::Relaxed);
    // The path is ours (a route matched), so it holds no caller's secret; the token is never
    // written, not even a wrong one.
    let draft = AuditDraft {
        actor: AuditActor::Token("?".into()),
        action: AuditAction::Refused,
        link: None,
        subject: None,
        detail: json!({ "why": why, "path": path, "refusals_not_written_before": also }),
    };
    if let Err(e) = commands.store.transact(|tx| tx.audit(draft.clone())) {
        tracing::error!(error = %e, "cannot audit a refused admin API call");
    }
}

async fn links(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let (api, _) = match authorise(&state, &headers, "/api/v1/links") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let links = api.links.borrow().clone();
    Json(json!({ "links": *links })).into_response()
}

async fn command(
    State(state): State<AdminState>,
    Path(link): Path<String>,
    headers: HeaderMap,
    body: Result<Json<CommandRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (api, actor) = match authorise(&state, &headers, "/api/v1/links/{link}/commands") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    let known = api.links.borrow().iter().any(|l| l.id.as_str() == link);
    if !known {
        return error(
            StatusCode::NOT_FOUND,
            format!("no link `{link}` is in force"),
        );
    }
    match api
        .commands
        .run(&LinkId::new(&link), &req.command, actor)
        .await
    {
        Ok(out) => {
            let code = if out.refused {
                StatusCode::FORBIDDEN
            } else if out.declined {
                StatusCode::CONFLICT
            } else {
                StatusCode::OK
            };
            let reply = CommandReply {
                reply: out.reply,
                refused: out.refused,
                declined: out.declined,
            };
            (code, Json(reply)).into_response()
        }
        Err(e) => failed(e),
    }
}
