//! Durable state: links, rules, seen events, mirrors, threads, pending approvals, the outbox,
//! the audit log and connector cursors.
//!
//! [`Store`] is the domain API, written once. It runs over a [`Backend`] (sled on disk, or memory
//! for tests); the same conformance suite (`tests/store.rs`) runs over both. Every change that
//! touches more than one tree happens inside one [`Store::transact`] body, through the typed verbs
//! of [`Tx`], so a crash never leaves, say, an approved item both pending and in the outbox.

pub mod backend;
mod decoded;
mod housekeeping;
mod ids;
mod journal;
mod keys;
mod memory;
mod overlay;
pub mod parked;
mod privacy;
pub mod records;
mod seed;
mod sled;

pub use backend::{Backend, Tree};
pub use parked::{ParkedId, ParkedItem, ParkedWhat};
pub use records::*;

use crate::audit::{AuditDraft, AuditEntry, GENESIS};
use crate::rules::Rules;
use backend::{KvTx, TxError};
use civicbridge_api::{
    ConnectorError, ConnectorState, InboundId, LinkId, MirrorId, PendingId, Platform, RemoteMsgId,
    RoomRef, ThreadId,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The schema this build writes. `open` migrates older stores and refuses newer ones.
pub const SCHEMA_VERSION: u64 = 2;

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

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One stored entry as bytes: its tree, key and value (see [`Store::raw_contents`]).
pub type RawEntry = (Tree, Vec<u8>, Vec<u8>);

/// The domain API over a backend. Cheap to clone; share one per process.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    ids: Arc<ids::IdAllocator>,
    /// The store's name, read once at open (see [`Store::instance`]).
    instance: Arc<str>,
    links: Arc<decoded::Decoded<LinkRecord>>,
    rules: Arc<decoded::Decoded<RulesRecord>>,
}

/// The one id sequence kept in the meta tree and advanced inside transactions: pending ids are
/// read and typed by moderators, so they count 1, 2, 3 without gaps. Mirror and job ids come
/// from the [`ids::IdAllocator`], which costs a write only once per block.
const PENDING_COUNTER: &str = "pending";
const ID_MARK: &str = "ids";
const INSTANCE: &[u8] = b"instance";
const HELD_BACKFILL: &[u8] = b"backfill/mirror_held";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditHead {
    seq: u64,
    hash: String,
}

impl Store {
    /// Opens (creating if needed) a sled store in `dir`, migrating it to this build's schema.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::with_backend(Arc::new(sled::SledBackend::open(dir)?))
    }

    /// A store that lives only in memory.
    pub fn memory() -> Store {
        // A fresh memory backend always migrates cleanly.
        Store::with_backend(Arc::new(memory::MemoryBackend::default()))
            .unwrap_or_else(|e| unreachable!("memory store failed to initialise: {e}"))
    }

    pub fn with_backend(backend: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let mut store = Store {
            backend,
            ids: Arc::new(ids::IdAllocator::starting_above(0)),
            instance: Arc::from(""),
            links: Arc::default(),
            rules: Arc::default(),
        };
        store.migrate()?;
        store.backfill_held()?;
        let mark = match store.backend.get(Tree::Meta, &keys::counter(ID_MARK))? {
            Some(v) => keys::decode_u64(&v)?,
            None => 0,
        };
        store.ids = Arc::new(ids::IdAllocator::starting_above(mark));
        store.instance = store.instance_name()?.into();
        Ok(store)
    }

    /// The store's name, written by [`Store::migrate`].
    fn instance_name(&self) -> Result<String, StoreError> {
        let v = self
            .backend
            .get(Tree::Meta, INSTANCE)?
            .ok_or_else(|| StoreError::Corrupt("the store has no instance name".into()))?;
        String::from_utf8(v).map_err(|_| StoreError::Corrupt("store instance name".into()))
    }

    /// This store's random name (empty for a store created before names existed, so its jobs
    /// keep their transaction ids across the upgrade). Outbox job ids restart with a fresh store,
    /// so the idempotency keys sent with jobs (Matrix transaction ids) carry this name too: a
    /// homeserver that kept the bridge's device answers a repeated transaction id with the old
    /// event and sends nothing.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Brings an older store up to [`SCHEMA_VERSION`]. Version 0 is a store with no version
    /// written (a fresh one); later versions add steps here, each in its own transaction.
    fn migrate(&self) -> Result<(), StoreError> {
        let found = match self.backend.get(Tree::Meta, keys::SCHEMA_VERSION)? {
            Some(v) => keys::decode_u64(&v)?,
            None => 0,
        };
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            tracing::info!(from = found, to = SCHEMA_VERSION, "migrating store");
            self.backend.transact(&mut |tx| {
                if found < 2 {
                    // 2: stores have an instance name; a new store gets a random one, an
                    // existing one the empty name (its queued jobs keep their transaction ids).
                    let name = match found {
                        0 => hex::encode(rand::random::<[u8; 6]>()),
                        _ => String::new(),
                    };
                    tx.insert(Tree::Meta, INSTANCE, name.into_bytes())?;
                }
                tx.insert(
                    Tree::Meta,
                    keys::SCHEMA_VERSION,
                    keys::encode_u64(SCHEMA_VERSION),
                )
            })?;
        }
        Ok(())
    }

    /// Links every held item from its message (`MirrorRecord::held`), once per store: items
    /// held before that link existed are otherwise invisible to an edit or a deletion at the
    /// source. A one-off step with a mark of its own in the meta tree, not a schema version:
    /// it reads and writes only fields old releases ignore.
    fn backfill_held(&self) -> Result<(), StoreError> {
        if self.backend.get(Tree::Meta, HELD_BACKFILL)?.is_some() {
            return Ok(());
        }
        // One record an older release wrote too deep to read back (issue 13, defect 11) must not
        // keep the store from opening: it is skipped here, and parked where it is used.
        let mut items = Vec::new();
        for (k, v) in self.backend.scan(Tree::Pending, b"")? {
            match keys::decode::<PendingItem>(&v) {
                Ok(item) => items.push(item),
                Err(e) => {
                    tracing::warn!(key = %hex::encode(&k), error = %e, "held item skipped by the backfill")
                }
            }
        }
        self.backend.transact(&mut |kv| {
            for item in &items {
                let k = keys::id(item.mirror.0);
                let Some(raw) = kv.get(Tree::Mirrors, &k)? else {
                    continue;
                };
                let Ok(mut m) = keys::decode::<MirrorRecord>(&raw) else {
                    tracing::warn!(
                        mirror = item.mirror.0,
                        "message skipped by the backfill: undecodable"
                    );
                    continue;
                };
                if !m.held.contains(&item.id) {
                    m.held.push(item.id);
                    kv.insert(Tree::Mirrors, &k, keys::encode(&m))?;
                }
            }
            kv.insert(Tree::Meta, HELD_BACKFILL, vec![1])
        })
    }

    pub fn schema_version(&self) -> Result<u64, StoreError> {
        match self.backend.get(Tree::Meta, keys::SCHEMA_VERSION)? {
            Some(v) => keys::decode_u64(&v),
            None => Ok(0),
        }
    }

    /// Runs `body` once, atomically and alone: if it fails, nothing it wrote is kept. It must
    /// act only through `Tx`. Never call this from inside another transaction (it would wait for
    /// itself).
    pub fn transact<R>(
        &self,
        mut body: impl FnMut(&mut Tx<'_>) -> Result<R, TxError>,
    ) -> Result<R, StoreError> {
        let mut out = None;
        let mut mark = None;
        let now = now_ms();
        let ids = &*self.ids;
        self.backend.transact(&mut |kv| {
            let mut tx = Tx {
                kv,
                now_ms: now,
                ids,
                mark: None,
            };
            out = Some(body(&mut tx)?);
            mark = tx.mark;
            Ok(())
        })?;
        if let Some(m) = mark {
            self.ids.committed(m);
        }
        out.ok_or_else(|| StoreError::Backend("transaction finished without a result".into()))
    }

    /// Makes everything written so far durable. Concurrent callers share flushes.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.backend.flush().await
    }

    fn get<T: DeserializeOwned>(&self, tree: Tree, key: &[u8]) -> Result<Option<T>, StoreError> {
        self.backend
            .get(tree, key)?
            .map(|v| keys::decode(&v))
            .transpose()
    }

    fn all<T: DeserializeOwned>(&self, tree: Tree) -> Result<Vec<T>, StoreError> {
        self.backend
            .scan(tree, b"")?
            .iter()
            .map(|(_, v)| keys::decode(v))
            .collect()
    }

    // ---- links and rules -------------------------------------------------------------------

    pub fn links(&self) -> Result<Vec<LinkRecord>, StoreError> {
        self.all(Tree::Links)
    }

    pub fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>, StoreError> {
        let key = keys::link(id);
        self.backend
            .get(Tree::Links, &key)?
            .map(|raw| self.links.decode(&key, raw))
            .transpose()
    }

    pub fn rules(&self, link: &LinkId) -> Result<Option<Rules>, StoreError> {
        let key = keys::link(link);
        self.backend
            .get(Tree::Rules, &key)?
            .map(|raw| self.rules.decode(&key, raw).map(|r| r.rules))
            .transpose()
    }

    /// Records the configured links, and seeds each link's rules from the config key by key
    /// (see [`seed`]): a key the config changed replaces the stored one, every other key keeps
    /// its runtime changes, and the trusted and blocked lists are merged. Every change is
    /// audited, one entry per key. Returns the links whose rules changed.
    pub fn sync_config(&self, links: &[(LinkRecord, Rules)]) -> Result<Vec<LinkId>, StoreError> {
        let mut reseeded = Vec::new();
        for (link, rules) in links {
            let changed = self.transact(|tx| {
                let key = keys::link(&link.id);
                let old_link: Option<LinkRecord> = tx.get(Tree::Links, &key)?;
                if old_link.as_ref() != Some(link) {
                    tx.put(Tree::Links, &key, link)?;
                    tx.audit(AuditDraft {
                        actor: "config".into(),
                        action: crate::audit::AuditAction::LinkChanged,
                        link: Some(link.id.clone()),
                        subject: None,
                        detail: serde_json::json!({ "before": old_link, "after": link }),
                    })?;
                }
                let old: Option<RulesRecord> = tx.get(Tree::Rules, &key)?;
                if old.as_ref().and_then(|o| o.config.as_ref()) == Some(rules) {
                    return Ok(false);
                }
                let seeded = seed::seed(old.as_ref(), rules);
                if old.as_ref() == Some(&seeded.record) {
                    return Ok(false);
                }
                tx.put(Tree::Rules, &key, &seeded.record)?;
                for (k, before, after) in &seeded.changes {
                    // The lists name people: the log shows them hashed.
                    let detail = serde_json::json!({
                        "before": tx.audit_rule_value(k, before)?,
                        "after": tx.audit_rule_value(k, after)?,
                    });
                    tx.audit(AuditDraft {
                        actor: "config".into(),
                        action: crate::audit::AuditAction::RulesSeeded,
                        link: Some(link.id.clone()),
                        subject: (k != "*").then(|| k.clone()),
                        detail,
                    })?;
                }
                Ok(old.as_ref().map(|o| &o.rules) != Some(&seeded.record.rules))
            })?;
            if changed {
                reseeded.push(link.id.clone());
            }
        }
        Ok(reseeded)
    }

    /// Changes one rule of a link at runtime, audited in the same transaction.
    pub fn set_rule(
        &self,
        link: &LinkId,
        key: &str,
        value: &str,
        actor: &str,
    ) -> Result<Rules, StoreError> {
        self.transact(|tx| {
            let k = keys::link(link);
            let mut rec: RulesRecord = tx
                .get(Tree::Rules, &k)?
                .ok_or_else(|| StoreError::NotFound(format!("link `{link}`")))?;
            let before = rec.rules.clone();
            rec.rules
                .set(key, value)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            tx.put(Tree::Rules, &k, &rec)?;
            // The lists of people are shown hashed in `before` and `after`; the typed value
            // would name them.
            let names_people = matches!(key.split('.').next(), Some("trusted" | "blocked"));
            let detail = serde_json::json!({
                "value": (!names_people).then_some(value),
                "before": tx.audit_rules(&before)?,
                "after": tx.audit_rules(&rec.rules)?,
            });
            tx.audit(AuditDraft {
                actor: actor.to_owned(),
                action: crate::audit::AuditAction::RulesChanged,
                link: Some(link.clone()),
                subject: Some(key.to_owned()),
                detail,
            })?;
            Ok(rec.rules)
        })
    }

    // ---- reads for the pipeline, the CLI and tests -----------------------------------------

    pub fn mirror(&self, id: MirrorId) -> Result<Option<MirrorRecord>, StoreError> {
        self.get(Tree::Mirrors, &keys::id(id.0))
    }

    pub fn lookup_message(
        &self,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<IndexEntry>, StoreError> {
        self.get(Tree::MsgIndex, &keys::message(room, msg))
    }

    pub fn pending(&self) -> Result<Vec<PendingItem>, StoreError> {
        self.all(Tree::Pending)
    }

    pub fn pending_item(&self, id: PendingId) -> Result<Option<PendingItem>, StoreError> {
        self.get(Tree::Pending, &keys::id(id.0))
    }

    /// Every unfinished job, oldest first.
    pub fn outbox(&self) -> Result<Vec<Job>, StoreError> {
        self.all(Tree::Outbox)
    }

    pub fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.get(Tree::Outbox, &keys::id(id.0))
    }

    pub fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        self.all(Tree::Audit)
    }

    /// Every key and value of every tree, decoded or not: for tests that prove nothing about a
    /// person is left anywhere in the store.
    #[doc(hidden)]
    pub fn raw_contents(&self) -> Result<Vec<RawEntry>, StoreError> {
        let mut out = Vec::new();
        for tree in Tree::ALL {
            for (k, v) in self.backend.scan(tree, b"")? {
                out.push((tree, k, v));
            }
        }
        Ok(out)
    }

    pub fn was_seen(&self, platform: Platform, id: &InboundId) -> Result<bool, StoreError> {
        Ok(self
            .backend
            .get(Tree::Seen, &keys::seen(platform, id))?
            .is_some())
    }

    /// Forgets seen-event marks older than `cutoff_ms`, so the dedupe tree stays bounded.
    /// Platforms do not replay events older than a day or so; keep a week to be safe.
    pub fn prune_seen(&self, cutoff_ms: u64) -> Result<usize, StoreError> {
        let old: Vec<Vec<u8>> = self
            .backend
            .scan(Tree::Seen, b"")?
            .into_iter()
            .filter(|(_, v)| keys::decode_u64(v).is_ok_and(|t| t < cutoff_ms))
            .map(|(k, _)| k)
            .collect();
        for chunk in old.chunks(512) {
            self.transact(|tx| {
                for k in chunk {
                    tx.kv.remove(Tree::Seen, k)?;
                }
                Ok(())
            })?;
        }
        Ok(old.len())
    }

    // ---- connector state --------------------------------------------------------------------

    /// The durable key/value space of one connector.
    pub fn connector_state(&self, platform: Platform) -> Arc<dyn ConnectorState> {
        Arc::new(StoreConnectorState {
            store: self.clone(),
            platform,
        })
    }
}

fn hex_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A transaction in progress: typed verbs over the backend's transactional view.
pub struct Tx<'a> {
    kv: &'a mut dyn KvTx,
    now_ms: u64,
    ids: &'a ids::IdAllocator,
    /// The id high-water mark this transaction wrote, if any.
    mark: Option<u64>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

impl Tx<'_> {
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    fn get<T: DeserializeOwned>(&self, tree: Tree, key: &[u8]) -> Result<Option<T>, TxError> {
        match self.kv.get(tree, key)? {
            Some(v) => Ok(Some(keys::decode(&v)?)),
            None => Ok(None),
        }
    }

    fn put<T: Serialize>(&mut self, tree: Tree, key: &[u8], value: &T) -> Result<(), TxError> {
        self.kv.insert(tree, key, keys::encode(value))
    }

    fn next_pending(&mut self) -> Result<u64, TxError> {
        let key = keys::counter(PENDING_COUNTER);
        let n = match self.kv.get(Tree::Meta, &key)? {
            Some(v) => keys::decode_u64(&v)? + 1,
            None => 1,
        };
        self.kv.insert(Tree::Meta, &key, keys::encode_u64(n))?;
        Ok(n)
    }

    /// Marks an inbound event as handled; returns `false` if it already was (a replay).
    pub fn mark_seen(&mut self, platform: Platform, id: &InboundId) -> Result<bool, TxError> {
        let key = keys::seen(platform, id);
        if self.kv.get(Tree::Seen, &key)?.is_some() {
            return Ok(false);
        }
        self.kv
            .insert(Tree::Seen, &key, keys::encode_u64(self.now_ms))?;
        Ok(true)
    }

    pub fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>, TxError> {
        self.get(Tree::Links, &keys::link(id))
    }

    fn fresh_id(&mut self) -> Result<u64, TxError> {
        let (id, mark) = self.ids.take();
        if let Some(m) = mark {
            if self.mark.is_none_or(|old| m > old) {
                self.kv
                    .insert(Tree::Meta, &keys::counter(ID_MARK), keys::encode_u64(m))?;
                self.mark = Some(m);
            }
        }
        Ok(id)
    }

    pub fn new_mirror_id(&mut self) -> Result<MirrorId, TxError> {
        self.fresh_id().map(MirrorId)
    }

    pub fn mirror(&self, id: MirrorId) -> Result<Option<MirrorRecord>, TxError> {
        self.get(Tree::Mirrors, &keys::id(id.0))
    }

    /// Creates a mirror record and indexes its source message.
    pub fn insert_mirror(&mut self, m: &MirrorRecord) -> Result<(), TxError> {
        self.put_mirror(m)?;
        self.index(&m.source, &m.source_msg, IndexEntry::Mirror(m.id))
    }

    /// Saves a mirror record. Index the ids of new copies with [`Tx::index`] as they appear.
    pub fn put_mirror(&mut self, m: &MirrorRecord) -> Result<(), TxError> {
        self.put(Tree::Mirrors, &keys::id(m.id.0), m)
    }

    pub fn mirror_required(&self, id: MirrorId) -> Result<MirrorRecord, TxError> {
        self.mirror(id)?
            .ok_or_else(|| StoreError::NotFound(format!("mirror {id}")).into())
    }

    pub fn index(
        &mut self,
        room: &RoomRef,
        msg: &RemoteMsgId,
        e: IndexEntry,
    ) -> Result<(), TxError> {
        self.put(Tree::MsgIndex, &keys::message(room, msg), &e)
    }

    pub fn lookup_message(
        &self,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<IndexEntry>, TxError> {
        self.get(Tree::MsgIndex, &keys::message(room, msg))
    }

    /// The bridged message a (room, message) pair is the source or a copy of.
    pub fn mirror_of(
        &self,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<MirrorId>, TxError> {
        Ok(match self.lookup_message(room, msg)? {
            Some(IndexEntry::Mirror(m)) => Some(m),
            _ => None,
        })
    }

    /// Maps a platform thread to the bridged message at its root.
    pub fn put_thread(
        &mut self,
        room: &RoomRef,
        thread: &ThreadId,
        root: MirrorId,
    ) -> Result<(), TxError> {
        self.put(Tree::Threads, &keys::thread(room, thread), &root)
    }

    /// The root of a platform thread: from the thread map, or (on platforms where a thread is
    /// named after its root message, like Matrix) from the message index.
    pub fn thread_root(
        &self,
        room: &RoomRef,
        thread: &ThreadId,
    ) -> Result<Option<MirrorId>, TxError> {
        if let Some(root) = self.get(Tree::Threads, &keys::thread(room, thread))? {
            return Ok(Some(root));
        }
        self.mirror_of(room, &RemoteMsgId::new(thread.as_str()))
    }

    pub fn put_pending(&mut self, mut item: PendingItem) -> Result<PendingItem, TxError> {
        if item.id.0 == 0 {
            item.id = PendingId(self.next_pending()?);
        }
        self.put(Tree::Pending, &keys::id(item.id.0), &item)?;
        if let Some((room, msg)) = &item.card {
            self.index(room, msg, IndexEntry::Card(item.id))?;
        }
        Ok(item)
    }

    pub fn pending(&self, id: PendingId) -> Result<Option<PendingItem>, TxError> {
        self.get(Tree::Pending, &keys::id(id.0))
    }

    pub fn remove_pending(&mut self, id: PendingId) -> Result<(), TxError> {
        self.kv.remove(Tree::Pending, &keys::id(id.0))
    }

    /// Adds a job to the outbox and returns it.
    pub fn push_job(
        &mut self,
        link: &LinkId,
        target: &RoomRef,
        kind: JobKind,
    ) -> Result<Job, TxError> {
        let job = Job {
            id: JobId(self.fresh_id()?),
            link: link.clone(),
            target: target.clone(),
            kind,
            created_ms: self.now_ms,
            parts_done: 0,
            attempts: 0,
        };
        self.put(Tree::Outbox, &keys::id(job.id.0), &job)?;
        Ok(job)
    }

    pub fn job(&self, id: JobId) -> Result<Option<Job>, TxError> {
        self.get(Tree::Outbox, &keys::id(id.0))
    }

    pub fn update_job(&mut self, job: &Job) -> Result<(), TxError> {
        self.put(Tree::Outbox, &keys::id(job.id.0), job)
    }

    pub fn finish_job(&mut self, id: JobId) -> Result<(), TxError> {
        self.kv.remove(Tree::Outbox, &keys::id(id.0))
    }

    /// Appends a sealed entry to the audit chain.
    pub fn audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, TxError> {
        let head: AuditHead = self
            .get(Tree::Meta, keys::AUDIT_HEAD)?
            .unwrap_or(AuditHead {
                seq: 0,
                hash: GENESIS.to_owned(),
            });
        let entry = AuditEntry::seal(draft, head.seq + 1, self.now_ms, head.hash);
        self.put(Tree::Audit, &keys::id(entry.seq), &entry)?;
        self.put(
            Tree::Meta,
            keys::AUDIT_HEAD,
            &AuditHead {
                seq: entry.seq,
                hash: entry.hash.clone(),
            },
        )?;
        Ok(entry)
    }

    /// Replaces an audit entry in place. Only for tests that prove tampering is detected.
    #[doc(hidden)]
    pub fn tamper_audit(&mut self, entry: &AuditEntry) -> Result<(), TxError> {
        self.put(Tree::Audit, &keys::id(entry.seq), entry)
    }
}

// ---- verbs for moderator commands (`!set`, `!trust`, `!block`, `!rules`) --------------------
// Kept apart from the pipeline's verbs above: they change a link's rules inside the same
// transaction that marks the command's event as seen and queues the reply, so a replayed command
// is not applied twice.
impl Tx<'_> {
    /// The link's current rules.
    pub fn rules(&self, link: &LinkId) -> Result<Option<Rules>, TxError> {
        Ok(self
            .get::<RulesRecord>(Tree::Rules, &keys::link(link))?
            .map(|r| r.rules))
    }

    /// Applies `change` to the link's rules and audits it as `actor`. A change the rules refuse
    /// (unknown key, bad value) is returned as `Ok(Err(..))` and nothing is written.
    pub fn change_rules(
        &mut self,
        link: &LinkId,
        actor: &str,
        subject: &str,
        change: impl FnOnce(&mut Rules) -> Result<(), crate::rules::RuleError>,
    ) -> Result<Result<Rules, crate::rules::RuleError>, TxError> {
        let k = keys::link(link);
        let Some(mut rec) = self.get::<RulesRecord>(Tree::Rules, &k)? else {
            return Err(StoreError::NotFound(format!("link `{link}`")).into());
        };
        let before = rec.rules.clone();
        if let Err(e) = change(&mut rec.rules) {
            return Ok(Err(e));
        }
        self.put(Tree::Rules, &k, &rec)?;
        let detail = serde_json::json!({
            "before": self.audit_rules(&before)?,
            "after": self.audit_rules(&rec.rules)?,
        });
        self.audit(AuditDraft {
            actor: actor.to_owned(),
            action: crate::audit::AuditAction::RulesChanged,
            link: Some(link.clone()),
            subject: Some(subject.to_owned()),
            detail,
        })?;
        Ok(Ok(rec.rules))
    }
}

pub use backend::TxError as TxFailure;

#[derive(Debug)]
struct StoreConnectorState {
    store: Store,
    platform: Platform,
}

#[async_trait::async_trait]
impl ConnectorState for StoreConnectorState {
    fn get(&self, key: &str) -> Option<String> {
        let raw = self
            .store
            .backend
            .get(
                Tree::ConnectorState,
                &keys::connector_state(self.platform, key),
            )
            .ok()??;
        String::from_utf8(raw).ok()
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), ConnectorError> {
        let k = keys::connector_state(self.platform, key);
        self.store
            .transact(|tx| {
                tx.kv
                    .insert(Tree::ConnectorState, &k, value.as_bytes().to_vec())
            })
            .map_err(|e| ConnectorError::Transient(e.to_string()))?;
        self.store
            .flush()
            .await
            .map_err(|e| ConnectorError::Transient(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_items_from_before_are_linked_from_their_messages_once() {
        use civicbridge_api::{LinkId, RemoteMsgId, RichText};
        let backend = Arc::new(memory::MemoryBackend::default());
        let m = MirrorRecord::new(
            MirrorId(9),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-1"),
            RemoteMsgId::new("7"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            RichText::plain("hi"),
        );
        let mut item = PendingItem::new(
            LinkId::new("l"),
            m.id,
            PendingKind::Message,
            Vec::new(),
            "r".into(),
            0,
        );
        item.id = PendingId(3);
        backend
            .transact(&mut |tx| {
                tx.insert(Tree::Mirrors, &keys::id(9), keys::encode(&m))?;
                tx.insert(Tree::Pending, &keys::id(3), keys::encode(&item))
            })
            .expect("seed an old store");
        let store = Store::with_backend(backend.clone()).expect("opens");
        let held = store
            .mirror(MirrorId(9))
            .expect("reads")
            .expect("exists")
            .held;
        assert_eq!(held, vec![PendingId(3)]);
        drop(store);
        let store = Store::with_backend(backend).expect("opens again");
        assert_eq!(
            store
                .mirror(MirrorId(9))
                .expect("reads")
                .expect("exists")
                .held,
            vec![PendingId(3)],
            "once"
        );
    }

    /// An older release could write a held message too deep for serde_json to read back
    /// (issue 13, defect 11). Such records must not keep the store from opening after the
    /// upgrade: the backfill skips them, and the readable ones are still linked.
    #[test]
    fn undecodable_old_records_do_not_keep_the_store_from_opening() {
        use civicbridge_api::{LinkId, RemoteMsgId, RichText};
        let backend = Arc::new(memory::MemoryBackend::default());
        let m = MirrorRecord::new(
            MirrorId(9),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-1"),
            RemoteMsgId::new("7"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            RichText::plain("hi"),
        );
        let mut item = PendingItem::new(
            LinkId::new("l"),
            m.id,
            PendingKind::Message,
            Vec::new(),
            "r".into(),
            0,
        );
        item.id = PendingId(3);
        let deep = format!(r#"{{"v":1,"d":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
        backend
            .transact(&mut |tx| {
                tx.insert(Tree::Mirrors, &keys::id(9), keys::encode(&m))?;
                tx.insert(Tree::Pending, &keys::id(3), keys::encode(&item))?;
                // A held item and a message whose records serde_json refuses for their depth.
                tx.insert(Tree::Pending, &keys::id(4), deep.clone().into_bytes())?;
                tx.insert(Tree::Mirrors, &keys::id(10), deep.clone().into_bytes())?;
                let mut other = item.clone();
                other.id = PendingId(5);
                other.mirror = MirrorId(10);
                tx.insert(Tree::Pending, &keys::id(5), keys::encode(&other))
            })
            .expect("seed an old store");
        let store = Store::with_backend(backend).expect("opens despite the undecodable records");
        let held = store
            .mirror(MirrorId(9))
            .expect("reads")
            .expect("exists")
            .held;
        assert_eq!(held, vec![PendingId(3)]);
    }

    #[test]
    fn a_store_from_before_instance_names_migrates_to_the_empty_name() {
        let backend = Arc::new(memory::MemoryBackend::default());
        backend
            .transact(&mut |tx| tx.insert(Tree::Meta, keys::SCHEMA_VERSION, keys::encode_u64(1)))
            .expect("seed a version 1 store");
        let store = Store::with_backend(backend).expect("migrates");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            store.instance(),
            "",
            "queued jobs keep their transaction ids"
        );
        assert_eq!(
            Store::memory().instance().len(),
            12,
            "a new store gets a name"
        );
    }
}
