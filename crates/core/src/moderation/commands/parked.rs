//! `!retry` and `!drop` (and `!parked`, listed by [`super::info`]): what admins do with dead
//! letters (see [`crate::pipeline::dead_letter`]). Only items of links moderated from the asking room.

use super::{Ctx, Outcome};
use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::store::parked::Retried;
use crate::store::prelude::*;
use crate::store::{Job, JobKind, ParkedId, ParkedItem, Tx, TxError};
use civicbridge_api::RichText;

/// Whether this room may act on the item: it moderates the item's link (an item whose link is
/// unknown belongs to every moderation room).
fn governs(tx: &Tx<'_>, ctx: &Ctx<'_>, item: &ParkedItem) -> Result<bool, TxError> {
    Ok(match &item.link {
        Some(l) => tx.link(l)?.is_some_and(|l| ctx.governs(&l)),
        None => true,
    })
}

fn audited(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    action: AuditAction,
    item: &ParkedItem,
) -> Result<(), TxError> {
    tx.audit(AuditDraft {
        actor: ctx.actor.audit(),
        action,
        link: item.link.clone(),
        subject: Some(item.id.to_string()),
        detail: serde_json::json!({ "reason": item.reason }),
    })?;
    Ok(())
}

/// `!retry P3`: a job goes back into its lane at once; an event is replayed by its link worker
/// right after this command commits (or at the next start, from the CLI).
pub fn retry(tx: &mut Tx<'_>, ctx: &Ctx<'_>, id: ParkedId) -> Result<Outcome, TxError> {
    let Some(item) = tx.parked_item(id)? else {
        return Ok(Outcome::reply(format!("There is no parked item {id}.")));
    };
    if !governs(tx, ctx, &item)? {
        return Ok(Outcome::reply(format!("There is no parked item {id}.")));
    }
    let mut jobs = Vec::new();
    let reply = match tx.retry_parked(id)? {
        None => format!("There is no parked item {id}."),
        Some(Retried::Job(job, item)) => {
            audited(tx, ctx, AuditAction::ParkedRetried, &item)?;
            match lane_of(&item, job) {
                Some(j) => {
                    jobs.push(j);
                    format!("{id}: back in the outbox, running again.")
                }
                None => format!("{id}: back in the outbox; it runs at the next start."),
            }
        }
        Some(Retried::Event(item)) => {
            audited(tx, ctx, AuditAction::ParkedRetried, &item)?;
            format!("{id}: the event is handled again now.")
        }
    };
    Ok(Outcome {
        reply,
        jobs,
        ..Outcome::default()
    })
}

/// `!drop P3`: removed for good, audited.
pub fn drop(tx: &mut Tx<'_>, ctx: &Ctx<'_>, id: ParkedId) -> Result<Outcome, TxError> {
    let Some(item) = tx.parked_item(id)? else {
        return Ok(Outcome::reply(format!("There is no parked item {id}.")));
    };
    if !governs(tx, ctx, &item)? {
        return Ok(Outcome::reply(format!("There is no parked item {id}.")));
    }
    tx.drop_parked(id)?;
    audited(tx, ctx, AuditAction::ParkedDropped, &item)?;
    Ok(Outcome::reply(format!("{id}: dropped.")))
}

/// What the outbox needs to hand a retried job to its lane: its id and target (the record
/// itself may be unreadable, which is why it was parked; the lane reads it from the store).
fn lane_of(item: &ParkedItem, job: crate::store::JobId) -> Option<Job> {
    let crate::store::ParkedWhat::Job {
        target: Some(target),
        ..
    } = &item.what
    else {
        return None;
    };
    Some(Job {
        id: job,
        link: item
            .link
            .clone()
            .unwrap_or_else(|| civicbridge_api::LinkId::new("?")),
        target: target.clone(),
        kind: JobKind::notice(RichText::plain("")),
        created_ms: item.at_ms,
        parts_done: 0,
        attempts: 0,
    })
}
