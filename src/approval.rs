//! Moderator commands and decisions on held messages.
//!
//! A command is an ordinary message in a link's moderation room that starts with `!`; a reaction
//! ✅ or ❌ on an approval card is a decision too. Decisions are taken inside the caller's store
//! transaction: the item leaves the pending tree, its jobs enter the outbox, and the audit entry
//! is written, all or nothing.

use crate::audit::{AuditAction, AuditDraft};
use crate::render;
use crate::store::{
    Job, JobKind, LinkRecord, MirrorRecord, PendingItem, PendingKind, StoreError, Tx, TxFailure,
};
use civicbridge_api::{PendingId, RichText, RoomRef, Span};

/// A command a moderator can type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Approve(PendingId),
    Reject(PendingId, Option<String>),
    Queue,
    Help,
}

pub const USAGE: &str = "Commands: !approve ID · !reject ID [reason] · !queue · !help";

/// Parses a moderation-room message. `None` if it is not a command (does not start with `!`);
/// `Some(Err(usage))` if it is one but malformed or unknown.
pub fn parse(text: &str) -> Option<Result<Command, String>> {
    let text = text.trim();
    let rest = text.strip_prefix('!')?;
    let mut words = rest.splitn(3, char::is_whitespace);
    let verb = words.next().unwrap_or_default().to_lowercase();
    let id = words.next().map(str::parse::<PendingId>);
    let tail = words
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some(match (verb.as_str(), id) {
        ("approve", Some(Ok(id))) => Ok(Command::Approve(id)),
        ("reject", Some(Ok(id))) => Ok(Command::Reject(id, tail)),
        ("approve" | "reject", _) => Err(format!("usage: !{verb} ID (for example !{verb} #12)")),
        ("queue", None) => Ok(Command::Queue),
        ("help", _) => Ok(Command::Help),
        _ => Err(format!("unknown command `!{verb}`. {USAGE}")),
    })
}

/// Who takes a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, as `platform:user`, checked against the link's moderators.
    Person(String),
    /// An admin at the command line (who can already read and write the data directory).
    Cli,
}

impl Actor {
    pub fn name(&self) -> &str {
        match self {
            Actor::Person(p) => p,
            Actor::Cli => "cli",
        }
    }
}

/// A moderator's decision on one held item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject(Option<String>),
}

/// What a decision produced.
#[derive(Debug)]
pub struct Decided {
    pub item: PendingItem,
    pub jobs: Vec<Job>,
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("there is no held item {0} (already decided?)")]
    NoSuchItem(PendingId),
    #[error("only the link's moderators can decide")]
    NotAModerator,
}

/// Applies `decision` to item `id` on behalf of `actor`, inside `tx`.
/// A refusal by permission is audited; the caller reports refusals to the moderation room.
pub fn decide(
    tx: &mut Tx<'_>,
    id: PendingId,
    decision: &Decision,
    actor: &Actor,
) -> Result<Result<Decided, Refusal>, TxFailure> {
    let Some(item) = tx.pending(id)? else {
        return Ok(Err(Refusal::NoSuchItem(id)));
    };
    let link: LinkRecord = tx
        .link(&item.link)?
        .ok_or_else(|| StoreError::NotFound(format!("link `{}`", item.link)))?;
    let allowed = match actor {
        Actor::Person(p) => link.is_moderator(p),
        Actor::Cli => true,
    };
    if !allowed {
        tx.audit(AuditDraft {
            actor: actor.name().to_owned(),
            action: AuditAction::Refused,
            link: Some(item.link.clone()),
            subject: Some(id.to_string()),
            detail: serde_json::json!({ "attempted": format!("{decision:?}"), "why": "not a moderator" }),
        })?;
        return Ok(Err(Refusal::NotAModerator));
    }
    let mut mirror = tx.mirror_required(item.mirror)?;
    tx.remove_pending(id)?;
    let mut jobs = Vec::new();
    let action = match decision {
        Decision::Reject(_) => AuditAction::Rejected,
        Decision::Approve => {
            match &item.kind {
                PendingKind::Message => {
                    if !mirror.deleted {
                        for target in &item.targets {
                            jobs.push(tx.push_job(
                                &item.link,
                                target,
                                JobKind::Send { mirror: mirror.id },
                            )?);
                        }
                    }
                    // Approving a thread root publishes its thread.
                    if mirror.thread_root.is_none() {
                        mirror.published = true;
                    }
                }
                PendingKind::Edit { text } => {
                    mirror.text = text.clone();
                    for target in &item.targets {
                        jobs.push(tx.push_job(
                            &item.link,
                            target,
                            JobKind::Edit { mirror: mirror.id },
                        )?);
                    }
                }
            }
            tx.put_mirror(&mirror)?;
            match item.kind {
                PendingKind::Message => AuditAction::Approved,
                PendingKind::Edit { .. } => AuditAction::EditApproved,
            }
        }
    };
    tx.audit(AuditDraft {
        actor: actor.name().to_owned(),
        action,
        link: Some(item.link.clone()),
        subject: Some(id.to_string()),
        detail: serde_json::json!({
            "mirror": mirror.id,
            "author": mirror.author.key(),
            "source": mirror.source,
            // A hash, never the text: the log outlives retention and erasure.
            "text_sha256": crate::privacy::content_hash(&mirror.text),
            "targets": item.targets,
            "reason": match decision { Decision::Reject(r) => r.clone(), Decision::Approve => None },
        }),
    })?;
    Ok(Ok(Decided { item, jobs }))
}

/// The text of an approval card for a held item.
pub fn card_text(item: &PendingItem, mirror: &MirrorRecord) -> RichText {
    let what = match &item.kind {
        PendingKind::Message => "Held",
        PendingKind::Edit { .. } => "Edit held",
    };
    let text = match &item.kind {
        PendingKind::Message => &mirror.text,
        PendingKind::Edit { text } => text,
    };
    let targets: Vec<String> = item.targets.iter().map(RoomRef::to_string).collect();
    let mut spans = vec![
        Span::Bold(vec![Span::Text(format!("{what} {}", item.id))]),
        Span::Text(format!(
            " from {} in {} → {}\nReason: {}\n",
            render::attribution(mirror).trim_end_matches(':'),
            mirror.source,
            targets.join(", "),
            item.reason
        )),
        Span::Quote(text.spans.clone()),
    ];
    for a in &mirror.attachments {
        spans.push(Span::Text(format!("\n[{}: {}]", a.kind.as_str(), a.name)));
    }
    spans.push(Span::Text(format!(
        "\nReact ✅ or ❌, or reply !approve {id} / !reject {id} [reason]",
        id = item.id
    )));
    RichText { spans }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_explains_mistakes() {
        assert_eq!(parse("hello"), None);
        assert_eq!(
            parse("!approve #3"),
            Some(Ok(Command::Approve(PendingId(3))))
        );
        assert_eq!(
            parse("  !APPROVE 3 "),
            Some(Ok(Command::Approve(PendingId(3))))
        );
        assert_eq!(
            parse("!reject 4 off topic, sorry"),
            Some(Ok(Command::Reject(
                PendingId(4),
                Some("off topic, sorry".into())
            )))
        );
        assert_eq!(
            parse("!reject 4"),
            Some(Ok(Command::Reject(PendingId(4), None)))
        );
        assert_eq!(parse("!queue"), Some(Ok(Command::Queue)));
        assert!(parse("!approve").is_some_and(|r| r.unwrap_err().starts_with("usage: !approve ID")));
        assert!(parse("!approve x").is_some_and(|r| r.is_err()));
        assert!(
            parse("!dance").is_some_and(|r| r.unwrap_err().contains("unknown command `!dance`"))
        );
    }
}
