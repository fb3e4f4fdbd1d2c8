//! Parked jobs (dead letters, [`crate::pipeline::dead_letter`]): `GET /console/parked` lists
//! the parked items of the person's links (an item whose link is unknown only to an admin of
//! every link, as `!parked` shows it in every moderation room), why and when each was parked;
//! `POST /console/parked` retries or drops one or several, each as `!retry P3` / `!drop P3`
//! on the item's own link through [`crate::ops::remote`] (the same permissions, admins only,
//! and the same `parked_retried` / `parked_dropped` entries), plus one `console_action` entry.
//! An item of a link the person does not administer refuses the whole form (403, audited)
//! before anything is done. The list can be filtered by link (`?link=`, one of the person's
//! links; another answers 403), with the filter form the other pages use (`filters.html`).

use super::admins::{self, store_failed};
use super::guard::{self, Signed};
use crate::moderation::audit;
use crate::moderation::commands::permissions::Role;
use crate::moderation::commands::Command;
use crate::store::prelude::*;
use crate::store::{LinkRecord, ParkedId, ParkedItem, ParkedWhat};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::LinkId;
use serde::{Deserialize, Serialize};

type AdminState = crate::ops::admin::AdminState;

/// The page's filter, from its query string. Empty: every link.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Filter {
    pub link: String,
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    link: String,
    what: String,
    reason: String,
    at: String,
    /// Marked for a retry its link worker has not made yet.
    retrying: bool,
    /// The person administers its link: the item can be retried or dropped here.
    actionable: bool,
}

/// Whose an item is for this person: the link to run its commands on, if they administer it.
/// `None` as the outer value: the item is not of their links at all.
fn scope<'a>(
    person: &super::who::Person,
    links: &'a [LinkRecord],
    item: &ParkedItem,
) -> Option<Option<&'a LinkRecord>> {
    match &item.link {
        Some(id) => {
            let link = links.iter().find(|l| &l.id == id)?;
            match person.role(link) {
                Role::Admin => Some(Some(link)),
                Role::Moderator => Some(None),
                Role::Nobody => None,
            }
        }
        // No link: every moderation room's, so only someone who administers every link.
        None => {
            let all = !links.is_empty() && links.iter().all(|l| person.role(l) == Role::Admin);
            all.then(|| links.first())
        }
    }
}

fn what(item: &ParkedItem, store: &crate::store::Store) -> String {
    match &item.what {
        ParkedWhat::Job { kind, target, .. } => format!(
            "{} job to {}",
            kind.as_deref().unwrap_or("unreadable"),
            target
                .as_ref()
                .map_or_else(|| "an unknown room".to_owned(), |t| store.room_label(t))
        ),
        ParkedWhat::Event { room, .. } => format!("event in {}", store.room_label(room)),
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
    let mine = super::published::mine(&signed.session.person, &links);
    let only = match filter.link.trim() {
        "" => None,
        l if mine.contains_key(l) => Some(l),
        l => {
            let l: String = l.chars().take(80).collect();
            return signed.message(
                StatusCode::FORBIDDEN,
                "Bad filter",
                &format!("Not shown: `{l}` is not one of your links."),
            );
        }
    };
    let store = signed.console.store();
    let items = match store.parked() {
        Ok(i) => i,
        Err(e) => return store_failed(&signed, &e),
    };
    let rows: Vec<Row> = items
        .iter()
        .filter(|item| only.is_none_or(|l| item.link.as_ref().is_some_and(|i| i.as_str() == l)))
        .filter_map(|item| {
            let acting = scope(&signed.session.person, &links, item)?;
            Some(Row {
                id: item.id.to_string(),
                link: item
                    .link
                    .as_ref()
                    .map_or_else(|| "(unknown)".to_owned(), ToString::to_string),
                what: what(item, store),
                reason: item.reason.clone(),
                at: audit::rfc3339(item.at_ms),
                retrying: item.retry,
                actionable: acting.is_some(),
            })
        })
        .collect();
    let any_actionable = rows.iter().any(|r| r.actionable);
    let back = match guard::query(&[("link", &filter.link)]) {
        q if q.is_empty() => "/console/parked".to_owned(),
        q => format!("/console/parked?{q}"),
    };
    let frame = signed.frame("Parked jobs", "parked");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "parked.html",
        minijinja::context! {
            rows => rows,
            any_actionable => any_actionable,
            filter => filter,
            links => mine.keys().collect::<Vec<_>>(),
            back => back,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// Retry or drop: which, from the button pressed.
#[derive(Debug, Clone, Copy)]
enum Act {
    Retry,
    Drop,
}

fn refuse_item(signed: &Signed, link: Option<&LinkId>, id: ParkedId, act: &str) -> Response {
    admins::refuse(
        signed,
        link,
        serde_json::json!({ "parked": id.to_string(), "attempted": act, "why": "not an admin of the link" }),
        &format!(
            "Only admins of link {} can {act} {id}; nothing was done.",
            link.map_or("(unknown)", |l| l.as_str())
        ),
    )
}

fn gone(signed: &Signed, id: ParkedId) -> Response {
    signed.message(
        StatusCode::NOT_FOUND,
        "Nothing done",
        &format!("There is no parked item {id} (it may have been retried or dropped already)."),
    )
}

pub async fn act(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let act = match form.get("action") {
        Some("retry") => Act::Retry,
        Some("drop") => Act::Drop,
        _ => {
            return signed.message(
                StatusCode::BAD_REQUEST,
                "Nothing done",
                "Choose Retry or Drop.",
            )
        }
    };
    let name = match act {
        Act::Retry => "retry",
        Act::Drop => "drop",
    };
    let ids = match form.selected::<ParkedId>("item", "items") {
        Ok(ids) => ids,
        Err(why) => return signed.message(StatusCode::BAD_REQUEST, "Nothing done", &why),
    };
    let back = guard::back_to(&form, "/console/parked");
    if ids.is_empty() {
        signed.notice("Select at least one parked item first.".into());
        return Redirect::to(&back).into_response();
    }
    // Every item must be one the person may act on before anything is done.
    let links = signed.console.links();
    let mut plan: Vec<(ParkedId, LinkId)> = Vec::with_capacity(ids.len());
    for id in &ids {
        let item = match signed.console.store().parked_item(*id) {
            Ok(Some(i)) => i,
            Ok(None) => return gone(&signed, *id),
            Err(e) => return store_failed(&signed, &e),
        };
        match scope(&signed.session.person, &links, &item) {
            Some(Some(link)) => plan.push((*id, link.id.clone())),
            _ => return refuse_item(&signed, item.link.as_ref(), *id, name),
        }
    }
    let commands = plan.iter().map(|(id, link)| {
        let cmd = match act {
            Act::Retry => Command::Retry(*id),
            Act::Drop => Command::Drop(*id),
        };
        (link.clone(), cmd)
    });
    let ran = match signed.run_all(commands.collect()).await {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    signed.answer_all(
        name,
        "parked",
        ids.iter().map(ToString::to_string).collect(),
        plan.iter().map(|(_, l)| l).collect(),
        &ran,
        &back,
    )
}
