//! Retention: per link, mirrored content older than `retention_days` is pruned, with its id
//! mappings (message index, thread map). Held items and messages with jobs still in the outbox
//! are kept until they are decided and done. Each bounded batch is one transaction carrying its
//! own audit entry (count and cutoff), so a crash never leaves a pruned batch unaccounted for.
//! The audit log itself is kept: its entries carry content hashes, never text.
//!
//! After pruning, an edit or delete of a pruned message is no longer relayed, a reply to it
//! crosses without its reply link, and a reply in a pruned thread is treated as a reply to a
//! message that never crossed (held). That is what forgetting means.

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};
use civicbridge_api::{LinkId, MirrorId};
use std::collections::HashSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Mirror records pruned per transaction.
const BATCH: usize = 256;

const DAY_MS: u64 = 24 * 3600 * 1000;

/// What one link's pruning did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub link: LinkId,
    pub cutoff_ms: u64,
    pub messages: usize,
}

/// Prunes every link with a retention period, as of `now_ms`. Links without one are untouched.
pub fn prune(
    store: &Store,
    now_ms: u64,
    actor: &crate::moderation::audit::AuditActor,
) -> Result<Vec<Pruned>, StoreError> {
    let mut out = Vec::new();
    for link in store.links()? {
        let days = store
            .rules(&link.id)?
            .map_or(0, |r| u64::from(r.retention_days));
        if days == 0 {
            continue;
        }
        let cutoff_ms = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
        // The dry-run history first: it keeps the words too.
        store.transact(|tx| tx.forget_seen(Some(&link.id), cutoff_ms, None).map(|_| ()))?;
        let old = store.mirrors_older_than(&link.id, cutoff_ms)?;
        let mut messages = 0;
        for batch in old.chunks(BATCH) {
            // Read just before the batch, so a hold or job added meanwhile keeps its message.
            let busy: HashSet<MirrorId> = store
                .pending()?
                .iter()
                .map(|p| p.mirror)
                .chain(store.outbox()?.iter().filter_map(|j| j.kind.mirror()))
                .collect();
            let n = store.transact(|tx| {
                let mut n = 0usize;
                for id in batch.iter().filter(|id| !busy.contains(id)) {
                    let Some(m) = tx.mirror(*id)? else { continue };
                    if m.at_ms >= cutoff_ms {
                        continue;
                    }
                    tx.remove_mirror(&m)?;
                    n += 1;
                }
                if n > 0 {
                    tx.audit(AuditDraft {
                        actor: actor.clone(),
                        action: AuditAction::Pruned,
                        link: Some(link.id.clone()),
                        subject: None,
                        detail: serde_json::json!({
                            "messages": n,
                            "retention_days": days,
                            "cutoff_ms": cutoff_ms,
                            "cutoff": crate::moderation::audit::rfc3339(cutoff_ms),
                        }),
                    })?;
                }
                Ok(n)
            })?;
            messages += n;
        }
        if messages > 0 {
            tracing::info!(link = %link.id, messages, cutoff_ms, "pruned old mirrored content");
        }
        out.push(Pruned {
            link: link.id,
            cutoff_ms,
            messages,
        });
    }
    Ok(out)
}

/// How often the daemon prunes. Retention is counted in days, so hourly is plenty.
pub const EVERY: Duration = Duration::from_secs(3600);

/// The daemon's pruning task: once at start, then every `every`, until shutdown.
pub async fn run(store: Store, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let s = store.clone();
        // Pruning scans the mirror tree: keep it off the async workers.
        let result = tokio::task::spawn_blocking(move || {
            prune(
                &s,
                crate::store::now_ms(),
                &crate::moderation::audit::AuditActor::Bridge,
            )
        })
        .await;
        match result {
            Ok(Ok(_)) => {
                if let Err(e) = store.flush().await {
                    tracing::warn!(error = %e, "flushing after pruning failed");
                }
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "pruning old content failed"),
            Err(e) => tracing::warn!(error = %e, "the pruning task failed"),
        }
    }
}
