//! Telling residents why, and `!export` answered privately, on fake platforms: a held and a
//! rejected message are explained to their resident as the team, privately, with the reason's
//! label and never the moderator's words; where the resident cannot be reached, one reply in
//! the room (not one per message) that is deleted later, even across a restart; staff are never told this way; an
//! admin's `!export` arrives as files in a direct message, restricted to their links.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{Message, RemoteMsgId, Standing};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules, TellResidents, TellTexts};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

fn telling(tell: TellResidents) -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        staff_to_public: DirectionRule::new(Policy::Approve),
        tell_residents: tell,
        ..open_rules()
    }
}

fn told_texts(fake: &civicbridge_api::testing::FakeConnector) -> Vec<(String, String)> {
    fake.told()
        .iter()
        .map(|p| (p.to.to_string(), p.text.to_plain()))
        .collect()
}

async fn cards(store: &Store, n: usize) {
    wait_until(WAIT, "the cards", || {
        let p = store.pending().unwrap();
        p.len() == n && p.iter().all(|i| i.card.is_some())
    })
    .await;
}

#[tokio::test]
async fn residents_are_told_privately_as_the_team_with_the_label_never_the_moderators_words() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut rules = telling(TellResidents::HeldAndRejected);
    rules.tell_texts.insert(
        "de".into(),
        TellTexts {
            held: "Das Moderationsteam prüft „{excerpt}“ ({reason}).".into(),
            ..TellTexts::default()
        },
    );
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "1", "Buy cheap watches at my shop"),
    )
    .await;
    let mut german = fakes.telegram.message_event(
        TG,
        ("43", "Bea"),
        Message::text("2", "Wann ist die Sitzung?"),
    );
    german.sender.language = Some("de-AT".into());
    acked(fakes.telegram.inject(german)).await;
    acked(
        fakes
            .discord
            .post(DC, ("77", "Cy"), "3", "you are all idiots"),
    )
    .await;
    // A staff member's message held on its way out: staff hear nothing of this kind.
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Agenda attached")).await;
    cards(&store, 4).await;
    wait_until(WAIT, "three held notices", || {
        fakes.telegram.told().len() == 2 && fakes.discord.told().len() == 1
    })
    .await;
    let tg = told_texts(&fakes.telegram);
    assert_eq!(tg[0].0, "42");
    assert!(
        tg[0]
            .1
            .starts_with("The moderation team is reviewing your message")
            && tg[0].1.contains("“Buy cheap watches at my shop”"),
        "{tg:?}"
    );
    assert_eq!(tg[1].0, "43");
    assert!(
        tg[1]
            .1
            .starts_with("Das Moderationsteam prüft „Wann ist die Sitzung?“"),
        "her language: {tg:?}"
    );
    // The moderator's own words after the code, and free text without one, never reach them.
    let boss = MODERATOR;
    acked(
        fakes
            .matrix
            .post(MODS, boss, "$c1", "!reject #1 spam third time today"),
    )
    .await;
    acked(
        fakes
            .matrix
            .post(MODS, boss, "$c2", "!reject #3 what a troll"),
    )
    .await;
    wait_until(WAIT, "the rejections told", || {
        fakes.telegram.told().len() == 3 && fakes.discord.told().len() == 2
    })
    .await;
    let tg = told_texts(&fakes.telegram);
    assert_eq!(
        tg[2].1,
        "The moderation team did not share your message “Buy cheap watches at my shop”. \
         Reason: Spam or advertising."
    );
    let dc = told_texts(&fakes.discord);
    assert_eq!(dc[1].0, "77");
    assert!(
        dc[1]
            .1
            .contains("Reason: it does not follow this group's rules")
            && !dc[1].1.contains("troll"),
        "{dc:?}"
    );
    for (_, text) in tg.iter().chain(&dc) {
        assert!(!text.contains("@mod"), "no moderator named: {text}");
    }
    assert!(fakes.matrix.told().is_empty(), "staff are not told");
    daemon.shutdown().await.unwrap();
    let told: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Told)
        .collect();
    assert_eq!(told.len(), 5);
    assert!(told.iter().all(|e| e.detail["via"] == "private"));
    // Nothing was posted in the public rooms.
    assert!(fakes.telegram.posted().is_empty() && fakes.discord.posted().is_empty());
}

#[tokio::test]
async fn only_rejections_are_told_under_rejected_and_nothing_under_off() {
    for (tell, expected) in [(TellResidents::Rejected, 1), (TellResidents::Off, 0)] {
        let fakes = Fakes::new();
        let store = Store::memory();
        let daemon = start(store.clone(), telling(tell), &fakes).await;
        acked(fakes.telegram.post(TG, RESIDENT, "1", "first")).await;
        acked(fakes.telegram.post(TG, RESIDENT, "2", "second")).await;
        cards(&store, 2).await;
        acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!reject #1 spam")).await;
        acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!approve #2")).await;
        wait_until(WAIT, "decided", || store.pending().unwrap().is_empty()).await;
        wait_until(WAIT, "the approved copy", || {
            fakes.discord.texts_in(DC).len() == 1
        })
        .await;
        daemon.shutdown().await.unwrap();
        assert_eq!(fakes.telegram.told().len(), expected, "{tell:?}");
    }
}

#[tokio::test]
async fn an_unreachable_resident_gets_a_reply_in_the_room_that_is_deleted_even_after_a_restart() {
    let fakes = Fakes::new();
    let store = Store::memory();
    fakes.telegram.unreachable(
        "42",
        Some(civicbridge_api::ConnectorError::Rejected(
            "never started the bot".into(),
        )),
    );
    let rules = Rules {
        tell_reply_secs: 2,
        ..telling(TellResidents::HeldAndRejected)
    };
    let daemon = start(store.clone(), rules.clone(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "call me on 0123")).await;
    // More of the same within minutes: one reply in the room, not one each.
    acked(fakes.telegram.post(TG, RESIDENT, "2", "call me!!")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "3", "CALL ME")).await;
    cards(&store, 3).await;
    wait_until(
        WAIT,
        "the reply in the room, and nothing left to send",
        || !fakes.telegram.posted().is_empty() && store.outbox().unwrap().is_empty(),
    )
    .await;
    assert_eq!(fakes.telegram.posted().len(), 1);
    let reply = fakes.telegram.posted()[0].clone();
    assert_eq!(reply.out.reply_to, Some(RemoteMsgId::new("1")));
    assert!(reply.out.notice);
    let text = reply.out.text.to_plain();
    assert!(
        text.starts_with("The moderation team is reviewing this message")
            && text.ends_with("to get these notices privately.")
            && !text.contains("0123"),
        "the room is not told what the message said: {text}"
    );
    // Stopped before the reply is due: the next start still deletes it.
    daemon.shutdown().await.unwrap();
    let daemon = start(store.clone(), rules, &fakes).await;
    wait_until(WAIT, "the reply deleted", || {
        fakes.telegram.get(&reply.id).is_some_and(|p| p.deleted)
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.expiring().unwrap().is_empty());
    let via: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Told)
        .map(|e| e.detail["via"].clone())
        .collect();
    assert_eq!(via, ["room"]);
}

fn as_admin(fakes: &Fakes, who: (&str, &str), id: &str, text: &str) -> civicbridge_api::Event {
    let mut ev = fakes
        .matrix
        .message_event(MODS, who, Message::text(id, text));
    ev.sender.standing = Some(Standing::Admin);
    ev
}

#[tokio::test]
async fn an_admins_export_arrives_privately_as_files_and_a_moderator_may_not_ask() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), telling(TellResidents::Off), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "Ada's question")).await;
    acked(
        fakes
            .telegram
            .post(TG, ("43", "Bea"), "2", "Bea's question"),
    )
    .await;
    cards(&store, 2).await;
    // A moderator is not an admin.
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$e0", "!export telegram:42"),
    )
    .await;
    let boss = ("@boss", "Boss");
    acked(
        fakes
            .matrix
            .inject(as_admin(&fakes, boss, "$e1", "!export telegram:42")),
    )
    .await;
    wait_until(WAIT, "the export", || fakes.matrix.told().len() == 1).await;
    let sent = fakes.matrix.told().remove(0);
    assert_eq!(sent.to.as_str(), "@boss");
    let names: Vec<&str> = sent.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["export-telegram-42.json", "export-telegram-42.txt"]);
    let json: serde_json::Value = serde_json::from_slice(&sent.files[0].data).unwrap();
    assert_eq!(json["person"], "telegram:42");
    assert_eq!(json["messages"][0]["text"], "Ada's question");
    let all = String::from_utf8(sent.files[0].data.clone()).unwrap();
    assert!(!all.contains("Bea"), "nobody else's data");
    // An admin who cannot be written to privately hears so in the room; nothing else is said.
    fakes.matrix.unreachable(
        "@boss",
        Some(civicbridge_api::ConnectorError::Rejected(
            "invites refused".into(),
        )),
    );
    acked(
        fakes
            .matrix
            .inject(as_admin(&fakes, boss, "$e2", "!export #2")),
    )
    .await;
    wait_until(WAIT, "the refusal", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.starts_with("⚠ I could not send the export in a direct message"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    let mods = fakes.matrix.texts_in(MODS).join("\n");
    assert!(mods.contains("only admins"), "{mods}");
    assert!(
        fakes
            .matrix
            .posted()
            .iter()
            .all(|p| p.out.attachments.is_empty()),
        "no file in any room"
    );
    let exported: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Exported)
        .collect();
    assert_eq!(exported.len(), 1, "audited once, when handed over");
    assert_eq!(exported[0].actor.to_string(), "matrix:@boss");
    assert_eq!(exported[0].detail["via"], "direct message");
}
