//! The in-memory backend, for tests. Transactions take one lock and write
//! through an overlay, so an aborted body leaves nothing behind.

use super::backend::{Backend, Entry, KvTx, Tree, TxError};
use super::StoreError;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

type Trees = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Debug)]
pub struct MemoryBackend {
    trees: Mutex<Trees>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend {
            trees: Mutex::new(vec![BTreeMap::new(); Tree::ALL.len()]),
        }
    }
}

impl MemoryBackend {
    fn lock(&self) -> std::sync::MutexGuard<'_, Trees> {
        self.trees.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Overlay<'a> {
    base: &'a Trees,
    writes: HashMap<(Tree, Vec<u8>), Option<Vec<u8>>>,
}

impl KvTx for Overlay<'_> {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
        if let Some(w) = self.writes.get(&(tree, key.to_vec())) {
            return Ok(w.clone());
        }
        Ok(self.base[tree.index()].get(key).cloned())
    }
    fn insert(&mut self, tree: Tree, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        self.writes.insert((tree, key.to_vec()), Some(value));
        Ok(())
    }
    fn remove(&mut self, tree: Tree, key: &[u8]) -> Result<(), TxError> {
        self.writes.insert((tree, key.to_vec()), None);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Backend for MemoryBackend {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()[tree.index()].get(key).cloned())
    }

    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        Ok(self.lock()[tree.index()]
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn last(&self, tree: Tree) -> Result<Option<Entry>, StoreError> {
        Ok(self.lock()[tree.index()]
            .iter()
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        let mut trees = self.lock();
        let writes = {
            let mut tx = Overlay {
                base: &trees,
                writes: HashMap::new(),
            };
            match body(&mut tx) {
                Ok(()) => tx.writes,
                Err(TxError::Abort(e)) => return Err(e),
                Err(TxError::Conflict) => {
                    return Err(StoreError::Backend(
                        "conflict in a memory transaction".into(),
                    ))
                }
            }
        };
        for ((tree, key), value) in writes {
            match value {
                Some(v) => trees[tree.index()].insert(key, v),
                None => trees[tree.index()].remove(&key),
            };
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
