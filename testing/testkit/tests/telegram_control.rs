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

#[tokio::test]
async fn control_react_sets_a_residents_reactions_and_the_bot_gets_them_only_if_it_asked() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let msg = server
        .post_as_user(chat, (7, "Ada"), "react to me")
        .unwrap();
    let client = reqwest::Client::new();
    let api = |m: &str| format!("{}/bot{}/{m}", server.url(), server.token());
    let react = |emoji: Value| {
        client
            .post(format!("{}/control/react", server.url()))
            .json(&json!({"chat_id": chat, "message_id": msg, "user_id": 8, "first_name": "Bea", "emoji": emoji}))
            .send()
    };
    // Not asked for yet: the reaction is stored, the update dropped.
    assert!(react(json!(["👍"])).await.unwrap().status().is_success());
    assert_eq!(
        server.reactions(chat, msg)[&8],
        [json!({"type": "emoji", "emoji": "👍"})]
    );
    let first = get_updates(
        &client,
        &api("getUpdates"),
        json!({"timeout": 0, "allowed_updates": ["message_reaction"]}),
    )
    .await;
    assert_eq!(first.len(), 1, "only the message: {first:?}");
    assert!(first[0].get("message").is_some());

    // Asked for (by that getUpdates): the change arrives, old and new.
    assert!(react(json!(["🔥"])).await.unwrap().status().is_success());
    let id = first[0]["update_id"].as_i64().unwrap();
    let next = get_updates(
        &client,
        &api("getUpdates"),
        json!({"offset": id + 1, "timeout": 0}),
    )
    .await;
    let u = &next[0]["message_reaction"];
    assert_eq!(u["user"]["first_name"], "Bea");
    assert_eq!(u["old_reaction"], json!([{"type": "emoji", "emoji": "👍"}]));
    assert_eq!(u["new_reaction"], json!([{"type": "emoji", "emoji": "🔥"}]));
    assert_eq!(u["message_id"], msg);

    // What each one shows now, over HTTP.
    let shown: Value = client
        .get(format!(
            "{}/control/reactions?chat_id={chat}&message_id={msg}",
            server.url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown, json!({"8": [{"type": "emoji", "emoji": "🔥"}]}));

    // Telegram's apps offer only its reaction set.
    assert_eq!(react(json!(["🦀"])).await.unwrap().status().as_u16(), 400);
    // getWebhookInfo tells what the bot asked for.
    let info: Value = client
        .get(api("getWebhookInfo"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["result"]["allowed_updates"],
        json!(["message_reaction"])
    );
}

async fn get_updates(client: &reqwest::Client, url: &str, body: Value) -> Vec<Value> {
    let v: Value = client
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["result"].as_array().cloned().unwrap_or_default()
}

/// Private chats over HTTP: a resident starts the bot, the bot writes to them, they block it.
#[tokio::test]
async fn control_start_block_and_private_read_the_private_chat() {
    let server = TelegramServer::start().await;
    let client = reqwest::Client::new();
    let control = |path: &str, body: Value| {
        client
            .post(format!("{}/control/{path}", server.url()))
            .json(&body)
            .send()
    };
    let bot = |text: &str| {
        client
            .post(format!(
                "{}/bot{}/sendMessage",
                server.url(),
                server.token()
            ))
            .json(&json!({"chat_id": 7, "text": text}))
            .send()
    };
    let ada = json!({"user_id": 7, "first_name": "Ada"});
    assert_eq!(bot("too early").await.unwrap().status().as_u16(), 400);
    let started: Value = control("start", ada.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(started["message_id"], 1);
    assert_eq!(bot("hello Ada").await.unwrap().status().as_u16(), 200);
    let r = control("block", ada).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let refused: Value = bot("blocked").await.unwrap().json().await.unwrap();
    assert_eq!(refused["error_code"], 403);
    assert_eq!(
        refused["description"],
        "Forbidden: bot was blocked by the user"
    );
    let told: Value = client
        .get(format!("{}/control/private?user_id=7", server.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let texts: Vec<&str> = told
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["hello Ada"], "the bot's messages only, not /start");
    let bad = control("start", json!({"user_id": -5, "first_name": "Group"}))
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}
