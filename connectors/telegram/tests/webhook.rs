//! Webhook mode: the local server POSTs updates to the connector, which checks the secret token
//! and answers only once the core has acknowledged the event.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{EventKind, MemoryState};
use civicbridge_telegram::{TelegramConnector, WebhookConfig};
use civicbridge_testkit::telegram::TelegramServer;
use common::{config, connector, run, ADA, WAIT};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;

/// A port free right now on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn updates_arrive_by_webhook_and_are_confirmed_only_after_the_ack() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/telegram");
    let mut c = config(&server);
    c.webhook = Some(WebhookConfig {
        url: url.clone(),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        secret_token: "s3cret-token_1".into(),
    });
    let mut r = run(
        Arc::new(TelegramConnector::new(c).unwrap()),
        Arc::new(MemoryState::default()),
    );
    wait_until(WAIT, "the webhook is registered", || {
        server.webhook().is_some()
    })
    .await;
    assert_eq!(
        server.webhook(),
        Some((url.clone(), Some("s3cret-token_1".into())))
    );

    server.post_as_user(chat, ADA, "by webhook").unwrap();
    let s = r.next("webhook update").await;
    assert!(matches!(&s.event.kind, EventKind::Message(m) if m.text.to_plain() == "by webhook"));
    // Not acknowledged yet: Telegram still holds the update.
    assert_eq!(server.pending_updates(), 1);
    s.ack.send(()).unwrap();
    wait_until(WAIT, "the update is confirmed", || {
        server.pending_updates() == 0
    })
    .await;

    // Without the secret, nothing is read.
    let client = reqwest::Client::new();
    let resp = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "wrong")
        .body(r#"{"update_id":1,"message":{"message_id":1,"date":0,"chat":{"id":1,"type":"private","first_name":"x"},"text":"forged"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    r.none_within(Duration::from_millis(300)).await;
    r.stop().await;
}

#[tokio::test]
async fn polling_mode_removes_a_leftover_webhook() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let bot = Bot::new(server.token()).set_api_url(server.url().parse().unwrap());
    bot.set_webhook("http://127.0.0.1:9/old".parse().unwrap())
        .await
        .unwrap();
    server
        .post_as_user(chat, ADA, "kept while the webhook was set")
        .unwrap();

    let mut r = run(connector(&server), Arc::new(MemoryState::default()));
    let s = r.next("message after deleteWebhook").await;
    assert!(
        matches!(&s.event.kind, EventKind::Message(m) if m.text.to_plain() == "kept while the webhook was set")
    );
    s.ack.send(()).unwrap();
    assert_eq!(server.webhook(), None);
    r.stop().await;
}

#[tokio::test]
async fn webhook_mode_asks_for_reactions_and_confirms_an_update_after_all_its_events() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server.post_as_user(chat, ADA, "react to me").unwrap();
    let port = free_port();
    let mut c = config(&server);
    c.webhook = Some(WebhookConfig {
        url: format!("http://127.0.0.1:{port}/telegram"),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        secret_token: "s3cret-token_1".into(),
    });
    let mut r = run(
        Arc::new(TelegramConnector::new(c).unwrap()),
        Arc::new(MemoryState::default()),
    );
    let s = r.next("the message").await;
    s.ack.send(()).unwrap();
    let asked = server.allowed_updates().unwrap_or_default();
    for kind in [
        "message",
        "edited_message",
        "message_reaction",
        "message_reaction_count",
    ] {
        assert!(asked.iter().any(|k| k == kind), "{kind} in {asked:?}");
    }
    wait_until(WAIT, "the message is confirmed", || {
        server.pending_updates() == 0
    })
    .await;

    server.react(chat, (77, "Bea"), msg, &["👍", "🔥"]).unwrap();
    let first = r.next("👍").await;
    let second = r.next("🔥").await;
    assert!(matches!(first.event.kind, EventKind::Reaction { ref key, .. } if key == "👍"));
    first.ack.send(()).unwrap();
    // One event of the update is still open: Telegram keeps the update.
    r.none_within(Duration::from_millis(200)).await;
    assert_eq!(server.pending_updates(), 1);
    second.ack.send(()).unwrap();
    wait_until(WAIT, "the update is confirmed", || {
        server.pending_updates() == 0
    })
    .await;
    r.stop().await;
}

/// By webhook too, a private `/start` is answered (Telegram then drops it) and is no event.
#[tokio::test]
async fn a_private_start_by_webhook_is_confirmed_and_is_no_event() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let port = free_port();
    let mut c = config(&server);
    c.webhook = Some(WebhookConfig {
        url: format!("http://127.0.0.1:{port}/telegram"),
        listen: format!("127.0.0.1:{port}").parse().unwrap(),
        secret_token: "s3cret-token_2".into(),
    });
    let mut r = run(
        Arc::new(TelegramConnector::new(c).unwrap()),
        Arc::new(MemoryState::default()),
    );
    wait_until(WAIT, "the webhook is registered", || {
        server.webhook().is_some()
    })
    .await;
    server.start_bot(ADA).unwrap();
    wait_until(WAIT, "the /start update is answered", || {
        server.pending_updates() == 0
    })
    .await;
    server.post_as_user(chat, ADA, "in the group").unwrap();
    let s = r.next("the group message").await;
    assert_eq!(s.event.room.room.as_str(), chat.to_string());
    s.ack.send(()).unwrap();
    r.stop().await;
}
