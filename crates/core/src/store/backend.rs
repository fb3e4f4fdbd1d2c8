//! The storage backend contract: named trees of bytes, with multi-tree transactions.
//!
//! Everything the bridge persists goes through [`super::Store`], whose domain verbs are written
//! once on top of this trait. Two backends implement it: sled (production) and memory (tests). The conformance suite in `tests/store.rs` runs every verb over both.

use super::StoreError;

/// One tree per concern. The names are the on-disk tree names: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tree {
    Meta,
    Links,
    Rules,
    Seen,
    Mirrors,
    MsgIndex,
    Threads,
    Pending,
    Outbox,
    Audit,
    ConnectorState,
    /// Dead letters: jobs and events that failed the same way repeatedly, panicked, or cannot
    /// be decoded (see `parked.rs`).
    Parked,
}

impl Tree {
    pub const ALL: [Tree; 12] = [
        Tree::Meta,
        Tree::Links,
        Tree::Rules,
        Tree::Seen,
        Tree::Mirrors,
        Tree::MsgIndex,
        Tree::Threads,
        Tree::Pending,
        Tree::Outbox,
        Tree::Audit,
        Tree::ConnectorState,
        Tree::Parked,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Links => "links",
            Tree::Rules => "rules",
            Tree::Seen => "seen",
            Tree::Mirrors => "mirrors",
            Tree::MsgIndex => "msg_index",
            Tree::Threads => "threads",
            Tree::Pending => "pending",
            Tree::Outbox => "outbox",
            Tree::Audit => "audit",
            Tree::ConnectorState => "connector_state",
            Tree::Parked => "parked",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a transaction body stopped: it decided to abort, and nothing it wrote is kept.
#[derive(Debug)]
pub enum TxError {
    Abort(StoreError),
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Abort(e)
    }
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The view a transaction body has: reads see the body's own earlier writes.
pub trait KvTx {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TxError>;
    fn insert(&mut self, tree: Tree, key: &[u8], value: Vec<u8>) -> Result<(), TxError>;
    fn remove(&mut self, tree: Tree, key: &[u8]) -> Result<(), TxError>;
}

/// A storage engine. Contract:
/// - `transact` runs `body` once, atomically across trees, isolated from other transactions;
///   if `body` fails nothing it wrote is kept.
/// - Nothing is durable until `flush` returns; a crash may lose un-flushed transactions but
///   never tears one (it is kept whole or not at all).
/// - Bodies are synchronous: never hold a transaction across an `.await`.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), TxError>,
    ) -> Result<(), StoreError>;
    /// Makes every transaction committed before the call durable. Concurrent callers share
    /// the work (one sync covers them all).
    async fn flush(&self) -> Result<(), StoreError>;
}
