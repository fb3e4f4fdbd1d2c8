//! What committed transactions tell the metrics: a transaction body notes what it decided
//! ([`Tx::observe`]); only once the transaction commits are its notes handed to the store's
//! [`Observer`] (the daemon's metrics). A body that fails, or a batch decided again event by
//! event after one failed, counts nothing twice: its notes go with it.
//!
//! Notes carry bounded labels only (a link's name, a platform, a direction, a rule's kind),
//! never a person or a room.

use super::{StoreError, Tx};
use crate::moderation::rules::Side;
use civicbridge_api::{LinkId, Platform};
use std::sync::{Arc, RwLock};

/// One fact a committed transaction established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// A new message arrived in one of a link's bridged rooms (not a replay, an echo of the
    /// bridge's own copy, or a staff command).
    Received { link: LinkId, platform: Platform },
    /// A message was judged for one target room: by the rules (`forward`, `hold` or `drop`),
    /// or by a moderator on a held item (`approved` or `rejected`).
    Verdict {
        link: LinkId,
        from: Side,
        to: Side,
        verdict: &'static str,
        /// The kind of rule that held or dropped it (`policy`, `links` …), `none` when the
        /// rules forwarded it, `moderator` for a moderator's decision.
        rule: &'static str,
    },
    /// A moderator decided a held item, `waited_ms` after it was held.
    Decided { link: LinkId, waited_ms: u64 },
    /// A report on one of the link's messages was filed or closed (no metric: it tells open
    /// console pages, `ops::console::changes`).
    Reports { link: LinkId },
}

/// Receives the notes of every committed transaction of a store.
pub trait Observer: Send + Sync + std::fmt::Debug {
    fn committed(&self, observations: Vec<Observation>);
}

/// The store's observer, shared by its clones; none until a daemon sets one.
#[derive(Debug, Default, Clone)]
pub(super) struct Slot(Arc<RwLock<Option<Arc<dyn Observer>>>>);

impl Slot {
    pub(super) fn set(&self, observer: Option<Arc<dyn Observer>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = observer;
    }

    pub(super) fn tell(&self, observations: Vec<Observation>) {
        if observations.is_empty() {
            return;
        }
        let observer = self.0.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(o) = observer {
            o.committed(observations);
        }
    }
}

impl Tx<'_> {
    /// Notes `observation`, to be told to the store's observer if this transaction commits.
    pub fn observe(&mut self, observation: Observation) {
        self.observed.push(observation);
    }
}

impl super::Store {
    /// Sets (or with `None` clears) the observer told about every committed transaction, for
    /// this store and its clones.
    pub fn set_observer(&self, observer: Option<Arc<dyn Observer>>) {
        self.observer.set(observer);
    }

    /// The audit log's length: the seq of its last entry (0 when empty).
    pub fn audit_entries(&self) -> Result<u64, StoreError> {
        super::audit::head_seq(self)
    }

    /// Bytes of write-ahead journal on disk (0 for an engine without one).
    pub fn journal_bytes(&self) -> u64 {
        self.backend.journal_bytes()
    }
}
