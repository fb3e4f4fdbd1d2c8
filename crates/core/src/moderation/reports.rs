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
//! hash, and the card names them as the link's privacy rules name residents to staff.

use crate::moderation::approval::{self, Actor};
use crate::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use crate::moderation::commands::permissions::{role, Role};
use crate::moderation::rules::Rules;
use crate::pipeline::render;
use crate::store::prelude::*;
use crate::store::reports::{Report, ReportRecord};
use crate::store::{Job, JobKind, LinkRecord, MirrorRecord, Tx, TxError};
use civicbridge_api::{MirrorId, RichText, RoomRef, Span, UserKey};

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
    }
    tx.put_report(&rec)?;
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
    let text = card(tx, m, &rec, None)?;
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

/// How a report ended, for its card.
#[derive(Debug)]
pub enum Closed<'a> {
    TakenDown(&'a str),
    Dismissed(&'a str),
}

/// The report card: the message, where it is, who reported it and why, what to do.
pub fn card(
    tx: &mut Tx<'_>,
    m: &MirrorRecord,
    rec: &ReportRecord,
    closed: Option<Closed<'_>>,
) -> Result<RichText, TxError> {
    let mut reporters = Vec::new();
    for r in &rec.reports {
        let shown = shown_reporter(tx, &m.link, r)?;
        reporters.push(match &r.reason {
            Some(why) => format!("{shown}: {why}"),
            None => shown,
        });
    }
    let rooms: Vec<String> = m
        .copies
        .iter()
        .filter(|c| !c.ids.is_empty())
        .map(|c| tx.room_label(&c.room))
        .collect();
    let head = match closed {
        None => format!("🚩 Reported {} · {} report(s)", m.id, rec.reports.len()),
        Some(Closed::TakenDown(by)) => format!("✅ Report on {} closed: taken down by {by}", m.id),
        Some(Closed::Dismissed(by)) => format!("❌ Report on {} dismissed by {by}", m.id),
    };
    let author = crate::privacy::shown_author(tx, m, &rec_moderation_room(tx, m)?)?.name;
    let mut spans = vec![
        Span::Bold(vec![Span::Text(head)]),
        Span::Text(format!(
            "\nMessage in {} by {author}, copies in {}{}",
            tx.room_label(&m.source),
            if rooms.is_empty() {
                "no room".to_owned()
            } else {
                rooms.join(", ")
            },
            if rec.hidden.is_empty() {
                ""
            } else {
                " (hidden pending a decision)"
            }
        )),
        Span::Quote(vec![Span::Text(render::excerpt(&m.text))]),
        Span::Text(format!("\nReported by: {}", reporters.join("; "))),
    ];
    if rec.open {
        spans.push(Span::Text(format!(
            "\nReact ✅ to take it down everywhere, ❌ to dismiss the report; or !takedown {id} / !dismiss {id}",
            id = m.id
        )));
    }
    Ok(RichText { spans })
}

/// A reporter as staff may see them: a resident by pseudonym where the link shows residents so.
fn shown_reporter(
    tx: &mut Tx<'_>,
    link: &civicbridge_api::LinkId,
    r: &Report,
) -> Result<String, TxError> {
    let pseudonyms = tx.rules(link)?.unwrap_or_default().resident_names
        == crate::moderation::rules::ResidentNames::Pseudonym;
    if pseudonyms && r.public {
        return Ok(tx.privacy_key()?.pseudonym(link, &r.by));
    }
    Ok(format!(
        "{} ({})",
        civicbridge_api::names::normalize(&r.name, civicbridge_api::names::MAX_NAME_CHARS),
        r.by.platform.label()
    ))
}

fn rec_moderation_room(tx: &Tx<'_>, m: &MirrorRecord) -> Result<RoomRef, TxError> {
    Ok(tx
        .link(&m.link)?
        .and_then(|l| l.moderation_room)
        .unwrap_or_else(|| m.source.clone()))
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
    rec.open = false;
    tx.put_report(&rec)?;
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
    rec.open = false;
    rec.hidden.clear();
    tx.put_report(&rec)?;
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
    rec.open = false;
    rec.hidden.clear();
    tx.put_report(&rec)?;
    update_card(tx, link, m, &rec, Closed::TakenDown(by))
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
    let text = card(tx, m, rec, Some(closed))?;
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
