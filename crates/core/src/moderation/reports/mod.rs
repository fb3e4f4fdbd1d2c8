//! Reports from every side: a resident replies `/report [reason]` (Telegram) or `!report`
//! (Discord) to a bridged message, or reacts 🚩 to it; a staff member replies `!report` in
//! Matrix. A report card appears in the link's moderation room with the message, where its
//! copies are, how many reported it and their reasons. ✅ on it (or `!takedown mN`) takes every
//! copy down; ❌ (or `!dismiss mN`) dismisses the report. With `hide_after_reports = N`, once N
//! different people reported a message its copies are taken down pending the decision, and a
//! dismissal sends them again.
//!
//! Each person counts once; a blocked sender's reports are ignored; the report itself never
//! crosses. Reporters are residents: the audit log names them by keyed hash, their reasons by
//! hash, and the card names them as the link's privacy rules name residents to staff
//! ([`card`]: the one view of a report, for the card and the console's Reports page). Filing
//! and closing a report is noted ([`Observation::Reports`]) so open console pages follow it.

pub mod card;

pub use card::{view, Closed, ReportView, ShownCopy, ShownReport};

use crate::moderation::approval::{self, Actor};
use crate::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use crate::moderation::commands::permissions::{role, Role};
use crate::moderation::rules::Rules;
use crate::store::observe::Observation;
use crate::store::prelude::*;
use crate::store::reports::{Report, ReportRecord};
use crate::store::{Job, JobKind, LinkRecord, MirrorRecord, Tx, TxError};
use civicbridge_api::{MirrorId, UserKey};

/// The longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 300;

/// The reason in a report command (`/report spam`, `/report@civicbot spam`, `!report`), if
/// `text` is one; `Some(None)` for a report without a reason.
pub fn parse_command(text: &str) -> Option<Option<String>> {
    let t = text.trim();
    let rest = t
        .strip_prefix("/report")
        .or_else(|| t.strip_prefix("!report"))?;
    // `/report@botname` is how Telegram writes a command to one bot in a group.
    let rest = match rest.strip_prefix('@') {
        Some(r) => r.split_once(char::is_whitespace).map_or("", |(_, r)| r),
        None if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        None => return None,
    };
    let reason = civicbridge_api::names::normalize(rest.trim(), MAX_REASON_CHARS);
    Some((!rest.trim().is_empty()).then_some(reason))
}

/// Who reports, and why.
#[derive(Debug, Clone)]
pub struct Reporter<'a> {
    pub key: UserKey,
    /// Their display name, and whether they report from a public room (a resident).
    pub name: &'a str,
    pub public: bool,
    pub reason: Option<String>,
}

/// Records a report on `m`. Returns the jobs (the card, its update, hidden copies).
pub fn report(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    rules: &Rules,
    m: &MirrorRecord,
    reporter: Reporter<'_>,
) -> Result<Vec<Job>, TxError> {
    let Reporter {
        key: by,
        name: by_name,
        public,
        reason,
    } = reporter;
    let by = &by;
    if rules.blocked.contains(by) {
        return Ok(Vec::new());
    }
    let mut rec = tx.report(m.id)?.unwrap_or_else(|| ReportRecord {
        mirror: m.id,
        link: link.id.clone(),
        reports: Vec::new(),
        open: false,
        card: None,
        hidden: Vec::new(),
        hidden_at_ms: None,
    });
    if rec.reports.iter().any(|r| &r.by == by) {
        return Ok(Vec::new());
    }
    rec.reports.push(Report {
        by: by.clone(),
        name: by_name.to_owned(),
        public,
        reason: reason.clone(),
        at_ms: tx.now_ms(),
    });
    let reopened = !rec.open;
    rec.open = true;
    let mut jobs = Vec::new();
    let threshold = rules.hide_after_reports as usize;
    if threshold > 0 && rec.reports.len() >= threshold && rec.hidden.is_empty() {
        for c in m.copies.iter().filter(|c| !c.ids.is_empty()) {
            rec.hidden.push(c.room.clone());
            jobs.push(tx.push_job(&link.id, &c.room, JobKind::Delete { mirror: m.id })?);
        }
        if !rec.hidden.is_empty() {
            rec.hidden_at_ms = Some(tx.now_ms());
        }
    }
    tx.put_report(&rec)?;
    tx.observe(Observation::Reports {
        link: link.id.clone(),
    });
    let key = tx.privacy_key()?;
    tx.audit(AuditDraft {
        actor: AuditActor::Hashed(key.user_hash(by)),
        action: AuditAction::Reported,
        link: Some(link.id.clone()),
        subject: Some(m.id.to_string()),
        detail: serde_json::json!({
            "author": crate::privacy::person_ref(&key, &m.author.key()),
            "reports": rec.reports.len(),
            "reason_sha256": reason.as_deref().map(crate::privacy::text_hash),
            "hidden": rec.hidden,
        }),
    })?;
    let Some(room) = &link.moderation_room else {
        return Ok(jobs);
    };
    let text = card::card(&view(tx, m, &rec)?, None);
    match (&rec.card, reopened) {
        (Some((card_room, msg)), false) => jobs.push(tx.push_job(
            &link.id,
            card_room,
            JobKind::EditNotice {
                message: msg.clone(),
                text,
                about: Some(m.id),
            },
        )?),
        // A first report, or a new one after a decision: a card of its own.
        _ => jobs.push(tx.push_job(&link.id, room, JobKind::ReportCard { mirror: m.id, text })?),
    }
    Ok(jobs)
}

/// Why a decision on a report was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDecided {
    NoOpenReport(MirrorId),
    NotAModerator,
}

impl NotDecided {
    pub fn text(&self) -> String {
        match self {
            NotDecided::NoOpenReport(m) => format!("There is no open report on {m}."),
            NotDecided::NotAModerator => {
                "Sorry, only the link's moderators can decide reports.".into()
            }
        }
    }
}

/// ❌ or `!dismiss mN`: the report is closed; copies hidden because of it are sent again.
pub fn dismiss(
    tx: &mut Tx<'_>,
    mirror: MirrorId,
    actor: &Actor,
) -> Result<Result<Vec<Job>, NotDecided>, TxError> {
    let (mut rec, m, link) = match open_report(tx, mirror, actor)? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let mut jobs = Vec::new();
    let mut m = m;
    if !m.deleted {
        for room in std::mem::take(&mut rec.hidden) {
            jobs.push(tx.push_job(&link.id, &room, JobKind::send(m.id, m.text.clone()))?);
            approval::release(&mut m, &room);
        }
        tx.put_mirror(&m)?;
    }
    close(tx, &mut rec)?;
    tx.audit(AuditDraft {
        actor: actor.audit(),
        action: AuditAction::ReportDismissed,
        link: Some(link.id.clone()),
        subject: Some(m.id.to_string()),
        detail: serde_json::json!({ "reports": rec.reports.len() }),
    })?;
    jobs.extend(update_card(
        tx,
        &link,
        &m,
        &rec,
        Closed::Dismissed(actor.display()),
    )?);
    Ok(Ok(jobs))
}

/// ✅ on a report card: the message is taken down everywhere (`approval::take_down`).
pub fn take_down(
    tx: &mut Tx<'_>,
    mirror: MirrorId,
    actor: &Actor,
) -> Result<Result<Vec<Job>, NotDecided>, TxError> {
    let (mut rec, mut m, link) = match open_report(tx, mirror, actor)? {
        Ok(found) => found,
        Err(e) => return Ok(Err(e)),
    };
    let mut jobs = Vec::new();
    if !m.deleted {
        jobs = approval::take_down(
            tx,
            &link,
            &mut m,
            &actor.audit(),
            actor.display(),
            "report card",
        )?
        .0;
    }
    rec.hidden.clear();
    close(tx, &mut rec)?;
    jobs.extend(update_card(
        tx,
        &link,
        &m,
        &rec,
        Closed::TakenDown(actor.display()),
    )?);
    Ok(Ok(jobs))
}

/// Closes the report on `m` after a takedown by other means (`!takedown`), if one is open.
pub fn close_after_takedown(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    m: &MirrorRecord,
    by: &str,
) -> Result<Vec<Job>, TxError> {
    let Some(mut rec) = tx.report(m.id)?.filter(|r| r.open) else {
        return Ok(Vec::new());
    };
    rec.hidden.clear();
    close(tx, &mut rec)?;
    update_card(tx, link, m, &rec, Closed::TakenDown(by))
}

/// Stores `rec` closed, and notes it for open console pages.
fn close(tx: &mut Tx<'_>, rec: &mut ReportRecord) -> Result<(), TxError> {
    rec.open = false;
    if rec.hidden.is_empty() {
        rec.hidden_at_ms = None;
    }
    tx.put_report(rec)?;
    tx.observe(Observation::Reports {
        link: rec.link.clone(),
    });
    Ok(())
}

fn open_report(
    tx: &mut Tx<'_>,
    mirror: MirrorId,
    actor: &Actor,
) -> Result<Result<(ReportRecord, MirrorRecord, LinkRecord), NotDecided>, TxError> {
    let (Some(rec), Some(m)) = (tx.report(mirror)?, tx.mirror(mirror)?) else {
        return Ok(Err(NotDecided::NoOpenReport(mirror)));
    };
    let Some(link) = tx.link(&rec.link)? else {
        return Ok(Err(NotDecided::NoOpenReport(mirror)));
    };
    if role(&link, actor) < Role::Moderator {
        let attempted = approval::Attempt {
            kind: "report decision",
            content: "report decision",
        };
        approval::audit_refusal(
            tx,
            actor,
            &link,
            Some(mirror.to_string()),
            attempted,
            Role::Moderator,
        )?;
        return Ok(Err(NotDecided::NotAModerator));
    }
    if !rec.open {
        return Ok(Err(NotDecided::NoOpenReport(mirror)));
    }
    Ok(Ok((rec, m, link)))
}

fn update_card(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    m: &MirrorRecord,
    rec: &ReportRecord,
    closed: Closed<'_>,
) -> Result<Vec<Job>, TxError> {
    let Some((room, msg)) = rec.card.clone() else {
        return Ok(Vec::new());
    };
    let text = card::card(&view(tx, m, rec)?, Some(closed));
    Ok(vec![tx.push_job(
        &link.id,
        &room,
        JobKind::EditNotice {
            message: msg,
            text,
            about: Some(m.id),
        },
    )?])
}
