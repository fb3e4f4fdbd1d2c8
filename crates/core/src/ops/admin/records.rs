//! The admin API's calls on the bridge's records, what `civicbridge audit`, `erase` and
//! `prune` do on a stopped bridge:
//!
//! - `GET /api/v1/audit?since=2026-01-01` (or RFC 3339, or unix milliseconds): the audit log
//!   from then on, as JSON Lines, one sealed entry each (any token).
//! - `GET /api/v1/audit/verify`: whether the stored chain is intact, with its entries and
//!   sequence numbers; 409 naming the first bad entry if not (any token).
//! - `POST /api/v1/erase` with `{"user": "telegram:42"}`: erase everything the bridge holds of
//!   that person, on every link; the delete jobs run at once (admin tokens; others get 403,
//!   audited).
//! - `POST /api/v1/prune`: prune what is older than each link's retention (admin tokens).
//! - `POST /api/v1/export` with `{"user": "telegram:42"}`: everything held about that person
//!   (subject access), audited (admin tokens).
//! - `GET /api/v1/report?from=2026-01-01&to=2026-02-01`: the transparency report's rows, from
//!   the audit log, with no personal data (any token).

use super::api::{authorise, error, failed};
use super::AdminState;
use crate::moderation::audit;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use civicbridge_api::UserKey;
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/audit", get(export))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/erase", post(erase))
        .route("/api/v1/prune", post(prune))
        .route("/api/v1/export", post(export_person))
        .route("/api/v1/report", get(report))
}

async fn export_person(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<EraseRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (api, actor) = match authorise(&state, &headers, "/api/v1/export") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let user = match person(body) {
        Ok(u) => u,
        Err(refused) => return *refused,
    };
    match api.commands.export(&user, &actor).await {
        Ok(done) => Json(done).into_response(),
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Period {
    from: String,
    to: String,
}

async fn report(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<Period>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (api, _) = match authorise(&state, &headers, "/api/v1/report") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let Ok(Query(q)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "the parameters are `from` and `to` (dates)",
        );
    };
    let (from, to) = match (audit::parse_since(&q.from), audit::parse_since(&q.to)) {
        (Ok(f), Ok(t)) if f < t => (f, t),
        (Ok(_), Ok(_)) => return error(StatusCode::BAD_REQUEST, "`from` must be before `to`"),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match api.commands.report(from, to) {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Since {
    since: Option<String>,
}

async fn export(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<Since>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (api, _) = match authorise(&state, &headers, "/api/v1/audit") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "the only parameter is `since`");
    };
    let parse = |s: &str| match s.trim().parse::<u64>() {
        Ok(ms) => Ok(ms),
        Err(_) => audit::parse_since(s),
    };
    let since_ms = match q.since.as_deref().map(parse) {
        None => 0,
        Some(Ok(ms)) => ms,
        Some(Err(e)) => return error(StatusCode::BAD_REQUEST, format!("since: {e}")),
    };
    let log = match api.commands.audit_log(since_ms) {
        Ok(log) => log,
        Err(e) => return failed(e),
    };
    let mut text = String::new();
    for e in &log {
        match serde_json::to_string(e) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
            }
            Err(e) => {
                tracing::error!(error = %e, "an audit entry does not encode");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an entry does not encode",
                );
            }
        }
    }
    ([(header::CONTENT_TYPE, "application/x-ndjson")], text).into_response()
}

async fn verify(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let (api, _) = match authorise(&state, &headers, "/api/v1/audit/verify") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let verified = match api.commands.audit_verify() {
        Ok(v) => v,
        Err(e) => return failed(e),
    };
    match verified {
        Ok(v) => Json(json!({
            "intact": true,
            "entries": v.entries,
            "first_seq": v.first_seq,
            "last_seq": v.last_seq,
        }))
        .into_response(),
        Err(e) => (
            StatusCode::CONFLICT,
            Json(json!({ "intact": false, "error": format!("audit log is NOT intact: {e}") })),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EraseRequest {
    user: String,
}

/// The person a request body names, or the answer refusing it.
fn person(
    body: Result<Json<EraseRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<UserKey, Box<Response>> {
    let Json(req) = body.map_err(|e| Box::new(error(e.status(), e.body_text())))?;
    req.user
        .parse()
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, format!("user: {e}"))))
}

async fn erase(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: Result<Json<EraseRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (api, actor) = match authorise(&state, &headers, "/api/v1/erase") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    let user = match person(body) {
        Ok(u) => u,
        Err(refused) => return *refused,
    };
    match api.commands.erase(&user, &actor).await {
        Ok(done) => Json(json!({
            "messages": done.messages,
            "held_discarded": done.held_discarded,
            "jobs_cancelled": done.jobs_cancelled,
            "deletes": done.deletes.len(),
            "reactions_removed": done.reactions_removed,
        }))
        .into_response(),
        Err(e) => failed(e),
    }
}

async fn prune(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let (api, actor) = match authorise(&state, &headers, "/api/v1/prune") {
        Ok(a) => a,
        Err(d) => return d.into_response(),
    };
    match api.commands.prune(&actor).await {
        Ok(done) => {
            let links: Vec<_> = done
                .iter()
                .map(|p| {
                    json!({
                        "link": p.link,
                        "messages": p.messages,
                        "cutoff": audit::rfc3339(p.cutoff_ms),
                    })
                })
                .collect();
            Json(json!({ "links": links })).into_response()
        }
        Err(e) => failed(e),
    }
}
