//! The seen tree: a mark per inbound event handled, so a replay is dropped. Pruned after a week.

use super::read::sealed::Access as _;
use super::read::Read;
use super::{keys, Store, StoreError, Tree, Tx, TxError};
use civicbridge_api::{InboundId, Platform};

/// Reads of the seen tree.
pub trait SeenReads: Read {
    fn was_seen(&self, platform: Platform, id: &InboundId) -> Result<bool, StoreError> {
        Ok(self
            .raw_get(Tree::Seen, &keys::seen(platform, id))?
            .is_some())
    }
}

impl<R: Read + ?Sized> SeenReads for R {}

impl Tx<'_> {
    /// Marks an inbound event as handled; returns `false` if it already was (a replay).
    pub fn mark_seen(&mut self, platform: Platform, id: &InboundId) -> Result<bool, TxError> {
        if self.was_seen(platform, id)? {
            return Ok(false);
        }
        let now = self.now_ms;
        self.put_raw(Tree::Seen, &keys::seen(platform, id), keys::encode_u64(now))?;
        Ok(true)
    }

    /// Forgets that an event was handled (its dead letter is being retried).
    pub(super) fn unmark_seen(
        &mut self,
        platform: Platform,
        id: &InboundId,
    ) -> Result<(), TxError> {
        self.remove(Tree::Seen, &keys::seen(platform, id))
    }
}

impl Store {
    /// Forgets seen-event marks older than `cutoff_ms`, so the dedupe tree stays bounded.
    /// Platforms do not replay events older than a day or so; keep a week to be safe.
    pub fn prune_seen(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let old: Vec<Vec<u8>> = self
            .raw_scan(Tree::Seen, b"")?
            .into_iter()
            .filter(|(_, v)| keys::decode_u64(v).is_ok_and(|t| t < cutoff_ms))
            .map(|(k, _)| k)
            .collect();
        for chunk in old.chunks(512) {
            self.transact(|tx| {
                for k in chunk {
                    tx.remove(Tree::Seen, k)?;
                }
                Ok(())
            })?;
        }
        Ok(old.len())
    }
}
