//! The outbox on its own: many lanes share a bounded number of requests per platform.
#![allow(clippy::unwrap_used)]

use civicbridge_api::testing::{wait_until, FakeConnector};
use civicbridge_api::{Connector, LinkId, Platform, RichText, RoomRef};
use civicbridge_core::pipeline::outbox::{Outbox, RetryPolicy, IN_FLIGHT_PER_PLATFORM};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{JobKind, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test(start_paused = true)]
async fn lanes_to_many_rooms_share_a_bounded_number_of_requests_per_platform() {
    let rooms = 3 * IN_FLIGHT_PER_PLATFORM;
    let telegram = FakeConnector::new(Platform::new("telegram"));
    let discord = FakeConnector::new(Platform::new("discord"));
    for fake in [&telegram, &discord] {
        fake.send_delay(Duration::from_millis(200));
    }
    let store = Store::memory();
    let link = LinkId::new("planning");
    let jobs = store
        .transact(|tx| {
            let mut jobs = Vec::new();
            for i in 0..rooms {
                for platform in [Platform::new("telegram"), Platform::new("discord")] {
                    let text = RichText::plain(format!("notice {i}"));
                    let room = RoomRef::new(platform, format!("room-{i}"));
                    jobs.push(tx.push_job(&link, &room, JobKind::notice(text))?);
                }
            }
            Ok(jobs)
        })
        .unwrap();
    let connectors = civicbridge_core::ops::connectors::Connectors::new([
        telegram.clone() as Arc<dyn Connector>,
        discord.clone() as Arc<dyn Connector>,
    ]);
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let outbox = Outbox::new(
        store.clone(),
        connectors,
        HashMap::new(),
        RetryPolicy::default(),
        shutdown.clone(),
        tracker.clone(),
        civicbridge_core::ops::metrics::Instruments::default(),
    );
    outbox.enqueue(&jobs);
    wait_until(Duration::from_secs(60), "every notice sent", || {
        telegram.posted_count() == rooms && discord.posted_count() == rooms
    })
    .await;
    for fake in [&telegram, &discord] {
        // The cap holds, and is used: the lanes did run side by side up to it.
        assert_eq!(fake.most_sends_in_flight(), IN_FLIGHT_PER_PLATFORM);
        for i in 0..rooms {
            assert_eq!(
                fake.texts_in(&format!("room-{i}")),
                vec![format!("notice {i}")]
            );
        }
    }
    wait_until(
        Duration::from_secs(10),
        "the jobs to leave the store",
        || jobs.iter().all(|j| store.job(j.id).unwrap().is_none()),
    )
    .await;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}

// ---- one bad job never stops a room ---------------------------------------------------------

use crate::common;

use civicbridge_api::{ConnectorError, Event, EventKind, Message, RemoteMsgId};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::store::{MirrorRecord, ParkedWhat};
use common::*;

/// A JSON value nested deeper than serde_json's recursion limit: valid JSON that no record
/// decoder can read back (what a 100-level `<blockquote>` used to produce).
fn too_deep() -> String {
    format!("{}{}", "[".repeat(300), "]".repeat(300))
}

/// A command in the moderation room from someone with `power` in it.
fn command(fake: &FakeConnector, id: &str, text: &str, power: i64) -> Event {
    let mut ev = fake.message_event(MODS, ("@admin", "Ad"), Message::text(id, text));
    ev.sender.standing = Some(civicbridge_matrix::inbound::standing_of(power));
    ev
}

async fn mod_room_says(fakes: &Fakes, what: &str) -> String {
    let mut found = String::new();
    wait_until(WAIT, what, || {
        found = fakes
            .matrix
            .texts_in(MODS)
            .into_iter()
            .find(|t| t.contains(what))
            .unwrap_or_default();
        !found.is_empty()
    })
    .await;
    found
}

#[tokio::test]
async fn a_job_that_panics_is_parked_once_and_later_messages_to_that_room_still_arrive() {
    let fakes = Fakes::new();
    fakes.discord.panic_on("İlknur");
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "hello from İlknur")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "2", "a later message")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "3", "and one more")).await;
    wait_until(WAIT, "the later messages on Discord", || {
        fakes.discord.texts_in(DC)
            == [
                "Ada (Telegram): a later message",
                "Ada (Telegram): and one more",
            ]
    })
    .await;
    let notice = mod_room_says(&fakes, "Parked P1").await;
    assert!(notice.contains("panicked"), "{notice}");
    assert!(notice.contains(&format!("discord:{DC}")), "{notice}");
    // The panic's message quotes the text it failed on: it stays in the log, out of the
    // moderation room and the audit log (which outlives erasure).
    assert!(!notice.contains("İlknur"), "{notice}");
    let entry = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == civicbridge_core::moderation::audit::AuditAction::Parked)
        .unwrap();
    assert_eq!(entry.detail["reason"], "panicked");
    assert!(
        !entry.detail.to_string().contains("İlknur"),
        "{}",
        entry.detail
    );
    let parked = store.parked().unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert!(matches!(&parked[0].what, ParkedWhat::Job { kind: Some(k), .. } if k == "send"));

    // An admin retries it once the bug is gone; a moderator may not.
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "c1", "!retry P1", 50)),
    )
    .await;
    mod_room_says(&fakes, "only admins").await;
    fakes.discord.clear_faults();
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "c2", "!retry P1", 100)),
    )
    .await;
    wait_until(WAIT, "the retried message", || {
        fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    assert_eq!(
        fakes.discord.texts_in(DC)[2],
        "Ada (Telegram): hello from İlknur"
    );
    daemon.shutdown().await.unwrap();
    assert!(store.parked().unwrap().is_empty());
    assert!(store.outbox().unwrap().is_empty());
    let notices = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .filter(|t| t.contains("Parked"))
        .count();
    assert_eq!(notices, 1, "the moderators were told once");
    let log = store.audit_log().unwrap();
    for action in [AuditAction::Parked, AuditAction::ParkedRetried] {
        assert!(log.iter().any(|e| e.action == action), "{action:?} audited");
    }
}

#[tokio::test(start_paused = true)]
async fn a_job_that_alone_keeps_failing_is_parked_and_an_outage_parks_nothing() {
    let fakes = Fakes::new();
    fakes
        .discord
        .fail_on("poison", ConnectorError::Transient("HTTP 500".into()));
    let store = Store::memory();
    // A second link with a Discord room of its own, whose messages keep flowing.
    let mut links = link(open_rules());
    let mut other = links[0].clone();
    other.link.id = civicbridge_api::LinkId::new("other");
    other.link.rooms.truncate(1);
    other.link.rooms[0].room = RoomRef::new(Platform::new("matrix"), "!staff2");
    other.link.rooms.push(civicbridge_core::store::LinkRoom {
        room: RoomRef::new(Platform::new("discord"), "201"),
        side: civicbridge_core::moderation::rules::Side::Public,
    });
    links.push(other);
    let daemon = civicbridge_core::ops::daemon::Daemon::start(
        store.clone(),
        &links,
        fakes.all(),
        fast_retries(),
    )
    .await
    .unwrap();
    acked(fakes.telegram.post(TG, RESIDENT, "1", "poison")).await;
    // Discord is up: the other link's room gets its messages while this one job fails.
    for i in 0..30 {
        acked(
            fakes
                .matrix
                .post("!staff2", STAFFER, &format!("s{i}"), &format!("staff {i}")),
        )
        .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !store.parked().unwrap().is_empty() {
            break;
        }
    }
    wait_until(WAIT, "the poison job parked", || {
        store.parked().unwrap().len() == 1
    })
    .await;
    let notice = mod_room_says(&fakes, "Parked P1").await;
    assert!(notice.contains("HTTP 500"), "{notice}");
    acked(fakes.telegram.post(TG, RESIDENT, "2", "after it")).await;
    wait_until(WAIT, "the next message to Discord", || {
        fakes
            .discord
            .texts_in(DC)
            .contains(&"Ada (Telegram): after it".to_owned())
    })
    .await;

    // A whole-platform outage: every Discord send fails for a while. Nothing is parked; it all
    // arrives when Discord is back.
    fakes.discord.clear_faults();
    fakes.discord.fail_next(std::iter::repeat_n(
        ConnectorError::Transient("HTTP 503".into()),
        40,
    ));
    acked(fakes.telegram.post(TG, RESIDENT, "3", "during the outage")).await;
    wait_until(WAIT, "the message after the outage", || {
        fakes
            .discord
            .texts_in(DC)
            .contains(&"Ada (Telegram): during the outage".to_owned())
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        store.parked().unwrap().len(),
        1,
        "the outage parked nothing"
    );
}

#[tokio::test]
async fn undecodable_records_are_parked_with_a_notice_never_retried_forever() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let links = link(open_rules());
    let mods = links[0].link.moderation_room.clone().unwrap();
    let dc = links[0].link.rooms[2].room.clone();
    // Left by an older build: a send job whose message record cannot be decoded, and a card
    // whose own record cannot be decoded (its text too deep), both before anything new.
    store
        .transact(|tx| {
            let m = MirrorRecord::new(
                tx.new_mirror_id()?,
                links[0].link.id.clone(),
                links[0].link.rooms[1].room.clone(),
                civicbridge_api::RemoteMsgId::new("deep"),
                civicbridge_core::store::Author::new(Platform::new("telegram"), "42", "Ada"),
                RichText::plain("x"),
            );
            tx.insert_mirror(&m)?;
            tx.put_raw_mirror(
                m.id,
                format!(r#"{{"v":1,"d":{}}}"#, too_deep()).into_bytes(),
            )?;
            tx.push_job(
                &links[0].link.id,
                &dc,
                JobKind::Send {
                    mirror: m.id,
                    text: None,
                },
            )?;
            let card = tx.push_job(
                &links[0].link.id,
                &mods,
                JobKind::Notice {
                    text: RichText::plain("PLACEHOLDER"),
                    card: Some(civicbridge_api::PendingId(9)),
                    about: None,
                },
            )?;
            let mut v = serde_json::to_value(&card).unwrap();
            v["kind"]["text"] = serde_json::json!("PLACEHOLDER");
            let raw = serde_json::to_string(&serde_json::json!({ "v": 1, "d": v }))
                .unwrap()
                .replace("\"PLACEHOLDER\"", &too_deep());
            tx.put_raw_job(card.id, raw.into_bytes())?;
            Ok(())
        })
        .unwrap();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "1", "still flowing")).await;
    wait_until(WAIT, "the new message on Discord and Matrix", || {
        fakes.discord.texts_in(DC) == ["Ada (Telegram): still flowing"]
            && fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): still flowing"]
    })
    .await;
    let card = mod_room_says(&fakes, "card job").await;
    assert!(card.contains("cannot be read"), "{card}");
    let send = mod_room_says(&fakes, "send job").await;
    assert!(send.contains(&format!("discord:{DC}")), "{send}");

    // `!queue` and `!parked` list them as such.
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "q", "!parked", 50)),
    )
    .await;
    let listing = mod_room_says(&fakes, "2 parked item(s)").await;
    assert!(
        listing.contains("P1") && listing.contains("P2"),
        "{listing}"
    );
    // Dropped by an admin: gone, audited.
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "d", "!drop P2", 100)),
    )
    .await;
    mod_room_says(&fakes, "P2: dropped").await;
    daemon.shutdown().await.unwrap();
    assert_eq!(store.parked().unwrap().len(), 1);
    assert!(store.outbox().unwrap().is_empty(), "nothing left retrying");
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::ParkedDropped));
}

#[tokio::test]
async fn an_event_that_cannot_be_handled_is_parked_acknowledged_and_retried_on_request() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Is the library open?"),
    )
    .await;
    wait_until(WAIT, "copies", || fakes.discord.texts_in(DC).len() == 1).await;
    let Some(civicbridge_core::store::IndexEntry::Mirror(mirror)) = store
        .lookup_message(
            &RoomRef::new(Platform::new("telegram"), TG),
            &RemoteMsgId::new("7"),
        )
        .unwrap()
    else {
        panic!("the message is indexed")
    };
    let good = store
        .raw_mirror(mirror)
        .unwrap()
        .expect("the mirror record");
    store
        .transact(|tx| {
            tx.put_raw_mirror(
                mirror,
                format!(r#"{{"v":1,"d":{}}}"#, too_deep()).into_bytes(),
            )
        })
        .unwrap();
    // The edit cannot be decided (its message's record is unreadable): parked and acknowledged,
    // so the connector's cursor moves on and later events are handled.
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new: Message::text("7", "Is the library open on Sunday?"),
    };
    let ev = fakes
        .telegram
        .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit);
    tokio::time::timeout(WAIT, fakes.telegram.inject(ev))
        .await
        .expect("the unhandleable event is acknowledged")
        .unwrap();
    acked(fakes.telegram.post(TG, RESIDENT, "8", "next")).await;
    wait_until(WAIT, "the next message", || {
        fakes.discord.texts_in(DC).len() == 2
    })
    .await;
    let notice = mod_room_says(&fakes, "Parked P1").await;
    assert!(notice.contains("telegram:edit:7:1"), "{notice}");

    // Repaired, then retried by an admin: the edit reaches the copies.
    store
        .transact(|tx| tx.put_raw_mirror(mirror, good.clone()))
        .unwrap();
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "r", "!retry P1", 100)),
    )
    .await;
    wait_until(WAIT, "the edit applied", || {
        fakes.discord.texts_in(DC)[0] == "Ada (Telegram): Is the library open on Sunday?"
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.parked().unwrap().is_empty());
}

/// Links may share a moderation room, whose commands all go to one link's worker. A `!retry`
/// of a parked event of the *other* link must still replay it at once, in that link's worker.
#[tokio::test]
async fn a_retry_in_a_shared_moderation_room_replays_the_other_links_event() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut links = link(open_rules());
    let mut other = links[0].clone();
    other.link.id = civicbridge_api::LinkId::new("other");
    other.link.rooms = vec![
        civicbridge_core::store::LinkRoom {
            room: RoomRef::new(Platform::new("matrix"), "!staff2"),
            side: civicbridge_core::moderation::rules::Side::Staff,
        },
        civicbridge_core::store::LinkRoom {
            room: RoomRef::new(Platform::new("discord"), "201"),
            side: civicbridge_core::moderation::rules::Side::Public,
        },
    ];
    links.push(other);
    let daemon = civicbridge_core::ops::daemon::Daemon::start(
        store.clone(),
        &links,
        fakes.all(),
        fast_retries(),
    )
    .await
    .unwrap();
    acked(
        fakes
            .discord
            .post("201", ("77", "Bea"), "9", "Is the pool open?"),
    )
    .await;
    wait_until(WAIT, "the copy in the other staff room", || {
        fakes.matrix.texts_in("!staff2").len() == 1
    })
    .await;
    let Some(civicbridge_core::store::IndexEntry::Mirror(mirror)) = store
        .lookup_message(
            &RoomRef::new(Platform::new("discord"), "201"),
            &RemoteMsgId::new("9"),
        )
        .unwrap()
    else {
        panic!("the message is indexed")
    };
    let good = store.raw_mirror(mirror).unwrap().expect("the record");
    store
        .transact(|tx| {
            tx.put_raw_mirror(
                mirror,
                format!(r#"{{"v":1,"d":{}}}"#, too_deep()).into_bytes(),
            )
        })
        .unwrap();
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("9"),
        new: Message::text("9", "Is the pool open on Sunday?"),
    };
    acked(
        fakes.discord.inject(fakes.discord.event(
            "201",
            ("77", "Bea"),
            "discord:edit:9".into(),
            edit,
        )),
    )
    .await;
    mod_room_says(&fakes, "Parked P1").await;
    assert_eq!(
        store.parked().unwrap()[0].link.as_ref().map(|l| l.as_str()),
        Some("other")
    );
    store
        .transact(|tx| tx.put_raw_mirror(mirror, good.clone()))
        .unwrap();
    acked(
        fakes
            .matrix
            .inject(command(&fakes.matrix, "r", "!retry P1", 100)),
    )
    .await;
    wait_until(WAIT, "the edit applied without a restart", || {
        fakes.matrix.texts_in("!staff2") == ["Bea (Discord): Is the pool open on Sunday?"]
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.parked().unwrap().is_empty());
}
