//! Subject access (GDPR Art. 15 and 20): everything the store holds about one person, for
//! `civicbridge export --user PLATFORM:ID --out FILE`, as JSON with a readable summary.
//!
//! What it gathers, on every link: the messages they wrote (source, text, files, every copy
//! the bridge made and where), their held items, the audit entries about them (decisions on
//! their messages, which carry their keyed hash as `author`; refusals of their attempts; their
//! erasure; notes added about them) and the entries of their own acts as a moderator, the
//! moderators' notes about them, their reactions and reports, and the trusted and blocked lists that name
//! them. Nothing about anyone else: another person's message they replied to is not included,
//! only its bridge id. The caller audits the export (`exported`).

use crate::moderation::audit::AuditEntry;
use crate::store::notes::Note;
use crate::store::prelude::*;
use crate::store::{MirrorRecord, Store, StoreError};
use civicbridge_api::{LinkId, MirrorId, RoomRef, UserKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectExport {
    pub person: UserKey,
    /// How the audit log names them (`person:` and their keyed hash).
    pub audit_name: String,
    pub generated_at_ms: u64,
    pub messages: Vec<ExportedMessage>,
    pub held: Vec<ExportedHeld>,
    pub notes: Vec<ExportedNote>,
    pub reactions: Vec<ExportedReaction>,
    /// Reports they made on bridged messages.
    pub reports: Vec<ExportedReport>,
    /// Links whose trusted or blocked list names them.
    pub trusted_on: Vec<LinkId>,
    pub blocked_on: Vec<LinkId>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedMessage {
    pub id: MirrorId,
    pub link: LinkId,
    pub room: RoomRef,
    pub platform_message: String,
    pub at_ms: u64,
    pub display_name: String,
    pub text: String,
    pub files: Vec<String>,
    pub copies: Vec<(RoomRef, Vec<String>)>,
    pub deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedHeld {
    pub item: String,
    pub link: LinkId,
    pub message: MirrorId,
    pub held_at_ms: u64,
    pub why: String,
    pub going_to: Vec<RoomRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedNote {
    pub link: LinkId,
    #[serde(flatten)]
    pub note: Note,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedReport {
    pub link: LinkId,
    pub message: MirrorId,
    pub reason: Option<String>,
    pub at_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedReaction {
    pub link: LinkId,
    pub message: MirrorId,
    pub room: RoomRef,
    pub key: String,
}

/// Gathers what the store holds about `user`.
pub fn export(store: &Store, user: &UserKey) -> Result<SubjectExport, StoreError> {
    let key = store.privacy_key()?;
    let audit_name = crate::privacy::person_ref(&key, user);
    let user_hash = key.user_hash(user);
    let mine: Vec<MirrorRecord> = store.mirrors_by(user)?;
    let ids: Vec<MirrorId> = mine.iter().map(|m| m.id).collect();
    let messages = mine
        .iter()
        .map(|m| ExportedMessage {
            id: m.id,
            link: m.link.clone(),
            room: m.source.clone(),
            platform_message: m.source_msg.to_string(),
            at_ms: m.at_ms,
            display_name: m.author.display_name.clone(),
            text: m.text.to_plain(),
            files: m.attachments.iter().map(|a| a.name.clone()).collect(),
            copies: m
                .copies
                .iter()
                .map(|c| {
                    (
                        c.room.clone(),
                        c.ids.iter().map(|i| i.to_string()).collect(),
                    )
                })
                .collect(),
            deleted: m.deleted,
        })
        .collect();
    let held = store
        .pending()?
        .into_iter()
        .filter(|p| ids.contains(&p.mirror))
        .map(|p| ExportedHeld {
            item: p.reference(),
            link: p.link.clone(),
            message: p.mirror,
            held_at_ms: p.held_at_ms,
            why: p.reason.to_string(),
            going_to: p.targets.clone(),
        })
        .collect();
    let notes = store
        .notes_about(user)?
        .into_iter()
        .flat_map(|n| {
            let link = n.link.clone();
            n.notes.into_iter().map(move |note| ExportedNote {
                link: link.clone(),
                note,
            })
        })
        .collect();
    let reactions = store
        .reactions_by(user)?
        .into_iter()
        .flat_map(|r| {
            let (link, message) = (r.link.clone(), r.mirror);
            r.rooms.into_iter().flat_map(move |room| {
                let link = link.clone();
                room.people
                    .into_iter()
                    .filter(|p| &p.by == user)
                    .map(move |p| ExportedReaction {
                        link: link.clone(),
                        message,
                        room: room.room.clone(),
                        key: p.key,
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let reports = store
        .reports_by(user)?
        .into_iter()
        .flat_map(|r| {
            let (link, message) = (r.link.clone(), r.mirror);
            r.reports
                .into_iter()
                .filter(|p| &p.by == user)
                .map(move |p| ExportedReport {
                    link: link.clone(),
                    message,
                    reason: p.reason,
                    at_ms: p.at_ms,
                })
        })
        .collect();
    let (mut trusted_on, mut blocked_on) = (Vec::new(), Vec::new());
    for link in store.links()? {
        if let Some(rules) = store.rules(&link.id)? {
            if rules.trusted.contains(user) {
                trusted_on.push(link.id.clone());
            }
            if rules.blocked.contains(user) {
                blocked_on.push(link.id.clone());
            }
        }
    }
    let official = user.to_string();
    let audit = store
        .audit_log()?
        .into_iter()
        .filter(|e| {
            let d = &e.detail;
            e.actor == audit_name.as_str()
                || e.actor == official.as_str()
                || e.subject.as_deref() == Some(audit_name.as_str())
                || d["author"] == audit_name.as_str()
                || d["user_hash"] == user_hash.as_str()
        })
        .collect();
    Ok(SubjectExport {
        person: user.clone(),
        audit_name,
        generated_at_ms: crate::store::now_ms(),
        messages,
        held,
        notes,
        reactions,
        reports,
        trusted_on,
        blocked_on,
        audit,
    })
}

impl SubjectExport {
    /// Keeps only what belongs to `links` (an admin of some links asking with `!export` sees
    /// what those links hold, not what the others do). Audit entries about no link (an
    /// erasure, an earlier export) go too: they are the server admin's.
    pub fn restrict(&mut self, links: &[LinkId]) {
        let kept = |l: &LinkId| links.contains(l);
        self.messages.retain(|m| kept(&m.link));
        self.held.retain(|h| kept(&h.link));
        self.notes.retain(|n| kept(&n.link));
        self.reactions.retain(|r| kept(&r.link));
        self.reports.retain(|r| kept(&r.link));
        self.trusted_on.retain(kept);
        self.blocked_on.retain(kept);
        self.audit.retain(|e| e.link.as_ref().is_some_and(kept));
    }

    /// The counts its audit entry keeps (never the contents).
    pub fn counts(&self) -> serde_json::Value {
        serde_json::json!({
            "messages": self.messages.len(),
            "held": self.held.len(),
            "notes": self.notes.len(),
            "audit_entries": self.audit.len(),
        })
    }
}

/// [`export`], audited as `actor` (the person by their keyed hash, with counts), and flushed by
/// the caller like every change.
pub fn export_audited(
    store: &Store,
    user: &UserKey,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<SubjectExport, StoreError> {
    let e = export(store, user)?;
    store.transact(|tx| {
        tx.audit(crate::moderation::audit::AuditDraft {
            actor: actor.clone(),
            action: crate::moderation::audit::AuditAction::Exported,
            link: None,
            subject: Some(e.audit_name.clone()),
            detail: e.counts(),
        })
    })?;
    Ok(e)
}

/// The export as a person reads it: what there is, in plain words, with counts.
pub fn summary(e: &SubjectExport) -> String {
    let mut s = format!(
        "What this bridge holds about {}\n\n\
         Messages you wrote that it carried: {}\n\
         Of them held for a moderator now: {}\n\
         Notes moderators keep about you: {}\n\
         Reactions of yours it counts: {}\n\
         Trusted on: {}\nBlocked on: {}\n\
         Entries about you in its audit log: {}\n",
        e.person,
        e.messages.len(),
        e.held.len(),
        e.notes.len(),
        e.reactions.len(),
        list(&e.trusted_on),
        list(&e.blocked_on),
        e.audit.len(),
    );
    for m in &e.messages {
        s.push_str(&format!(
            "\n- message {} in {} ({} cop{}){}: {}",
            m.id,
            m.room,
            m.copies.len(),
            if m.copies.len() == 1 { "y" } else { "ies" },
            if m.deleted { ", deleted" } else { "" },
            m.text
        ));
    }
    for n in &e.notes {
        s.push_str(&format!("\n- note on link {}: {}", n.link, n.note.text));
    }
    s.push_str(
        "\n\nThe audit log names you by a keyed hash, never by your id: \
         the entries listed in the JSON are those that carry it.\n",
    );
    s
}

fn list(links: &[LinkId]) -> String {
    if links.is_empty() {
        return "no link".into();
    }
    links
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
