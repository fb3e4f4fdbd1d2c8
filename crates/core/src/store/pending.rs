//! The pending tree: held items waiting for a moderator's decision, numbered 1, 2, 3 without
//! gaps (a counter in the meta tree), each indexed from its card once the card is posted.

use super::read::{self, Read};
use super::{keys, meta, IndexEntry, PendingItem, StoreError, Tree, Tx, TxError};
use civicbridge_api::PendingId;

/// Reads of the held items.
pub trait PendingReads: Read {
    /// Every held item, oldest first.
    fn pending(&self) -> Result<Vec<PendingItem>, StoreError> {
        read::all(self, Tree::Pending)
    }

    fn pending_item(&self, id: PendingId) -> Result<Option<PendingItem>, StoreError> {
        read::get(self, Tree::Pending, &keys::id(id.0))
    }
}

impl<R: Read + ?Sized> PendingReads for R {}

impl Tx<'_> {
    /// Saves a held item; a new one (id 0) gets the next id. Indexes its card, if posted.
    pub fn put_pending(&mut self, mut item: PendingItem) -> Result<PendingItem, TxError> {
        if item.id.0 == 0 {
            item.id = PendingId(self.next_counter(meta::PENDING_COUNTER)?);
        }
        self.put(Tree::Pending, &keys::id(item.id.0), &item)?;
        if let Some((room, msg)) = &item.card {
            self.index(room, msg, IndexEntry::Card(item.id))?;
        }
        Ok(item)
    }

    pub fn remove_pending(&mut self, id: PendingId) -> Result<(), TxError> {
        self.remove(Tree::Pending, &keys::id(id.0))
    }
}
