//! Durable state: links, rules, seen events, mirrors, threads, pending approvals, the outbox,
//! the audit log, connector cursors and dead letters, over the key-value engine of
//! `civicbridge-kv` (sled behind a journal on disk, or memory for tests).
//!
//! The store is the domain's side of that engine, grouped by the tree each file owns:
//! [`links_rules`] (links and their rules, seeded from the config by `seed.rs`), [`seen`],
//! [`mirrors`] (mirror records, the message index and the thread map), [`pending`] (held
//! items), [`outbox`], [`audit`], [`parked`] (dead letters), [`connector_state`], and the meta
//! [`reports`] (reports on messages), [`history`] (recent messages for dry runs), [`notes`] (moderators' notes about senders), [`reactions`] (people's reactions on each message, what the bot shows), the meta
//! tree's [`meta`] (schema, instance name, id counters), `housekeeping.rs` (reminder marks and
//! notice digests) and `privacy_key.rs`. `keys.rs` is the only place that knows the on-disk
//! layout (tree names, big-endian ids, JSON values in a versioned envelope); `records.rs` the
//! persisted types.
//!
//! Reads are written once, for the committed state and for a transaction alike: each tree's
//! file has a read trait (`MirrorReads`, `PendingReads` …, all in [`prelude`]) whose verbs are
//! default methods over [`Read`], which both [`Store`] (the committed state) and [`Tx`] (a
//! transaction in progress, which sees its own writes, in reads and scans alike) implement.
//! Every change happens inside one [`Store::transact`] body through the typed write verbs of
//! [`Tx`], so a crash never leaves, say, an approved item both pending and in the outbox.
//! A body may also note what it decided for the metrics ([`observe`]); the notes reach the
//! store's observer only if the transaction commits.

pub mod audit;
pub mod connector_state;
mod decoded;
pub mod expiring;
pub mod history;
mod housekeeping;
mod ids;
mod keys;
pub mod links_rules;
pub mod meta;
pub mod mirrors;
pub mod notes;
pub mod observe;
pub mod outbox;
pub mod parked;
pub mod pending;
mod privacy_key;
pub mod reactions;
pub mod read;
pub mod records;
pub mod reports;
pub mod runtime_links;
mod seed;
pub mod seen;

pub use keys::Tree;
pub use parked::{ParkedId, ParkedItem, ParkedWhat};
pub use read::Read;
pub use records::*;

use civicbridge_kv::{Backend, KvError, KvTx};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Every read trait, to bring the store's read verbs into scope: `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::audit::AuditReads;
    pub use super::expiring::ExpiringReads;
    pub use super::history::HistoryReads;
    pub use super::housekeeping::HousekeepingReads;
    pub use super::links_rules::LinkReads;
    pub use super::meta::MetaReads;
    pub use super::mirrors::MirrorReads;
    pub use super::notes::NoteReads;
    pub use super::outbox::OutboxReads;
    pub use super::parked::ParkedReads;
    pub use super::pending::PendingReads;
    pub use super::privacy_key::PrivacyKeyReads;
    pub use super::reactions::ReactionReads;
    pub use super::read::Read;
    pub use super::reports::ReportReads;
    pub use super::runtime_links::RuntimeLinkReads;
    pub use super::seen::SeenReads;
}

/// The schema this build writes. `open` migrates older stores and refuses newer ones.
pub const SCHEMA_VERSION: u64 = 6;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("the data directory {0} is in use by another civicbridge process")]
    Locked(String),
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("the store has schema {found}, newer than this build supports ({supported}); upgrade civicbridge")]
    NewerSchema { found: u64, supported: u64 },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// What a caller can do about a [`StoreError`]; the CLI picks its exit code by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Refused as asked (a rule value that does not read, an unknown link or item): change the
    /// request.
    Refused,
    /// Another process holds the store: stop it, or act through the running bridge.
    Busy,
    /// The data cannot be used by this build (a corrupt record, a newer schema).
    Unusable,
    /// The storage failed (I/O): look at the disk, then try again.
    Failed,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Invalid(_) | StoreError::NotFound(_) => ErrorKind::Refused,
            StoreError::Locked(_) => ErrorKind::Busy,
            StoreError::Corrupt(_) | StoreError::NewerSchema { .. } => ErrorKind::Unusable,
            StoreError::Backend(_) => ErrorKind::Failed,
        }
    }
}

impl From<KvError> for StoreError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::Io(what) => StoreError::Backend(what),
            KvError::Locked(dir) => StoreError::Locked(dir),
            KvError::Corrupt(what) => StoreError::Corrupt(what),
            KvError::Aborted => StoreError::Backend("the transaction was aborted".into()),
        }
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

impl From<KvError> for TxError {
    fn from(e: KvError) -> Self {
        TxError::Abort(e.into())
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One stored entry as bytes: its tree, key and value (see [`Store::raw_contents`]).
pub type RawEntry = (Tree, Vec<u8>, Vec<u8>);

/// The domain API over an engine: the committed state, and [`Store::transact`] to change it.
/// Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    ids: Arc<ids::IdAllocator>,
    /// The store's name, read once at open (see [`Store::instance`]).
    instance: Arc<str>,
    decoded: Arc<decoded::Caches>,
    /// Told what each committed transaction noted (the daemon's metrics), see [`observe`].
    observer: observe::Slot,
}

impl Store {
    /// Opens (creating if needed) a sled store in `dir`, migrating it to this build's schema.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let engine = civicbridge_kv::sled::SledBackend::open(dir, &keys::TREE_NAMES)?;
        Store::with_backend(Arc::new(engine))
    }

    /// A store that lives only in memory.
    pub fn memory() -> Store {
        // A fresh memory engine always migrates cleanly.
        Store::with_backend(Arc::new(civicbridge_kv::memory::MemoryBackend::new(
            &keys::TREE_NAMES,
        )))
        .unwrap_or_else(|e| unreachable!("memory store failed to initialise: {e}"))
    }

    /// A store over `backend`, opened with the trees [`Tree::names`], migrated to this build's
    /// schema.
    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let mut store = Store {
            backend,
            ids: Arc::new(ids::IdAllocator::starting_above(0)),
            instance: Arc::from(""),
            decoded: Arc::default(),
            observer: observe::Slot::default(),
        };
        meta::migrate(&store)?;
        meta::backfill_held(&store)?;
        store.ids = Arc::new(ids::IdAllocator::starting_above(store.id_mark()?));
        store.instance = store.instance_name()?.into();
        Ok(store)
    }

    /// This store's random name (empty for a store created before names existed, so its jobs
    /// keep their transaction ids across the upgrade). Outbox job ids restart with a fresh store,
    /// so the idempotency keys sent with jobs (Matrix transaction ids) carry this name too: a
    /// homeserver that kept the bridge's device answers a repeated transaction id with the old
    /// event and sends nothing.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Runs `body` once, atomically and alone: if it fails, nothing it wrote is kept. It must
    /// act only through `Tx`. Never call this from inside another transaction (it would wait for
    /// itself).
    pub fn transact<R>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<R, TxError>,
    ) -> Result<R, StoreError> {
        let mut mark = None;
        let mut observed = Vec::new();
        let now = now_ms();
        let ids = &*self.ids;
        let decoded = &*self.decoded;
        let out = civicbridge_kv::transaction(&*self.backend, |kv| {
            let mut tx = Tx {
                kv,
                now_ms: now,
                ids,
                decoded,
                mark: None,
                observed: Vec::new(),
            };
            let out = body(&mut tx)?;
            mark = tx.mark;
            observed = tx.observed;
            Ok(out)
        })
        .map_err(|TxError::Abort(e)| e)?;
        if let Some(m) = mark {
            self.ids.committed(m);
        }
        self.observer.tell(observed);
        Ok(out)
    }

    /// Makes everything written so far durable. Concurrent callers share flushes.
    pub async fn flush(&self) -> Result<(), StoreError> {
        Ok(self.backend.flush().await?)
    }

    /// Every key and value of every tree, decoded or not: for tests that prove nothing about a
    /// person is left anywhere in the store.
    #[doc(hidden)]
    pub fn raw_contents(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut out = Vec::new();
        for tree in Tree::ALL {
            for (k, v) in self.backend.scan(tree.id(), b"")? {
                out.push((tree, k, v));
            }
        }
        Ok(out)
    }
}

/// A transaction in progress: typed verbs over the engine's transactional view. Its reads (the
/// read traits of [`prelude`]) see its own earlier writes.
pub struct Tx<'a> {
    kv: &'a mut dyn KvTx,
    now_ms: u64,
    ids: &'a ids::IdAllocator,
    decoded: &'a decoded::Caches,
    /// The id high-water mark this transaction wrote, if any.
    mark: Option<u64>,
    /// What the body noted for the metrics, told only if it commits ([`observe`]).
    observed: Vec<observe::Observation>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl Tx<'_> {
    /// The time this transaction started (one clock reading for everything it records).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn put<T: Serialize>(&mut self, tree: Tree, key: &[u8], value: &T) -> Result<(), TxError> {
        self.put_raw(tree, key, keys::encode(value))
    }

    fn put_raw(&mut self, tree: Tree, key: &[u8], value: Vec<u8>) -> Result<(), TxError> {
        Ok(self.kv.insert(tree.id(), key, value)?)
    }

    fn remove(&mut self, tree: Tree, key: &[u8]) -> Result<(), TxError> {
        Ok(self.kv.remove(tree.id(), key)?)
    }
}

fn hex_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
