//! One held item: the message as held, as each target room will show it (rendered by the
//! outbox's own [`render`](crate::pipeline::render::render) with each platform's capabilities
//! and the name that room is shown), its attachments and thread, the sender's earlier decisions
//! on this link (from the audit log, which names authors by keyed hash), its claim as its card
//! shows it, edit-then-approve (`!edit` on the revision shown), and claim / release
//! (`!claim` / `!release`: another moderator's claim is refused with their name, 409).

use super::guard::{self, Refusal, Signed};
use crate::moderation::approval::ItemRef;
use crate::moderation::audit::AuditAction;
use crate::moderation::commands::permissions::Role;
use crate::moderation::commands::Command;
use crate::pipeline::render::{self, RenderInput};
use crate::store::prelude::*;
use crate::store::{PendingItem, StoreError};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::{PendingId, RichText};
use serde::Serialize;

/// The most earlier decisions listed.
const HISTORY: usize = 20;

#[derive(Debug, Serialize)]
struct Preview {
    room: String,
    persona: Option<String>,
    parts: Vec<String>,
}

/// The item `raw` names (`12` or `#12`), if it is held: 404 if not, 403 if it is not of the
/// person's links (audited).
fn held(signed: &Signed, raw: &str) -> Result<PendingItem, Refusal> {
    let not_found = || {
        signed.message(
            StatusCode::NOT_FOUND,
            "Not held",
            "There is no such held item (it may have been decided already).",
        )
    };
    let Ok(id) = raw.parse::<PendingId>() else {
        return Err(Box::new(not_found()));
    };
    let item = match signed.console.store().pending_item(id) {
        Ok(Some(i)) => i,
        Ok(None) => return Err(Box::new(not_found())),
        Err(e) => return Err(Box::new(failed(signed, &e))),
    };
    let links = signed.console.links();
    let allowed = links
        .iter()
        .find(|l| l.id == item.link)
        .is_some_and(|l| signed.session.person.role(l) >= Role::Moderator);
    if !allowed {
        if let Err(e) = super::audit::write(
            signed.console.store(),
            &signed.session.person,
            "refused",
            Some(&item.link),
            serde_json::json!({ "item": item.id.to_string(), "why": "not a moderator of the link" }),
        ) {
            tracing::error!(error = %e, "cannot audit a refused console request");
        }
        return Err(Box::new(signed.message(
            StatusCode::FORBIDDEN,
            "Not yours",
            &format!(
                "Only moderators of link {} can see or decide this item.",
                item.link
            ),
        )));
    }
    Ok(item)
}

fn failed(signed: &Signed, e: &StoreError) -> Response {
    tracing::error!(error = %e, "a console page could not read the store");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read its store; see its log.",
    )
}

pub async fn page(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let item = match held(&signed, &raw) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    match view(&signed, &item) {
        Ok(r) => r,
        Err(e) => failed(&signed, &e),
    }
}

fn view(signed: &Signed, item: &PendingItem) -> Result<Response, StoreError> {
    let console = &signed.console;
    let mut store = console.store();
    let links = console.links();
    let Some(link) = links.iter().find(|l| l.id == item.link) else {
        return Ok(signed.message(
            StatusCode::NOT_FOUND,
            "Not held",
            "Its link is not in force.",
        ));
    };
    let now = crate::store::now_ms();
    let Some(row) = super::queue::row(console, link, item, now)? else {
        return Ok(signed.message(StatusCode::NOT_FOUND, "Not held", "Its message is gone."));
    };
    let Some(m) = store.mirror(item.mirror)? else {
        return Ok(signed.message(StatusCode::NOT_FOUND, "Not held", "Its message is gone."));
    };
    let text = item.text(&m).clone();
    let mut previews = Vec::new();
    for target in &item.targets {
        let Some(connector) = console.connector(target.platform) else {
            continue;
        };
        let caps = connector.capabilities();
        let author = crate::privacy::shown_author(&mut store, &m, target)?;
        let parts = render::render(RenderInput {
            mirror: &m,
            text: &text,
            author,
            caps: &caps,
            room: &target.room,
            txn_base: "preview".into(),
            // Where a reply or thread lands depends on what crossed by the time it is sent;
            // the card shows that context.
            reply: None,
            thread: None,
            files: Vec::new(),
            unshown: Vec::new(),
        });
        previews.push(Preview {
            room: store.room_label(target),
            // A persona shows only where the platform shows one; elsewhere the name is in the
            // text, as rendered.
            persona: parts
                .first()
                .filter(|_| caps.personas)
                .and_then(|p| p.persona.as_ref())
                .map(|p| format!("{} ({})", p.display_name, p.platform_label)),
            parts: parts.iter().map(|p| p.text.to_plain()).collect(),
        });
    }
    let author = crate::privacy::person_ref_in(&mut store, &m.author.key())?;
    let this = item.id.to_string();
    // Newest first, a block at a time, stopping at HISTORY lines.
    let mut history: Vec<String> = store
        .audit_backward(None)?
        .map_while(Result::ok)
        .filter(|e| e.link.as_ref() == Some(&item.link))
        .filter(|e| e.detail["author"].as_str() == Some(author.as_str()))
        .filter(|e| e.subject.as_deref() != Some(this.as_str()))
        .filter_map(|e| {
            let what = match e.action {
                AuditAction::Approved => "approved",
                AuditAction::EditApproved => "edit approved",
                AuditAction::EditedAndApproved => "approved with edits",
                AuditAction::Rejected => "rejected",
                AuditAction::Expired => "expired",
                AuditAction::Withdrawn => "withdrawn",
                AuditAction::Takedown => "taken down",
                _ => return None,
            };
            let when = chrono::DateTime::from_timestamp_millis(i64::try_from(e.at_ms).ok()?)?
                .format("%Y-%m-%d %H:%M UTC");
            let reason = e.detail["reason"]
                .as_str()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            Some(format!(
                "{when}: {} {what} by {}{reason}",
                e.subject.as_deref().unwrap_or("a message"),
                e.actor
            ))
        })
        .take(HISTORY)
        .collect();
    history.shrink_to_fit();
    let reasons = super::queue::reasons(console, &signed.session.person)?;
    let frame = signed.frame(&format!("Held item {}", item.reference()), "queue");
    Ok(guard::render(
        console,
        StatusCode::OK,
        "item.html",
        minijinja::context! {
            item => minijinja::context! {
                id => item.id.0,
                value => row.value,
                reference => row.reference,
                revision => item.revision.max(1),
                link => row.link,
                from => row.from,
                sender => row.sender,
                reason => row.reason,
                age => row.age,
                claim => row.claim,
                text => text.to_plain(),
                thread => m.thread_root.map(|r| format!("a reply in the thread of message {r}")),
                attachments => item.attachments(&m).iter().map(|a| format!("{} ({})", a.name, a.kind.as_str())).collect::<Vec<_>>(),
            },
            previews => previews,
            history => history,
            reasons => reasons.iter().map(|(code, label)| minijinja::context! { code => code, label => label }).collect::<Vec<_>>(),
            ..minijinja::Value::from_serialize(&frame),
        },
    ))
}

/// `POST /console/items/{id}/edit`: approve the revision shown with the moderator's text.
pub async fn edit(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let item = match held(&signed, &raw) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let revision = form
        .get("revision")
        .and_then(|r| r.parse::<u32>().ok())
        .filter(|r| *r > 0);
    let text = form.get("text").unwrap_or_default().trim();
    let (Some(revision), false) = (revision, text.is_empty()) else {
        return signed.message(
            StatusCode::BAD_REQUEST,
            "Not approved",
            "Give the text to publish (and reload the page if this persists).",
        );
    };
    let r = ItemRef {
        id: item.id,
        revision: Some(revision),
    };
    let person = &signed.session.person;
    let cmd = Command::Edit(r, text.to_owned());
    let out = match signed.run_all(vec![(item.link.clone(), cmd)]).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "a console edit failed");
            return signed.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                "The decision could not be stored; see the bridge's log.",
            );
        }
    };
    if let Err(e) = super::audit::write(
        signed.console.store(),
        person,
        "edit",
        Some(&item.link),
        serde_json::json!({
            "items": [r.to_string()],
            "text_sha256": crate::privacy::content_hash(&RichText::plain(text)),
            "refused": out.refused,
        }),
    ) {
        tracing::error!(error = %e, "cannot audit a console edit");
    }
    if out.refused {
        return signed.message(StatusCode::FORBIDDEN, "Refused", &out.text());
    }
    signed.notice(out.text());
    Redirect::to("/console/queue").into_response()
}

/// `POST /console/items/{id}/claim`: claim the item or release its claim, as `!claim #N` /
/// `!release #N` typed in the room.
pub async fn claim(
    State(state): State<crate::ops::admin::AdminState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let item = match held(&signed, &raw) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let r = ItemRef::first(item.id);
    let (name, cmd) = match form.get("action") {
        Some("claim") => ("claim", Command::Claim(r)),
        Some("release") => ("release", Command::Release(r)),
        _ => {
            return signed.message(
                StatusCode::BAD_REQUEST,
                "Nothing done",
                "Choose Claim or Release.",
            )
        }
    };
    let ran = match signed.run_all(vec![(item.link.clone(), cmd)]).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "a console claim failed");
            return signed.message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something failed",
                "The claim could not be stored; see the bridge's log.",
            );
        }
    };
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        name,
        Some(&item.link),
        serde_json::json!({
            "items": [item.id.to_string()],
            "refused": ran.refused,
            "declined": ran.declined,
        }),
    ) {
        tracing::error!(error = %e, "cannot audit a console claim");
    }
    if ran.refused {
        return signed.message(StatusCode::FORBIDDEN, "Refused", &ran.text());
    }
    if ran.declined {
        let heading = match name {
            "claim" => "Not claimed",
            _ => "Not released",
        };
        return signed.message(StatusCode::CONFLICT, heading, &ran.text());
    }
    signed.notice(ran.text());
    Redirect::to(&format!("/console/items/{}", item.id.0)).into_response()
}
