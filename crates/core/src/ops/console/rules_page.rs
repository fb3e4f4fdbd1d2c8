//! A link's rules (admins of the link only): `GET /console/links/{link}` shows every key
//! `!set` accepts with its value as a form; posting it (`POST /console/links/{link}/rules`)
//! changes nothing and answers with the diff ([`super::rules_form`]), each changed key with
//! what `!set --dry-run` says of it, and a confirm button; confirming
//! (`POST /console/links/{link}/rules/apply`) runs `!set LINK KEY VALUE` for each changed key
//! through [`crate::ops::remote`] (the same validation, permissions and `rules_changed`
//! entries as in the room), after checking every value first so a refused one changes nothing.
//!
//! The diff travels in the confirm form's hidden fields, under the session's CSRF token. The
//! form's `link` field must be the link of the path: a form for one link is never applied to
//! another (403, audited).

use super::admins::{self, store_failed};
use super::form::Form;
use super::guard::{self, Signed};
use super::rules_form::{self, ApplyError, Change};
use crate::moderation::commands::Command;
use crate::store::prelude::*;
use crate::store::LinkRecord;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::LinkId;

type AdminState = crate::ops::admin::AdminState;

/// The link of the path if the person administers it; else 403, audited (`what`: the page or
/// action asked for).
fn administered(signed: &Signed, link: &str, what: &str) -> Result<LinkRecord, Box<Response>> {
    let links = signed.console.links();
    match admins::administered_link(&signed.session.person, &links, link) {
        Some(l) => Ok(l.clone()),
        None => {
            let shown: String = link.chars().take(80).collect();
            let known = links.iter().find(|l| l.id.as_str() == link).map(|l| &l.id);
            Err(Box::new(admins::refuse(
                signed,
                known,
                serde_json::json!({ "page": what, "link": shown, "why": "not an admin of the link" }),
                &format!("Only admins of link {shown} can see or change its rules."),
            )))
        }
    }
}

/// A posted form's `link` must name the path's link: the check against a confirm form edited
/// to apply one link's reviewed diff to another.
fn same_link(signed: &Signed, form: &Form, link: &LinkRecord) -> Result<(), Box<Response>> {
    match form.get("link") {
        Some(l) if l == link.id.as_str() => Ok(()),
        other => {
            let named: String = other.unwrap_or("").chars().take(80).collect();
            Err(Box::new(admins::refuse(
                signed,
                Some(&link.id),
                serde_json::json!({ "page": "rules", "form_link": named, "why": "the form is for another link" }),
                "This form is for another link; nothing was changed.",
            )))
        }
    }
}

fn rules_of(
    signed: &Signed,
    link: &LinkId,
) -> Result<crate::moderation::rules::Rules, Box<Response>> {
    match signed.console.store().rules(link) {
        Ok(r) => Ok(r.unwrap_or_default()),
        Err(e) => Err(Box::new(store_failed(signed, &e))),
    }
}

pub async fn page(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(link): Path<String>,
) -> Response {
    let signed = match guard::signed(&state, &headers, true) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let link = match administered(&signed, &link, "rules") {
        Ok(l) => l,
        Err(r) => return *r,
    };
    let rules = match rules_of(&signed, &link.id) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let frame = signed.frame(&format!("Rules of {}", link.id), "links");
    guard::render(
        &signed.console,
        StatusCode::OK,
        "rules.html",
        minijinja::context! {
            link => link.id.as_str(),
            action => admins::link_page(&link.id),
            fields => rules_form::fields(&rules),
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// What both rules forms check first: a signed, CSRF-checked form, by an admin of `link`,
/// naming that same link, and the link's rules now.
fn posted_rules(
    state: &AdminState,
    headers: &HeaderMap,
    link: &str,
    body: &[u8],
) -> Result<(Signed, Form, LinkRecord, crate::moderation::rules::Rules), Box<Response>> {
    let (signed, form) = guard::posted(state, headers, body)?;
    let link = administered(&signed, link, "rules")?;
    same_link(&signed, &form, &link)?;
    let rules = rules_of(&signed, &link.id)?;
    Ok((signed, form, link, rules))
}

/// The diff of a posted rules form; nothing is changed.
pub async fn review(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form, link, rules) = match posted_rules(&state, &headers, &link, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut changes = rules_form::diff(&rules, &form);
    let page = admins::link_page(&link.id);
    if changes.is_empty() {
        signed.notice("Nothing to change: every value is as it was.".into());
        return Redirect::to(&page).into_response();
    }
    for c in changes.iter_mut().filter(|c| c.error.is_none()) {
        match dry_run(&signed, &link.id, c).await {
            Ok(text) => c.dry_run = Some(text),
            Err(r) => return *r,
        }
    }
    let invalid = changes.iter().any(|c| c.error.is_some());
    let status = match invalid {
        true => StatusCode::UNPROCESSABLE_ENTITY,
        false => StatusCode::OK,
    };
    let frame = signed.frame(&format!("Review changes to {}", link.id), "links");
    guard::render(
        &signed.console,
        status,
        "rules_diff.html",
        minijinja::context! {
            link => link.id.as_str(),
            action => admins::link_page(&link.id),
            changes => changes,
            invalid => invalid,
            ..minijinja::Value::from_serialize(&frame),
        },
    )
}

/// `!set --dry-run LINK KEY VALUE`, as the room runs it: its reply.
async fn dry_run(signed: &Signed, link: &LinkId, c: &Change) -> Result<String, Box<Response>> {
    let cmd = Command::DryRun {
        link: link.clone(),
        key: c.key.clone(),
        value: c.new.clone(),
    };
    match signed
        .console
        .0
        .remote
        .run_command(link, cmd, signed.session.person.actor())
        .await
    {
        Ok(out) => Ok(out.reply),
        Err(e) => Err(Box::new(store_failed(signed, &e))),
    }
}

/// Applies a reviewed diff: every key checked first, then `!set` for each.
pub async fn apply(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Path(link): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form, link, rules) = match posted_rules(&state, &headers, &link, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let checked = rules_form::planned(&form).and_then(|p| {
        let after = rules_form::check(&rules, &p)?;
        Ok((p, after))
    });
    let (planned, expected) = match checked {
        Ok(c) => c,
        Err(e) => {
            let status = match e {
                ApplyError::Stale(_) => StatusCode::CONFLICT,
                ApplyError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::BAD_REQUEST,
            };
            return signed.message(status, "Not changed", &format!("Not changed: {e}."));
        }
    };
    let mut lines = Vec::new();
    for p in &planned {
        let cmd = Command::Set {
            link: link.id.clone(),
            key: p.key.to_owned(),
            value: p.new.clone(),
        };
        match signed
            .console
            .0
            .remote
            .run_command(&link.id, cmd, signed.session.person.actor())
            .await
        {
            Ok(out) if out.refused => {
                return signed.message(StatusCode::FORBIDDEN, "Refused", &out.reply)
            }
            Ok(out) => lines.push(out.reply),
            Err(e) => return store_failed(&signed, &e),
        }
    }
    let keys: Vec<&str> = planned.iter().map(|p| p.key).collect();
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        "rules",
        Some(&link.id),
        serde_json::json!({ "keys": keys }),
    ) {
        return store_failed(&signed, &e);
    }
    // Each `!set` checks again in its own transaction; a change made in between by someone
    // else can still make one refuse. Say so rather than claim success.
    match signed.console.store().rules(&link.id) {
        Ok(Some(now)) if now == expected => {}
        Ok(_) => {
            return signed.message(
                StatusCode::CONFLICT,
                "Partly changed",
                &format!(
                    "The rules changed while these were applied; check them again.\n{}",
                    lines.join("\n")
                ),
            )
        }
        Err(e) => return store_failed(&signed, &e),
    }
    signed.notice(lines.join("\n"));
    Redirect::to(&admins::link_page(&link.id)).into_response()
}
