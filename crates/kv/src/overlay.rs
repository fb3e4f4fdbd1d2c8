//! A set of writes by tree: what one transaction wrote, or every committed write the sled
//! engine has not yet checkpointed into sled (see `sled.rs`); and [`TxView`], a transaction's
//! writes laid over the committed state, which both engines give their transaction bodies.
//!
//! A key maps to `Some(value)` (written) or `None` (removed): a removal must shadow the value
//! an older layer still holds, so it is kept as a tombstone rather than dropped.

use crate::{Entry, KvError, KvTx, TreeId};
use std::collections::BTreeMap;

/// `Some(value)` for a write, `None` for a removal.
pub type Slot = Option<Vec<u8>>;

/// Writes by tree index (grown as trees are written), each tree in key order.
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    trees: Vec<BTreeMap<Vec<u8>, Slot>>,
    len: usize,
}

impl WriteSet {
    /// What this set says about a key: `None` if it does not touch it.
    pub fn get(&self, tree: TreeId, key: &[u8]) -> Option<&Slot> {
        self.trees.get(tree.index())?.get(key)
    }

    pub fn put(&mut self, tree: TreeId, key: Vec<u8>, slot: Slot) {
        let i = tree.index();
        if self.trees.len() <= i {
            self.trees.resize_with(i + 1, BTreeMap::new);
        }
        if self.trees[i].insert(key, slot).is_none() {
            self.len += 1;
        }
    }

    /// How many keys the set touches.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes every write of `newer` over this set's (a later transaction wins).
    pub fn absorb(&mut self, newer: WriteSet) {
        for (tree, k, v) in newer.into_writes() {
            self.put(tree, k, v);
        }
    }

    /// Every write, tree by tree, in key order, by value.
    pub fn into_writes(self) -> impl Iterator<Item = (TreeId, Vec<u8>, Slot)> {
        self.trees.into_iter().enumerate().flat_map(|(i, writes)| {
            let t = tree_at(i);
            writes.into_iter().map(move |(k, v)| (t, k, v))
        })
    }

    /// Every write, tree by tree, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (TreeId, &[u8], &Slot)> {
        self.trees.iter().enumerate().flat_map(|(i, writes)| {
            let t = tree_at(i);
            writes.iter().map(move |(k, v)| (t, k.as_slice(), v))
        })
    }

    /// Lays this set's writes under `prefix` over `base` (entries of an older layer).
    pub fn overlay_prefix(
        &self,
        tree: TreeId,
        prefix: &[u8],
        base: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    ) {
        let Some(writes) = self.trees.get(tree.index()) else {
            return;
        };
        let writes = writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (k, v) in writes {
            match v {
                Some(v) => base.insert(k.clone(), v.clone()),
                None => base.remove(k),
            };
        }
    }
}

/// The committed state a transaction reads under its own writes.
pub trait Committed {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// The committed entries under `prefix`.
    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, KvError>;
}

/// A transaction in progress: its own writes over the committed state, which `base` reads.
/// Reads and scans see the transaction's earlier writes; nothing reaches `base` until the owner
/// commits `writes`.
pub struct TxView<'a> {
    base: &'a dyn Committed,
    pub writes: WriteSet,
}

impl<'a> TxView<'a> {
    pub fn new(base: &'a dyn Committed) -> Self {
        TxView {
            base,
            writes: WriteSet::default(),
        }
    }
}

impl KvTx for TxView<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        match self.writes.get(tree, key) {
            Some(slot) => Ok(slot.clone()),
            None => self.base.get(tree, key),
        }
    }
    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Entry>, KvError> {
        let mut merged = self.base.scan(tree, prefix)?;
        self.writes.overlay_prefix(tree, prefix, &mut merged);
        Ok(merged.into_iter().collect())
    }
    fn insert(&mut self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<(), KvError> {
        self.writes.put(tree, key.to_vec(), Some(value));
        Ok(())
    }
    fn remove(&mut self, tree: TreeId, key: &[u8]) -> Result<(), KvError> {
        self.writes.put(tree, key.to_vec(), None);
        Ok(())
    }
}

/// The tree at index `i` of a write set (a set never holds more trees than a [`TreeId`] names).
fn tree_at(i: usize) -> TreeId {
    TreeId::new(u8::try_from(i).unwrap_or(u8::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEN: TreeId = TreeId::new(3);
    const OUTBOX: TreeId = TreeId::new(8);

    #[test]
    fn later_writes_win_and_removals_shadow_older_layers() {
        let mut older = WriteSet::default();
        older.put(SEEN, b"a".to_vec(), Some(b"1".to_vec()));
        older.put(SEEN, b"b".to_vec(), Some(b"2".to_vec()));
        let mut newer = WriteSet::default();
        newer.put(SEEN, b"a".to_vec(), None);
        newer.put(SEEN, b"c".to_vec(), Some(b"3".to_vec()));
        older.absorb(newer);
        assert_eq!(older.len(), 3);
        assert_eq!(older.get(SEEN, b"a"), Some(&None));

        let mut base = BTreeMap::from([(b"a".to_vec(), b"0".to_vec())]);
        older.overlay_prefix(SEEN, b"", &mut base);
        let keys: Vec<&[u8]> = base.keys().map(Vec::as_slice).collect();
        assert_eq!(keys, [b"b".as_slice(), b"c"]);
        assert_eq!(older.get(OUTBOX, b"a"), None);
    }
}
