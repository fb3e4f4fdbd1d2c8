//! The in-memory engine, for tests. Transactions take one lock and write through a
//! [`TxView`], so an aborted body leaves nothing behind.

use crate::overlay::{Committed, TxView};
use crate::{Backend, Entry, KvError, KvTx, TreeId};
use std::collections::BTreeMap;
use std::sync::Mutex;

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug)]
pub struct MemoryBackend {
    trees: Mutex<Vec<Tree>>,
}

impl MemoryBackend {
    /// An empty engine with the trees `names` (a tree's id is its position in the list).
    pub fn new(names: &[&str]) -> MemoryBackend {
        MemoryBackend {
            trees: Mutex::new(vec![BTreeMap::new(); names.len()]),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Tree>> {
        self.trees.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn tree(trees: &[Tree], id: TreeId) -> Result<&Tree, KvError> {
    trees
        .get(id.index())
        .ok_or_else(|| KvError::Io(format!("no tree {} in this store", id.index())))
}

fn scan<'a>(t: &'a Tree, prefix: &'a [u8]) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + 'a {
    t.range(prefix.to_vec()..)
        .take_while(move |(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()))
}

/// The committed trees, as a transaction reads them.
struct Locked<'a>(&'a [Tree]);

impl Committed for Locked<'_> {
    fn get(&self, id: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        Ok(tree(self.0, id)?.get(key).cloned())
    }

    fn scan(&self, id: TreeId, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, KvError> {
        Ok(scan(tree(self.0, id)?, prefix).collect())
    }
}

#[async_trait::async_trait]
impl Backend for MemoryBackend {
    fn get(&self, id: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        Ok(tree(&self.lock(), id)?.get(key).cloned())
    }

    fn scan(&self, id: TreeId, prefix: &[u8]) -> Result<Vec<Entry>, KvError> {
        Ok(scan(tree(&self.lock(), id)?, prefix).collect())
    }

    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), KvError>,
    ) -> Result<(), KvError> {
        let mut trees = self.lock();
        let writes = {
            let base = Locked(&trees);
            let mut view = TxView::new(&base);
            body(&mut view)?;
            view.writes
        };
        let count = trees.len();
        if let Some((t, _, _)) = writes.iter().find(|(t, _, _)| t.index() >= count) {
            return Err(KvError::Io(format!("no tree {} in this store", t.index())));
        }
        for (id, key, slot) in writes.into_writes() {
            let t = &mut trees[id.index()];
            match slot {
                Some(v) => t.insert(key, v),
                None => t.remove(&key),
            };
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), KvError> {
        Ok(())
    }
}
