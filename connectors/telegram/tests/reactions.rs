//! Reactions both ways against the local Bot API server: the bot's `react`/`unreact` as the
//! server shows them, residents' reactions and anonymous counts as events, the gates Telegram
//! puts on reaction updates (asked for in `allowed_updates`, bot an administrator), and inputs
//! Telegram would never send.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{
    Connector, ConnectorError, EventKind, MemoryState, ReactionCount, ReactionKeys, RemoteMsgId,
    RoomId, Submission,
};
use civicbridge_testkit::telegram::{Fault, TelegramServer};
use common::{connector, run, Running, ADA, WAIT};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const BEA: (i64, &str) = (77, "Bea");

/// Runs the connector and waits for its first poll, after which Telegram sends it reactions.
async fn running(server: &TelegramServer) -> Running {
    let r = run(connector(server), Arc::new(MemoryState::default()));
    wait_until(WAIT, "the connector asked for reaction updates", || {
        server.allowed_updates().is_some_and(|k| {
            k.iter().any(|k| k == "message_reaction")
                && k.iter().any(|k| k == "message_reaction_count")
        })
    })
    .await;
    r
}

/// The next event, acknowledged, as (kind, sender id, is_bridge).
async fn next(r: &mut Running, what: &str) -> (EventKind, String, Submission) {
    let s = r.next(what).await;
    (
        s.event.kind.clone(),
        s.event.sender.id.as_str().to_owned(),
        s,
    )
}

fn added(target: i32, key: &str) -> EventKind {
    EventKind::Reaction {
        target: RemoteMsgId::new(target.to_string()),
        key: key.into(),
        id: None,
    }
}

fn removed(target: i32, key: &str) -> EventKind {
    EventKind::ReactionRemoved {
        target: RemoteMsgId::new(target.to_string()),
        key: key.into(),
    }
}

#[tokio::test]
async fn the_bots_react_and_unreact_show_on_the_message() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "a message").unwrap();
    let conn = connector(&server);
    let caps = conn.capabilities();
    assert!(caps.reactions);
    assert_eq!(caps.max_bot_reactions, Some(1));
    assert!(matches!(caps.reaction_keys, ReactionKeys::Only(set) if set.len() == 73));

    let room = RoomId::new(chat.to_string());
    let id = RemoteMsgId::new(msg.to_string());
    conn.react(&room, &id, "👍").await.unwrap();
    assert_eq!(server.bot_reactions(chat, msg), ["👍"]);
    // One reaction for a bot: a second replaces the first. `❤️` is sent as Telegram spells it.
    conn.react(&room, &id, "❤️").await.unwrap();
    assert_eq!(server.bot_reactions(chat, msg), ["❤"]);
    // Removing a key the bot no longer shows leaves the one it shows.
    conn.unreact(&room, &id, "👍").await.unwrap();
    assert_eq!(server.bot_reactions(chat, msg), ["❤"]);
    conn.unreact(&room, &id, "❤").await.unwrap();
    assert!(server.bot_reactions(chat, msg).is_empty());
    // Removing one that is not there succeeds.
    conn.unreact(&room, &id, "❤").await.unwrap();

    // Refusals, classified.
    assert!(matches!(
        conn.react(&room, &id, "🦀").await,
        Err(ConnectorError::Rejected(_))
    ));
    let gone = RemoteMsgId::new("999");
    match conn.react(&room, &gone, "👍").await {
        Err(ConnectorError::Rejected(why)) => {
            assert_eq!(why, "Bad Request: message to react not found")
        }
        other => panic!("{other:?}"),
    }
    server.fail_method(
        "setMessageReaction",
        1,
        Fault::TooManyRequests { retry_after: 3 },
    );
    assert_eq!(
        conn.react(&room, &id, "🔥").await,
        Err(ConnectorError::RateLimited {
            retry_after: Duration::from_secs(3)
        })
    );
    // (A dropped connection rather than a 5xx: teloxide waits 10 s before reading a 5xx.)
    server.fail_method("setMessageReaction", 1, Fault::DropConnection);
    assert!(matches!(
        conn.unreact(&room, &id, "🔥").await,
        Err(ConnectorError::Transient(_))
    ));
    assert!(server.bot_reactions(chat, msg).is_empty());
}

#[tokio::test]
async fn residents_reactions_arrive_as_added_and_removed_keys() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "a message").unwrap();
    let mut r = running(&server).await;
    let (kind, _, s) = next(&mut r, "the message").await;
    assert!(matches!(kind, EventKind::Message(_)));
    s.ack.send(()).unwrap();

    server.react(chat, BEA, msg, &["👍"]).unwrap();
    let (kind, who, s) = next(&mut r, "Bea's 👍").await;
    assert_eq!((kind, who.as_str()), (added(msg, "👍"), "77"));
    assert_eq!(s.event.sender.display_name, "Bea");
    assert!(!s.event.sender.is_bridge);
    assert_eq!(s.event.room.room.as_str(), chat.to_string());
    s.ack.send(()).unwrap();

    // A change is a removal and an addition, with ids of their own.
    server.react(chat, BEA, msg, &["❤", "🔥"]).unwrap();
    let mut ids = Vec::new();
    for want in [removed(msg, "👍"), added(msg, "❤"), added(msg, "🔥")] {
        let (kind, who, s) = next(&mut r, "Bea's change").await;
        assert_eq!((kind, who.as_str()), (want, "77"));
        ids.push(s.event.id.clone());
        s.ack.send(()).unwrap();
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "event ids are unique: {ids:?}");

    server.react(chat, BEA, msg, &[]).unwrap();
    for want in [removed(msg, "❤"), removed(msg, "🔥")] {
        let (kind, _, s) = next(&mut r, "Bea's removal").await;
        assert_eq!(kind, want);
        s.ack.send(()).unwrap();
    }

    // An anonymous admin reacts as the chat.
    server.react_as_anonymous_admin(chat, msg, &["🎉"]).unwrap();
    let (kind, who, s) = next(&mut r, "the admin's 🎉").await;
    assert_eq!((kind, who), (added(msg, "🎉"), chat.to_string()));
    assert_eq!(s.event.sender.display_name, "Residents");
    s.ack.send(()).unwrap();

    // Custom emoji and paid reactions do not cross; nothing comes of them.
    server
        .react_types(
            chat,
            ADA,
            msg,
            vec![
                json!({"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}),
                json!({"type": "paid"}),
            ],
        )
        .unwrap();
    r.none_within(Duration::from_millis(300)).await;
    wait_until(WAIT, "every update confirmed", || {
        server.pending_updates() == 0
    })
    .await;
    r.stop().await;
}

#[tokio::test]
async fn anonymous_counts_arrive_as_totals_with_the_bots_own() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Announcements");
    let msg = server.post_as_user(chat, ADA, "a post").unwrap();
    let conn = connector(&server);
    let mut r = run(conn.clone(), Arc::new(MemoryState::default()));
    let (_, _, s) = next(&mut r, "the post").await;
    s.ack.send(()).unwrap();
    wait_until(WAIT, "reaction updates asked for", || {
        server.allowed_updates().is_some()
    })
    .await;
    conn.react(
        &RoomId::new(chat.to_string()),
        &RemoteMsgId::new(msg.to_string()),
        "👍",
    )
    .await
    .unwrap();

    server
        .set_anonymous_reactions(chat, msg, &[("👍", 4), ("🔥", 2)])
        .unwrap();
    let (kind, who, s) = next(&mut r, "the counts").await;
    assert_eq!(
        kind,
        EventKind::ReactionCounts {
            target: RemoteMsgId::new(msg.to_string()),
            counts: vec![
                ReactionCount {
                    key: "👍".into(),
                    count: 5
                },
                ReactionCount {
                    key: "🔥".into(),
                    count: 2
                },
            ],
        },
        "the bot's 👍 is counted"
    );
    assert_eq!(who, chat.to_string(), "nobody is named: the chat counts");
    assert!(s.event.id.as_str().contains(":counts:"));
    s.ack.send(()).unwrap();
    r.stop().await;
}

#[tokio::test]
async fn no_reaction_updates_unless_asked_for_and_admin() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "a message").unwrap();

    // Before the connector asked (Telegram's default leaves reactions out): dropped for good.
    server.react(chat, BEA, msg, &["👍"]).unwrap();
    let mut r = running(&server).await;
    let (kind, _, s) = next(&mut r, "the message").await;
    assert!(matches!(kind, EventKind::Message(_)));
    s.ack.send(()).unwrap();

    // Not an administrator: no reaction updates at all.
    server.set_bot_admin(chat, false);
    server.react(chat, BEA, msg, &["🔥"]).unwrap();
    server
        .set_anonymous_reactions(chat, msg, &[("🔥", 9)])
        .unwrap();
    let marker = server.post_as_user(chat, ADA, "after").unwrap();
    let (kind, _, s) = next(&mut r, "the marker message").await;
    assert!(
        matches!(&kind, EventKind::Message(m) if m.id.as_str() == marker.to_string()),
        "no reaction came before it: {kind:?}"
    );
    s.ack.send(()).unwrap();

    // An administrator again: the next change arrives.
    server.set_bot_admin(chat, true);
    server.react(chat, BEA, msg, &["🔥", "👍"]).unwrap();
    let (kind, _, s) = next(&mut r, "Bea's 👍").await;
    assert_eq!(kind, added(msg, "👍"), "🔥 was already hers");
    s.ack.send(()).unwrap();
    r.stop().await;
}

#[tokio::test]
async fn hostile_reaction_updates_neither_panic_nor_stall_the_poller() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "a message").unwrap();
    let mut r = running(&server).await;
    let (_, _, s) = next(&mut r, "the message").await;
    s.ack.send(()).unwrap();

    let chat_json = json!({"id": chat, "title": "Residents", "type": "supergroup"});
    let user = json!({"id": 77, "is_bot": false, "first_name": "Bea"});
    // Neither `user` nor `actor_chat` (teloxide's parser panics on it).
    server.inject_update(
        "message_reaction",
        json!({"chat": chat_json, "message_id": msg, "date": 1, "old_reaction": [], "new_reaction": []}),
    );
    // Wrong types.
    server.inject_update("message_reaction", json!({"chat": 5, "message_id": "x"}));
    server.inject_update("message_reaction_count", json!([1, 2, 3]));
    // Empty lists, and a chat the bridge does not know.
    server.inject_update(
        "message_reaction",
        json!({"chat": {"id": -1009, "title": "Elsewhere", "type": "supergroup"}, "message_id": 1,
               "user": user, "date": 1, "old_reaction": [], "new_reaction": []}),
    );
    // A huge list: the same emoji many times, and many others.
    let mut huge: Vec<serde_json::Value> = (0..5000)
        .map(|_| json!({"type": "emoji", "emoji": "👍"}))
        .collect();
    huge.extend((0..5000).map(|i| json!({"type": "emoji", "emoji": format!("e{i}")})));
    server.inject_update(
        "message_reaction",
        json!({"chat": chat_json, "message_id": msg, "user": user, "date": 1,
               "old_reaction": [], "new_reaction": huge}),
    );
    let mut reactions = 0;
    loop {
        let (kind, _, s) = next(&mut r, "the huge list's events").await;
        s.ack.send(()).unwrap();
        match kind {
            EventKind::Reaction { .. } => reactions += 1,
            other => panic!("unexpected {other:?}"),
        }
        if reactions == civicbridge_telegram::inbound::MAX_REACTIONS {
            break;
        }
    }
    // The poller goes on: a message posted now arrives next, and every update is confirmed.
    server.post_as_user(chat, ADA, "still here").unwrap();
    let (kind, _, s) = next(&mut r, "the next message").await;
    assert!(
        matches!(&kind, EventKind::Message(m) if m.text.to_plain() == "still here"),
        "{kind:?}"
    );
    s.ack.send(()).unwrap();
    wait_until(WAIT, "every update confirmed", || {
        server.pending_updates() == 0
    })
    .await;
    r.stop().await;
}
