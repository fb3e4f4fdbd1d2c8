//! The HTTP control API of the local Telegram server, as `civicbridge demo` uses it.
#![cfg(feature = "telegram")]
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::telegram::TelegramServer;
use serde_json::{json, Value};

#[tokio::test]
async fn control_post_queues_an_update_and_control_messages_lists_the_chat() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let client = reqwest::Client::new();
    let r: Value = client
        .post(format!("{}/control/post", server.url()))
        .json(&json!({"chat_id": chat, "user_id": 7, "first_name": "Ada", "text": "hi from the demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["message_id"].as_i64().unwrap();
    assert_eq!(server.pending_updates(), 1);
    assert_eq!(
        server.message(chat, id as i32).unwrap().text,
        "hi from the demo"
    );

    let list: Value = client
        .get(format!("{}/control/messages?chat_id={chat}", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["text"], "hi from the demo");
    assert_eq!(list[0]["from"]["first_name"], "Ada");
    assert_eq!(list[0]["deleted"], false);

    let bad = client
        .post(format!("{}/control/post", server.url()))
        .json(&json!({"chat_id": -1, "user_id": 7, "first_name": "Ada", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}

#[tokio::test]
async fn control_creates_chats_and_topics() {
    let server = TelegramServer::start().await;
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let req = client.post(format!("{}{path}", server.url())).json(&body);
        async move { req.send().await.unwrap() }
    };
    let r: Value = post("/control/chat", json!({"title": "Forum", "forum": true}))
        .await
        .json()
        .await
        .unwrap();
    let chat = r["chat_id"].as_i64().unwrap();
    assert!(chat < -1_000_000_000_000, "supergroup ids look like -100…");
    let r: Value = post("/control/topic", json!({"chat_id": chat, "name": "Roads"}))
        .await
        .json()
        .await
        .unwrap();
    let topic = r["message_thread_id"].as_i64().unwrap() as i32;
    assert_eq!(server.topics(chat), vec![(topic, "Roads".to_owned())]);
    let r: Value = post("/control/chat", json!({"title": "Plain"}))
        .await
        .json()
        .await
        .unwrap();
    let plain = r["chat_id"].as_i64().unwrap();
    let bad = post("/control/topic", json!({"chat_id": plain, "name": "x"})).await;
    assert_eq!(bad.status().as_u16(), 400);
}
