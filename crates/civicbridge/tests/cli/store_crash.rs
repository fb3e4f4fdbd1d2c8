//! The sled backend's durability, tested by crashing for real: a child process (this test
//! binary, re-run with `CB_CRASH_CHILD` set) commits transactions and flushes now and then,
//! reporting each flush on stdout; the test kills it with SIGKILL at some point, reopens the
//! store and checks that every flushed transaction is there, and that every transaction is
//! there whole or not at all. Kill points vary from before the first checkpoint (the journal
//! alone must bring everything back) to the middle of the checkpoints into sled.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use civicbridge_api::{InboundId, LinkId, MirrorId, Platform, RoomRef};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{JobKind, Store};
use civicbridge_kv::crash;

/// This test's full name, for the child to run it alone.
const TEST: &str = "store_crash::committed_transactions_survive_sigkill_whole";
/// Transactions in each flushed group.
const GROUP: u64 = 200;

fn event(i: u64) -> InboundId {
    InboundId::new(format!("e{i}"))
}

/// The child: transaction `i` marks event `i` seen and queues a job whose mirror id is `i`;
/// after every `GROUP` of them it flushes and prints the last one. It never stops by itself.
fn child(dir: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(std::path::Path::new(dir)).unwrap();
        let target = RoomRef::new(Platform::new("discord"), "1");
        for i in 1.. {
            store
                .transact(|tx| {
                    // An event an earlier run committed is a replay: it queues nothing.
                    if tx.mark_seen(Platform::new("telegram"), &event(i))? {
                        tx.push_job(
                            &LinkId::new("l"),
                            &target,
                            JobKind::Delete {
                                mirror: MirrorId(i),
                            },
                        )?;
                    }
                    Ok(())
                })
                .unwrap();
            if i % GROUP == 0 {
                store.flush().await.unwrap();
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
        let store = Store::open(dir.path()).unwrap();
        let jobs: std::collections::HashSet<u64> = store
            .outbox()
            .unwrap()
            .iter()
            .filter_map(|j| j.kind.mirror().map(|m| m.0))
            .collect();
        // The child restarts its numbering at 1 on every run: a seen mark of a later run is a
        // replay and queues nothing, so the jobs are those of the first run that got that far.
        let mut i = 1;
        loop {
            let seen = store
                .was_seen(Platform::new("telegram"), &event(i))
                .unwrap();
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
                !store
                    .was_seen(Platform::new("telegram"), &event(later))
                    .unwrap(),
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
        drop(store);
    }
}

/// The test below, for its child.
const REMEMBER_TEST: &str = "store_crash::a_remembered_cursor_is_durable_with_the_next_flush";

/// A connector's `remember` does not sync, but the next flush (anyone's) makes it durable: the
/// child remembers a cursor at every step and, every tenth step, `put`s another key (which
/// flushes); after SIGKILL the cursor is at least the last step reported durable.
#[test]
fn a_remembered_cursor_is_durable_with_the_next_flush() {
    if let Some(dir) = crash::child_dir() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = Store::open(std::path::Path::new(&dir)).unwrap();
            let state = store.connector_state(Platform::new("matrix"));
            for i in 1u64.. {
                state.remember("cursor", &i.to_string()).await.unwrap();
                if i % 10 == 0 {
                    state.put("other", &i.to_string()).await.unwrap();
                    crash::report_durable(i);
                }
            }
        });
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let durable = crash::run_and_kill(REMEMBER_TEST, dir.path(), 500);
    let store = Store::open(dir.path()).unwrap();
    let cursor: u64 = store
        .connector_state(Platform::new("matrix"))
        .get("cursor")
        .expect("the remembered cursor survived")
        .parse()
        .unwrap();
    assert!(
        cursor >= durable,
        "the cursor was remembered up to {durable} before a flush, only {cursor} survived"
    );
}
