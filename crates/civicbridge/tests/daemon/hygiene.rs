//! Queue hygiene and the public notice, on the real pipeline with fake platforms: reminders about
//! items that wait too long (once each, across restarts), expiry of stale items (audited, never
//! relayed), and the notice each public room gets once per text.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{AuditAction, AuditActor};
use civicbridge_core::moderation::hygiene;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{now_ms, Store};
use common::*;
use std::time::Duration;

const HOUR_MS: u64 = 3_600_000;

/// Residents' messages are held; reminders after an hour, expiry after a day.
fn held_rules() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        remind_after_secs: 3600,
        expire_after_secs: 24 * 3600,
        ..open_rules()
    }
}

/// Options whose periodic sweep never fires on its own during a test (the first tick of an
/// interval is immediate, and nothing is due then).
fn manual_sweeps() -> Options {
    Options {
        sweep_every: Duration::from_secs(24 * 3600),
        ..fast_retries()
    }
}

/// A daemon on `store` whose periodic sweep stays out of the way.
async fn started(store: &Store, rules: Rules, fakes: &Fakes) -> Daemon {
    Daemon::start(store.clone(), &link(rules), fakes.all(), manual_sweeps())
        .await
        .unwrap()
}

async fn hold_one(store: &Store, fakes: &Fakes) -> Daemon {
    let daemon = started(store, held_rules(), fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "When is the bin day?"),
    )
    .await;
    assert_eq!(store.pending().unwrap().len(), 1);
    daemon
}

fn reminders(fakes: &Fakes) -> Vec<String> {
    fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .filter(|t| t.starts_with("Reminder:"))
        .collect()
}

#[tokio::test]
async fn an_item_waiting_too_long_is_reminded_once_in_the_moderation_room() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = hold_one(&store, &fakes).await;
    let t0 = now_ms();

    let early = hygiene::sweep(&store, t0 + HOUR_MS / 2).unwrap();
    assert_eq!(early.reminded, 0, "not due after half an hour");

    let due = hygiene::sweep(&store, t0 + HOUR_MS + 1000).unwrap();
    assert_eq!(due.reminded, 1);
    assert_eq!(due.jobs.len(), 1, "one reminder message for the link");
    let again = hygiene::sweep(&store, t0 + 2 * HOUR_MS).unwrap();
    assert_eq!(again.reminded, 0, "each item is reminded once");
    daemon.shutdown().await.unwrap();

    // The reminder was durable: the next start sends it.
    let daemon = started(&store, held_rules(), &fakes).await;
    wait_until(WAIT, "the reminder in the moderation room", || {
        !reminders(&fakes).is_empty()
    })
    .await;
    let text = &reminders(&fakes)[0];
    assert!(text.contains("#1"), "{text}");
    assert!(
        !text.contains("Ada") && !text.contains("bin day"),
        "a reminder names no person and quotes no words (erasure could not reach it): {text}"
    );
    assert!(text.contains("waiting 1 h"), "{text}");
    assert_eq!(
        hygiene::sweep(&store, t0 + 3 * HOUR_MS).unwrap().reminded,
        0,
        "a restart does not repeat it"
    );
    assert_eq!(
        store.pending().unwrap().len(),
        1,
        "a reminder decides nothing"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_reminder_mark_survives_a_restart_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::new();
    let t0;
    {
        let store = Store::open(dir.path()).unwrap();
        let daemon = hold_one(&store, &fakes).await;
        t0 = now_ms();
        assert_eq!(
            hygiene::sweep(&store, t0 + HOUR_MS + 1000)
                .unwrap()
                .reminded,
            1
        );
        daemon.shutdown().await.unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.pending().unwrap().len(), 1, "the queue survives");
    assert_eq!(
        hygiene::sweep(&store, t0 + 2 * HOUR_MS).unwrap().reminded,
        0,
        "already reminded before the restart"
    );
}

#[tokio::test]
async fn the_periodic_sweep_sends_reminders_on_its_own() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        remind_after_secs: 1,
        ..held_rules()
    };
    let options = Options {
        sweep_every: Duration::from_millis(50),
        ..fast_retries()
    };
    let daemon = Daemon::start(store.clone(), &link(rules), fakes.all(), options)
        .await
        .unwrap();
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Is the library open?"),
    )
    .await;
    wait_until(WAIT, "a reminder from the periodic sweep", || {
        reminders(&fakes).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(reminders(&fakes).len(), 1, "once");
}

#[tokio::test]
async fn a_stale_item_expires_audited_and_is_never_relayed() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = hold_one(&store, &fakes).await;
    let t0 = now_ms();

    assert_eq!(
        hygiene::sweep(&store, t0 + 23 * HOUR_MS).unwrap().expired,
        0
    );
    let swept = hygiene::sweep(&store, t0 + 25 * HOUR_MS).unwrap();
    assert_eq!(swept.expired, 1);
    assert!(store.pending().unwrap().is_empty());
    let log = store.audit_log().unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == AuditAction::Expired)
        .expect("an expiry entry");
    assert_eq!(entry.subject.as_deref(), Some("#1"));
    assert_eq!(entry.actor, AuditActor::Bridge);
    daemon.shutdown().await.unwrap();

    let daemon = started(&store, held_rules(), &fakes).await;
    wait_until(WAIT, "the expiry notice and the card marked", || {
        let texts = fakes.matrix.texts_in(MODS);
        texts
            .iter()
            .any(|t| t.starts_with("#1 expired: nobody decided within 1 d"))
            && texts
                .iter()
                .any(|t| t.starts_with("🗑 Withdrawn #1") && t.contains("nobody decided"))
    })
    .await;
    let mirror = store
        .mirror(civicbridge_api::MirrorId(1))
        .unwrap()
        .expect("the message");
    assert!(
        mirror.held.is_empty(),
        "the message no longer lists the item"
    );
    // A late approval finds nothing to approve.
    acked(fakes.matrix.post(MODS, MODERATOR, "$late", "!approve 1")).await;
    wait_until(WAIT, "the refusal", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("no held item #1"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes.matrix.texts_in(STAFF).is_empty(), "never relayed");
    assert!(fakes.discord.texts_in(DC).is_empty(), "never relayed");
}

#[tokio::test]
async fn each_public_room_gets_the_notice_once_per_text() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let notice = |text: &str| Rules {
        public_notice: Some(text.to_owned()),
        ..held_rules()
    };
    let daemon = started(&store, notice("Moderated"), &fakes).await;
    wait_until(WAIT, "the notice in both public rooms", || {
        fakes.telegram.texts_in(TG) == ["Moderated"] && fakes.discord.texts_in(DC) == ["Moderated"]
    })
    .await;
    daemon.shutdown().await.unwrap();

    // Same text: not posted again.
    let daemon = started(&store, notice("Moderated"), &fakes).await;
    // Jobs for a room run in order, so a staff message that arrives after start shows whether a
    // second notice was queued before it.
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "marker")).await;
    wait_until(WAIT, "the marker in both public rooms", || {
        fakes.telegram.texts_in(TG).len() == 2 && fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.telegram.texts_in(TG),
        ["Moderated", "Sam (Matrix): marker"]
    );
    assert_eq!(
        fakes.discord.texts_in(DC),
        ["Moderated", "Sam (Matrix): marker"]
    );
    assert!(
        fakes.matrix.texts_in(STAFF).is_empty(),
        "the staff room gets no notice"
    );

    // A new text: posted once more.
    let daemon = started(&store, notice("Moderated, v2"), &fakes).await;
    wait_until(WAIT, "the new notice", || {
        fakes.telegram.texts_in(TG).len() == 3 && fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.telegram.texts_in(TG)[2], "Moderated, v2");
    assert_eq!(fakes.discord.texts_in(DC)[2], "Moderated, v2");
}

/// A rule value too large to multiply into milliseconds (stored before `!set` checked it)
/// neither panics the sweep nor expires anything.
#[tokio::test]
async fn a_huge_expiry_or_reminder_saturates() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        remind_after_secs: u64::MAX,
        expire_after_secs: u64::MAX,
        ..held_rules()
    };
    let daemon = started(&store, rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "When is the bin day?"),
    )
    .await;
    // Ten years on: still neither due.
    let swept = hygiene::sweep(&store, now_ms() + 10 * 366 * 24 * HOUR_MS).unwrap();
    assert_eq!((swept.expired, swept.reminded), (0, 0));
    assert_eq!(store.pending().unwrap().len(), 1);
    daemon.shutdown().await.unwrap();
}
