//! Queue hygiene: a reminder in the moderation room when held items wait too long, and expiry of
//! items nobody decided (audited, the moderators told).
//!
//! A periodic [`sweep`] does both. Which reminders were sent is one high-water mark per link in
//! the store ("every item whose reminder fell due up to T has had it"), so a restart neither
//! repeats reminders nor forgets the ones that fell due while the bridge was down. The held
//! items themselves are already durable: the queue survives restarts by construction.

use crate::moderation::approval;
use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::moderation::cards::Withdrawal;
use crate::pipeline::outbox::Outbox;
use crate::store::prelude::*;
use crate::store::{Job, JobKind, LinkRecord, PendingItem, Store, StoreError, Tx, TxError};
use civicbridge_api::{RichText, RoomRef};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What one sweep did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Notices to hand to the outbox once the store is flushed.
    pub jobs: Vec<Job>,
    pub reminded: usize,
    pub expired: usize,
}

/// Reminds about and expires the held items of every link, as of `now_ms`.
pub fn sweep(store: &Store, now_ms: u64) -> Result<Swept, StoreError> {
    let pending = store.pending()?;
    let mut swept = Swept::default();
    if pending.is_empty() {
        return Ok(swept);
    }
    for link in store.links()? {
        let items: Vec<&PendingItem> = pending.iter().filter(|i| i.link == link.id).collect();
        if items.is_empty() {
            continue;
        }
        let rules = store.rules(&link.id)?.unwrap_or_default();
        if rules.expire_after_secs > 0 {
            let limit = rules.expire_after_secs.saturating_mul(1000);
            for item in items
                .iter()
                .filter(|i| i.held_at_ms.saturating_add(limit) <= now_ms)
            {
                store.transact(|tx| expire(tx, &link, item, limit, &mut swept))?;
            }
        }
        if rules.remind_after_secs > 0 {
            let after = rules.remind_after_secs.saturating_mul(1000);
            store.transact(|tx| remind(tx, &link, &items, after, now_ms, &mut swept))?;
        }
    }
    Ok(swept)
}

fn expire(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    item: &PendingItem,
    limit_ms: u64,
    swept: &mut Swept,
) -> Result<(), TxError> {
    // A moderator may have decided it since the scan.
    let Some(item) = tx.pending_item(item.id)? else {
        return Ok(());
    };
    let id = item.id;
    // Like any withdrawal: out of the queue and off its message, the card marked, audited.
    let why = Withdrawal::Expired {
        after: span(limit_ms),
    };
    match tx.mirror(item.mirror)? {
        Some(mut mirror) => {
            swept.jobs.extend(approval::withdraw(
                tx,
                link,
                item,
                &mut mirror,
                &why,
                &crate::moderation::audit::AuditActor::Bridge,
            )?);
        }
        // Its message is gone (it cannot be, while held; but a queue must drain whatever).
        None => {
            tx.remove_pending(id)?;
            tx.audit(AuditDraft {
                actor: crate::moderation::audit::AuditActor::Bridge,
                action: AuditAction::Expired,
                link: Some(link.id.clone()),
                subject: Some(id.to_string()),
                detail: serde_json::json!({ "mirror": item.mirror, "reason": why.reason() }),
            })?;
        }
    }
    if let Some(room) = &link.moderation_room {
        let text = format!(
            "{} expired: nobody decided within {}, so it was not relayed.",
            id,
            span(limit_ms)
        );
        swept.jobs.push(notice(tx, link, room, text)?);
    }
    swept.expired += 1;
    Ok(())
}

fn remind(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    items: &[&PendingItem],
    after_ms: u64,
    now_ms: u64,
    swept: &mut Swept,
) -> Result<(), TxError> {
    let Some(room) = &link.moderation_room else {
        return Ok(());
    };
    let since = tx.reminded_until(&link.id)?.unwrap_or(0);
    let mut lines = Vec::new();
    for item in items {
        let due = item.held_at_ms.saturating_add(after_ms);
        if due <= since || due > now_ms || tx.pending_item(item.id)?.is_none() {
            continue;
        }
        // The item by id, age and reason only: its card shows who wrote what. A reminder lists
        // items of many people and no erasure could take one of them out of it again.
        lines.push(format!(
            "{} waiting {} · held: {} (see its card)",
            item.reference(),
            span(now_ms.saturating_sub(item.held_at_ms)),
            item.reason
        ));
    }
    if lines.is_empty() {
        return Ok(());
    }
    let text = format!(
        "Reminder: {} held item(s) still wait for a decision in link {}:\n{}",
        lines.len(),
        link.id,
        lines.join("\n")
    );
    swept.reminded += lines.len();
    swept.jobs.push(notice(tx, link, room, text)?);
    tx.set_reminded_until(&link.id, now_ms)
}

fn notice(
    tx: &mut Tx<'_>,
    link: &LinkRecord,
    room: &RoomRef,
    text: String,
) -> Result<Job, TxError> {
    let kind = JobKind::notice(RichText::plain(text));
    tx.push_job(&link.id, room, kind)
}

/// A duration as a moderator would say it: `45 s`, `20 min`, `3 h`, `2 d`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// Sweeps every `every` until shutdown. The notices reach the outbox only after a flush, like
/// everything else the bridge decides; if the flush fails they are re-driven at the next start.
pub async fn run(store: Store, outbox: Outbox, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let swept = match sweep(&store, crate::store::now_ms()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "queue sweep failed");
                continue;
            }
        };
        if swept.jobs.is_empty() {
            continue;
        }
        if let Err(e) = store.flush().await {
            tracing::warn!(error = %e, "flush after queue sweep failed; notices wait for restart");
            continue;
        }
        tracing::info!(
            reminded = swept.reminded,
            expired = swept.expired,
            "queue sweep"
        );
        outbox.enqueue(&swept.jobs);
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans_read_like_speech() {
        assert_eq!(span(4_000), "4 s");
        assert_eq!(span(20 * 60_000), "20 min");
        assert_eq!(span(3 * 3_600_000 + 5), "3 h");
        assert_eq!(span(2 * 86_400_000), "2 d");
    }
}
