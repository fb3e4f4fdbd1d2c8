//! Links and rules, the list (admins only): `GET /console/links` shows each link the person
//! administers, its rooms with the state of their platform's connector (what `/readyz`
//! reports, [`crate::ops::status`]), whether the link is paused, and pause/resume buttons
//! (`POST /console/links/{link}/pause|resume`). Pausing is `!pause LINK`: the parser makes it
//! `!set LINK paused true`, and so does this page, through [`crate::ops::remote`] (the same
//! permissions and `rules_changed` entry), plus one `console_action` entry.

use super::admins::{self, store_failed};
use super::guard::{self, Signed};
use crate::moderation::commands::Command;
use crate::ops::status::ConnectorStatus;
use crate::store::prelude::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;
use std::collections::BTreeMap;

type AdminState = crate::ops::admin::AdminState;

#[derive(Debug, Serialize)]
struct RoomRow {
    room: String,
    side: &'static str,
    platform: String,
    /// `up`, `connecting`, `down`, `failed`, or `unknown` (no connector reported).
    state: String,
    since: Option<String>,
    last_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct LinkRow {
    id: String,
    page: String,
    paused: bool,
    moderation_room: Option<String>,
    rooms: Vec<RoomRow>,
}

fn state_name(c: &ConnectorStatus) -> String {
    serde_json::to_value(c.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

/// Refuses a person who administers no link (audited).
fn no_links(signed: &Signed) -> Response {
    admins::refuse(
        signed,
        None,
        serde_json::json!({ "page": "links", "why": "not an admin of any link" }),
        "Only admins of a link can see links and rules.",
    )
}

pub async fn page(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let links = signed.console.links();
    let mine = admins::administered(&signed.session.person, &links);
    if mine.is_empty() {
        return no_links(&signed);
    }
    let connectors: BTreeMap<String, ConnectorStatus> = state
        .status
        .readiness()
        .connectors
        .into_iter()
        .map(|c| (c.platform.clone(), c))
        .collect();
    let store = signed.console.store();
    let mut rows = Vec::with_capacity(mine.len());
    for link in mine {
        let paused = match store.rules(&link.id) {
            Ok(r) => r.unwrap_or_default().paused,
            Err(e) => return store_failed(&signed, &e),
        };
        let rooms = link
            .rooms
            .iter()
            .map(|r| {
                let c = connectors.get(r.room.platform.as_str());
                RoomRow {
                    room: store.room_label(&r.room),
                    side: match r.side {
                        crate::moderation::rules::Side::Staff => "staff",
                        crate::moderation::rules::Side::Public => "public",
                    },
                    platform: r.room.platform.label(),
                    state: c.map_or_else(|| "unknown".into(), state_name),
                    since: c.map(|c| c.since.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    last_error: c.and_then(|c| c.last_error.clone()),
                }
            })
            .collect();
        rows.push(LinkRow {
            id: link.id.to_string(),
            page: admins::link_page(&link.id),
            paused,
            moderation_room: link.moderation_room.as_ref().map(|r| store.room_label(r)),
            rooms,
        });
    }
    let frame = signed.frame("Links and rules", "links");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "links.html",
        minijinja::context! {
            links => rows,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

pub async fn pause(
    state: State<AdminState>,
    headers: HeaderMap,
    link: Path<String>,
    body: axum::body::Bytes,
) -> Response {
    set_paused(state, headers, link, body, true).await
}

pub async fn resume(
    state: State<AdminState>,
    headers: HeaderMap,
    link: Path<String>,
    body: axum::body::Bytes,
) -> Response {
    set_paused(state, headers, link, body, false).await
}

async fn set_paused(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: axum::body::Bytes,
    paused: bool,
) -> Response {
    let (signed, _form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let verb = if paused { "pause" } else { "resume" };
    let links = signed.console.links();
    let Some(link) = admins::administered_link(&signed.session.person, &links, &link) else {
        let shown: String = link.chars().take(80).collect();
        let known = links.iter().find(|l| l.id.as_str() == link).map(|l| &l.id);
        return admins::refuse(
            &signed,
            known,
            serde_json::json!({ "attempted": verb, "link": shown, "why": "not an admin of the link" }),
            &format!("Only admins of link {shown} can {verb} it; nothing was changed."),
        );
    };
    // What `!pause LINK` / `!resume LINK` parse to (`commands::parse`).
    let cmd = Command::Set {
        link: link.id.clone(),
        key: "paused".into(),
        value: paused.to_string(),
    };
    let out = match signed
        .console
        .0
        .remote
        .run_command(&link.id, cmd, signed.session.person.actor())
        .await
    {
        Ok(out) => out,
        Err(e) => return store_failed(&signed, &e),
    };
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        verb,
        Some(&link.id),
        serde_json::json!({ "refused": out.refused }),
    ) {
        return store_failed(&signed, &e);
    }
    if out.refused {
        return signed.message(StatusCode::FORBIDDEN, "Refused", &out.reply);
    }
    signed.notice(out.reply);
    Redirect::to("/console/links").into_response()
}
