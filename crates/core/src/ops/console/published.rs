//! The published page (`GET /console/published`): bridged messages of the person's links that
//! have copies, newest first, filtered by link and time, [`PAGE`] at a time with an "older"
//! link; each with its copies by room name, linked where the connector can build an address
//! (`Connector::message_url`, checked to be a web address). Several or one can be taken down
//! (`POST /console/published/takedown`): each runs `!takedown mN` on its link through
//! [`crate::ops::remote`] (the same code, permissions and audit entries as typed in the room),
//! and the page action writes one `console_action` entry (`takedown`).
//!
//! Authors are named as the link's moderation room sees them (`privacy::shown_author`): a
//! pseudonymised resident is never named here.

use super::guard::{self, Signed};
use super::who::Person;
use crate::moderation::audit;
use crate::moderation::commands::takedown::Target;
use crate::moderation::commands::Command;
use crate::store::prelude::*;
use crate::store::{LinkRecord, MirrorRecord, StoreError};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::{LinkId, MirrorId, RemoteMsgId, RoomRef, ThreadId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most messages one page shows.
pub const PAGE: usize = 50;
/// The longest time text read.
const MAX_TIME: usize = 40;

/// The query string as sent. Empty fields filter nothing.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Raw {
    pub link: String,
    /// From this time on (a date, midnight UTC, or RFC 3339).
    pub from: String,
    /// Before this time.
    pub to: String,
    /// Paging: only messages older than this one (`m7` or `7`).
    pub before: String,
}

/// Why a filter was refused: 403 for another's link, 400 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`{0}` is not one of your links")]
    NotYourLink(String),
    #[error("{field}: {problem}")]
    BadTime {
        field: &'static str,
        problem: String,
    },
    #[error("`before` must be a message id (m7)")]
    BadCursor,
}

#[derive(Debug, Clone, Default)]
struct Filter {
    link: Option<String>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    before: Option<u64>,
}

fn time(field: &'static str, s: &str) -> Result<Option<u64>, FilterError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > MAX_TIME {
        return Err(FilterError::BadTime {
            field,
            problem: "too long to be a time".into(),
        });
    }
    audit::parse_since(s)
        .map(Some)
        .map_err(|problem| FilterError::BadTime { field, problem })
}

impl Filter {
    fn read(raw: &Raw, mine: &BTreeMap<&str, &LinkRecord>) -> Result<Filter, FilterError> {
        let link = match raw.link.trim() {
            "" => None,
            l if mine.contains_key(l) => Some(l.to_owned()),
            l => return Err(FilterError::NotYourLink(l.chars().take(80).collect())),
        };
        let before = match raw.before.trim() {
            "" => None,
            b => Some(b.parse::<MirrorId>().map_err(|_| FilterError::BadCursor)?.0),
        };
        Ok(Filter {
            link,
            from_ms: time("from", &raw.from)?,
            to_ms: time("to", &raw.to)?,
            before,
        })
    }

    fn admits(&self, m: &MirrorRecord) -> bool {
        self.link.as_deref().is_none_or(|l| m.link.as_str() == l)
            && self.from_ms.is_none_or(|f| m.at_ms >= f)
            && self.to_ms.is_none_or(|t| m.at_ms < t)
            && self.before.is_none_or(|b| m.id.0 < b)
    }
}

#[derive(Debug, Serialize)]
pub struct CopyRow {
    /// The room, as cards name it (its platform included).
    pub room: String,
    /// Where to see the copy on its platform (its first part), when the connector can say.
    pub url: Option<String>,
}

/// The address of message `id` in `room` on its platform, if its connector can build one and
/// it is a web address: a connector's answer is never put in an `href` unchecked.
pub(super) fn web_url(
    console: &super::Console,
    room: &RoomRef,
    thread: Option<&ThreadId>,
    id: Option<&RemoteMsgId>,
) -> Option<String> {
    let url = console
        .connector(room.platform)?
        .message_url(&room.room, thread, id?)?;
    is_web(&url).then_some(url)
}

fn is_web(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[derive(Debug, Serialize)]
struct Row {
    id: u64,
    reference: String,
    link: String,
    at: String,
    from: String,
    /// Where to see the original on its platform.
    url: Option<String>,
    sender: String,
    excerpt: String,
    copies: Vec<CopyRow>,
}

fn row(console: &super::Console, link: &LinkRecord, m: &MirrorRecord) -> Result<Row, StoreError> {
    let mut store = console.store();
    let shown_in = link.moderation_room.as_ref().unwrap_or(&m.source);
    let sender = crate::privacy::shown_author(&mut store, m, shown_in)?.name;
    Ok(Row {
        id: m.id.0,
        reference: m.id.to_string(),
        link: m.link.to_string(),
        at: audit::rfc3339(m.at_ms),
        from: store.room_label(&m.source),
        url: web_url(
            console,
            &m.source,
            m.source_thread.as_ref(),
            Some(&m.source_msg),
        ),
        sender,
        excerpt: crate::pipeline::render::excerpt(&m.text),
        copies: m
            .copies
            .iter()
            .map(|c| CopyRow {
                room: store.room_label(&c.room),
                url: web_url(console, &c.room, c.thread.as_ref(), c.ids.first()),
            })
            .collect(),
    })
}

pub(super) fn mine<'a>(
    person: &Person,
    links: &'a [LinkRecord],
) -> BTreeMap<&'a str, &'a LinkRecord> {
    person
        .links(links)
        .into_iter()
        .map(|l| (l.id.as_str(), l))
        .collect()
}

fn store_failed(signed: &Signed, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "the published page failed");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read or change its store; see its log.",
    )
}

fn query(raw: &Raw) -> String {
    guard::query(&[("link", &raw.link), ("from", &raw.from), ("to", &raw.to)])
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
    let links = signed.console.links();
    let mine = mine(&signed.session.person, &links);
    let filter = match Filter::read(&raw, &mine) {
        Ok(f) => f,
        Err(e) => {
            let status = match e {
                FilterError::NotYourLink(_) => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            return signed.message(status, "Bad filter", &format!("Not shown: {e}."));
        }
    };
    // Every mirror of the person's links, newest first; one scan per link.
    let mut found: Vec<MirrorRecord> = Vec::new();
    for (id, _) in mine
        .iter()
        .filter(|(id, _)| filter.link.as_deref().is_none_or(|l| l == **id))
    {
        let ids = match signed
            .console
            .store()
            .mirrors_older_than(&LinkId::new(*id), u64::MAX)
        {
            Ok(ids) => ids,
            Err(e) => return store_failed(&signed, &e),
        };
        // At most a page and one more from each link: enough to know whether there is more.
        let mut of_link = 0;
        for m in ids.into_iter().rev() {
            if filter.before.is_some_and(|b| m.0 >= b) {
                continue;
            }
            match signed.console.store().mirror(m) {
                Ok(Some(m)) if !m.deleted && !m.copies.is_empty() && filter.admits(&m) => {
                    found.push(m);
                    of_link += 1;
                }
                Ok(_) => {}
                Err(e) => return store_failed(&signed, &e),
            }
            if of_link > PAGE {
                break;
            }
        }
    }
    found.sort_by_key(|m| std::cmp::Reverse(m.id.0));
    found.truncate(PAGE + 1);
    let older = found.len() > PAGE;
    found.truncate(PAGE);
    let mut rows = Vec::with_capacity(found.len());
    for m in &found {
        if let Some(link) = mine.get(m.link.as_str()) {
            match row(&signed.console, link, m) {
                Ok(r) => rows.push(r),
                Err(e) => return store_failed(&signed, &e),
            }
        }
    }
    let q = query(&raw);
    let older = older.then(|| {
        let before = rows.last().map_or(0, |r| r.id);
        match q.is_empty() {
            true => format!("/console/published?before=m{before}"),
            false => format!("/console/published?{q}&before=m{before}"),
        }
    });
    let back = match q.is_empty() {
        true => "/console/published".to_owned(),
        false => format!("/console/published?{q}"),
    };
    let frame = signed.frame("Published", "published");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "published.html",
        minijinja::context! {
            rows => rows,
            filter => raw,
            links => mine.keys().collect::<Vec<_>>(),
            older => older,
            back => back,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

pub async fn take_down(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let back = guard::back_to(&form, "/console/published");
    let ids = match form.selected::<MirrorId>("message", "messages") {
        Ok(ids) => ids,
        Err(why) => return signed.message(StatusCode::BAD_REQUEST, "Not taken down", &why),
    };
    if ids.is_empty() {
        signed.notice("Select at least one message first.".into());
        return Redirect::to(&back).into_response();
    }
    // Every message must be of the person's links before anything is done.
    let links = signed.console.links();
    let mine = mine(&signed.session.person, &links);
    let mut by_link: BTreeMap<LinkId, Vec<MirrorId>> = BTreeMap::new();
    for id in &ids {
        match signed.console.store().mirror(*id) {
            Ok(Some(m)) if mine.contains_key(m.link.as_str()) => {
                by_link.entry(m.link).or_default().push(*id)
            }
            Ok(Some(m)) => return refuse(&signed, &m.link, *id),
            Ok(None) => {
                return signed.message(
                    StatusCode::NOT_FOUND,
                    "Not taken down",
                    &format!("There is no bridged message {id}."),
                )
            }
            Err(e) => return store_failed(&signed, &e),
        }
    }
    let commands = by_link.iter().flat_map(|(link, ms)| {
        ms.iter()
            .map(|m| (link.clone(), Command::Takedown(Target::Mirror(*m))))
    });
    let ran = match signed.run_all(commands.collect()).await {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    signed.answer_all(
        "takedown",
        "messages",
        ids.iter().map(ToString::to_string).collect(),
        by_link.keys().collect(),
        &ran,
        &back,
    )
}

fn refuse(signed: &Signed, link: &LinkId, id: MirrorId) -> Response {
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        "refused",
        Some(link),
        serde_json::json!({ "message": id.to_string(), "why": "not a moderator of the link" }),
    ) {
        tracing::error!(error = %e, "cannot audit a refused console request");
    }
    signed.message(
        StatusCode::FORBIDDEN,
        "Not yours",
        &format!("Only moderators of link {link} can take down {id}; nothing was taken down."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_strictly() {
        let l = LinkRecord {
            id: LinkId::new("planning"),
            rooms: vec![],
            moderation_room: None,
            moderators: vec![],
            admins: vec![],
        };
        let mine: BTreeMap<&str, &LinkRecord> = [("planning", &l)].into();
        let raw = |link: &str, from: &str, before: &str| Raw {
            link: link.into(),
            from: from.into(),
            to: String::new(),
            before: before.into(),
        };
        assert!(Filter::read(&raw("planning", "2026-01-01", "m7"), &mine).is_ok());
        assert_eq!(
            Filter::read(&raw("", "", "7"), &mine).unwrap().before,
            Some(7)
        );
        assert!(matches!(
            Filter::read(&raw("parks", "", ""), &mine),
            Err(FilterError::NotYourLink(_))
        ));
        assert!(matches!(
            Filter::read(&raw("", &"9".repeat(5000), ""), &mine),
            Err(FilterError::BadTime { .. })
        ));
        assert_eq!(
            Filter::read(&raw("", "", "m-1"), &mine).unwrap_err(),
            FilterError::BadCursor
        );
    }
}
