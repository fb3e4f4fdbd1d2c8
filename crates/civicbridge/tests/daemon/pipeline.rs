//! The real pipeline (router, link workers, moderation, outbox, store) on fake platforms.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeOp};
use civicbridge_api::{
    Capabilities, ConnectorError, EventKind, Message, Platform, RemoteMsgId, ThreadId, ThreadTarget,
};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules, Scope};
use civicbridge_core::privacy::person_ref;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;
use std::time::Duration;

fn staff_approval_rules() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

#[tokio::test]
async fn a_held_staff_message_reaches_both_public_rooms_once_after_approval() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), staff_approval_rules(), &fakes).await;

    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$q1", "Bins are collected on Tuesday"),
    )
    .await;
    assert_eq!(
        store.pending().unwrap().len(),
        1,
        "held as one pending item"
    );
    wait_until(WAIT, "the approval card", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("Held #1"))
    })
    .await;
    assert!(
        fakes.telegram.posted().is_empty() && fakes.discord.posted().is_empty(),
        "nothing crossed yet"
    );

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve #1")).await;
    wait_until(WAIT, "copies in both public rooms", || {
        fakes.telegram.texts_in(TG).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    assert_eq!(
        fakes.telegram.texts_in(TG),
        vec!["Sam (Matrix): Bins are collected on Tuesday"]
    );
    assert_eq!(
        fakes.discord.texts_in(DC),
        vec!["Sam (Matrix): Bins are collected on Tuesday"]
    );
    assert!(store.pending().unwrap().is_empty());
    wait_until(WAIT, "the decision notice", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t == "#1 approved by Mo")
    })
    .await;
    let log = store.audit_log().unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == AuditAction::Approved && e.actor == "matrix:@mod"));
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.telegram.posted().len(), 1, "exactly once");
    assert_eq!(fakes.discord.posted().len(), 1, "exactly once");
}

#[tokio::test]
async fn rejection_sends_nothing_and_is_audited() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), staff_approval_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$q1", "draft")).await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c1", "!reject 1 not ready yet"),
    )
    .await;
    wait_until(WAIT, "the decision notice", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t == "#1 rejected by Mo")
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes.telegram.posted().is_empty() && fakes.discord.posted().is_empty());
    assert!(store.pending().unwrap().is_empty());
    let rejected = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::Rejected)
        .unwrap();
    assert_eq!(rejected.detail["reason"], "not ready yet");
    // The log keeps a hash of the words, never the words (they may be erased later).
    assert_eq!(
        rejected.detail["text_sha256"],
        civicbridge_core::privacy::content_hash(&civicbridge_api::RichText::plain("draft"))
    );
    assert!(rejected.detail.get("text").is_none());
}

#[tokio::test]
async fn only_moderators_decide_and_refusals_are_audited() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), staff_approval_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$q1", "hello")).await;
    acked(fakes.matrix.post(MODS, STAFFER, "$c1", "!approve 1")).await;
    wait_until(WAIT, "a polite refusal", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.starts_with("Sorry, only moderators"))
    })
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!frobnicate")).await;
    wait_until(WAIT, "usage for an unknown command", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("unknown command `!frobnicate`"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(store.pending().unwrap().len(), 1, "still held");
    assert!(fakes.telegram.posted().is_empty());
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused
            && e.actor
                == person_ref(
                    &store.privacy_key().unwrap(),
                    &"matrix:@sam".parse().unwrap()
                )));
}

#[tokio::test]
async fn a_moderators_reaction_on_the_card_approves_and_later_reactions_change_nothing() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), staff_approval_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$q1", "hello")).await;
    wait_until(WAIT, "the card is posted and recorded", || {
        store
            .pending()
            .unwrap()
            .first()
            .is_some_and(|p| p.card.is_some())
    })
    .await;
    let card = store.pending().unwrap()[0].card.clone().unwrap().1;
    let react = |who, id: &str, key: &str| {
        fakes.matrix.event(
            MODS,
            who,
            format!("matrix:react:{id}"),
            EventKind::Reaction {
                target: card.clone(),
                key: key.into(),
                id: None,
            },
        )
    };
    acked(fakes.matrix.inject(react(STAFFER, "r0", "✅"))).await;
    assert_eq!(
        store.pending().unwrap().len(),
        1,
        "a non-moderator's reaction does nothing"
    );
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused));
    acked(fakes.matrix.inject(react(MODERATOR, "r1", "✅"))).await;
    acked(fakes.matrix.inject(react(MODERATOR, "r2", "❌"))).await;
    wait_until(WAIT, "copies", || {
        fakes.telegram.texts_in(TG).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    let decisions: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.action, AuditAction::Approved | AuditAction::Rejected))
        .collect();
    assert_eq!(decisions.len(), 1, "one decision: {decisions:?}");
}

#[tokio::test]
async fn edits_and_deletes_of_a_relayed_message_reach_every_copy() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Is the library open?"),
    )
    .await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;

    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new: Message::text("7", "Is the library open on Sunday?"),
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit),
        ),
    )
    .await;
    wait_until(WAIT, "edited copies", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): Is the library open on Sunday?"]
            && fakes.discord.texts_in(DC) == ["Ada (Telegram): Is the library open on Sunday?"]
    })
    .await;

    let delete = EventKind::Delete {
        target: RemoteMsgId::new("7"),
    };
    acked(
        fakes.telegram.inject(fakes.telegram.event(
            TG,
            RESIDENT,
            "telegram:delete:7".into(),
            delete,
        )),
    )
    .await;
    wait_until(WAIT, "deleted copies", || {
        fakes.matrix.texts_in(STAFF).is_empty() && fakes.discord.texts_in(DC).is_empty()
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.matrix.posted().len(), 1, "edits edit in place");
}

#[tokio::test]
async fn replies_and_threads_map_to_each_sides_copy() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        staff_to_public: DirectionRule {
            policy: Policy::Approve,
            scope: Scope::ApprovedThreads,
            in_thread: Some(Policy::Auto),
        },
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;

    // A staff thread root is approved: its thread is published.
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$root", "Consultation on the new park"),
    )
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    wait_until(WAIT, "root copies", || {
        fakes.telegram.texts_in(TG).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    let tg_root = fakes.telegram.visible_in(TG)[0].id.clone();
    let dc_root = fakes.discord.visible_in(DC)[0].id.clone();

    // A staff reply in that thread crosses at once, into the thread started from each copy.
    let mut reply = Message::text("$r1", "Drop-in session on Friday");
    reply.thread = Some(ThreadId::new("$root"));
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.message_event(STAFF, STAFFER, reply)),
    )
    .await;
    wait_until(WAIT, "thread replies", || {
        fakes.telegram.texts_in(TG).len() == 2 && fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    assert_eq!(
        fakes.telegram.visible_in(TG)[1].out.thread,
        Some(ThreadTarget::StartFrom(tg_root.clone()))
    );
    assert_eq!(
        fakes.discord.visible_in(DC)[1].out.thread,
        Some(ThreadTarget::StartFrom(dc_root.clone()))
    );

    // A second staff reply goes into the thread that now exists.
    let mut reply2 = Message::text("$r2", "Agenda attached");
    reply2.thread = Some(ThreadId::new("$root"));
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.message_event(STAFF, STAFFER, reply2)),
    )
    .await;
    wait_until(WAIT, "second thread reply", || {
        fakes.telegram.texts_in(TG).len() == 3
    })
    .await;
    assert_eq!(
        fakes.telegram.visible_in(TG)[2].out.thread,
        Some(ThreadTarget::Existing(ThreadId::new(format!(
            "thread-{tg_root}"
        ))))
    );

    // A resident replies natively to the Telegram copy: the staff room gets a reply to the
    // original, Discord a reply to its own copy.
    let mut answer = Message::text("900", "Will there be a playground?");
    answer.reply_to = Some(tg_root.clone());
    acked(
        fakes
            .telegram
            .inject(fakes.telegram.message_event(TG, RESIDENT, answer)),
    )
    .await;
    wait_until(WAIT, "the resident's reply", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 4
    })
    .await;
    assert_eq!(
        fakes.matrix.visible_in(STAFF)[0].out.reply_to,
        Some(RemoteMsgId::new("$root"))
    );
    assert_eq!(fakes.discord.visible_in(DC)[3].out.reply_to, Some(dc_root));

    // A reply in a thread whose root never crossed is held, never leaked.
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$other", "Internal: budget"),
    )
    .await;
    let mut leak = Message::text("$r3", "numbers inside");
    leak.thread = Some(ThreadId::new("$other"));
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.message_event(STAFF, STAFFER, leak)),
    )
    .await;
    daemon.shutdown().await.unwrap();
    let reasons: Vec<String> = store
        .pending()
        .unwrap()
        .into_iter()
        .map(|p| p.reason.to_string())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("thread has not been approved")),
        "{reasons:?}"
    );
    assert!(fakes
        .telegram
        .texts_in(TG)
        .iter()
        .all(|t| !t.contains("numbers inside")));
}

/// A staff member answers in the thread of a resident's question the moment its copy lands in
/// the staff room, before the platform's answer to the send (the copy's id) is back. The answer
/// must still go into the question's thread on the resident's side, as it does when the copy's
/// id is known (the demo's story, raced).
#[tokio::test]
async fn an_answer_to_a_copy_whose_id_is_not_recorded_yet_still_finds_its_question() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;

    for (question, slow) in [("900", false), ("901", true)] {
        if slow {
            fakes.matrix.return_delay(Duration::from_millis(700));
        }
        acked(
            fakes
                .telegram
                .post(TG, RESIDENT, question, &format!("question {question}")),
        )
        .await;
        let mut copy = None;
        wait_until(WAIT, "the question's copy in the staff room", || {
            copy = fakes
                .matrix
                .visible_in(STAFF)
                .into_iter()
                .find(|p| p.out.text.to_plain().contains(question))
                .map(|p| p.id);
            copy.is_some()
        })
        .await;
        let copy = copy.unwrap();
        let mut answer = Message::text(format!("$a{question}"), format!("answer {question}"));
        answer.thread = Some(ThreadId::new(copy.as_str()));
        acked(
            fakes
                .matrix
                .inject(fakes.matrix.message_event(STAFF, STAFFER, answer)),
        )
        .await;
        let mut on_telegram = None;
        wait_until(WAIT, "the answer on Telegram", || {
            on_telegram = fakes.telegram.visible_in(TG).into_iter().find(|p| {
                p.out
                    .text
                    .to_plain()
                    .contains(&format!("answer {question}"))
            });
            on_telegram.is_some()
        })
        .await;
        let on_telegram = on_telegram.unwrap();
        assert_eq!(
            on_telegram.out.thread,
            Some(ThreadTarget::StartFrom(RemoteMsgId::new(question))),
            "slow: {slow}"
        );
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn targets_without_native_replies_get_a_quote() {
    let fakes = Fakes {
        discord: civicbridge_api::testing::FakeConnector::with_capabilities(
            Platform::new("discord"),
            Capabilities {
                replies: false,
                ..Capabilities::default()
            },
        ),
        ..Fakes::new()
    };
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "1", "When is the meeting?"),
    )
    .await;
    let mut reply = Message::text("$a", "At 7pm");
    reply.reply_to = None;
    wait_until(WAIT, "question copied", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    reply.reply_to = Some(fakes.matrix.visible_in(STAFF)[0].id.clone());
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.message_event(STAFF, STAFFER, reply)),
    )
    .await;
    wait_until(WAIT, "answer on discord", || {
        fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.discord.texts_in(DC)[1],
        "Ada: When is the meeting?\nSam (Matrix): At 7pm"
    );
    assert_eq!(
        fakes.telegram.visible_in(TG)[0].out.reply_to,
        Some(RemoteMsgId::new("1"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_send_is_retried_after_retry_after_and_delivered_once() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    fakes.telegram.fail_next([ConnectorError::RateLimited {
        retry_after: Duration::from_secs(2),
    }]);
    let t0 = tokio::time::Instant::now();
    acked(fakes.matrix.post(STAFF, STAFFER, "$1", "Road closed")).await;
    wait_until(WAIT, "telegram copy", || {
        fakes.telegram.texts_in(TG).len() == 1
    })
    .await;
    let sent_at = fakes.telegram.posted()[0].at;
    assert!(
        sent_at - t0 >= Duration::from_secs(2),
        "retried after {:?}",
        sent_at - t0
    );
    assert!(
        sent_at - t0 < Duration::from_secs(3),
        "not much later: {:?}",
        sent_at - t0
    );
    let tg_ops: Vec<bool> = fakes
        .telegram
        .ops()
        .iter()
        .map(|o| matches!(o, FakeOp::Send { ok: true, .. }))
        .collect();
    assert_eq!(
        tg_ops,
        vec![false, true],
        "one failed attempt, one delivery"
    );
    daemon.shutdown().await.unwrap();
}

/// A 429 asking for ten years (a malformed or hostile reply) must not stop the lane for good:
/// the wait is capped, and the job asks again.
#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_is_capped() {
    use civicbridge_core::pipeline::outbox::MAX_RATE_LIMIT_WAIT;
    let fakes = Fakes::new();
    let daemon = start(Store::memory(), open_rules(), &fakes).await;
    fakes.telegram.fail_next([ConnectorError::RateLimited {
        retry_after: Duration::from_secs(10 * 365 * 24 * 3600),
    }]);
    let t0 = tokio::time::Instant::now();
    acked(fakes.matrix.post(STAFF, STAFFER, "$1", "Road closed")).await;
    wait_until(MAX_RATE_LIMIT_WAIT * 2, "the telegram copy", || {
        fakes.telegram.texts_in(TG).len() == 1
    })
    .await;
    let waited = fakes.telegram.posted()[0].at - t0;
    assert!(
        waited >= MAX_RATE_LIMIT_WAIT && waited < MAX_RATE_LIMIT_WAIT + Duration::from_secs(1),
        "retried after {waited:?}"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_room_holds_back_later_messages_so_order_is_kept() {
    let fakes = Fakes::new();
    let daemon = start(Store::memory(), open_rules(), &fakes).await;
    fakes.telegram.fail_next([ConnectorError::RateLimited {
        retry_after: Duration::from_secs(5),
    }]);
    for i in 0..5 {
        acked(
            fakes
                .matrix
                .post(STAFF, STAFFER, &format!("$m{i}"), &format!("n{i}")),
        )
        .await;
    }
    wait_until(WAIT, "all five", || fakes.telegram.texts_in(TG).len() == 5).await;
    daemon.shutdown().await.unwrap();
    let texts = fakes.telegram.texts_in(TG);
    assert_eq!(
        texts,
        (0..5)
            .map(|i| format!("Sam (Matrix): n{i}"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn transient_failures_back_off_and_rejections_are_reported_to_moderators() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    fakes.telegram.fail_next([
        ConnectorError::Transient("502".into()),
        ConnectorError::Transient("timeout".into()),
    ]);
    fakes
        .discord
        .fail_next([ConnectorError::Rejected("Missing Permissions".into())]);
    acked(fakes.matrix.post(STAFF, STAFFER, "$1", "Notice")).await;
    wait_until(WAIT, "telegram after two transient failures", || {
        fakes.telegram.texts_in(TG).len() == 1
    })
    .await;
    wait_until(WAIT, "a report in the moderation room", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("Could not deliver") && t.contains("Missing Permissions"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes.discord.texts_in(DC).is_empty());
    assert!(
        store.outbox().unwrap().is_empty(),
        "the refused job is not retried forever"
    );
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::SendRejected));
}

#[tokio::test]
async fn the_bridges_own_echoes_are_ignored() {
    let fakes = Fakes::new();
    for f in [&fakes.matrix, &fakes.telegram, &fakes.discord] {
        f.echo_sends(true);
    }
    let daemon = start(Store::memory(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "hello")).await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    // A later message is a marker: once it has crossed, every echo before it has been handled.
    acked(fakes.telegram.post(TG, RESIDENT, "2", "marker")).await;
    wait_until(WAIT, "marker copies", || {
        fakes.matrix.texts_in(STAFF).len() == 2 && fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.telegram.posted().len(),
        0,
        "nothing came back to the source"
    );
    assert_eq!(fakes.matrix.posted().len(), 2);
    assert_eq!(fakes.discord.posted().len(), 2);
}

#[tokio::test]
async fn a_replayed_inbound_event_is_delivered_once() {
    let fakes = Fakes::new();
    let daemon = start(Store::memory(), open_rules(), &fakes).await;
    let ev = fakes
        .telegram
        .message_event(TG, RESIDENT, Message::text("5", "once"));
    acked(fakes.telegram.inject(ev.clone())).await;
    acked(fakes.telegram.inject(ev)).await;
    acked(fakes.telegram.post(TG, RESIDENT, "6", "marker")).await;
    wait_until(WAIT, "marker", || fakes.matrix.texts_in(STAFF).len() == 2).await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        vec!["Ada (Telegram): once", "Ada (Telegram): marker"]
    );
}

#[tokio::test]
async fn long_messages_are_split_at_the_targets_limit_and_every_part_is_recorded() {
    let fakes = Fakes {
        discord: civicbridge_api::testing::FakeConnector::with_capabilities(
            Platform::new("discord"),
            Capabilities {
                max_text_len: 2000,
                ..Capabilities::default()
            },
        ),
        ..Fakes::new()
    };
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    let text = "word ".repeat(500);
    acked(fakes.telegram.post(TG, RESIDENT, "1", &text)).await;
    wait_until(WAIT, "two parts", || {
        fakes.discord.texts_in(DC).len() == 2 && fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    let tg = civicbridge_api::RoomRef::new(Platform::new("telegram"), TG);
    let Some(civicbridge_core::store::IndexEntry::Mirror(id)) =
        store.lookup_message(&tg, &RemoteMsgId::new("1")).unwrap()
    else {
        panic!("the source message is indexed")
    };
    let m = store.mirror(id).unwrap().unwrap();
    let copy = m
        .copy_in(&civicbridge_api::RoomRef::new(Platform::new("discord"), DC))
        .unwrap();
    assert_eq!(copy.ids.len(), 2);
    assert!(fakes
        .discord
        .texts_in(DC)
        .iter()
        .all(|t| t.chars().count() <= 2000));
}

#[tokio::test]
async fn moderation_filters_apply_per_direction() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        blocked_patterns: vec!["(?i)casino".into()],
        public_to_public: DirectionRule::new(Policy::Off),
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "best CASINO deals")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "fine")).await;
    wait_until(WAIT, "the fine one", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.matrix.texts_in(STAFF), vec!["Ada (Telegram): fine"]);
    assert!(fakes.discord.posted().is_empty(), "public to public is off");
}

#[tokio::test]
async fn the_queue_lists_only_items_of_links_moderated_from_that_room() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut links = common::link(staff_approval_rules());
    let mut other = links[0].clone();
    other.link.id = civicbridge_api::LinkId::new("licensing");
    other.link.moderation_room = Some(civicbridge_api::RoomRef::new(
        Platform::new("matrix"),
        "!mod2",
    ));
    for (r, id) in other.link.rooms.iter_mut().zip(["!staff2", "-200", "300"]) {
        r.room.room = civicbridge_api::RoomId::new(id);
    }
    links.push(other);
    let daemon = civicbridge_core::ops::daemon::Daemon::start(
        store.clone(),
        &links,
        fakes.all(),
        fast_retries(),
    )
    .await
    .unwrap();
    acked(fakes.matrix.post(STAFF, STAFFER, "$a", "planning draft")).await;
    acked(
        fakes
            .matrix
            .post("!staff2", STAFFER, "$b", "licensing draft"),
    )
    .await;
    assert_eq!(store.pending().unwrap().len(), 2);
    acked(fakes.matrix.post(MODS, MODERATOR, "$q", "!queue")).await;
    wait_until(WAIT, "the queue listing", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.starts_with("1 held item(s)"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    let listing = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .find(|t| t.starts_with("1 held item(s)"))
        .unwrap();
    assert!(
        listing.contains("planning draft") && !listing.contains("licensing draft"),
        "{listing}"
    );
}

/// Discord sends a bot without the Message Content intent every message with empty text; a
/// resident can post only whitespace or invisible fillers. Nothing of that is relayed or
/// carded, and an empty edit leaves the copies alone.
#[tokio::test]
async fn empty_and_invisible_messages_are_never_relayed_nor_carded() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    for (i, text) in ["", "   \n", "\u{3164}\u{3164}", "\u{200b}"]
        .iter()
        .enumerate()
    {
        acked(
            fakes
                .discord
                .post(DC, ("77", "Bea"), &format!("e{i}"), text),
        )
        .await;
    }
    assert!(store.pending().unwrap().is_empty(), "no card");
    // A photo without a caption is not empty.
    let mut photo = Message::text("p1", "");
    photo.attachments.push(civicbridge_api::Attachment {
        kind: civicbridge_api::AttachmentKind::Image,
        name: "bins.jpg".into(),
        mime: Some("image/jpeg".into()),
        size: Some(3),
        url: "jpg".into(),
    });
    acked(
        fakes
            .discord
            .inject(fakes.discord.message_event(DC, ("77", "Bea"), photo)),
    )
    .await;
    wait_until(WAIT, "the photo on Telegram", || {
        fakes.telegram.visible_in(TG).len() == 1
    })
    .await;
    assert_eq!(store.pending().unwrap().len(), 1, "held for staff, once");
    // An empty edit of a relayed message changes nothing.
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("p1"),
        new: Message::text("p1", ""),
    };
    acked(
        fakes.discord.inject(fakes.discord.event(
            DC,
            ("77", "Bea"),
            "discord:edit:p1".into(),
            edit,
        )),
    )
    .await;
    acked(fakes.discord.post(DC, ("77", "Bea"), "n1", "later")).await;
    wait_until(WAIT, "the later message on Telegram", || {
        fakes.telegram.visible_in(TG).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    let tg = fakes.telegram.visible_in(TG);
    assert!(tg[0].edits.is_empty(), "{tg:?}");
    assert_eq!(fakes.telegram.posted().len(), 2);
}

/// A blocked resident's edits do not follow, and their reactions cross nowhere.
#[tokio::test]
async fn a_blocked_senders_edits_and_reactions_do_not_cross() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "hello all")).await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    store
        .set_rule(
            &civicbridge_api::LinkId::new("planning"),
            "blocked",
            r#"["telegram:42"]"#,
            &civicbridge_core::moderation::audit::AuditActor::Cli,
        )
        .unwrap();
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new: Message::text("7", "something vile"),
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit),
        ),
    )
    .await;
    let react = EventKind::Reaction {
        target: RemoteMsgId::new("7"),
        key: "👍".into(),
        id: None,
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:react:7".into(), react),
        ),
    )
    .await;
    acked(fakes.telegram.post(TG, ("43", "Bob"), "8", "hi Ada")).await;
    wait_until(WAIT, "the later message", || {
        fakes.matrix.texts_in(STAFF).len() == 2 && fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.matrix.texts_in(STAFF)[0], "Ada (Telegram): hello all");
    assert_eq!(fakes.discord.texts_in(DC)[0], "Ada (Telegram): hello all");
    for f in [&fakes.matrix, &fakes.discord] {
        assert!(
            !f.ops()
                .iter()
                .any(|o| matches!(o, FakeOp::Edit { .. } | FakeOp::React { .. })),
            "{:?}",
            f.ops()
        );
    }
}

/// Matrix posts a captioned photo as a text event and an image event. An approved edit of the
/// caption used to render without attachments and delete the "surplus" part: the photo.
#[tokio::test]
async fn an_approved_edit_of_a_captioned_photo_keeps_the_photo() {
    let fakes = Fakes::new();
    fakes.matrix.files_apart(true);
    let store = Store::memory();
    let rules = Rules {
        edits_public_to_staff: civicbridge_core::moderation::rules::EditPolicy::Approve,
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    let mut photo = Message::text("7", "Lost cat near Elm St");
    photo.attachments.push(civicbridge_api::Attachment {
        kind: civicbridge_api::AttachmentKind::Image,
        name: "cat.jpg".into(),
        mime: Some("image/jpeg".into()),
        size: Some(3),
        url: "cat".into(),
    });
    acked(
        fakes
            .telegram
            .inject(fakes.telegram.message_event(TG, RESIDENT, photo)),
    )
    .await;
    wait_until(WAIT, "the caption and the photo in the staff room", || {
        fakes.matrix.visible_in(STAFF).len() == 2
    })
    .await;
    let mut new = Message::text("7", "Lost cat near Elm St: found, thank you!");
    new.attachments.clear();
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new,
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit),
        ),
    )
    .await;
    wait_until(WAIT, "the edit's card", || {
        store
            .pending()
            .unwrap()
            .first()
            .is_some_and(|p| p.card.is_some())
    })
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "c1", "!approve #1")).await;
    wait_until(WAIT, "the caption edited", || {
        fakes.matrix.visible_in(STAFF).first().is_some_and(|p| {
            p.edits
                .last()
                .is_some_and(|e| e.text.to_plain().ends_with("found, thank you!"))
        })
    })
    .await;
    daemon.shutdown().await.unwrap();
    let shown = fakes.matrix.visible_in(STAFF);
    assert_eq!(shown.len(), 2, "the photo stays: {shown:?}");
    assert_eq!(shown[1].out.attachments.len(), 1);
    assert!(
        shown[1].edits.is_empty(),
        "the photo's message is not turned into text"
    );
}

/// Only the author edits or deletes: Matrix servers accept an `m.replace` from anyone, and a
/// redaction event can arrive from someone whose server did not apply it. A deletion by a
/// member who may remove others' messages is an audited takedown.
#[tokio::test]
async fn only_the_author_edits_and_others_deletions_need_the_right_to_remove() {
    use civicbridge_api::Authority;
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$a", "The library opens at 9"),
    )
    .await;
    wait_until(WAIT, "copies", || {
        fakes.telegram.texts_in(TG).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    let eve = ("@eve", "Eve");
    let forged = EventKind::Edit {
        target: RemoteMsgId::new("$a"),
        new: Message::text("$a", "FORGED: closed for good"),
    };
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.event(STAFF, eve, "$forged".into(), forged)),
    )
    .await;
    let del = || EventKind::Delete {
        target: RemoteMsgId::new("$a"),
    };
    acked(
        fakes
            .matrix
            .inject(fakes.matrix.event(STAFF, eve, "$del1".into(), del())),
    )
    .await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$b", "See you there")).await;
    wait_until(WAIT, "the later message", || {
        fakes.telegram.texts_in(TG).len() == 2 && fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    assert_eq!(
        fakes.telegram.texts_in(TG)[0],
        "Sam (Matrix): The library opens at 9"
    );
    assert!(!fakes
        .telegram
        .ops()
        .iter()
        .any(|o| matches!(o, FakeOp::Edit { .. } | FakeOp::Delete { .. })));

    // Eve may remove others' messages here: her redaction takes the message down everywhere.
    let mut by_mod = fakes.matrix.event(STAFF, eve, "$del2".into(), del());
    by_mod.sender.authority = Authority::Moderator;
    acked(fakes.matrix.inject(by_mod)).await;
    wait_until(WAIT, "the copies removed", || {
        fakes.telegram.texts_in(TG).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Takedown && e.actor == "matrix:@eve"));
}

/// Copies of one message can be at different versions: here the resident's edit follows to
/// Discord at once but waits for a moderator before the staff room. A staff copy approved
/// before the edit, and still waiting in the outbox when the edit arrives (a rate limit), must
/// post what was approved, never the edit no moderator has seen.
#[tokio::test]
async fn a_queued_approved_copy_sends_the_approved_text_not_a_later_edit() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        edits_public_to_staff: civicbridge_core::moderation::rules::EditPolicy::Direction,
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "harmless question")).await;
    wait_until(WAIT, "the Discord copy and the card", || {
        fakes.discord.texts_in(DC).len() == 1
            && fakes
                .matrix
                .texts_in(MODS)
                .iter()
                .any(|t| t.contains("Held #1"))
    })
    .await;
    // The staff room is rate limited while the approval goes out: the copy waits in its lane.
    fakes.matrix.fail_on(
        "Ada (Telegram): harmless",
        ConnectorError::RateLimited {
            retry_after: Duration::from_millis(300),
        },
    );
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve #1")).await;
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new: Message::text("7", "visit http://evil.example/phish"),
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit),
        ),
    )
    .await;
    wait_until(WAIT, "the edit on Discord and its own card", || {
        fakes.discord.texts_in(DC) == ["Ada (Telegram): visit http://evil.example/phish"]
            && store.pending().unwrap().len() == 1
    })
    .await;
    fakes.matrix.clear_faults();
    wait_until(WAIT, "the approved copy in the staff room", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        vec!["Ada (Telegram): harmless question"],
        "the staff room gets the approved text; the edit waits for its own card"
    );
    daemon.shutdown().await.unwrap();
}

/// A connector whose `run` ends (an error that may pass, or a panic) is started again by its
/// supervisor, and what its platform sends afterwards still crosses.
#[tokio::test]
async fn a_connector_that_stops_or_panics_is_restarted_and_keeps_relaying() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let options = civicbridge_core::ops::daemon::Options {
        watch: civicbridge_core::ops::watch::WatchOptions {
            restart_base: Duration::from_millis(20),
            restart_max: Duration::from_millis(100),
            ..civicbridge_core::ops::watch::WatchOptions::default()
        },
        ..fast_retries()
    };
    let daemon = civicbridge_core::ops::daemon::Daemon::start(
        store,
        &link(open_rules()),
        fakes.all(),
        options,
    )
    .await
    .unwrap();
    wait_until(WAIT, "telegram's first run", || fakes.telegram.runs() == 1).await;
    fakes.telegram.end_run(Some(ConnectorError::Transient(
        "the platform went away".into(),
    )));
    wait_until(WAIT, "a second run", || fakes.telegram.runs() == 2).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "after a failure")).await;
    fakes.telegram.end_run(None);
    wait_until(WAIT, "a third run, after the panic", || {
        fakes.telegram.runs() == 3
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "after a panic")).await;
    wait_until(WAIT, "both in the staff room", || {
        fakes.matrix.texts_in(STAFF)
            == [
                "Ada (Telegram): after a failure",
                "Ada (Telegram): after a panic",
            ]
    })
    .await;
    daemon.shutdown().await.unwrap();
}

/// Slow mode drops a resident's second message inside the window, across batches (the worker
/// remembers when each sender last crossed), and never holds back someone else.
#[tokio::test]
async fn slow_mode_drops_a_second_message_inside_the_window_but_not_someone_elses() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        slow_mode_secs: 3600,
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "first")).await;
    wait_until(WAIT, "the first copy", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "too soon")).await;
    acked(fakes.telegram.post(TG, ("77", "Bea"), "3", "hello")).await;
    wait_until(WAIT, "Bea's copy", || {
        fakes.matrix.texts_in(STAFF).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
    let texts = fakes.matrix.texts_in(STAFF);
    assert!(texts.iter().any(|t| t.contains("hello")), "{texts:?}");
    assert!(!texts.iter().any(|t| t.contains("too soon")), "{texts:?}");
}
