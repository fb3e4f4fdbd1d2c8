//! The `Reactions` job: the bot's reactions on one message in one room brought in line with
//! the reactions people made on the message's other rooms (`pipeline::reactions::wanted`).
//!
//! It reads the tallies when it runs, removes what the bot shows and should not, then adds
//! what is missing (in that order: a Telegram bot has one reaction, and the new one replaces
//! the old). Each change is recorded once the platform confirmed it, so a crash repeats at most
//! the call in flight, which the connectors make harmless (`react` of a reaction that is there,
//! `unreact` of one that is not). A key the platform refuses for good is remembered as refused
//! for that room and not tried again; the job goes on with the others.

use super::*;
use crate::pipeline::reactions::wanted;
use crate::store::reactions::RoomReactions;
use civicbridge_api::MirrorId;

pub(super) async fn sync_reactions(
    inner: &Inner,
    conn: &Arc<dyn Connector>,
    caps: &Capabilities,
    job: &Job,
    m: &MirrorRecord,
) -> Result<(), JobError> {
    let target = &job.target;
    // From here on, a new change queues a job of its own: this one may have read too early.
    record(inner, m.id, target, |r| r.queued_at_ms = 0)?;
    let msg = match m.id_in(target) {
        Some(id) if caps.reactions && m.shared_in(target) => id.clone(),
        _ => return finish(inner, job),
    };
    let (Some(rec), Some(link)) = (inner.store.reactions(m.id)?, inner.store.link(&job.link)?)
    else {
        return finish(inner, job);
    };
    let rules = inner.store.rules(&job.link)?.unwrap_or_default();
    let want = wanted(
        &rec,
        target,
        |r| link.side_of(r),
        &rules,
        caps.reaction_keys,
        caps.max_bot_reactions,
    );
    let shown = rec
        .room(target)
        .map(|r| r.shown.clone())
        .unwrap_or_default();
    for key in shown.iter().filter(|k| !want.contains(k)) {
        match conn.unreact(&target.room, &msg, key).await {
            Ok(()) => {}
            Err(e) if e.is_retryable() => return Err(e.into()),
            // It cannot be removed (the platform lost the message, say): forget it rather
            // than try for ever.
            Err(e) => {
                tracing::warn!(mirror = %m.id, %target, key, error = %e, "cannot remove the bot's reaction")
            }
        }
        record(inner, m.id, target, |r| r.shown.retain(|k| k != key))?;
    }
    for key in want.iter().filter(|k| !shown.contains(k)) {
        match conn.react(&target.room, &msg, key).await {
            Ok(()) => record(inner, m.id, target, |r| r.shown.push(key.clone()))?,
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                tracing::warn!(mirror = %m.id, %target, key, error = %e, "reaction refused; not shown here");
                record(inner, m.id, target, |r| r.refused.push(key.clone()))?;
            }
        }
    }
    finish(inner, job)
}

/// Changes what is recorded for the bot's reactions on message `mirror` in `room`.
fn record(
    inner: &Inner,
    mirror: MirrorId,
    room: &RoomRef,
    change: impl Fn(&mut RoomReactions),
) -> Result<(), JobError> {
    inner.store.transact(|tx| {
        if let Some(old) = tx.reactions(mirror)? {
            let mut new = old.clone();
            change(new.room_mut(room));
            tx.put_reactions(Some(&old), &new)?;
        }
        Ok(())
    })?;
    Ok(())
}
