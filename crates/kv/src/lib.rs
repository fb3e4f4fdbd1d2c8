//! civicbridge's key-value engine: trees of bytes with multi-tree transactions.
//!
//! The engine knows nothing of what it stores. A tree is an opaque [`TreeId`]: the position of
//! its name in the list an engine is opened with (the daemon's store, `civicbridge-core`'s
//! `store::keys`, owns that list and every key and value layout). Keys and values are bytes in,
//! bytes out.
//!
//! Two engines implement [`Backend`]:
//! - [`sled::SledBackend`], the daemon's: sled 0.34.7 kept off the write path by a write-ahead
//!   journal (`journal.rs`, CRC-checked records in `<dir>/journal/`) and an in-memory layer of
//!   committed writes (`overlay.rs`) that a checkpoint thread moves into sled in bulk.
//! - [`memory::MemoryBackend`], for tests: trees in memory behind one lock.
//!
//! Both pass the same conformance suite (`conformance`, feature `testing`), which
//! `tests/engines.rs` runs on each; `tests/crash.rs` kills a writing process to prove the
//! journal's durability.
//!
//! # What an adapter must guarantee
//!
//! A new engine (a PostgreSQL adapter, say: one table per tree, or one table keyed by
//! `(tree, key)`) is one more implementation of [`Backend`] and [`KvTx`], and must pass
//! `conformance::run` (and `conformance::run_durable` if it persists). It must guarantee:
//!
//! - **Trees**: it is opened with a list of tree names and keeps each tree apart; the same key
//!   in two trees is two entries. It never interprets names, keys or values. The names (and
//!   their order: the sled engine's journal names trees by position, and records the list it
//!   was written for) are part of the on-disk format; trees may only be added at the end.
//! - **Order**: [`Backend::scan`] and [`KvTx::scan`] return the entries whose key starts with
//!   the prefix, in ascending byte order of their keys (numeric ids are stored big-endian so
//!   that this is age order).
//! - **Transactions**: [`Backend::transact`] runs its body exactly once, isolated from every
//!   other transaction (serializable: as if alone; the simplest way is to run them one at a
//!   time), and atomically across trees: if the body returns an error, or the engine fails to
//!   commit, nothing the body wrote is kept, and the error is returned. Inside the body, reads
//!   and scans see the body's own earlier writes and removals, over the committed state.
//!   Bodies are synchronous and short: never hold a transaction across an `.await`, and do not
//!   start a transaction inside another, nor read through the engine
//!   (`Backend::get`, `Backend::scan`) instead of the body's `KvTx`: the memory engine holds
//!   its lock while a body runs, so either would wait for itself.
//! - **Reads outside a transaction** ([`Backend::get`], [`Backend::scan`]) see every committed
//!   transaction, whole: never part of one.
//! - **Durability**: nothing need be durable until [`Backend::flush`] returns; then every
//!   transaction committed before the call is. A crash may lose transactions not yet flushed,
//!   but only whole ones, and only a suffix: after reopening, the committed transactions kept
//!   are a prefix of those committed, each whole. Concurrent flushes may share one sync.
//! - **Errors** are [`KvError`]s: a lock held by another process is [`KvError::Locked`], data
//!   the engine cannot read back is [`KvError::Corrupt`], anything else [`KvError::Io`].

pub mod memory;
mod overlay;
pub mod sled;

mod journal;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod crash;

/// A tree: the position of its name in the list the engine was opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeId(u8);

impl TreeId {
    pub const fn new(index: u8) -> TreeId {
        TreeId(index)
    }

    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// What went wrong in an engine, or why a transaction body stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// An I/O or engine failure, with what was being done.
    #[error("storage failure: {0}")]
    Io(String),
    /// Another process holds the data directory.
    #[error("the data directory {0} is in use by another process")]
    Locked(String),
    /// Stored data the engine cannot read back (a journal with records missing, say).
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// The transaction body chose to stop; nothing it wrote is kept. [`transaction`] returns the
    /// body's own error instead.
    #[error("the transaction was aborted")]
    Aborted,
}

/// The view a transaction body has: reads and scans see the body's own earlier writes.
pub trait KvTx {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// Every entry whose key starts with `prefix`, in key order, this transaction's writes and
    /// removals included.
    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Entry>, KvError>;
    fn insert(&mut self, tree: TreeId, key: &[u8], value: Vec<u8>) -> Result<(), KvError>;
    fn remove(&mut self, tree: TreeId, key: &[u8]) -> Result<(), KvError>;
}

/// A storage engine. See the crate docs for what every implementation guarantees.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError>;
    /// Every committed entry whose key starts with `prefix`, in key order.
    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Entry>, KvError>;
    /// Runs `body` once, alone, all or nothing; an error from `body` is returned and nothing it
    /// wrote is kept. See [`transaction`] for bodies with results and errors of their own.
    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), KvError>,
    ) -> Result<(), KvError>;
    /// Makes every transaction committed before the call durable. Concurrent callers share
    /// the work (one sync covers them all).
    async fn flush(&self) -> Result<(), KvError>;
    /// Bytes of write-ahead journal on disk, for monitoring; 0 for an engine without one.
    fn journal_bytes(&self) -> u64 {
        0
    }
}

/// Runs `body` as one transaction of `engine` and returns what it returns: its value once
/// committed, or its own error (nothing it wrote is kept), or the engine's failure.
pub fn transaction<R, E>(
    engine: &dyn Backend,
    mut body: impl FnMut(&mut dyn KvTx) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<KvError>,
{
    let mut value = None;
    let mut failure = None;
    let committed = engine.transact(&mut |tx| match body(tx) {
        Ok(v) => {
            value = Some(v);
            Ok(())
        }
        Err(e) => {
            failure = Some(e);
            Err(KvError::Aborted)
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    committed?;
    value.ok_or_else(|| {
        KvError::Io("the transaction finished without running its body".into()).into()
    })
}
