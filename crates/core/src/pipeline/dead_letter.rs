//! Dead letters: how a job or an event that cannot make progress is set aside so that the rest
//! of its room keeps moving ("one bad job never stops a room").
//!
//! A job is parked when it panics, when its record (or the record it sends) cannot be decoded or
//! keeps failing in the store [`PARK_AFTER_STORE_ERRORS`] times in a row, or when the platform
//! keeps answering it with a transient error [`PARK_AFTER_TRANSIENT`] times in a row while other
//! jobs to the same platform succeed (so a platform outage parks nothing: every job waits). An
//! event is parked when its handling panics or fails in the store on its own. Either way the
//! item moves to the store's parked tree (see `store/parked.rs`) in one transaction with an audit
//! entry and one notice to the link's moderation room naming the item and the reason; admins
//! retry or drop it (`!retry P3`, `!drop P3`, or the CLI).

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::store::{Job, JobKind, LinkRecord, ParkedItem, ParkedWhat, Store, StoreError, Tx};
use civicbridge_api::{Event, LinkId, RichText, RoomRef};
use std::collections::HashMap;

/// Consecutive store failures of one job before it is parked.
pub const PARK_AFTER_STORE_ERRORS: u32 = 5;
/// Consecutive transient failures of one job, while its platform accepts other jobs, before it
/// is parked.
pub const PARK_AFTER_TRANSIENT: u32 = 10;

/// Why a job or an event was parked. Its line (`Display`) is kept with the dead letter and shown
/// to the moderators; the audit log gets only [`ParkReason::kind`] and a hash of the line,
/// since a platform's or the store's words can quote the data they failed on and the log
/// outlives erasure. A panic's own message never leaves the log: it can quote a name or a
/// text (Rust's slicing panics do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParkReason {
    /// Its record, or the record it works on, cannot be decoded.
    Unreadable(String),
    /// The store kept failing on it.
    StoreFailing(String),
    /// The platform kept refusing this job alone, `times` in a row.
    KeepsFailing { times: u32, error: String },
    /// Running it panicked (the message is in the log).
    Panicked,
    /// Its link worker could not handle the event, alone, in the store.
    Unhandled(String),
}

impl ParkReason {
    /// A fixed word for the audit log and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ParkReason::Unreadable(_) => "unreadable",
            ParkReason::StoreFailing(_) => "store_failing",
            ParkReason::KeepsFailing { .. } => "keeps_failing",
            ParkReason::Panicked => "panicked",
            ParkReason::Unhandled(_) => "unhandled",
        }
    }
}

impl std::fmt::Display for ParkReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParkReason::Unreadable(e) => write!(f, "its record cannot be read: {e}"),
            ParkReason::StoreFailing(e) => write!(f, "the store keeps failing: {e}"),
            ParkReason::KeepsFailing { times, error } => {
                write!(f, "it failed {times} times in a row: {error}")
            }
            ParkReason::Panicked => f.write_str("it panicked (the log has the message)"),
            ParkReason::Unhandled(e) => write!(f, "{e}"),
        }
    }
}

/// The text of a panic payload, for the log only (see [`ParkReason::Panicked`]).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// Parks job `id` found in `lane`'s queue: out of the outbox, audited, the moderators told.
/// Returns the notice jobs to enqueue (none if the job was gone).
pub fn park_job(
    store: &Store,
    moderation_rooms: &HashMap<LinkId, RoomRef>,
    id: crate::store::JobId,
    lane: Option<&RoomRef>,
    reason: &ParkReason,
) -> Result<Vec<Job>, StoreError> {
    let line = reason.to_string();
    let notices = store.transact(|tx| {
        let Some(item) = tx.park_job(id, lane, &line)? else {
            return Ok(Vec::new());
        };
        audit(tx, &item, reason)?;
        let rooms: Vec<(LinkId, RoomRef)> = match &item.link {
            Some(l) => moderation_rooms
                .get(l)
                .map(|r| vec![(l.clone(), r.clone())])
                .unwrap_or_default(),
            // The record does not say whose it is: every moderation room hears of it.
            None => {
                let mut all: Vec<_> = moderation_rooms
                    .iter()
                    .map(|(l, r)| (l.clone(), r.clone()))
                    .collect();
                all.sort();
                all.dedup_by(|a, b| a.1 == b.1);
                all
            }
        };
        let mut jobs = Vec::new();
        for (link, room) in rooms {
            if notice_about_notice(&item, &room) {
                // A plain notice to this very room failed: telling the room again could fail the
                // same way, over and over. The log and `!parked` have it.
                tracing::error!(item = %item.id, "a notice to the moderation room was parked");
                continue;
            }
            let kind = notice(tx, &item);
            jobs.push(tx.push_job(&link, &room, kind)?);
        }
        Ok(jobs)
    })?;
    tracing::warn!(job = %id, lane = ?lane, reason = %line, "job parked");
    Ok(notices)
}

/// Parks an event its link worker could not handle, inside the caller's transaction: seen mark,
/// parked item, audit entry and the notice to the moderation room. Returns the notice jobs.
pub fn park_event(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    event: &Event,
    reason: &ParkReason,
) -> Result<Vec<Job>, crate::store::TxError> {
    let item = tx.park_event(&link.id, event, &reason.to_string())?;
    audit(tx, &item, reason)?;
    let mut jobs = Vec::new();
    // An event from the moderation room itself is reported there too: it is a command or a
    // reaction, and its author waits for an answer.
    if let Some(room) = &link.moderation_room {
        let kind = notice(tx, &item);
        jobs.push(tx.push_job(&link.id, room, kind)?);
    }
    Ok(jobs)
}

fn notice_about_notice(item: &ParkedItem, room: &RoomRef) -> bool {
    // Cards are reported (the moderators must learn that something is held); plain notices,
    // card edits and unreadable jobs to the room itself are not.
    matches!(&item.what, ParkedWhat::Job { target: Some(t), kind, .. }
        if t == room && kind.as_deref() != Some("card"))
}

fn notice(tx: &Tx<'_>, item: &ParkedItem) -> JobKind {
    // About the bridged message the job was for, so erasing its author removes the notice too.
    let about = match &item.what {
        ParkedWhat::Job { about, .. } => *about,
        ParkedWhat::Event { .. } => None,
    };
    JobKind::Notice {
        text: RichText::plain(format!(
            "⚠ Parked {}: {}. The rest of the room goes on. An admin can `!retry {}` or `!drop {}`; `!parked` lists what is parked.",
            item.id,
            describe(tx, item),
            item.id,
            item.id
        )),
        card: None,
        about,
    }
}

/// What was parked, with rooms named as people know them.
fn describe(r: &impl crate::store::Read, item: &ParkedItem) -> String {
    use crate::store::prelude::RuntimeLinkReads;
    match &item.what {
        ParkedWhat::Job {
            job, target, kind, ..
        } => format!(
            "{} job {job} to {} failed: {}",
            kind.as_deref().unwrap_or("an unreadable"),
            target
                .as_ref()
                .map_or_else(|| "an unknown room".to_owned(), |t| r.room_label(t)),
            item.reason
        ),
        ParkedWhat::Event { room, event_id, .. } => format!(
            "an event ({event_id}) in {} could not be handled: {}",
            r.room_label(room),
            item.reason
        ),
    }
}

fn audit(
    tx: &mut Tx<'_>,
    item: &ParkedItem,
    reason: &ParkReason,
) -> Result<(), crate::store::TxError> {
    let what = match &item.what {
        ParkedWhat::Job {
            job, target, kind, ..
        } => serde_json::json!({ "job": job, "target": target, "kind": kind }),
        ParkedWhat::Event { room, event_id, .. } => {
            serde_json::json!({ "event": event_id, "room": room })
        }
    };
    tx.audit(AuditDraft {
        actor: crate::moderation::audit::AuditActor::Bridge,
        action: AuditAction::Parked,
        link: item.link.clone(),
        subject: Some(item.id.to_string()),
        detail: serde_json::json!({
            "what": what,
            "reason": reason.kind(),
            "reason_sha256": crate::privacy::text_hash(&item.reason),
        }),
    })?;
    Ok(())
}
