//! Change notifications for open queue and reports pages: the store's observer is told about
//! every committed transaction that held or decided something, or filed or closed a report
//! (`store::observe`), wherever it happened (a ✅ in Matrix, a command, another console, the
//! admin API, expiry). [`Changes`]
//! passes those notes on to the metrics unchanged and rings a bell (a broadcast with no
//! payload) that the event streams listen to. The bell carries nothing: each stream reads the
//! queue again and compares, so a missed or coalesced ring costs nothing but a little delay.

use crate::store::observe::{Observation, Observer};
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub struct Changes {
    bell: broadcast::Sender<()>,
    /// The observer the store had (the metrics), told first and unchanged.
    inner: Option<Arc<dyn Observer>>,
}

impl Changes {
    pub fn new(inner: Option<Arc<dyn Observer>>) -> Changes {
        Changes {
            // Rings only need to be noticed, not counted: a lagging listener reads the queue
            // once for all it missed.
            bell: broadcast::channel(16).0,
            inner,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.bell.subscribe()
    }

    /// Rings the bell by hand (a change that no observation notes).
    pub fn ring(&self) {
        let _ = self.bell.send(());
    }
}

/// Whether `o` may have changed what a queue or reports page shows.
fn moves_a_page(o: &Observation) -> bool {
    match o {
        Observation::Decided { .. } | Observation::Reports { .. } => true,
        Observation::Verdict { verdict, .. } => *verdict == "hold",
        Observation::Received { .. } => false,
    }
}

impl Observer for Changes {
    fn committed(&self, observations: Vec<Observation>) {
        let ring = observations.iter().any(moves_a_page);
        if let Some(inner) = &self.inner {
            inner.committed(observations);
        }
        if ring {
            self.ring();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::LinkId;

    #[test]
    fn holds_and_decisions_ring_other_notes_do_not() {
        let c = Changes::new(None);
        let mut rx = c.subscribe();
        c.committed(vec![Observation::Received {
            link: LinkId::new("l"),
            platform: civicbridge_api::Platform::new("x"),
        }]);
        assert!(rx.try_recv().is_err());
        c.committed(vec![Observation::Decided {
            link: LinkId::new("l"),
            waited_ms: 1,
        }]);
        assert!(rx.try_recv().is_ok());
        c.committed(vec![Observation::Reports {
            link: LinkId::new("l"),
        }]);
        assert!(rx.try_recv().is_ok(), "a report filed or closed rings too");
    }
}
