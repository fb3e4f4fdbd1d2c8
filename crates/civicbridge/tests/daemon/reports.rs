//! Reports from every side, on fake platforms: `/report` replies, 🚩, `!report` from staff;
//! each person once, blocked senders ignored; copies hidden after N reports and sent again on
//! dismissal; ✅ on the card takes the message down.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{EventKind, Message, RemoteMsgId};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{Rules, UserKey};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

fn reply(id: &str, to: &str, text: &str) -> Message {
    Message {
        reply_to: Some(RemoteMsgId::new(to)),
        ..Message::text(id, text)
    }
}

fn report_card(store: &Store) -> Option<RemoteMsgId> {
    store
        .report(civicbridge_api::MirrorId(1))
        .unwrap()
        .and_then(|r| r.card)
        .map(|(_, m)| m)
}

fn card_text(fakes: &Fakes, card: &RemoteMsgId) -> String {
    let p = fakes.matrix.get(card).unwrap();
    p.edits
        .last()
        .map_or_else(|| p.out.text.to_plain(), |e| e.text.to_plain())
}

#[tokio::test]
async fn reports_hide_the_copies_after_two_people_and_a_dismissal_sends_them_again() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        hide_after_reports: 2,
        blocked: vec![UserKey::new(
            civicbridge_api::Platform::new("telegram"),
            civicbridge_api::RemoteUserId::new("66"),
        )],
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "buy cheap watches")).await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.visible_in(STAFF).len() == 1 && fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    let dc_copy = fakes.discord.visible_in(DC)[0].id.clone();
    let tg = &fakes.telegram;
    // Bob reports twice (counts once); Eve is blocked; a report that replies to nothing is
    // dropped; none of them crosses.
    acked(tg.inject(tg.message_event(TG, ("43", "Bob"), reply("2", "1", "/report spam please"))))
        .await;
    acked(tg.inject(tg.message_event(
        TG,
        ("43", "Bob"),
        reply("3", "1", "/report@civicbot again"),
    )))
    .await;
    acked(tg.inject(tg.message_event(TG, ("66", "Eve"), reply("4", "1", "/report")))).await;
    acked(tg.post(TG, ("44", "Cy"), "5", "/report")).await;
    wait_until(WAIT, "the report card", || report_card(&store).is_some()).await;
    let card = report_card(&store).unwrap();
    assert!(
        card_text(&fakes, &card).contains("1 report(s)"),
        "{}",
        card_text(&fakes, &card)
    );
    assert_eq!(
        fakes.discord.visible_in(DC).len(),
        1,
        "one report hides nothing"
    );
    // A second person, by 🚩 on the Discord copy: the copies go, pending a decision.
    let flag = EventKind::Reaction {
        target: dc_copy,
        key: "🚩".into(),
        id: None,
    };
    acked(
        fakes.discord.inject(
            fakes
                .discord
                .event(DC, ("77", "Bea"), "discord:flag".into(), flag),
        ),
    )
    .await;
    wait_until(WAIT, "the copies hidden", || {
        fakes.matrix.visible_in(STAFF).is_empty() && fakes.discord.visible_in(DC).is_empty()
    })
    .await;
    wait_until(WAIT, "the card counts two", || {
        let t = card_text(&fakes, &card);
        t.contains("2 report(s)")
            && t.contains("Bob (Telegram): spam please")
            && t.contains("(hidden")
    })
    .await;
    // The moderator dismisses with ❌: the copies come back.
    let cross = EventKind::Reaction {
        target: card.clone(),
        key: "❌".into(),
        id: None,
    };
    acked(
        fakes.matrix.inject(
            fakes
                .matrix
                .event(MODS, MODERATOR, "matrix:x".into(), cross),
        ),
    )
    .await;
    wait_until(WAIT, "the copies sent again", || {
        fakes.matrix.visible_in(STAFF).len() == 1 && fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    wait_until(WAIT, "the card says dismissed", || {
        card_text(&fakes, &card).contains("dismissed by Mo")
    })
    .await;
    daemon.shutdown().await.unwrap();
    let texts = fakes.matrix.texts_in(STAFF);
    assert_eq!(
        texts,
        ["Ada (Telegram): buy cheap watches"],
        "no report crossed"
    );
    let log = store.audit_log().unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::Reported)
            .count(),
        2
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::ReportDismissed)
            .count(),
        1
    );
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains("spam please") && !text.contains("telegram:43"),
        "no words, no ids"
    );
}

#[tokio::test]
async fn a_staff_report_and_a_tick_on_the_card_take_the_message_down() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "rude words")).await;
    wait_until(WAIT, "copies", || fakes.matrix.visible_in(STAFF).len() == 1).await;
    let copy = fakes.matrix.visible_in(STAFF)[0].id.clone();
    let m = &fakes.matrix;
    acked(m.inject(m.message_event(STAFF, STAFFER, reply("$r", copy.as_str(), "!report rude"))))
        .await;
    wait_until(WAIT, "the report card", || report_card(&store).is_some()).await;
    let card = report_card(&store).unwrap();
    // Someone without the role: audited, nothing else.
    let tick = |who, id: &str| {
        m.event(
            MODS,
            who,
            format!("matrix:{id}"),
            EventKind::Reaction {
                target: card.clone(),
                key: "✅".into(),
                id: None,
            },
        )
    };
    acked(m.inject(tick(STAFFER, "t1"))).await;
    acked(m.inject(tick(MODERATOR, "t2"))).await;
    wait_until(WAIT, "the copies gone", || {
        fakes.matrix.visible_in(STAFF).is_empty() && fakes.discord.visible_in(DC).is_empty()
    })
    .await;
    wait_until(WAIT, "the card says taken down", || {
        card_text(&fakes, &card).contains("taken down by Mo")
    })
    .await;
    daemon.shutdown().await.unwrap();
    let log = store.audit_log().unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::Takedown)
            .count(),
        1
    );
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::Refused)
            .count(),
        1
    );
}
