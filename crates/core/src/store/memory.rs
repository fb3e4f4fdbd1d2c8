//! The in-memory backend, for tests. Transactions take one lock and write through a
//! [`TxView`], so an aborted body leaves nothing behind.

use super::backend::{Backend, Entry, KvTx, Tree, TxError};
use super::overlay::TxView;
use super::StoreError;
use std::collections::BTreeMap;
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

    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        let mut trees = self.lock();
        let writes = {
            let base = &*trees;
            let mut view = TxView::new(|t: Tree, k: &[u8]| Ok(base[t.index()].get(k).cloned()));
            body(&mut view).map_err(|TxError::Abort(e)| e)?;
            view.writes
        };
        for (tree, key, slot) in writes.into_writes() {
            let t = &mut trees[tree.index()];
            match slot {
                Some(v) => t.insert(key, v),
                None => t.remove(&key),
            };
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
