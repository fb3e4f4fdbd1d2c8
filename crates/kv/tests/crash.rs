//! The sled engine's durability, tested by crashing for real: a child process (this test
//! binary, re-run with `CB_CRASH_CHILD` set) commits transactions and flushes now and then,
//! reporting each flush on stdout; the test kills it with SIGKILL at some point, reopens the
//! engine and checks that every flushed transaction is there, and that every transaction is
//! there whole or not at all. Kill points vary from before the first checkpoint (the journal
//! alone must bring everything back) to the middle of the checkpoints into sled.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use civicbridge_kv::crash;
use civicbridge_kv::sled::SledBackend;
use civicbridge_kv::{transaction, Backend, KvError, TreeId};

/// This test's full name, for the child to run it alone.
const TEST: &str = "committed_transactions_survive_sigkill_whole";
/// Transactions in each flushed group.
const GROUP: u64 = 200;

const TREES: [&str; 3] = ["meta", "seen", "outbox"];
const META: TreeId = TreeId::new(0);
const SEEN: TreeId = TreeId::new(1);
const OUTBOX: TreeId = TreeId::new(2);

fn event(i: u64) -> Vec<u8> {
    format!("telegram\0e{i}").into_bytes()
}

fn open(dir: &std::path::Path) -> SledBackend {
    SledBackend::open(dir, &TREES).unwrap()
}

fn number(v: &[u8]) -> u64 {
    u64::from_be_bytes(v.try_into().unwrap())
}

/// The child: transaction `i` marks event `i` seen and queues a job (under the next job id, a
/// counter in the same transaction) for message `i`; after every `GROUP` of them it flushes and
/// prints the last one. It never stops by itself.
fn child(dir: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = open(std::path::Path::new(dir));
        for i in 1u64.. {
            transaction(&engine, |tx| {
                // An event an earlier run committed is a replay: it queues nothing.
                if tx.get(SEEN, &event(i))?.is_some() {
                    return Ok(());
                }
                tx.insert(SEEN, &event(i), Vec::new())?;
                let job = tx.get(META, b"jobs")?.map_or(0, |v| number(&v)) + 1;
                tx.insert(META, b"jobs", job.to_be_bytes().to_vec())?;
                tx.insert(OUTBOX, &job.to_be_bytes(), i.to_be_bytes().to_vec())?;
                Ok::<_, KvError>(())
            })
            .unwrap();
            if i % GROUP == 0 {
                engine.flush().await.unwrap();
                crash::report_durable(i);
            }
        }
    });
}

#[test]
fn committed_transactions_survive_sigkill_whole() {
    if let Some(dir) = crash::child_dir() {
        child(&dir);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut floor = 0;
    // Early (journal only), then past several checkpoints (the first at 50,000 keys).
    for at_least in [GROUP, 30_000, 90_000] {
        let durable = crash::run_and_kill(TEST, dir.path(), floor + at_least);
        let engine = open(dir.path());
        let queued = engine.scan(OUTBOX, b"").unwrap();
        let jobs: std::collections::HashSet<u64> = queued.iter().map(|(_, v)| number(v)).collect();
        assert_eq!(jobs.len(), queued.len(), "no message queued twice");
        // The child restarts its numbering at 1 on every run: a seen mark of a later run is a
        // replay and queues nothing, so the jobs are those of the first run that got that far.
        let mut i = 1;
        loop {
            let seen = engine.get(SEEN, &event(i)).unwrap().is_some();
            let job = jobs.contains(&i);
            assert_eq!(
                seen, job,
                "transaction {i} is torn (seen {seen}, job {job})"
            );
            if !seen {
                break;
            }
            i += 1;
        }
        let kept = i - 1;
        for later in i..i + 5 * GROUP {
            assert!(
                engine.get(SEEN, &event(later)).unwrap().is_none(),
                "transaction {later} survived but {i} did not: not a prefix"
            );
        }
        assert!(
            kept >= durable,
            "transactions up to {durable} were flushed, only {kept} survived"
        );
        assert_eq!(jobs.len() as u64, kept, "no job without its transaction");
        println!("killed after {durable} durable: {kept} kept whole");
        floor = kept;
        drop(engine);
    }
}
