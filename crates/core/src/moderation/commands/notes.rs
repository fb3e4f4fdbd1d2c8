//! `!note WHO TEXT`: a moderator's private note about a sender, kept per link and shown on that
//! sender's later cards; `!note WHO` lists them. WHO is `platform:id`, or a held item (`#12`) for
//! its author, which also works when residents are shown by pseudonym.

use super::{Ctx, Outcome};
use crate::moderation::approval::ItemRef;
use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::store::notes::{Note, MAX_NOTE_CHARS};
use crate::store::prelude::*;
use crate::store::{Tx, TxError};
use civicbridge_api::UserKey;

/// Whom a note is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    User(UserKey),
    /// The author of a held item.
    Item(ItemRef),
}

pub fn note(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    about: &About,
    text: Option<&str>,
) -> Result<Outcome, TxError> {
    let (user, shown) = match about {
        About::User(u) => (u.clone(), u.to_string()),
        About::Item(item) => {
            let found = tx
                .pending_item(item.id)?
                .filter(|p| p.link == ctx.link.id)
                .map(|p| tx.mirror(p.mirror))
                .transpose()?
                .flatten();
            match found {
                Some(m) => (m.author.key(), format!("the author of {}", item.id)),
                None => {
                    return Ok(Outcome::declined(format!(
                        "There is no held item {} on link {}.",
                        item.id, ctx.link.id
                    )))
                }
            }
        }
    };
    let Some(text) = text else {
        let notes = tx.notes(&ctx.link.id, &user)?;
        if notes.is_empty() {
            return Ok(Outcome::reply(format!(
                "No notes about {shown} on link {}.",
                ctx.link.id
            )));
        }
        let lines: Vec<String> = notes.iter().map(line).collect();
        return Ok(Outcome::reply(format!(
            "Notes about {shown} on link {}:\n{}",
            ctx.link.id,
            lines.join("\n")
        )));
    };
    // One line, bounded: it is shown on every later card of this sender.
    let text = civicbridge_api::names::normalize(text, MAX_NOTE_CHARS);
    if text.is_empty() {
        return Ok(Outcome::declined("A note needs some text."));
    }
    let note = Note {
        by: ctx.actor.audit().to_string(),
        by_name: ctx.actor.display().to_owned(),
        at_ms: tx.now_ms(),
        text,
    };
    tx.add_note(&ctx.link.id, &user, note)?;
    let person = crate::privacy::person_ref(&tx.privacy_key()?, &user);
    tx.audit(AuditDraft {
        actor: ctx.actor.audit(),
        action: AuditAction::NoteAdded,
        link: Some(ctx.link.id.clone()),
        // The person by their keyed hash, the note by nothing: it is personal data, and the
        // log outlives erasure.
        subject: Some(person),
        detail: serde_json::json!({}),
    })?;
    Ok(Outcome::reply(format!(
        "Noted about {shown}; it shows on their later cards here."
    )))
}

/// A note as cards and `!note WHO` show it.
pub fn line(n: &Note) -> String {
    format!(
        "📝 {} ({}): {}",
        n.by_name,
        crate::moderation::cards::when(n.at_ms),
        n.text
    )
}
