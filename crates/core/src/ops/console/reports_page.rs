//! The reports page (`GET /console/reports`): the open reports on messages of the person's
//! links, oldest first, optionally of one link: each message as its report card shows it
//! ([`crate::moderation::reports::view`], the card's own code: the author and the reporters
//! named as the link's moderation room names them), where its copies are (linked where the
//! connector can build an address), how many different people reported it, their reasons and
//! when, and whether its copies are hidden pending a decision (`hide_after_reports`) and
//! since when.
//!
//! Several or one are taken down or dismissed from the page's form ([`super::reports_decide`]).
//! Open pages follow reports filed or closed anywhere (`event: reports` on the console's
//! event stream; the rows are fetched again from `GET /console/reports/rows`).

use super::guard::{self, Signed};
use super::published::{mine, web_url, CopyRow};
use super::who::Person;
use super::Console;
use crate::moderation::audit;
use crate::moderation::reports::{self, ReportView};
use crate::store::prelude::*;
use crate::store::reports::ReportRecord;
use crate::store::{LinkRecord, StoreError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use civicbridge_api::{LinkId, MirrorId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

type AdminState = crate::ops::admin::AdminState;

/// The page's filter, from its query string. Empty: every link of the person's.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Filter {
    pub link: String,
}

/// One person's report, as the page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonRow {
    pub by: String,
    pub reason: Option<String>,
    pub at: String,
}

/// One open report.
#[derive(Debug, Serialize)]
pub struct Row {
    /// The message's number (ids of the page's elements).
    pub id: u64,
    /// As the card and the commands name it (`m7`).
    pub reference: String,
    pub link: String,
    pub author: String,
    /// The room it was written in, by name, and where to see it there.
    pub from: String,
    pub url: Option<String>,
    pub excerpt: String,
    pub copies: Vec<CopyRow>,
    /// How many different people reported it.
    pub count: usize,
    pub reports: Vec<ReasonRow>,
    /// Rooms whose copies are hidden pending a decision, and since when (UTC).
    pub hidden: Vec<String>,
    pub hidden_at: Option<String>,
    /// When it was first reported (UTC), and in ms for sorting.
    pub first_at: String,
    #[serde(skip)]
    pub first_at_ms: u64,
}

/// Why the page or its form refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportsError {
    #[error("`{0}` is not one of your links")]
    NotYourLink(String),
    #[error("the report on {id} is of link {link}, which you do not moderate")]
    NotYours { id: MirrorId, link: LinkId },
    #[error("there is no report on {0}")]
    NoReport(MirrorId),
    #[error("the report on {0} is already closed (taken down or dismissed)")]
    Closed(MirrorId),
}

fn row(console: &Console, v: &ReportView, m: &crate::store::MirrorRecord) -> Row {
    let reports: Vec<ReasonRow> = v
        .reports
        .iter()
        .map(|r| ReasonRow {
            by: r.by.clone(),
            reason: r.reason.clone(),
            at: audit::rfc3339(r.at_ms),
        })
        .collect();
    let first_at_ms = v.reports.iter().map(|r| r.at_ms).min().unwrap_or(m.at_ms);
    Row {
        id: v.mirror.0,
        reference: v.mirror.to_string(),
        link: v.link.to_string(),
        author: v.author.clone(),
        from: v.source.clone(),
        url: web_url(
            console,
            &m.source,
            m.source_thread.as_ref(),
            Some(&m.source_msg),
        ),
        excerpt: v.excerpt.clone(),
        copies: v
            .copies
            .iter()
            .map(|c| CopyRow {
                room: c.label.clone(),
                url: web_url(console, &c.room, c.thread.as_ref(), c.first.as_ref()),
            })
            .collect(),
        count: v.reports.len(),
        reports,
        hidden: v.hidden.clone(),
        hidden_at: v.hidden_at_ms.map(audit::rfc3339),
        first_at: audit::rfc3339(first_at_ms),
        first_at_ms,
    }
}

/// The open reports of `person`'s links (of `only` if given), oldest first.
pub fn rows_of(
    console: &Console,
    person: &Person,
    only: Option<&str>,
) -> Result<Vec<Row>, StoreError> {
    let links = console.links();
    let mine = mine(person, &links);
    let mut store = console.store();
    let open: Vec<ReportRecord> = store
        .open_reports()?
        .into_iter()
        .filter(|r| mine.contains_key(r.link.as_str()))
        .filter(|r| only.is_none_or(|l| r.link.as_str() == l))
        .collect();
    let mut rows = Vec::with_capacity(open.len());
    for rec in &open {
        let Some(m) = store.mirror(rec.mirror)? else {
            continue;
        };
        let v = reports::view(&mut store, &m, rec)?;
        rows.push(row(console, &v, &m));
    }
    rows.sort_by_key(|r| (r.first_at_ms, r.id));
    Ok(rows)
}

/// The person's open reports as `m7:2` (the message and how many reported it): what the
/// event stream compares to tell an open page that its rows changed.
pub fn snapshot(
    console: &Console,
    person: &Person,
) -> Result<std::collections::BTreeSet<String>, StoreError> {
    let links = console.links();
    let mine = mine(person, &links);
    Ok(console
        .store()
        .open_reports()?
        .into_iter()
        .filter(|r| mine.contains_key(r.link.as_str()))
        .map(|r| format!("{}:{}", r.mirror, r.reports.len()))
        .collect())
}

pub(super) fn store_failed(signed: &Signed, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the reports page failed");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read or change its store; see its log.",
    )
}

/// The link the filter names, if it is one of the person's: `Ok(None)` for every link.
fn only<'a>(
    filter: &'a Filter,
    mine: &BTreeMap<&str, &LinkRecord>,
) -> Result<Option<&'a str>, ReportsError> {
    match filter.link.trim() {
        "" => Ok(None),
        l if mine.contains_key(l) => Ok(Some(l)),
        l => Err(ReportsError::NotYourLink(l.chars().take(80).collect())),
    }
}

pub async fn page(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let links = signed.console.links();
    let mine = mine(&signed.session.person, &links);
    let only = match only(&filter, &mine) {
        Ok(o) => o,
        Err(e) => {
            return signed.message(
                StatusCode::FORBIDDEN,
                "Bad filter",
                &format!("Not shown: {e}."),
            )
        }
    };
    let rows = match rows_of(&signed.console, &signed.session.person, only) {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    let back = match guard::query(&[("link", &filter.link)]) {
        q if q.is_empty() => "/console/reports".to_owned(),
        q => format!("/console/reports?{q}"),
    };
    let frame = signed.frame("Reports", "reports");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "reports.html",
        minijinja::context! {
            rows => rows,
            filter => filter,
            links => mine.keys().collect::<Vec<_>>(),
            back => back,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// The table's rows alone, for the page's script to swap in when reports changed.
pub async fn rows(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(filter): Query<Filter>,
) -> Response {
    // Fetched by the page's script on a change, not by the person: not a use of the session.
    let signed = match guard::signed(&state, &headers, false) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let links = signed.console.links();
    let mine = mine(&signed.session.person, &links);
    let Ok(only) = only(&filter, &mine) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    let rows = match rows_of(&signed.console, &signed.session.person, only) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the report rows failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    guard::render(
        &signed.console,
        StatusCode::OK,
        "reports_rows.html",
        minijinja::context! { rows => rows },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_filter_is_one_of_the_persons() {
        let l = LinkRecord {
            id: LinkId::new("planning"),
            rooms: vec![],
            moderation_room: None,
            moderators: vec![],
            admins: vec![],
        };
        let mine: BTreeMap<&str, &LinkRecord> = [("planning", &l)].into();
        let f = |link: &str| Filter { link: link.into() };
        assert_eq!(only(&f(""), &mine), Ok(None));
        assert_eq!(only(&f(" planning "), &mine), Ok(Some("planning")));
        assert!(matches!(
            only(&f("parks"), &mine),
            Err(ReportsError::NotYourLink(_))
        ));
        let long = "x".repeat(5000);
        match only(&f(&long), &mine) {
            Err(ReportsError::NotYourLink(shown)) => assert_eq!(shown.len(), 80),
            other => panic!("{other:?}"),
        }
    }
}
