//! Working through a backlog, on fake platforms: deciding many held items at once with reasons by
//! code (`!approve #1-#3`, `!reject #4 #5 spam`), and claims (`!claim`, 🙋, `!release`).
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{EventKind, Message};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

fn resident_approval_rules() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

/// Holds `n` residents' messages "m1"… and waits for every card.
async fn hold(fakes: &Fakes, store: &Store, n: usize) {
    for i in 1..=n {
        acked(
            fakes
                .telegram
                .post(TG, RESIDENT, &i.to_string(), &format!("m{i}")),
        )
        .await;
    }
    wait_until(WAIT, "every card posted", || {
        let p = store.pending().unwrap();
        p.len() == n && p.iter().all(|p| p.card.is_some())
    })
    .await;
}

fn card_text(fakes: &Fakes, store_cards: &[civicbridge_api::RemoteMsgId], i: usize) -> String {
    let p = fakes.matrix.get(&store_cards[i]).unwrap();
    p.edits
        .last()
        .map_or_else(|| p.out.text.to_plain(), |e| e.text.to_plain())
}

#[tokio::test]
async fn one_command_decides_several_items_each_once_with_a_reason_by_its_code() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    hold(&fakes, &store, 5).await;
    let cards: Vec<_> = store
        .pending()
        .unwrap()
        .iter()
        .map(|p| p.card.clone().unwrap().1)
        .collect();

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve #1-#3")).await;
    acked(fakes.matrix.post(
        MODS,
        MODERATOR,
        "$c2",
        "!reject #4 #5 spam third time today",
    ))
    .await;
    // The same command again decides nothing twice.
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c3", "!approve #1 #2 #3"),
    )
    .await;
    wait_until(WAIT, "three copies in each room", || {
        fakes.matrix.texts_in(STAFF).len() == 3 && fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    wait_until(WAIT, "five decided cards", || {
        (0..5).all(|i| !fakes.matrix.get(&cards[i]).unwrap().edits.is_empty())
    })
    .await;
    wait_until(WAIT, "the answers", || {
        let said = fakes.matrix.texts_in(MODS).join("\n");
        said.contains("#3 approved by Mo") && said.contains("There is no held item #1")
    })
    .await;
    daemon.shutdown().await.unwrap();

    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        [
            "Ada (Telegram): m1",
            "Ada (Telegram): m2",
            "Ada (Telegram): m3"
        ],
        "each approved item once, in order"
    );
    for i in 0..3 {
        assert!(card_text(&fakes, &cards, i).contains(&format!("Approved #{}", i + 1)));
    }
    for i in 3..5 {
        let text = card_text(&fakes, &cards, i);
        assert!(
            text.contains("reason: Spam or advertising (third time today)"),
            "{text}"
        );
    }
    let rejected: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Rejected)
        .collect();
    assert_eq!(rejected.len(), 2);
    for e in &rejected {
        assert_eq!(e.detail["reason_code"], "spam");
        assert_eq!(e.detail["harm"], "org.matrix.msc4387.spam");
    }
    assert_eq!(
        store
            .audit_log()
            .unwrap()
            .iter()
            .filter(|e| e.action == AuditAction::Approved)
            .count(),
        3
    );
}

#[tokio::test]
async fn a_non_moderator_is_refused_once_and_a_free_reason_has_no_code() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    hold(&fakes, &store, 3).await;
    acked(fakes.matrix.post(MODS, STAFFER, "$c1", "!approve #1-#3")).await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c2", "!reject #1 #2 not for this group"),
    )
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c3", "!reasons")).await;
    wait_until(WAIT, "the answers", || {
        let said = fakes.matrix.texts_in(MODS).join("\n");
        said.contains("#2 rejected by Mo") && said.contains("spam — Spam or advertising")
    })
    .await;
    daemon.shutdown().await.unwrap();
    let said = fakes.matrix.texts_in(MODS);
    assert_eq!(
        said.iter()
            .filter(|t| t.starts_with("Sorry, only moderators"))
            .count(),
        1,
        "{said:?}"
    );
    assert_eq!(store.pending().unwrap().len(), 1, "#3 still held");
    let rejected = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::Rejected)
        .unwrap();
    assert_eq!(rejected.detail["reason"], "not for this group");
    assert!(rejected.detail["reason_code"].is_null());
}

/// A second moderator, by power level in the moderation room (as the Matrix connector says).
const OTHER: (&str, &str) = ("@liz", "Liz");

fn as_other(fakes: &Fakes, id: &str, kind: EventKind) -> civicbridge_api::Event {
    let mut ev = fakes
        .matrix
        .event(MODS, OTHER, format!("matrix:{id}"), kind);
    ev.sender.standing = Some(civicbridge_matrix::inbound::standing_of(50));
    ev
}

fn other_says(fakes: &Fakes, id: &str, text: &str) -> civicbridge_api::Event {
    as_other(fakes, id, EventKind::Message(Message::text(id, text)))
}

#[tokio::test]
async fn a_claim_shows_on_the_card_and_another_moderators_claim_is_refused_until_released() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    hold(&fakes, &store, 1).await;
    let card = store.pending().unwrap()[0].card.clone().unwrap().1;
    let card_now = || {
        let p = fakes.matrix.get(&card).unwrap();
        p.edits
            .last()
            .map_or_else(|| p.out.text.to_plain(), |e| e.text.to_plain())
    };

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!claim #1")).await;
    wait_until(WAIT, "the claim on the card", || {
        card_now().contains("Claimed by Mo until")
    })
    .await;
    // Liz tries by command and by 🙋: both refused, with the claimant named.
    acked(fakes.matrix.inject(other_says(&fakes, "$c2", "!claim #1"))).await;
    let raise = EventKind::Reaction {
        target: card.clone(),
        key: "🙋".into(),
        id: None,
    };
    acked(fakes.matrix.inject(as_other(&fakes, "$r1", raise.clone()))).await;
    acked(
        fakes
            .matrix
            .inject(other_says(&fakes, "$c3", "!release #1")),
    )
    .await;
    wait_until(WAIT, "the refusals", || {
        let said = fakes.matrix.texts_in(MODS);
        said.iter()
            .filter(|t| t.starts_with("#1 is claimed by Mo until"))
            .count()
            == 2
            && said.iter().any(|t| t.contains("#1 is not claimed by you"))
    })
    .await;
    assert!(card_now().contains("Claimed by Mo"), "still Mo's");

    // Mo releases; Liz's 🙋 now claims it.
    acked(fakes.matrix.post(MODS, MODERATOR, "$c4", "!release #1")).await;
    acked(fakes.matrix.inject(as_other(&fakes, "$r2", raise))).await;
    wait_until(WAIT, "Liz's claim on the card", || {
        card_now().contains("Claimed by Liz until")
    })
    .await;
    // A claim does not lock: Mo's decision still counts, and the card shows it.
    acked(fakes.matrix.post(MODS, MODERATOR, "$c5", "!approve #1")).await;
    wait_until(WAIT, "decided", || card_now().contains("Approved #1 by Mo")).await;
    daemon.shutdown().await.unwrap();
    let actions: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.action, AuditAction::Claimed | AuditAction::ClaimReleased))
        .map(|e| (e.action, e.actor.to_string()))
        .collect();
    assert_eq!(
        actions,
        [
            (AuditAction::Claimed, "matrix:@mod".to_owned()),
            (AuditAction::ClaimReleased, "matrix:@mod".to_owned()),
            (AuditAction::Claimed, "matrix:@liz".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_claim_lapses_after_the_links_claim_minutes() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        claim_minutes: 0,
        ..resident_approval_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    hold(&fakes, &store, 1).await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!claim #1")).await;
    acked(fakes.matrix.inject(other_says(&fakes, "$c2", "!claim #1"))).await;
    wait_until(WAIT, "both answers", || {
        let said = fakes.matrix.texts_in(MODS);
        said.iter().any(|t| t == "#1 claimed by Mo")
            && said.iter().any(|t| t == "#1 claimed by Liz")
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_note_about_a_sender_shows_on_their_later_cards_stays_private_and_goes_with_erasure() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    hold(&fakes, &store, 1).await;
    // By the held item (works under pseudonyms too), one line however it was typed.
    acked(fakes.matrix.post(
        MODS,
        MODERATOR,
        "$c1",
        "!note #1 asked twice already\u{202e} about the hall",
    ))
    .await;
    acked(fakes.matrix.post(
        MODS,
        MODERATOR,
        "$c2",
        &format!("!note telegram:42 {}", "x".repeat(5_000)),
    ))
    .await;
    acked(
        fakes
            .matrix
            .inject(other_says(&fakes, "$c3", "!note telegram:42")),
    )
    .await;
    acked(
        fakes
            .matrix
            .post(MODS, STAFFER, "$c4", "!note telegram:42 nosy"),
    )
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "9", "and again")).await;
    wait_until(WAIT, "the second card", || {
        store
            .pending()
            .unwrap()
            .iter()
            .any(|p| p.card.is_some() && p.id.0 == 2)
    })
    .await;
    let card = store
        .pending()
        .unwrap()
        .into_iter()
        .find(|p| p.id.0 == 2)
        .unwrap()
        .card
        .unwrap()
        .1;
    let text = fakes.matrix.get(&card).unwrap().out.text.to_plain();
    assert!(text.contains("📝 Mo ("), "{text}");
    assert!(
        text.contains("asked twice already about the hall"),
        "{text}"
    );
    let long = text.lines().find(|l| l.contains("xxx")).unwrap();
    assert!(long.chars().count() < 600, "bounded: {}", long.len());
    wait_until(WAIT, "the list and the refusal", || {
        let said = fakes.matrix.texts_in(MODS);
        said.iter()
            .any(|t| t.starts_with("Notes about telegram:42 on link planning:"))
            && said.iter().any(|t| t.starts_with("Sorry, only moderators"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    let notes = store
        .notes(
            &civicbridge_api::LinkId::new("planning"),
            &"telegram:42".parse().unwrap(),
        )
        .unwrap();
    assert_eq!(notes.len(), 2, "the staffer's note was refused");
    let done = civicbridge_core::privacy::erase::erase(
        &store,
        &"telegram:42".parse().unwrap(),
        &civicbridge_core::moderation::audit::AuditActor::Cli,
    )
    .unwrap();
    assert_eq!(done.notes_removed, 2);
    assert!(store
        .notes_about(&"telegram:42".parse().unwrap())
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_dry_run_replays_recent_messages_under_the_new_rule_and_changes_nothing() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        history_size: 3,
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, ("40", "Old"), "0", "an old watch story"),
    )
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "Cheap WATCHES here")).await;
    acked(
        fakes
            .telegram
            .post(TG, ("43", "Bob"), "2", "more watches, cheaper"),
    )
    .await;
    acked(
        fakes
            .telegram
            .post(TG, ("44", "Cy"), "3", "When does the library open?"),
    )
    .await;
    wait_until(WAIT, "every copy", || {
        fakes.matrix.texts_in(STAFF).len() == 4
    })
    .await;
    let before = store
        .rules(&civicbridge_api::LinkId::new("planning"))
        .unwrap();
    acked(fakes.matrix.post(
        MODS,
        MODERATOR,
        "$c1",
        r#"!set --dry-run planning blocked_patterns ["(?i)watch"]"#,
    ))
    .await;
    acked(fakes.matrix.post(
        MODS,
        MODERATOR,
        "$c2",
        "!set --dry-run planning max_length 20",
    ))
    .await;
    wait_until(WAIT, "both answers", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .filter(|t| t.starts_with("Dry run"))
            .count()
            == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    let said: Vec<_> = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .filter(|t| t.starts_with("Dry run"))
        .collect();
    // The history keeps the last three: the old watch story is out of it.
    assert!(
        said[0].contains("over the last 3 message(s)"),
        "{}",
        said[0]
    );
    assert!(
        said[0].contains("- 2 now relayed, would be dropped"),
        "{}",
        said[0]
    );
    assert!(said[0].contains("“Cheap WATCHES here”"), "{}", said[0]);
    assert!(!said[0].contains("old watch story"), "{}", said[0]);
    assert!(
        said[1].contains("- 2 now relayed, would be held"),
        "{}",
        said[1]
    );
    assert_eq!(
        store
            .rules(&civicbridge_api::LinkId::new("planning"))
            .unwrap(),
        before,
        "nothing changed"
    );
    assert_eq!(fakes.matrix.texts_in(STAFF).len(), 4, "nothing sent");
    // Erasure takes a person's words out of the history too.
    civicbridge_core::privacy::erase::erase(
        &store,
        &"telegram:42".parse().unwrap(),
        &civicbridge_core::moderation::audit::AuditActor::Cli,
    )
    .unwrap();
    let history = store
        .history(&civicbridge_api::LinkId::new("planning"))
        .unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|s| s.sender != "telegram:42"));
}

#[tokio::test]
async fn a_link_in_dry_run_mode_tells_the_moderators_what_it_would_do_and_relays_nothing() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        mode: civicbridge_core::moderation::rules::LinkMode::DryRun,
        blocked_patterns: vec!["(?i)watch".into()],
        ..resident_approval_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "When is bin day?")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "cheap watches")).await;
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$s1", "Bins go out on Monday"),
    )
    .await;
    wait_until(WAIT, "three dry-run notices", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .filter(|t| t.starts_with("🧪 Dry run"))
            .count()
            == 3
    })
    .await;
    daemon.shutdown().await.unwrap();
    let said: Vec<_> = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .filter(|t| t.starts_with("🧪 Dry run"))
        .collect();
    assert!(said[0].contains("from a resident in"), "{}", said[0]);
    assert!(said[0].contains("would be held for"), "{}", said[0]);
    assert!(said[1].contains("would not reach"), "{}", said[1]);
    assert!(said[2].contains("would be relayed to"), "{}", said[2]);
    for s in &said {
        assert!(
            !s.contains("Ada") && !s.contains("watches") && !s.contains("bin day"),
            "{s}"
        );
    }
    // Nothing relayed, held or recorded as a message.
    assert!(fakes.matrix.texts_in(STAFF).is_empty());
    assert!(fakes.discord.posted().is_empty() && fakes.telegram.posted().is_empty());
    assert!(store.pending().unwrap().is_empty());
    assert!(store
        .mirrors_by(&"telegram:42".parse().unwrap())
        .unwrap()
        .is_empty());
}
