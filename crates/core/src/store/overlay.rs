//! A set of writes by tree: what one transaction wrote, or every committed write the sled
//! backend has not yet checkpointed into sled (see `sled.rs`).
//!
//! A key maps to `Some(value)` (written) or `None` (removed): a removal must shadow the value
//! an older layer still holds, so it is kept as a tombstone rather than dropped.

use super::backend::{KvTx, Tree, TxError};
use super::StoreError;
use std::collections::BTreeMap;

/// `Some(value)` for a write, `None` for a removal.
pub type Slot = Option<Vec<u8>>;

#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    trees: [BTreeMap<Vec<u8>, Slot>; Tree::ALL.len()],
    len: usize,
}

impl WriteSet {
    /// What this set says about a key: `None` if it does not touch it.
    pub fn get(&self, tree: Tree, key: &[u8]) -> Option<&Slot> {
        self.trees[tree.index()].get(key)
    }

    pub fn put(&mut self, tree: Tree, key: Vec<u8>, slot: Slot) {
        if self.trees[tree.index()].insert(key, slot).is_none() {
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
    pub fn into_writes(self) -> impl Iterator<Item = (Tree, Vec<u8>, Slot)> {
        Tree::ALL
            .into_iter()
            .zip(self.trees)
            .flat_map(|(t, writes)| writes.into_iter().map(move |(k, v)| (t, k, v)))
    }

    /// Every write, tree by tree, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Tree, &[u8], &Slot)> {
        Tree::ALL.iter().flat_map(move |t| {
            self.trees[t.index()]
                .iter()
                .map(move |(k, v)| (*t, k.as_slice(), v))
        })
    }

    /// Lays this set's writes under `prefix` over `base` (entries of an older layer).
    pub fn overlay_prefix(&self, tree: Tree, prefix: &[u8], base: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
        let writes = self.trees[tree.index()]
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

/// A transaction in progress: its own writes over the committed state, which `base` reads.
/// Reads see the transaction's earlier writes; nothing reaches `base` until the owner commits
/// `writes`.
pub struct TxView<B> {
    base: B,
    pub writes: WriteSet,
}

impl<B> TxView<B>
where
    B: Fn(Tree, &[u8]) -> Result<Option<Vec<u8>>, StoreError>,
{
    pub fn new(base: B) -> Self {
        TxView {
            base,
            writes: WriteSet::default(),
        }
    }
}

impl<B> KvTx for TxView<B>
where
    B: Fn(Tree, &[u8]) -> Result<Option<Vec<u8>>, StoreError>,
{
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
        match self.writes.get(tree, key) {
            Some(slot) => Ok(slot.clone()),
            None => Ok((self.base)(tree, key)?),
        }
    }
    fn insert(&mut self, tree: Tree, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        self.writes.put(tree, key.to_vec(), Some(value));
        Ok(())
    }
    fn remove(&mut self, tree: Tree, key: &[u8]) -> Result<(), TxError> {
        self.writes.put(tree, key.to_vec(), None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_writes_win_and_removals_shadow_older_layers() {
        let mut older = WriteSet::default();
        older.put(Tree::Seen, b"a".to_vec(), Some(b"1".to_vec()));
        older.put(Tree::Seen, b"b".to_vec(), Some(b"2".to_vec()));
        let mut newer = WriteSet::default();
        newer.put(Tree::Seen, b"a".to_vec(), None);
        newer.put(Tree::Seen, b"c".to_vec(), Some(b"3".to_vec()));
        older.absorb(newer);
        assert_eq!(older.len(), 3);
        assert_eq!(older.get(Tree::Seen, b"a"), Some(&None));

        let mut base = BTreeMap::from([(b"a".to_vec(), b"0".to_vec())]);
        older.overlay_prefix(Tree::Seen, b"", &mut base);
        let keys: Vec<&[u8]> = base.keys().map(Vec::as_slice).collect();
        assert_eq!(keys, [b"b".as_slice(), b"c"]);
        assert_eq!(older.get(Tree::Outbox, b"a"), None);
    }
}
