//! The audit page (`GET /console/audit`): the log's entries the person may see
//! ([`audit_filter::Scope`]), newest first, filtered, [`PAGE`] at a time with an "older" link,
//! and whether the whole chain verifies (checked once, then only what was added since:
//! [`super::audit_checked`]); the rows are walked newest first and the walk stops at a page. Its
//! export
//! (`GET /console/audit.jsonl`) hands over the filtered entries as JSON Lines, one sealed entry a
//! line exactly as `civicbridge audit export` writes them; each export is audited
//! (`console_action`, `audit_export`).
//!
//! A filtered export holds entries that are not consecutive in the chain, so only each entry's
//! own hash can be checked from the file; the links between them are checked against the full
//! log (`civicbridge audit verify`, and the verdict this page shows).

use super::audit_filter::{Filter, FilterError, Raw, Scope};
use super::guard::{self, Signed};
use crate::moderation::audit::{self, AuditEntry};
use crate::store::prelude::*;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The most entries one page shows.
pub const PAGE: usize = 50;
/// The longest detail shown in a row (the export has it whole).
const MAX_DETAIL: usize = 400;

#[derive(Debug, Serialize)]
struct Row {
    seq: u64,
    at: String,
    actor: String,
    action: String,
    link: String,
    subject: String,
    detail: String,
}

fn action_name(e: &AuditEntry) -> String {
    serde_json::to_value(e.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn row(e: &AuditEntry) -> Row {
    let detail = e.detail.to_string();
    let mut shown: String = detail.chars().take(MAX_DETAIL).collect();
    if shown.len() < detail.len() {
        shown.push('…');
    }
    Row {
        seq: e.seq,
        at: audit::rfc3339(e.at_ms),
        actor: e.actor.to_string(),
        action: action_name(e),
        link: e.link.as_ref().map(ToString::to_string).unwrap_or_default(),
        subject: e.subject.clone().unwrap_or_default(),
        detail: shown,
    }
}

/// The signed-in request's scope and checked filter, or the answer to give.
fn read(signed: &Signed, raw: &Raw) -> Result<(Scope, Filter), guard::Refusal> {
    let scope = Scope::of(&signed.session.person, &signed.console.links());
    let filter = Filter::read(raw, &scope).map_err(|e| {
        let status = match e {
            FilterError::NotYourLink(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Box::new(signed.message(status, "Bad filter", &format!("Not shown: {e}.")))
    })?;
    Ok((scope, filter))
}

/// The answer when the store cannot be read.
fn unreadable(signed: &Signed, e: &crate::store::StoreError) -> Response {
    tracing::error!(error = %e, "the console could not read the audit log");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read its audit log; see its log.",
    )
}

/// The filter as a query string, without paging (`before`).
fn query(raw: &Raw) -> String {
    guard::query(&[
        ("link", &raw.link),
        ("actor", &raw.actor),
        ("action", &raw.action),
        ("from", &raw.from),
        ("to", &raw.to),
    ])
}

pub async fn page(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Query(raw): Query<Raw>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (scope, filter) = match read(&signed, &raw) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let store = signed.console.store();
    // The entries added since the last view are verified (`audit_checked`), the rest was.
    let survey = match signed.console.audit_checked().survey(store, action_name) {
        Ok(x) => x,
        Err(e) => return unreadable(&signed, &e),
    };
    let mut actions: Vec<String> = survey
        .actions
        .iter()
        .filter(|(link, _)| scope.admits_link(link.as_ref()))
        .flat_map(|(_, a)| a.iter().cloned())
        .collect();
    actions.sort_unstable();
    actions.dedup();
    let verdict = match survey.verdict {
        Ok(n) => format!("Intact: the chain of all {n} entries verifies."),
        Err(e) => format!("NOT intact: {e}."),
    };
    let intact = !verdict.starts_with("NOT");
    // Newest first, stopping once a page and one more (for the "older" link) are found.
    let shown: Result<Vec<Row>, _> = match store.audit_backward(filter.before) {
        Ok(scan) => scan
            .filter(|e| {
                e.as_ref()
                    .map_or(true, |e| scope.admits(e) && filter.admits(e))
            })
            .take(PAGE + 1)
            .map(|e| e.map(|e| row(&e)))
            .collect(),
        Err(e) => Err(e),
    };
    let mut shown = match shown {
        Ok(rows) => rows,
        Err(e) => return unreadable(&signed, &e),
    };
    let older = (shown.len() > PAGE).then(|| {
        shown.truncate(PAGE);
        let q = query(&raw);
        let before = shown.last().map_or(0, |r| r.seq);
        match q.is_empty() {
            true => format!("/console/audit?before={before}"),
            false => format!("/console/audit?{q}&before={before}"),
        }
    });
    let q = query(&raw);
    let export = match q.is_empty() {
        true => "/console/audit.jsonl".to_owned(),
        false => format!("/console/audit.jsonl?{q}"),
    };
    let frame = signed.frame("Audit log", "audit");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "audit.html",
        minijinja::context! {
            rows => shown,
            filter => raw,
            links => scope.links().collect::<Vec<_>>(),
            actions => actions,
            verdict => verdict,
            intact => intact,
            older => older,
            export => export,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// The filtered entries as JSON Lines, oldest first, as a download.
pub async fn export(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Query(raw): Query<Raw>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (scope, filter) = match read(&signed, &raw) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let scan = match signed.console.store().audit_forward(1) {
        Ok(scan) => scan,
        Err(e) => return unreadable(&signed, &e),
    };
    let mut text = String::new();
    let mut n = 0usize;
    for e in scan {
        let e = match e {
            Ok(e) if scope.admits(&e) && filter.admits(&e) => e,
            Ok(_) => continue,
            Err(e) => return unreadable(&signed, &e),
        };
        match serde_json::to_string(&e) {
            Ok(line) => text.push_str(&line),
            Err(e) => {
                tracing::error!(error = %e, "an audit entry could not be encoded");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        }
        text.push('\n');
        n += 1;
    }
    let person = &signed.session.person;
    let link = filter.link.as_deref().map(civicbridge_api::LinkId::new);
    if let Err(e) = super::audit::write(
        signed.console.store(),
        person,
        "audit_export",
        link.as_ref(),
        serde_json::json!({ "filter": query(&raw), "entries": n }),
    ) {
        tracing::error!(error = %e, "the console could not audit an export");
        return signed.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something failed",
            "The export could not be recorded in the audit log, so it was not handed over.",
        );
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/jsonl; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"civicbridge-audit.jsonl\"",
            ),
        ],
        text,
    )
        .into_response()
}
