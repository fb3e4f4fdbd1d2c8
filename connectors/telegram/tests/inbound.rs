//! Residents' messages reach the sink as `Event`s, over loopback with the real teloxide client.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{EventKind, MemoryState, RemoteMsgId, Span, ThreadId};
use civicbridge_testkit::telegram::{Post, TelegramServer};
use common::{connector, run, ADA};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn resident_message_becomes_an_event_with_sender_text_thread_and_reply() {
    let server = TelegramServer::start().await;
    let chat = server.create_forum("Residents");
    let topic = server.create_topic(chat, "Roads").unwrap();
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));

    let first = server
        .post_in_topic(chat, topic, ADA, "potholes on Elm St")
        .unwrap();
    let reply = server
        .post(
            chat,
            (77, "Bob"),
            Post::text("agreed <b>*really*</b>")
                .reply_to(first)
                .entities(vec![json!({"type": "italic", "offset": 0, "length": 6})]),
        )
        .unwrap();

    // The topic's creation message is a service message: ignored.
    let s = r.next("first message").await;
    assert_eq!(s.event.room.room.as_str(), chat.to_string());
    assert_eq!(s.event.sender.id.as_str(), "42");
    assert_eq!(s.event.sender.display_name, "Ada");
    assert!(!s.event.sender.is_bridge);
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    assert_eq!(m.id, RemoteMsgId::new(first.to_string()));
    assert_eq!(m.text.to_plain(), "potholes on Elm St");
    assert_eq!(m.thread, Some(ThreadId::new(topic.to_string())));
    assert_eq!(m.reply_to, None, "topic membership is not a reply");
    s.ack.send(()).unwrap();

    let s = r.next("reply").await;
    assert_eq!(s.event.sender.display_name, "Bob");
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    assert_eq!(m.id, RemoteMsgId::new(reply.to_string()));
    assert_eq!(
        m.text.to_plain(),
        "agreed <b>*really*</b>",
        "markup typed by a resident is text"
    );
    assert!(matches!(&m.text.spans[0], Span::Italic(_)));
    assert_eq!(m.reply_to, Some(RemoteMsgId::new(first.to_string())));
    assert_eq!(
        m.thread,
        Some(ThreadId::new(topic.to_string())),
        "a reply stays in its topic"
    );
    s.ack.send(()).unwrap();
    r.stop().await;
}

#[tokio::test]
async fn edits_arrive_as_edit_events_and_service_messages_are_skipped() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));

    server.join(chat, ADA).unwrap();
    let id = server.post_as_user(chat, ADA, "helo").unwrap();
    server.edit(chat, id, "hello").unwrap();

    let s = r.next("message").await;
    assert!(matches!(&s.event.kind, EventKind::Message(m) if m.text.to_plain() == "helo"));
    let first_id = s.event.id.clone();
    s.ack.send(()).unwrap();
    let s = r.next("edit").await;
    match &s.event.kind {
        EventKind::Edit { target, new } => {
            assert_eq!(target, &RemoteMsgId::new(id.to_string()));
            assert_eq!(new.text.to_plain(), "hello");
        }
        other => panic!("expected an edit, got {other:?}"),
    }
    assert_ne!(
        s.event.id, first_id,
        "an edit is a different event from its message"
    );
    s.ack.send(()).unwrap();
    // The join was skipped but still confirmed with the rest: the next poll's offset covers all.
    civicbridge_api::testing::wait_until(common::WAIT, "all three updates confirmed", || {
        server.pending_updates() == 0
    })
    .await;
    r.none_within(Duration::from_millis(300)).await;
    r.stop().await;
}

#[tokio::test]
async fn a_reply_chain_outside_a_forum_is_a_reply_not_a_thread() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));
    let q = server.post_as_user(chat, ADA, "question").unwrap();
    let a = server.reply(chat, (77, "Bob"), q, "answer").unwrap();
    let b = server.reply(chat, ADA, a, "thanks").unwrap();
    // Telegram marks the chain with `message_thread_id` = the first message, but no topic.
    assert_eq!(
        server.message_json(chat, b).unwrap()["message_thread_id"],
        q
    );
    for want_reply in [None, Some(q), Some(a)] {
        let s = r.next("chain message").await;
        let EventKind::Message(m) = &s.event.kind else {
            panic!("{:?}", s.event)
        };
        assert_eq!(m.thread, None);
        assert_eq!(
            m.reply_to,
            want_reply.map(|id| RemoteMsgId::new(id.to_string()))
        );
        s.ack.send(()).unwrap();
    }
    r.stop().await;
}
