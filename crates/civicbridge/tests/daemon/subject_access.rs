//! Subject access and the transparency report over a scripted conversation on fake
//! platforms: the export holds exactly one person's data and nobody else's; the report's counts
//! match the audit log.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{EventKind, RemoteMsgId};
use civicbridge_core::moderation::audit::{report, AuditAction, AuditActor};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::privacy::export;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

const BOB: (&str, &str) = ("43", "Bob");

/// Ada and Bob write; one of Ada's is rejected as spam, the rest approved; staff answer; a
/// moderator notes something about Ada; Ada reacts to the staff answer.
async fn conversation(store: &Store) {
    let fakes = Fakes::new();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "1", "Ada asks about the library"),
    )
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "Ada sells watches")).await;
    acked(fakes.telegram.post(TG, BOB, "3", "Bob asks about parking")).await;
    wait_until(WAIT, "three cards", || {
        let p = store.pending().unwrap();
        p.len() == 3 && p.iter().all(|p| p.card.is_some())
    })
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve #1 #3")).await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!reject #2 spam")).await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c3", "!note telegram:42 keen reader"),
    )
    .await;
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$s1", "The library opens at nine"),
    )
    .await;
    wait_until(WAIT, "the answer on Telegram", || {
        fakes.telegram.visible_in(TG).len() == 1
    })
    .await;
    let answer = fakes.telegram.visible_in(TG).last().unwrap().id.to_string();
    let react = EventKind::Reaction {
        target: RemoteMsgId::new(&answer),
        key: "👍".into(),
        id: None,
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:r1".into(), react),
        ),
    )
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_export_holds_exactly_that_persons_data_and_nobody_elses() {
    let store = Store::memory();
    conversation(&store).await;
    let ada: civicbridge_api::UserKey = "telegram:42".parse().unwrap();
    let e = export::export_audited(&store, &ada, &AuditActor::Cli).unwrap();
    let texts: Vec<_> = e.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["Ada asks about the library", "Ada sells watches"]);
    assert_eq!(e.messages[0].copies.len(), 2, "staff room and Discord");
    assert_eq!(e.notes.len(), 1);
    assert_eq!(e.notes[0].note.text, "keen reader");
    assert_eq!(e.reactions.len(), 1);
    assert!(e.held.is_empty(), "everything was decided");
    // The decisions on her messages: held twice, approved once, rejected once (with its code).
    let about: Vec<_> = e.audit.iter().map(|a| a.action).collect();
    for (action, n) in [
        (AuditAction::Held, 2),
        (AuditAction::Approved, 1),
        (AuditAction::Rejected, 1),
        (AuditAction::NoteAdded, 1),
    ] {
        assert_eq!(
            about.iter().filter(|a| **a == action).count(),
            n,
            "{action:?}: {about:?}"
        );
    }
    // Nothing of Bob's, nor of staff's words.
    let json = serde_json::to_string(&e).unwrap();
    let bob = civicbridge_core::privacy::person_ref(
        &store.privacy_key().unwrap(),
        &"telegram:43".parse().unwrap(),
    );
    for absent in [
        "Bob",
        "parking",
        "telegram:43",
        bob.as_str(),
        "opens at nine",
    ] {
        assert!(!json.contains(absent), "{absent} in the export");
    }
    let summary = export::summary(&e);
    assert!(
        summary.contains("Messages you wrote that it carried: 2"),
        "{summary}"
    );
    // The export itself is audited, naming her by hash only.
    let last = store.audit_log().unwrap().pop().unwrap();
    assert_eq!(last.action, AuditAction::Exported);
    assert_eq!(last.subject.as_deref(), Some(e.audit_name.as_str()));
}

#[tokio::test]
async fn the_transparency_report_counts_what_the_audit_log_says() {
    let store = Store::memory();
    conversation(&store).await;
    let log = store.audit_log().unwrap();
    let links = store.links().unwrap();
    let rows = report::report(&log, &links, 0, u64::MAX);
    let count = |outcome: &str| -> u64 {
        rows.iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.count)
            .sum()
    };
    let in_log = |a: AuditAction| log.iter().filter(|e| e.action == a).count() as u64;
    assert_eq!(count("held"), in_log(AuditAction::Held));
    assert_eq!(count("approved"), in_log(AuditAction::Approved));
    assert_eq!(count("rejected"), in_log(AuditAction::Rejected));
    assert_eq!(
        (count("held"), count("approved"), count("rejected")),
        (3, 2, 1)
    );
    let rejected = rows.iter().find(|r| r.outcome == "rejected").unwrap();
    assert_eq!(
        (rejected.reason_code.as_str(), rejected.harm.as_str()),
        ("spam", "org.matrix.msc4387.spam")
    );
    let held = rows.iter().find(|r| r.outcome == "held").unwrap();
    assert_eq!(held.direction, "public_to_public+staff");
    assert_eq!(held.link, "planning");
    // No personal data: no ids, names or words.
    let csv = report::to_csv(&rows);
    assert!(csv.starts_with("month,link,direction,outcome,reason_code,harm,count\n"));
    for absent in ["42", "Ada", "Bob", "library", "person:"] {
        assert!(!csv.contains(absent), "{absent} in the report:\n{csv}");
    }
    // A period that holds nothing counts nothing.
    assert!(report::report(&log, &links, 0, 1).is_empty());
}
