//! Deleting the bridge's own messages when their time is up (a notice to a resident posted in
//! the room, `tell.rs`): one task sleeps until the earliest entry of the store's `expiring`
//! tree is due, then turns every due entry into an `Unsay` job in one transaction. A new entry
//! wakes it; a restart finds the entries in the store. It wakes at least every
//! [`RECHECK`] besides, so a clock step or a missed wake costs at most that.

use super::*;

/// The longest the task sleeps without looking.
const RECHECK: Duration = Duration::from_secs(60);

impl Outbox {
    /// Starts the expiry task on the outbox's tracker; it ends at shutdown.
    pub fn start_expiry(&self) {
        let outbox = self.clone();
        self.inner
            .tracker
            .spawn(async move { outbox.run_expiry().await });
    }

    async fn run_expiry(self) {
        let inner = &self.inner;
        loop {
            let now = crate::store::now_ms();
            let wait = match inner.store.expiring() {
                Ok(all) => match all.first() {
                    Some(e) if e.due_ms <= now => {
                        match inner.store.transact(|tx| tx.take_due(now)) {
                            Ok(jobs) => {
                                self.enqueue(&jobs);
                                Duration::ZERO
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot queue due deletions");
                                RECHECK
                            }
                        }
                    }
                    Some(e) => Duration::from_millis(e.due_ms - now).min(RECHECK),
                    None => RECHECK,
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the messages to delete");
                    RECHECK
                }
            };
            tokio::select! {
                _ = inner.shutdown.cancelled() => return,
                _ = inner.expiry_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
