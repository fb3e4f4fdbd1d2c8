//! Every engine runs the conformance suite; then what only the sled engine has to get right
//! (its layers over sled, its checkpoints, its shared flushes).
#![allow(clippy::unwrap_used)]

use civicbridge_kv::memory::MemoryBackend;
use civicbridge_kv::sled::SledBackend;
use civicbridge_kv::{conformance, transaction, Backend, KvError, TreeId};
use std::path::Path;
use std::sync::Arc;

#[test]
fn the_memory_engine_conforms() {
    conformance::run(&|trees| Arc::new(MemoryBackend::new(trees)));
}

#[test]
fn the_sled_engine_conforms() {
    // Every engine the suite makes lives in a directory of its own, kept until the test ends.
    let dirs = std::sync::Mutex::new(Vec::new());
    conformance::run(&|trees| {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(SledBackend::open(dir.path(), trees).unwrap());
        dirs.lock().unwrap().push(dir);
        engine
    });
}

#[test]
fn the_sled_engine_is_durable() {
    conformance::run_durable(&|path, trees| Arc::new(SledBackend::open(path, trees).unwrap()));
}

const TREES: [&str; 2] = ["seen", "outbox"];
const SEEN: TreeId = TreeId::new(0);
const OUTBOX: TreeId = TreeId::new(1);

fn open(dir: &Path) -> SledBackend {
    SledBackend::open(dir, &TREES).unwrap()
}

fn put(engine: &dyn Backend, tree: TreeId, key: &[u8], value: &[u8]) {
    transaction(engine, |tx| tx.insert(tree, key, value.to_vec())).unwrap();
}

/// Writes that sled already holds (after a checkpoint, which a clean close runs) are shadowed
/// by later rewrites and removals, in reads and scans, before and after the next checkpoint.
#[test]
fn later_writes_shadow_what_a_checkpoint_put_in_sled() {
    let dir = tempfile::tempdir().unwrap();
    let job = |i: u64| i.to_be_bytes();
    {
        let engine = open(dir.path());
        for i in 1..=3 {
            put(&engine, OUTBOX, &job(i), b"attempts 0");
        }
    }
    let check = |engine: &SledBackend| {
        let left = engine.scan(OUTBOX, b"").unwrap();
        assert_eq!(
            left,
            [
                (job(2).to_vec(), b"attempts 7".to_vec()),
                (job(3).to_vec(), b"attempts 0".to_vec())
            ]
        );
        assert!(engine.get(OUTBOX, &job(1)).unwrap().is_none());
    };
    {
        let engine = open(dir.path());
        transaction(&engine, |tx| {
            tx.remove(OUTBOX, &job(1))?;
            assert!(tx.get(OUTBOX, &job(2))?.is_some());
            tx.insert(OUTBOX, &job(2), b"attempts 7".to_vec())
        })
        .unwrap();
        check(&engine);
    }
    check(&open(dir.path()));
}

/// Enough transactions for several checkpoints into sled while reads go on: every read sees
/// the latest committed value, wherever it lives (transaction, overlay, checkpoint, sled).
#[test]
fn reads_and_scans_stay_right_while_checkpoints_run() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let n = 120_000u64;
    let ev = |i: u64| format!("telegram\0e{i:06}").into_bytes();
    for i in 1..=n {
        put(&engine, SEEN, &ev(i), &i.to_be_bytes());
        if i % 997 == 0 {
            assert!(engine.get(SEEN, &ev(i / 2)).unwrap().is_some());
            assert!(engine.get(SEEN, &ev(i + 1)).unwrap().is_none());
        }
    }
    let prune = || {
        let old = engine.scan(SEEN, b"").unwrap();
        for chunk in old.chunks(512) {
            transaction(&engine, |tx| {
                for (k, _) in chunk {
                    tx.remove(SEEN, k)?;
                }
                Ok::<_, KvError>(())
            })
            .unwrap();
        }
        old.len()
    };
    assert_eq!(prune(), n as usize);
    assert!(engine.get(SEEN, &ev(n / 3)).unwrap().is_none());
    assert_eq!(prune(), 0);
}

/// sled's cache is bounded, so sled evicts pages and reads them back from its log, some of
/// them before its own flush has written them. With a cache of a few hundred bytes nearly
/// every page is evicted: every value still reads back, while checkpoints run and after a
/// reopen, when all of it comes from sled.
#[test]
fn values_read_back_when_sled_evicts_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let n = 20_000u64;
    let key = |i: u64| format!("telegram\0e{i:06}").into_bytes();
    let value = |i: u64| format!("{i:0200}").into_bytes();
    let check_all = |engine: &SledBackend| {
        for i in (1..=n).step_by(7) {
            assert_eq!(
                engine.get(SEEN, &key(i)).unwrap(),
                Some(value(i)),
                "key {i}"
            );
        }
        assert_eq!(engine.scan(SEEN, b"").unwrap().len(), n as usize);
    };
    {
        let engine = SledBackend::open_with_cache_for_tests(dir.path(), &TREES, 512).unwrap();
        for i in 1..=n {
            put(&engine, SEEN, &key(i), &value(i));
            if i % 1_000 == 0 {
                assert_eq!(engine.get(SEEN, &key(i / 2)).unwrap(), Some(value(i / 2)));
            }
        }
        check_all(&engine);
    }
    let engine = SledBackend::open_with_cache_for_tests(dir.path(), &TREES, 512).unwrap();
    check_all(&engine);
}

/// Threads of this process whose name is `name` (the kernel keeps the first 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn concurrent_flushes_share_one_blocking_thread() {
    // Many callers flushing at once (a burst on many links) wait for the flush in progress
    // without each holding a thread of tokio's blocking pool parked on the journal lock.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flush-probe")
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(open(dir.path()));
    rt.block_on(async {
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    put(&*engine, SEEN, format!("k{i}").as_bytes(), b"v");
                    engine.flush().await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    // Idle blocking threads live on for 10 s, so every one started is still counted here:
    // the two workers and at most two flushers (one more if a flush was cancelled).
    let threads = threads_named("flush-probe");
    assert!(threads <= 4, "{threads} runtime threads for 400 flushes");
    drop(rt);
    drop(engine);
    let engine = open(dir.path());
    for i in [0, 199, 399] {
        assert_eq!(
            engine.get(SEEN, format!("k{i}").as_bytes()).unwrap(),
            Some(b"v".to_vec())
        );
    }
}

#[test]
fn a_second_process_lock_is_reported_as_locked() {
    // sled's lock is per process; in one process a second open waits for the first to let go,
    // then reports the lock as `Locked` with the directory.
    let dir = tempfile::tempdir().unwrap();
    let _first = open(dir.path());
    match SledBackend::open(dir.path(), &TREES) {
        Err(KvError::Locked(path)) => assert_eq!(path, dir.path().display().to_string()),
        other => panic!("expected Locked, got {other:?}"),
    }
}

/// The journal names trees by position: opening it with the trees reordered or one removed
/// would replay writes into the wrong tree, so it is refused; adding a tree at the end is fine.
#[test]
fn reopening_with_trees_reordered_or_removed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let refused = |names: &[&str]| match SledBackend::open(dir.path(), names) {
        Err(KvError::Corrupt(why)) => assert!(why.contains("written for the trees"), "{why}"),
        other => panic!("{names:?}: {other:?}"),
    };
    refused(&["outbox", "seen"]);
    refused(&["seen"]);
    drop(SledBackend::open(dir.path(), &["seen", "outbox", "parked"]).unwrap());
    refused(&TREES);
    drop(SledBackend::open(dir.path(), &["seen", "outbox", "parked"]).unwrap());
}
