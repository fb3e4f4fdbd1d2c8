//! Restarts: nothing held or queued is lost, nothing is sent twice.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::ConnectorError;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{Store, StoreError};
use common::*;
use std::path::Path;
use std::time::Duration;

/// Opens the store, waiting for a previous instance in this process to let go of its lock.
async fn reopen(dir: &Path) -> Store {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match Store::open(dir) {
            Ok(s) => return s,
            Err(StoreError::Locked(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("reopening the store: {e}"),
        }
    }
}

#[tokio::test]
async fn pending_items_and_unsent_jobs_survive_a_restart_and_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let rules = Rules {
        staff_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };

    // First run: Telegram is down, so its jobs stay in the outbox; one staff message is held.
    let first = Fakes::new();
    first
        .telegram
        .fail_next((0..10_000).map(|_| ConnectorError::Transient("down".into())));
    let store = Store::open(dir.path()).unwrap();
    let daemon = start(store.clone(), rules.clone(), &first).await;
    acked(
        first
            .matrix
            .post(STAFF, STAFFER, "$held", "Held over the restart"),
    )
    .await;
    for i in 0..5 {
        acked(
            first
                .discord
                .post(DC, RESIDENT, &format!("d{i}"), &format!("q{i}")),
        )
        .await;
    }
    wait_until(WAIT, "staff copies", || {
        first.matrix.texts_in(STAFF).len() == 5
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        store.outbox().unwrap().len(),
        5,
        "five Telegram jobs are waiting"
    );
    drop(store);

    // Second run on the same directory, with Telegram back.
    let second = Fakes::new();
    let store = reopen(dir.path()).await;
    assert_eq!(
        store.pending().unwrap().len(),
        1,
        "still held after the restart"
    );
    let daemon = start(store.clone(), rules, &second).await;
    wait_until(WAIT, "the waiting jobs", || {
        second.telegram.texts_in(TG).len() == 5
    })
    .await;
    assert_eq!(
        second.telegram.texts_in(TG),
        (0..5)
            .map(|i| format!("Ada (Discord): q{i}"))
            .collect::<Vec<_>>(),
        "in order"
    );
    acked(second.matrix.post(MODS, MODERATOR, "$c", "!approve 1")).await;
    wait_until(WAIT, "the approved message", || {
        second.telegram.texts_in(TG).len() == 6 && second.discord.texts_in(DC).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.outbox().unwrap().is_empty());
    assert!(
        second.matrix.texts_in(STAFF).is_empty(),
        "nothing was sent twice to the staff room"
    );
    assert_eq!(second.telegram.posted().len(), 6, "each job once");
}

/// In process, not a crash: the runtime is shut down in the background, so every task of the
/// daemon is dropped wherever it stands (no graceful stop, no final flush). The real SIGKILL of
/// `civicbridge run` is `tests/cli/crash.rs`.
#[test]
fn dropping_every_daemon_task_mid_burst_loses_and_duplicates_nothing() {
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::new();
    let events: Vec<_> = (0..N)
        .map(|i| {
            fakes.telegram.message_event(
                TG,
                RESIDENT,
                civicbridge_api::Message::text(i.to_string(), format!("m{i}")),
            )
        })
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut acks: Vec<_> = rt.block_on(async {
        let store = Store::open(dir.path()).unwrap();
        let _daemon = start(store, open_rules(), &fakes).await;
        let mut acks: Vec<_> = events[..N / 2]
            .iter()
            .map(|e| fakes.telegram.inject(e.clone()))
            .collect();
        wait_until(WAIT, "part of the burst", || {
            fakes.matrix.texts_in(STAFF).len() >= 30
        })
        .await;
        // The rest arrives just as the daemon dies: some of it is not yet durable.
        acks.extend(
            events[N / 2..]
                .iter()
                .map(|e| fakes.telegram.inject(e.clone())),
        );
        acks
    });
    let delivered_before_kill = fakes.matrix.texts_in(STAFF).len();
    // Kill: every task of the daemon is dropped wherever it stands.
    rt.shutdown_background();

    // The platform redelivers whatever was not acknowledged (as Telegram does for updates past
    // the confirmed offset).
    let unacked: Vec<usize> = acks
        .iter_mut()
        .enumerate()
        .filter_map(|(i, a)| a.try_recv().is_err().then_some(i))
        .collect();
    assert!(
        delivered_before_kill < N,
        "killed mid-burst ({delivered_before_kill} delivered, {} unacked)",
        unacked.len()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = reopen(dir.path()).await;
        // The kill cancelled jobs mid-flight: they wait in the outbox, none was set aside.
        assert!(store.parked().unwrap().is_empty(), "a kill parks nothing");
        fakes.telegram.forget_undelivered();
        let daemon = start(store, open_rules(), &fakes).await;
        for i in &unacked {
            drop(fakes.telegram.inject(events[*i].clone()));
        }
        wait_until(WAIT, "the whole burst in both rooms", || {
            fakes.matrix.texts_in(STAFF).len() >= N && fakes.discord.texts_in(DC).len() >= N
        })
        .await;
        // A marker proves nothing more is on its way.
        acked(fakes.telegram.post(TG, RESIDENT, "marker", "marker")).await;
        wait_until(WAIT, "marker", || {
            fakes.matrix.texts_in(STAFF).len() > N && fakes.discord.texts_in(DC).len() > N
        })
        .await;
        daemon.shutdown().await.unwrap();
    });
    let expected: Vec<String> = (0..N)
        .map(|i| format!("Ada (Telegram): m{i}"))
        .chain(["Ada (Telegram): marker".to_owned()])
        .collect();
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        expected,
        "staff room: each once, in order"
    );
    assert_eq!(
        fakes.discord.texts_in(DC),
        expected,
        "discord: each once, in order"
    );
}
