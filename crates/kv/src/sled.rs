//! The sled engine: one sled 0.34.7 tree per tree name, behind a write-ahead journal.
//!
//! Why not sled's own transactions: the first one switches sled into a mode where every
//! operation takes one process-wide lock, and `flush` holds it through the fsync, so under load
//! transactions stall behind flushes (measured: seconds); and a sled write costs 5–13 µs on these
//! machines, about eleven of them per relayed message. So sled is kept off the write path:
//!
//! - A transaction runs alone (the writer lock) over a layered view: its own writes, then the
//!   committed writes sled does not have yet (`active`, then `frozen`), then sled. On commit its
//!   writes join `active` and its record is queued for the [`Journal`]. No sled call, no I/O.
//! - `flush` appends every queued record to the journal and syncs once: that is durability.
//! - A checkpoint thread freezes `active`, makes the journal durable up to it, writes it into
//!   sled in bulk, flushes sled, records the last seq sled holds, and deletes the journal
//!   segments it covers. Writes coalesce: an outbox job queued and finished between two
//!   checkpoints, or a mirror record rewritten per copy, costs sled one write or none.
//! - Opening replays the journal records after the seq sled holds.
//!
//! So a crash keeps every flushed transaction whole and loses only unflushed ones, whole too: a
//! record is all-or-nothing (length and CRC), and sled is only given writes that are already
//! durable in the journal (its own flush is not atomic, and need not be: the journal replays).
//!
//! Lock order: `journal` → `writer` → `layers`; `signal` (the checkpoint thread's wakeups) is
//! taken alone or before `layers`.

use crate::journal::{self, Journal};
use crate::overlay::{Committed, Slot, TxView, WriteSet};
use crate::{Backend, Entry, KvError, KvTx, TreeId};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Where sled keeps the seq of the last journal record it holds (its default tree, apart from
/// the named trees).
const APPLIED_KEY: &[u8] = b"civicbridge/journal_applied_seq";
/// A checkpoint runs this often, or sooner once `active` holds [`CHECKPOINT_AT`] keys.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
const CHECKPOINT_AT: usize = 50_000;
/// sled's page cache, in its own accounting. sled keeps every page it has written or read in
/// memory until this much is cached, and its default is 1 GiB, so a daemon that mostly writes
/// grew by every record it wrote: a bare sled held 221 MB after 400,000 writes of 300 bytes,
/// and the daemon grew about 2.6 MB per 1,000 relayed messages. At 32 MiB the bare sled levels
/// off near 72 MB (sled holds more than it counts), and the pipeline bench's 100,000-message
/// burst peaks at 323 MB against 452. sled splits this among 256 shards and evicts per shard:
/// at 8 MiB (32 KiB a shard) 100 links relayed about 1 ms slower at p50 and idled on more CPU,
/// which looks like hot pages evicted and read back; at 32 MiB neither. An evicted page is read
/// back from sled's log file, through the OS's cache, when it is needed again.
const CACHE_BYTES: u64 = 32 << 20;
/// Past this many keys in `active` while a checkpoint is still writing `frozen`, transactions
/// wait for it (memory stays bounded when sled cannot keep up), for at most `ROOM_PATIENCE`:
/// then they fail, so a store whose checkpoints keep failing stops taking work visibly.
const ACTIVE_LIMIT: usize = 1_000_000;
const ROOM_PATIENCE: Duration = Duration::from_secs(30);
/// A checkpoint starts a new journal segment once the current one is this big; the old one is
/// deleted as soon as sled holds all its records (usually by that same checkpoint).
const SEGMENT_BYTES: u64 = 64 << 20;

#[derive(Debug)]
pub struct SledBackend {
    shared: Arc<Shared>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// Held by the one flush that is writing the journal. The others wait here, on the async
    /// side and without a thread, and most find their records made durable by that flush
    /// (group commit). Without it every waiting flush held a blocking-pool thread parked on
    /// the journal lock: 100 busy links grew the pool by 56 threads and ~25 MB of memory.
    flushing: tokio::sync::Mutex<()>,
}

struct Shared {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    writer: Mutex<Writer>,
    layers: RwLock<Layers>,
    journal: Mutex<Journal>,
    /// The journal's folder (`<store>/journal`), for [`Backend::journal_bytes`].
    journal_dir: std::path::PathBuf,
    /// The highest seq whose record is synced to the journal.
    durable: AtomicU64,
    /// Wakes the checkpoint thread (and transactions waiting for room).
    signal: Mutex<bool>,
    wake: Condvar,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledBackend")
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

/// The commit side: the last seq handed out and the records not yet in the journal.
struct Writer {
    seq: u64,
    queued: Vec<u8>,
    /// The seq of the first record in `queued`.
    queued_from: u64,
}

/// Committed writes sled does not have yet: `active` takes new commits; `frozen` (with the
/// last seq it covers) is being written into sled by a checkpoint.
#[derive(Default)]
struct Layers {
    active: WriteSet,
    frozen: Option<(Arc<WriteSet>, u64)>,
}

impl Layers {
    fn get(&self, tree: TreeId, key: &[u8]) -> Option<&Slot> {
        self.active
            .get(tree, key)
            .or_else(|| self.frozen.as_ref().and_then(|(f, _)| f.get(tree, key)))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn backend(e: sled::Error) -> KvError {
    KvError::Io(e.to_string())
}

/// Writes `writes` (everything up to journal record `upto`) into sled durably, then records
/// `upto`. Two flushes: sled's flush is not atomic, so the mark must not reach the disk before
/// the data it vouches for.
fn apply(db: &sled::Db, trees: &[sled::Tree], writes: &WriteSet, upto: u64) -> Result<(), KvError> {
    for (tree, key, slot) in writes.iter() {
        let t = trees
            .get(tree.index())
            .ok_or_else(|| KvError::Io(format!("no tree {} in this store", tree.index())))?;
        match slot {
            Some(v) => t.insert(key, v.as_slice()).map(drop),
            None => t.remove(key).map(drop),
        }
        .map_err(backend)?;
    }
    db.flush().map_err(backend)?;
    db.insert(APPLIED_KEY, &upto.to_be_bytes())
        .map_err(backend)?;
    db.flush().map_err(backend)?;
    Ok(())
}

impl SledBackend {
    /// Opens the engine in `path` with the trees `names` (a tree's id is its position in the
    /// list: keep the order, the journal records it), replaying its journal. A lock still held
    /// *in this process* by a just-dropped engine (sled's background threads let go of the
    /// directory a moment after the last handle is dropped) is waited out for up to two
    /// seconds; another process's lock is reported.
    pub fn open(path: &Path, names: &[&str]) -> Result<Self, KvError> {
        Self::open_with_cache(path, names, CACHE_BYTES)
    }

    /// [`SledBackend::open`] with sled's cache at `cache_bytes` (at least 256): the tests
    /// make it tiny, so that sled evicts pages and reads them back from its log.
    #[cfg(feature = "testing")]
    pub fn open_with_cache_for_tests(
        path: &Path,
        names: &[&str],
        cache_bytes: u64,
    ) -> Result<Self, KvError> {
        Self::open_with_cache(path, names, cache_bytes.max(256))
    }

    fn open_with_cache(path: &Path, names: &[&str], cache_bytes: u64) -> Result<Self, KvError> {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        let shared = loop {
            match Shared::open(path, names, cache_bytes) {
                Err(KvError::Locked(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => break Arc::new(other?),
            }
        };
        let worker = shared.clone();
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || worker.run_checkpoints())
            .map_err(|e| KvError::Io(format!("starting the checkpoint thread: {e}")))?;
        Ok(SledBackend {
            shared,
            checkpointer: Some(checkpointer),
            flushing: tokio::sync::Mutex::new(()),
        })
    }
}

impl Drop for SledBackend {
    /// Stops the checkpoint thread, which first flushes the journal and checkpoints what is
    /// committed (if that fails, the journal has it and the next open replays it). Blocks the
    /// dropping thread for that checkpoint.
    fn drop(&mut self) {
        self.shared.notify(|stop| *stop = true);
        if let Some(t) = self.checkpointer.take() {
            if t.join().is_err() {
                tracing::error!("the store's checkpoint thread panicked");
            }
        }
    }
}

impl Shared {
    fn open(path: &Path, names: &[&str], cache_bytes: u64) -> Result<Shared, KvError> {
        let db = sled::Config::new()
            .path(path)
            // Durability comes from the journal; sled is flushed by each checkpoint.
            .flush_every_ms(None)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(|e| {
                // sled reports the directory lock as an I/O error whose text names it.
                if e.to_string().contains("could not acquire lock") {
                    KvError::Locked(path.display().to_string())
                } else {
                    KvError::Io(format!("opening {}: {e}", path.display()))
                }
            })?;
        let trees = names
            .iter()
            .map(|name| db.open_tree(name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        let applied = match db.get(APPLIED_KEY).map_err(backend)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| {
                KvError::Corrupt(format!("the journal mark in sled is {} bytes", v.len()))
            })?),
            None => 0,
        };
        let dir = path.join("journal");
        journal::check_trees(&dir, names)?;
        let mut replay = WriteSet::default();
        let mut last = applied;
        for rec in journal::recover(&dir, trees.len())? {
            if rec.seq <= applied {
                continue;
            }
            if rec.seq != last + 1 {
                return Err(KvError::Corrupt(format!(
                    "journal in {}: sled holds records up to {applied}, the journal resumes at {}",
                    dir.display(),
                    rec.seq
                )));
            }
            replay.absorb(rec.writes);
            last = rec.seq;
        }
        if last > applied {
            tracing::info!(from = applied + 1, to = last, "replaying the store journal");
            apply(&db, &trees, &replay, last)?;
        }
        // Only now that sled holds everything can the old segments go.
        let journal = Journal::start(&dir, last + 1)?;
        Ok(Shared {
            db,
            trees,
            writer: Mutex::new(Writer {
                seq: last,
                queued: Vec::new(),
                queued_from: last + 1,
            }),
            layers: RwLock::new(Layers::default()),
            journal: Mutex::new(journal),
            journal_dir: dir,
            durable: AtomicU64::new(last),
            signal: Mutex::new(false),
            wake: Condvar::new(),
        })
    }

    fn layers(&self) -> std::sync::RwLockReadGuard<'_, Layers> {
        self.layers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn layers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Layers> {
        self.layers.write().unwrap_or_else(|p| p.into_inner())
    }

    fn tree(&self, tree: TreeId) -> Result<&sled::Tree, KvError> {
        self.trees
            .get(tree.index())
            .ok_or_else(|| KvError::Io(format!("no tree {} in this store", tree.index())))
    }

    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        if let Some(slot) = self.layers().get(tree, key) {
            return Ok(slot.clone());
        }
        self.tree(tree)?
            .get(key)
            .map(|v| v.map(|v| v.to_vec()))
            .map_err(backend)
    }

    /// The committed entries under `prefix`: sled's, with the layers laid over them. Holding
    /// the layers keeps `frozen` in place while sled is read: a checkpoint may be writing it
    /// into sled meanwhile, and laying it over sled's answer covers that.
    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, KvError> {
        let layers = self.layers();
        let mut merged = BTreeMap::new();
        for kv in self.tree(tree)?.scan_prefix(prefix) {
            let (k, v) = kv.map_err(backend)?;
            merged.insert(k.to_vec(), v.to_vec());
        }
        if let Some((frozen, _)) = &layers.frozen {
            frozen.overlay_prefix(tree, prefix, &mut merged);
        }
        layers.active.overlay_prefix(tree, prefix, &mut merged);
        Ok(merged)
    }

    /// Whether every transaction committed so far is in the synced journal.
    fn all_durable(&self) -> bool {
        self.durable_through(lock(&self.writer).seq)
    }

    /// Whether the transaction numbered `seq`, and every one before it, is in the synced journal.
    fn durable_through(&self, seq: u64) -> bool {
        self.durable.load(Ordering::Acquire) >= seq
    }

    /// Appends every queued record to the journal and syncs it. Callers that arrive while a
    /// sync is running wait for it and are often covered by it.
    fn flush_blocking(&self) -> Result<(), KvError> {
        let target = lock(&self.writer).seq;
        if self.durable_through(target) {
            return Ok(());
        }
        let mut journal = lock(&self.journal);
        if self.durable_through(target) {
            return Ok(());
        }
        let (bytes, first, last) = {
            let mut w = lock(&self.writer);
            let first = w.queued_from;
            w.queued_from = w.seq + 1;
            (std::mem::take(&mut w.queued), first, w.seq)
        };
        match journal.append(&bytes, first, last) {
            Ok(()) => {
                self.durable.store(last, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                // Put the records back, ahead of any committed meanwhile: the next flush
                // writes them again (into a new segment, or the emptied failed one).
                let mut w = lock(&self.writer);
                let mut again = bytes;
                again.extend_from_slice(&w.queued);
                w.queued = again;
                w.queued_from = first;
                Err(e)
            }
        }
    }

    /// Moves the committed writes into sled. Returns whether there was anything to move.
    fn checkpoint(&self) -> Result<bool, KvError> {
        let existing = self.layers().frozen.clone();
        let (frozen, upto) = match existing {
            // A checkpoint that failed part-way is finished first.
            Some(f) => f,
            None => {
                let w = lock(&self.writer);
                let mut layers = self.layers_mut();
                if layers.active.is_empty() {
                    return Ok(false);
                }
                let f = (Arc::new(std::mem::take(&mut layers.active)), w.seq);
                layers.frozen = Some(f.clone());
                f
            }
        };
        // sled may only hold what the journal already holds.
        self.flush_blocking()?;
        {
            // A new segment only once this one is big (creating one costs a directory sync,
            // which flushes would wait for). Optional: on failure the current one grows on.
            let mut journal = lock(&self.journal);
            if journal.segment_bytes() >= SEGMENT_BYTES {
                let next = self.durable.load(Ordering::Acquire) + 1;
                if let Err(e) = journal.rotate(next) {
                    tracing::warn!(error = %e, "cannot start a new journal segment; keeping the current one");
                }
            }
        }
        apply(&self.db, &self.trees, &frozen, upto)?;
        self.layers_mut().frozen = None;
        self.notify(|_| {});
        lock(&self.journal).remove_through(upto)?;
        Ok(true)
    }

    /// Changes the shared signal under its lock and wakes every waiter (the checkpoint thread,
    /// transactions waiting for room), so no wakeup falls between a waiter's check and its wait.
    fn notify(&self, change: impl FnOnce(&mut bool)) {
        change(&mut lock(&self.signal));
        self.wake.notify_all();
    }

    fn run_checkpoints(&self) {
        loop {
            let stopping = {
                let stop = lock(&self.signal);
                let idle = !*stop && self.layers().active.len() < CHECKPOINT_AT;
                if idle {
                    *self
                        .wake
                        .wait_timeout(stop, CHECKPOINT_EVERY)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                } else {
                    *stop
                }
            };
            // When stopping: until nothing is left (a checkpoint that finishes an earlier
            // failed one leaves newer commits behind), or it fails.
            loop {
                match self.checkpoint() {
                    Ok(more) if stopping && more => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "store checkpoint failed; the journal keeps every change, retrying");
                        if stopping {
                            return;
                        }
                        std::thread::sleep(CHECKPOINT_EVERY);
                        break;
                    }
                }
            }
            if stopping {
                return;
            }
        }
    }

    /// Holds a new transaction back while `active` is over its limit and a checkpoint is
    /// still writing `frozen` into sled.
    fn wait_for_room(&self) -> Result<(), KvError> {
        let full = || {
            let l = self.layers();
            l.active.len() >= ACTIVE_LIMIT && l.frozen.is_some()
        };
        // Every transaction passes here: only a full store takes the signal lock.
        if !full() {
            return Ok(());
        }
        let deadline = std::time::Instant::now() + ROOM_PATIENCE;
        let mut signal = lock(&self.signal);
        loop {
            if !full() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(KvError::Io(
                    "the store cannot move changes into sled (checkpoints keep failing; see the log)"
                        .into(),
                ));
            }
            signal = self
                .wake
                .wait_timeout(signal, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// What a transaction reads under its own writes: the committed state.
struct Reads<'a>(&'a Shared);

impl Committed for Reads<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.0.get(tree, key)
    }

    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, KvError> {
        self.0.scan(tree, prefix)
    }
}

#[async_trait::async_trait]
impl Backend for SledBackend {
    /// The segments' sizes as the file system reports them (a segment may be deleted by a
    /// checkpoint while this reads: it then counts as empty).
    fn journal_bytes(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(&self.shared.journal_dir) else {
            return 0;
        };
        entries
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
        self.shared.get(tree, key)
    }

    fn scan(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Entry>, KvError> {
        Ok(self.shared.scan(tree, prefix)?.into_iter().collect())
    }

    fn transact(
        &self,
        body: &mut dyn FnMut(&mut dyn KvTx) -> Result<(), KvError>,
    ) -> Result<(), KvError> {
        let shared = &*self.shared;
        shared.wait_for_room()?;
        let mut w = lock(&shared.writer);
        let reads = Reads(shared);
        let mut view = TxView::new(&reads);
        body(&mut view)?;
        if view.writes.is_empty() {
            return Ok(());
        }
        if let Some((t, _, _)) = view
            .writes
            .iter()
            .find(|(t, _, _)| t.index() >= shared.trees.len())
        {
            return Err(KvError::Io(format!("no tree {} in this store", t.index())));
        }
        w.seq += 1;
        let seq = w.seq;
        journal::encode(seq, &view.writes, &mut w.queued);
        let big = {
            let mut layers = shared.layers_mut();
            layers.active.absorb(view.writes);
            layers.active.len() >= CHECKPOINT_AT
        };
        drop(w);
        if big {
            shared.notify(|_| {});
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), KvError> {
        if self.shared.all_durable() {
            return Ok(());
        }
        let _turn = self.flushing.lock().await;
        // The flush ahead of this one may have synced what this caller committed.
        if self.shared.all_durable() {
            return Ok(());
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || shared.flush_blocking())
            .await
            .map_err(|e| KvError::Io(format!("flush task failed: {e}")))?
    }
}
