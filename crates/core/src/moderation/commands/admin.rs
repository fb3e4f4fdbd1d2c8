//! `!rules`, `!reasons`, `!set`, `!trust`, `!block`: reading and changing a link's rules from the
//! moderation room. Changes are audited (`rules_changed`) in the command's own transaction; the
//! link worker picks the new rules up before its next batch.

use super::{Ctx, Outcome};
use crate::moderation::rules::{Rules, UserKey};
use crate::store::prelude::*;
use crate::store::{LinkRecord, Tx, TxError};

pub fn show_rules(tx: &mut Tx<'_>, link: &LinkRecord) -> Result<Outcome, TxError> {
    let rules = tx.rules(&link.id)?.unwrap_or_default();
    let text = toml::to_string(&rules).unwrap_or_else(|e| format!("(cannot show: {e})"));
    Ok(Outcome::reply(format!(
        "Rules of link {}:\n{text}",
        link.id
    )))
}

/// `!reasons`: one line per reason, code first, as `!reject` takes it.
pub fn show_reasons(tx: &mut Tx<'_>, link: &LinkRecord) -> Result<Outcome, TxError> {
    let rules = tx.rules(&link.id)?.unwrap_or_default();
    let mut text = format!(
        "Reasons of link {} (!reject #ID CODE [your words]):",
        link.id
    );
    for r in &rules.reasons {
        text.push_str(&format!("\n{} — {}", r.code, r.label));
    }
    if rules.reasons.is_empty() {
        text.push_str("\n(none: give reasons in your own words)");
    }
    Ok(Outcome::reply(text))
}

/// `!set --dry-run`: the change tried on the link's recent messages; nothing is changed.
pub fn dry_run(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    key: &str,
    value: &str,
) -> Result<Outcome, TxError> {
    let current = tx.rules(&link.id)?.unwrap_or_default();
    let mut changed = current.clone();
    if let Err(e) = changed.set(key, value) {
        return Ok(Outcome::declined(format!("Not a valid change: {e}")));
    }
    let compile = |r: Rules| crate::moderation::CompiledRules::new(r);
    let (Ok(old), Ok(new)) = (compile(current.clone()), compile(changed)) else {
        return Ok(Outcome::declined(
            "Not a valid change: a pattern does not compile",
        ));
    };
    let history = tx.history(&link.id)?;
    let d = crate::moderation::dry_run::dry_run(&history, &old, &new);
    Ok(Outcome::reply(crate::moderation::dry_run::text(
        link.id.as_str(),
        key,
        value,
        current.history_size,
        &d,
    )))
}

pub fn set(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    link: &LinkRecord,
    key: &str,
    value: &str,
) -> Result<Outcome, TxError> {
    let changed = tx.change_rules(&link.id, &ctx.actor.audit(), key, |r| r.set(key, value))?;
    Ok(Outcome::reply(match changed {
        Ok(_) => format!("{}: {key} is now {value}", link.id),
        Err(e) => format!("Not changed: {e}"),
    }))
}

/// Puts `user` on the trusted list (`trust`) or the blocked list; each removes it from the other.
pub fn trust(
    tx: &mut Tx<'_>,
    ctx: &Ctx<'_>,
    link: &LinkRecord,
    user: &UserKey,
    trust: bool,
) -> Result<Outcome, TxError> {
    let subject = if trust { "trusted" } else { "blocked" };
    let changed = tx.change_rules(&link.id, &ctx.actor.audit(), subject, |r: &mut Rules| {
        let (add, remove) = if trust {
            (&mut r.trusted, &mut r.blocked)
        } else {
            (&mut r.blocked, &mut r.trusted)
        };
        remove.retain(|u| u != user);
        if !add.contains(user) {
            add.push(user.clone());
        }
        Ok(())
    })?;
    Ok(Outcome::reply(match changed {
        Ok(_) if trust => format!("{user} is now trusted on link {}", link.id),
        Ok(_) => format!(
            "{user} is now blocked on link {}: their messages no longer cross",
            link.id
        ),
        Err(e) => format!("Not changed: {e}"),
    }))
}
