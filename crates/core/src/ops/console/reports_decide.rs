//! Deciding reports from the reports page (`POST /console/reports/decide`, [`super::reports_page`]):
//! Take down runs `!takedown mN`, Dismiss `!dismiss mN`, each on the report's link as the
//! person ([`super::run`]: the rooms' code, permissions and audit entries), plus one
//! `console_action` entry (`takedown` / `dismiss`). A row's own button acts on its report
//! alone; otherwise the ticked ones (at most [`super::form::MAX_ITEMS`]). The whole form is
//! checked before anything runs: unreadable ids 400, another link's report 403 (audited as
//! the console's other refusals are), then an unknown report 404 and a closed one 409, each
//! with a message that says so.

use super::guard::{self, Signed};
use super::published::mine;
use super::reports_page::{store_failed, ReportsError};
use crate::moderation::commands::takedown::Target;
use crate::moderation::commands::Command;
use crate::store::prelude::*;
use crate::store::{LinkRecord, StoreError};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use civicbridge_api::{LinkId, MirrorId};
use std::collections::BTreeMap;

type AdminState = crate::ops::admin::AdminState;

/// Take down or dismiss: which, from the button pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    TakeDown,
    Dismiss,
}

impl Act {
    fn name(self) -> &'static str {
        match self {
            Act::TakeDown => "takedown",
            Act::Dismiss => "dismiss",
        }
    }

    fn command(self, m: MirrorId) -> Command {
        match self {
            Act::TakeDown => Command::Takedown(Target::Mirror(m)),
            Act::Dismiss => Command::Dismiss(m),
        }
    }
}

/// What the form asks: a row's own button (`one=takedown m7`) acts on that report alone;
/// otherwise the `action` button on every ticked report.
fn asked(form: &super::form::Form) -> Result<(Act, Vec<MirrorId>), String> {
    let act = |a: &str| match a {
        "takedown" => Ok(Act::TakeDown),
        "dismiss" => Ok(Act::Dismiss),
        _ => Err("Choose Take down or Dismiss.".to_owned()),
    };
    if let Some(one) = form.get("one") {
        let (a, id) = one.trim().split_once(' ').unwrap_or((one, ""));
        let id = id.trim().parse::<MirrorId>().map_err(|e| e.to_string())?;
        return Ok((act(a)?, vec![id]));
    }
    let a = act(form.get("action").unwrap_or_default())?;
    let mut seen = std::collections::BTreeSet::new();
    let mut ids = form.selected::<MirrorId>("report", "reports")?;
    // A report ticked twice is decided once (the second would only say it is closed).
    ids.retain(|id| seen.insert(*id));
    Ok((a, ids))
}

/// The commands a decision form asks for: each ticked report's link and message.
type Plan = Vec<(LinkId, MirrorId)>;

/// Every report ticked, each with its link, if all are the person's and open; checked whole
/// before anything runs: another link's report first (403), then a missing or closed one.
fn plan(
    store: &crate::store::Store,
    mine: &BTreeMap<&str, &LinkRecord>,
    ids: &[MirrorId],
) -> Result<Result<Plan, ReportsError>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        found.push((*id, store.report(*id)?));
    }
    let theirs = found.iter().find_map(|(id, r)| {
        r.as_ref()
            .filter(|r| !mine.contains_key(r.link.as_str()))
            .map(|r| (*id, r.link.clone()))
    });
    if let Some((id, link)) = theirs {
        return Ok(Err(ReportsError::NotYours { id, link }));
    }
    let mut plan = Vec::with_capacity(found.len());
    for (id, rec) in found {
        match rec {
            None => return Ok(Err(ReportsError::NoReport(id))),
            Some(r) if !r.open => return Ok(Err(ReportsError::Closed(id))),
            Some(r) => plan.push((r.link, id)),
        }
    }
    Ok(Ok(plan))
}

pub async fn decide(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (signed, form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let back = guard::back_to(&form, "/console/reports");
    let (act, ids) = match asked(&form) {
        Ok(a) => a,
        Err(why) => return signed.message(StatusCode::BAD_REQUEST, "Nothing done", &why),
    };
    if ids.is_empty() {
        signed.notice("Select at least one report first.".into());
        return Redirect::to(&back).into_response();
    }
    let links = signed.console.links();
    let mine = mine(&signed.session.person, &links);
    let plan = match plan(signed.console.store(), &mine, &ids) {
        Ok(Ok(p)) => p,
        Ok(Err(e @ ReportsError::NotYours { .. })) => return refuse(&signed, &ids, act, &e),
        Ok(Err(e)) => {
            let status = match e {
                ReportsError::Closed(_) => StatusCode::CONFLICT,
                _ => StatusCode::NOT_FOUND,
            };
            return signed.message(status, "Nothing done", &format!("Nothing done: {e}."));
        }
        Err(e) => return store_failed(&signed, &e),
    };
    let ran = match signed
        .run_all(
            plan.iter()
                .map(|(link, m)| (link.clone(), act.command(*m)))
                .collect(),
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return store_failed(&signed, &e),
    };
    signed.answer_all(
        act.name(),
        "reports",
        ids.iter().map(ToString::to_string).collect(),
        plan.iter().map(|(l, _)| l).collect(),
        &ran,
        &back,
    )
}

/// Refuses the whole form for another link's report (403), audited as the console's other
/// refusals are: a `console_action` `refused` on that link.
fn refuse(signed: &Signed, ids: &[MirrorId], act: Act, e: &ReportsError) -> Response {
    let link = match e {
        ReportsError::NotYours { link, .. } => Some(link),
        _ => None,
    };
    if let Err(err) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        "refused",
        link,
        serde_json::json!({
            "reports": ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "attempted": act.name(),
            "why": "not a moderator of the link",
        }),
    ) {
        tracing::error!(error = %err, "cannot audit a refused console request");
    }
    signed.message(
        StatusCode::FORBIDDEN,
        "Not yours",
        &format!("Nothing was done: {e}."),
    )
}

#[cfg(test)]
mod tests {
    use super::super::form::{Form, MAX_ITEMS};
    use super::*;

    #[test]
    fn decision_forms_are_read_strictly() {
        let read = |body: &str| asked(&Form::parse(body.as_bytes()).expect("form"));
        assert_eq!(
            read("action=dismiss&report=m3&report=4&report=3").expect("asked"),
            (Act::Dismiss, vec![MirrorId(3), MirrorId(4)])
        );
        // A row's own button acts on its report alone, whatever else is ticked.
        assert_eq!(
            read("action=dismiss&report=m3&one=takedown+m9").expect("asked"),
            (Act::TakeDown, vec![MirrorId(9)])
        );
        for bad in [
            "report=m3",
            "action=delete&report=m3",
            "action=dismiss&report=..%2Fm3",
            "action=dismiss&report=m-1",
            "action=dismiss&report=m99999999999999999999999",
            "one=takedown",
            "one=erase+m3",
            "one=takedown+%E2%80%AEm3",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let many = format!("action=dismiss{}", "&report=m1".repeat(MAX_ITEMS + 1));
        assert!(read(&many).unwrap_err().contains("At most"));
    }
}
