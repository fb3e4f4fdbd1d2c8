//! The conformance suite: what every engine must do (the crate docs say it in words). An engine
//! passes it by running [`run`] with a constructor of fresh, empty engines, and [`run_durable`]
//! too if it persists; `tests/engines.rs` does so for memory and sled. Each check panics with
//! its own name on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{transaction, Backend, KvError, KvTx, TreeId};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The trees every check opens its engine with.
pub const TREES: [&str; 3] = ["alpha", "beta", "gamma"];
const A: TreeId = TreeId::new(0);
const B: TreeId = TreeId::new(1);
const C: TreeId = TreeId::new(2);

/// Makes a fresh, empty engine with the given trees.
pub type Make<'a> = &'a dyn Fn(&[&str]) -> Arc<dyn Backend>;

/// Opens (or reopens) a persistent engine in a directory with the given trees.
pub type Open<'a> = &'a dyn Fn(&Path, &[&str]) -> Arc<dyn Backend>;

type Check = (&'static str, fn(Make<'_>));
type DurableCheck = (&'static str, fn(Open<'_>));

const CHECKS: [Check; 9] = [
    (
        "writes_read_back_and_removals_remove",
        writes_read_back_and_removals_remove,
    ),
    ("trees_are_kept_apart", trees_are_kept_apart),
    (
        "scans_take_a_prefix_in_key_order",
        scans_take_a_prefix_in_key_order,
    ),
    (
        "a_transaction_reads_and_scans_its_own_writes",
        a_transaction_reads_and_scans_its_own_writes,
    ),
    ("a_failed_body_keeps_nothing", a_failed_body_keeps_nothing),
    (
        "a_transaction_spans_trees_whole",
        a_transaction_spans_trees_whole,
    ),
    (
        "transactions_run_once_and_alone",
        transactions_run_once_and_alone,
    ),
    (
        "flush_keeps_everything_readable",
        flush_keeps_everything_readable,
    ),
    (
        "values_of_any_size_round_trip",
        values_of_any_size_round_trip,
    ),
];

/// Runs every check on fresh engines from `make`.
pub fn run(make: Make<'_>) {
    for (name, check) in CHECKS {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(make)));
        if let Err(e) = outcome {
            panic!("conformance check `{name}` failed: {}", message(&e));
        }
    }
}

/// Runs the checks of a persistent engine: what was flushed is there after reopening.
pub fn run_durable(open: Open<'_>) {
    let checks: [DurableCheck; 2] = [
        (
            "flushed_transactions_survive_reopening",
            flushed_transactions_survive_reopening,
        ),
        (
            "a_reopened_engine_takes_new_transactions",
            a_reopened_engine_takes_new_transactions,
        ),
    ];
    for (name, check) in checks {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(open)));
        if let Err(e) = outcome {
            panic!("durability check `{name}` failed: {}", message(&e));
        }
    }
}

fn message(e: &Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

fn put(engine: &dyn Backend, tree: TreeId, key: &[u8], value: &[u8]) {
    transaction(engine, |tx| tx.insert(tree, key, value.to_vec())).unwrap();
}

fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<&[u8]> {
    entries.iter().map(|(k, _)| k.as_slice()).collect()
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn writes_read_back_and_removals_remove(make: Make<'_>) {
    let engine = make(&TREES);
    assert_eq!(engine.get(A, b"k").unwrap(), None);
    put(&*engine, A, b"k", b"1");
    assert_eq!(engine.get(A, b"k").unwrap(), Some(b"1".to_vec()));
    put(&*engine, A, b"k", b"2");
    assert_eq!(
        engine.get(A, b"k").unwrap(),
        Some(b"2".to_vec()),
        "overwritten"
    );
    transaction(&*engine, |tx| tx.remove(A, b"k")).unwrap();
    assert_eq!(engine.get(A, b"k").unwrap(), None);
    assert!(engine.scan(A, b"").unwrap().is_empty());
    // Removing what is not there is no error.
    transaction(&*engine, |tx| tx.remove(A, b"never")).unwrap();
}

fn trees_are_kept_apart(make: Make<'_>) {
    let engine = make(&TREES);
    put(&*engine, A, b"k", b"a");
    put(&*engine, B, b"k", b"b");
    assert_eq!(engine.get(A, b"k").unwrap(), Some(b"a".to_vec()));
    assert_eq!(engine.get(B, b"k").unwrap(), Some(b"b".to_vec()));
    assert_eq!(engine.get(C, b"k").unwrap(), None);
    transaction(&*engine, |tx| tx.remove(A, b"k")).unwrap();
    assert_eq!(engine.get(B, b"k").unwrap(), Some(b"b".to_vec()));
    assert_eq!(engine.scan(C, b"").unwrap(), vec![]);
}

fn scans_take_a_prefix_in_key_order(make: Make<'_>) {
    let engine = make(&TREES);
    let all: [&[u8]; 8] = [
        b"b",
        b"a\xff\xff",
        b"a",
        b"ab",
        b"a\x00",
        b"",
        b"\xff",
        b"aa\xff",
    ];
    transaction(&*engine, |tx| {
        for k in all {
            tx.insert(A, k, k.to_vec())?;
        }
        Ok::<_, KvError>(())
    })
    .unwrap();
    let every = engine.scan(A, b"").unwrap();
    assert_eq!(
        keys(&every),
        [
            &b""[..],
            b"a",
            b"a\x00",
            b"aa\xff",
            b"ab",
            b"a\xff\xff",
            b"b",
            b"\xff"
        ],
        "every key, in byte order"
    );
    assert!(every.iter().all(|(k, v)| k == v), "each with its value");
    assert_eq!(
        keys(&engine.scan(A, b"a").unwrap()),
        [&b"a"[..], b"a\x00", b"aa\xff", b"ab", b"a\xff\xff"]
    );
    assert_eq!(
        keys(&engine.scan(A, b"a\xff").unwrap()),
        [&b"a\xff\xff"[..]]
    );
    assert_eq!(keys(&engine.scan(A, b"\xff").unwrap()), [&b"\xff"[..]]);
    assert!(engine.scan(A, b"c").unwrap().is_empty());
    assert!(
        engine.scan(B, b"").unwrap().is_empty(),
        "other trees hold nothing"
    );
}

fn a_transaction_reads_and_scans_its_own_writes(make: Make<'_>) {
    let engine = make(&TREES);
    transaction(&*engine, |tx| {
        for k in [b"p1", b"p2", b"p3", b"q1"] {
            tx.insert(A, k, b"old".to_vec())?;
        }
        Ok::<_, KvError>(())
    })
    .unwrap();
    transaction(&*engine, |tx| {
        tx.remove(A, b"p2")?;
        tx.insert(A, b"p3", b"new".to_vec())?;
        tx.insert(A, b"p0", b"new".to_vec())?;
        tx.insert(B, b"p9", b"other tree".to_vec())?;
        assert_eq!(tx.get(A, b"p2")?, None, "a removal is seen");
        assert_eq!(tx.get(A, b"p3")?, Some(b"new".to_vec()), "a write is seen");
        assert_eq!(
            tx.get(A, b"p1")?,
            Some(b"old".to_vec()),
            "committed state below"
        );
        let seen = tx.scan(A, b"p")?;
        assert_eq!(keys(&seen), [&b"p0"[..], b"p1", b"p3"]);
        assert_eq!(seen[2].1, b"new".to_vec());
        assert_eq!(keys(&tx.scan(B, b"")?), [&b"p9"[..]]);
        // A write after a scan is seen by the next scan.
        tx.remove(A, b"p0")?;
        assert_eq!(keys(&tx.scan(A, b"p")?), [&b"p1"[..], b"p3"]);
        Ok::<_, KvError>(())
    })
    .unwrap();
    assert_eq!(
        keys(&engine.scan(A, b"").unwrap()),
        [&b"p1"[..], b"p3", b"q1"]
    );
}

fn a_failed_body_keeps_nothing(make: Make<'_>) {
    #[derive(Debug, PartialEq)]
    enum Mine {
        ChangedMyMind,
        Engine(KvError),
    }
    impl From<KvError> for Mine {
        fn from(e: KvError) -> Self {
            Mine::Engine(e)
        }
    }
    let engine = make(&TREES);
    put(&*engine, A, b"kept", b"1");
    let r: Result<(), Mine> = transaction(&*engine, |tx| {
        tx.insert(A, b"new", b"1".to_vec())?;
        tx.remove(A, b"kept")?;
        tx.insert(B, b"new", b"1".to_vec())?;
        Err(Mine::ChangedMyMind)
    });
    assert_eq!(
        r,
        Err(Mine::ChangedMyMind),
        "the body's own error comes back"
    );
    assert_eq!(engine.get(A, b"new").unwrap(), None);
    assert_eq!(engine.get(B, b"new").unwrap(), None);
    assert_eq!(engine.get(A, b"kept").unwrap(), Some(b"1".to_vec()));
    // Through the trait itself, too.
    let raw = engine.transact(&mut |tx: &mut dyn KvTx| {
        tx.insert(C, b"new", b"1".to_vec())?;
        Err(KvError::Aborted)
    });
    assert_eq!(raw, Err(KvError::Aborted));
    assert_eq!(engine.get(C, b"new").unwrap(), None);
    // And the engine takes the next transaction as usual.
    put(&*engine, A, b"after", b"1");
    assert_eq!(engine.get(A, b"after").unwrap(), Some(b"1".to_vec()));
}

fn a_transaction_spans_trees_whole(make: Make<'_>) {
    let engine = make(&TREES);
    let value = transaction(&*engine, |tx| {
        tx.insert(A, b"k", b"a".to_vec())?;
        tx.insert(B, b"k", b"b".to_vec())?;
        tx.insert(C, b"k", b"c".to_vec())?;
        Ok::<_, KvError>(42)
    })
    .unwrap();
    assert_eq!(value, 42, "the body's value comes back");
    for (t, v) in [(A, b"a"), (B, b"b"), (C, b"c")] {
        assert_eq!(engine.get(t, b"k").unwrap(), Some(v.to_vec()));
    }
}

/// Read-modify-write transactions from several threads lose no update: each runs alone, and
/// each body runs once.
fn transactions_run_once_and_alone(make: Make<'_>) {
    let engine = make(&TREES);
    let runs = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = engine.clone();
            let runs = runs.clone();
            std::thread::spawn(move || {
                for i in 0..50u64 {
                    transaction(&*engine, |tx| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let n = match tx.get(A, b"counter")? {
                            Some(v) => u64::from_be_bytes(v.try_into().unwrap()),
                            None => 0,
                        };
                        tx.insert(A, b"counter", (n + 1).to_be_bytes().to_vec())?;
                        // Both trees, so a torn pair would show.
                        tx.insert(B, format!("{t}-{i}").as_bytes(), n.to_be_bytes().to_vec())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let counter = engine.get(A, b"counter").unwrap().unwrap();
    assert_eq!(u64::from_be_bytes(counter.try_into().unwrap()), 200);
    assert_eq!(runs.load(Ordering::SeqCst), 200, "each body ran once");
    let mut seen: Vec<u64> = engine
        .scan(B, b"")
        .unwrap()
        .into_iter()
        .map(|(_, v)| u64::from_be_bytes(v.try_into().unwrap()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..200).collect::<Vec<_>>(),
        "each saw the one before it"
    );
}

fn flush_keeps_everything_readable(make: Make<'_>) {
    let engine = make(&TREES);
    block_on(engine.flush()).unwrap();
    put(&*engine, A, b"k", b"v");
    block_on(async {
        // Concurrent flushes all succeed.
        let (a, b) = tokio::join!(engine.flush(), engine.flush());
        a.unwrap();
        b.unwrap();
    });
    assert_eq!(engine.get(A, b"k").unwrap(), Some(b"v".to_vec()));
    block_on(engine.flush()).unwrap();
}

fn values_of_any_size_round_trip(make: Make<'_>) {
    let engine = make(&TREES);
    let big = vec![7u8; 1 << 20];
    let long_key = vec![1u8; 4096];
    transaction(&*engine, |tx| {
        tx.insert(A, b"empty", Vec::new())?;
        tx.insert(A, b"big", big.clone())?;
        tx.insert(A, &long_key, b"v".to_vec())
    })
    .unwrap();
    assert_eq!(
        engine.get(A, b"empty").unwrap(),
        Some(Vec::new()),
        "empty, not absent"
    );
    assert_eq!(engine.get(A, b"big").unwrap(), Some(big));
    assert_eq!(engine.get(A, &long_key).unwrap(), Some(b"v".to_vec()));
}

fn flushed_transactions_survive_reopening(open: Open<'_>) {
    let dir = tempfile_dir();
    {
        let engine = open(dir.path(), &TREES);
        for i in 0..100u64 {
            transaction(&*engine, |tx| {
                tx.insert(A, &i.to_be_bytes(), b"a".to_vec())?;
                tx.insert(B, &i.to_be_bytes(), b"b".to_vec())
            })
            .unwrap();
        }
        transaction(&*engine, |tx| tx.remove(A, &7u64.to_be_bytes())).unwrap();
        block_on(engine.flush()).unwrap();
    }
    let engine = open(dir.path(), &TREES);
    assert_eq!(engine.scan(A, b"").unwrap().len(), 99);
    assert_eq!(engine.scan(B, b"").unwrap().len(), 100);
    assert_eq!(
        engine.get(A, &7u64.to_be_bytes()).unwrap(),
        None,
        "the removal too"
    );
    assert_eq!(
        engine.get(B, &99u64.to_be_bytes()).unwrap(),
        Some(b"b".to_vec())
    );
}

fn a_reopened_engine_takes_new_transactions(open: Open<'_>) {
    let dir = tempfile_dir();
    for round in 0..3u8 {
        let engine = open(dir.path(), &TREES);
        let had = engine.scan(C, b"").unwrap().len();
        assert_eq!(had, usize::from(round));
        put(&*engine, C, &[round], b"v");
        block_on(engine.flush()).unwrap();
    }
}

/// A scratch directory, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> ScratchDir {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "civicbridge-kv-conformance-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    ScratchDir(dir)
}
