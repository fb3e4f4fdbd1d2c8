//! The poll offset lives in `ConnectorState` and moves only after the core's acks: a restart
//! neither loses nor repeats updates.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{ConnectorState, EventKind, MemoryState};
use civicbridge_telegram::OFFSET_KEY;
use civicbridge_testkit::telegram::TelegramServer;
use common::{connector, run, ADA};
use std::sync::Arc;
use std::time::Duration;

fn text_of(s: &civicbridge_api::Submission) -> String {
    match &s.event.kind {
        EventKind::Message(m) => m.text.to_plain(),
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn the_poll_offset_survives_a_restart_with_no_update_lost_or_repeated() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let state = Arc::new(MemoryState::default());

    server.post_as_user(chat, ADA, "one").unwrap();
    server.post_as_user(chat, ADA, "two").unwrap();
    let mut a = run(connector(&server), state.clone());
    for want in ["one", "two"] {
        let s = a.next(want).await;
        assert_eq!(text_of(&s), want);
        s.ack.send(()).unwrap();
    }
    civicbridge_api::testing::wait_until(common::WAIT, "offset stored", || {
        state.get(OFFSET_KEY).is_some()
    })
    .await;
    a.stop().await;

    // While the bridge is down, a resident posts.
    server.post_as_user(chat, ADA, "three").unwrap();
    let mut b = run(connector(&server), state.clone());
    let s = b.next("three").await;
    assert_eq!(
        text_of(&s),
        "three",
        "nothing before the stored offset comes again"
    );
    s.ack.send(()).unwrap();
    b.none_within(Duration::from_millis(300)).await;
    b.stop().await;
}

#[tokio::test]
async fn an_unacknowledged_event_comes_again_after_a_restart() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let state = Arc::new(MemoryState::default());

    server.post_as_user(chat, ADA, "first").unwrap();
    let mut a = run(connector(&server), state.clone());
    let s = a.next("first").await;
    s.ack.send(()).unwrap();
    civicbridge_api::testing::wait_until(common::WAIT, "offset stored", || {
        state.get(OFFSET_KEY).is_some()
    })
    .await;
    let offset_after_first = state.get(OFFSET_KEY);

    server.post_as_user(chat, ADA, "second").unwrap();
    let s = a.next("second").await;
    let first_delivery = s.event.id.clone();
    // The core crashes before the event is durable: no ack.
    drop(s);
    a.stop().await;
    assert_eq!(
        state.get(OFFSET_KEY),
        offset_after_first,
        "the offset did not move past it"
    );

    let mut b = run(connector(&server), state.clone());
    let s = b.next("second, again").await;
    assert_eq!(text_of(&s), "second");
    assert_eq!(
        s.event.id, first_delivery,
        "a replay carries the same id for the core to drop"
    );
    s.ack.send(()).unwrap();
    b.none_within(Duration::from_millis(300)).await;
    b.stop().await;
}

#[tokio::test]
async fn a_reaction_update_is_confirmed_only_once_all_its_events_are_acknowledged() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "react to me").unwrap();
    let state = Arc::new(MemoryState::default());
    let bea = (77, "Bea");

    let mut a = run(connector(&server), state.clone());
    let s = a.next("the message").await;
    s.ack.send(()).unwrap();
    civicbridge_api::testing::wait_until(common::WAIT, "offset stored", || {
        state.get(OFFSET_KEY).is_some()
    })
    .await;
    let before = state.get(OFFSET_KEY);

    // One update, two events: 👍 removed, 🔥 added (Bea had 👍).
    server.react(chat, bea, msg, &["👍"]).unwrap();
    let s = a.next("👍").await;
    s.ack.send(()).unwrap();
    civicbridge_api::testing::wait_until(common::WAIT, "offset moved", || {
        state.get(OFFSET_KEY) != before
    })
    .await;
    let before = state.get(OFFSET_KEY);
    server.react(chat, bea, msg, &["🔥"]).unwrap();
    let first = a.next("the removal").await;
    let second = a.next("the addition").await;
    assert!(matches!(first.event.kind, EventKind::ReactionRemoved { ref key, .. } if key == "👍"));
    assert!(matches!(second.event.kind, EventKind::Reaction { ref key, .. } if key == "🔥"));
    let ids = (first.event.id.clone(), second.event.id.clone());
    // Only the first is durable when the core stops.
    first.ack.send(()).unwrap();
    drop(second);
    a.stop().await;
    assert_eq!(state.get(OFFSET_KEY), before, "the update is not confirmed");

    // After the restart both come again, with the same ids (the core drops the first).
    let mut b = run(connector(&server), state.clone());
    let again = [
        b.next("the removal again").await,
        b.next("the addition again").await,
    ];
    assert_eq!((again[0].event.id.clone(), again[1].event.id.clone()), ids);
    for s in again {
        s.ack.send(()).unwrap();
    }
    civicbridge_api::testing::wait_until(common::WAIT, "now confirmed", || {
        state.get(OFFSET_KEY) != before
    })
    .await;
    b.none_within(Duration::from_millis(300)).await;
    b.stop().await;
}
