//! The sled backend (sled 0.34.7, the last stable release). One sled tree per [`Tree`];
//! multi-tree transactions through sled's transactional API.

use super::backend::{Backend, Entry, KvTx, Tree, TxError};
use super::StoreError;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::path::Path;

#[derive(Debug)]
pub struct SledBackend {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl SledBackend {
    /// Opens the store in `path`. A lock still held *in this process* by a just-dropped store
    /// (sled's background threads let go of the directory a moment after the last handle is
    /// dropped) is waited out for up to two seconds; another process's lock is reported.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match Self::open_once(path) {
                Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            // Durability comes from explicit, grouped flushes; the background flush only
            // bounds what a crash can take from un-flushed receipts.
            .flush_every_ms(Some(200))
            .open()
            .map_err(|e| {
                // sled reports the directory lock as an I/O error whose text names it.
                if e.to_string().contains("could not acquire lock") {
                    StoreError::Locked(path.display().to_string())
                } else {
                    StoreError::Backend(format!("opening {}: {e}", path.display()))
                }
            })?;
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        Ok(SledBackend { db, trees })
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn unabortable(e: UnabortableTransactionError) -> TxError {
    match e {
        UnabortableTransactionError::Conflict => TxError::Conflict,
        UnabortableTransactionError::Storage(s) => TxError::Abort(backend(s)),
    }
}

struct SledTx<'a>(&'a [TransactionalTree]);

impl KvTx for SledTx<'_> {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TxError> {
        self.0[tree.index()]
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(unabortable)
    }
    fn insert(&mut self, tree: Tree, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        self.0[tree.index()]
            .insert(key, value)
            .map(drop)
            .map_err(unabortable)
    }
    fn remove(&mut self, tree: Tree, key: &[u8]) -> Result<(), TxError> {
        self.0[tree.index()]
            .remove(key)
            .map(drop)
            .map_err(unabortable)
    }
}

#[async_trait::async_trait]
impl Backend for SledBackend {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.trees[tree.index()]
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(backend)
    }

    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.trees[tree.index()]
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend))
            .collect()
    }

    fn last(&self, tree: Tree) -> Result<Option<Entry>, StoreError> {
        self.trees[tree.index()]
            .last()
            .map(|o| o.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .map_err(backend)
    }

    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), TxError>,
    ) -> Result<(), StoreError> {
        // sled wants an `Fn` closure (it may call it again after a conflict); the body is
        // `FnMut`, and the calls never overlap, so a RefCell bridges the two.
        let body = std::cell::RefCell::new(body);
        let result = self.trees.as_slice().transaction(|views| {
            let mut tx = SledTx(views);
            (body.borrow_mut())(&mut tx).map_err(|e| match e {
                TxError::Conflict => ConflictableTransactionError::Conflict,
                TxError::Abort(e) => ConflictableTransactionError::Abort(e),
            })
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await.map(drop).map_err(backend)
    }
}
