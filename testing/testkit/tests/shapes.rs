//! Every answer of the local Bot API server, checked against `@grammyjs/types` (see
//! `civicbridge_testkit::shapes`): the server records what it answers while a scenario drives
//! it, each answer becomes a TypeScript constant typed with what the typings say that method
//! returns, and `tsc --strict` must accept them all. (Discord's dispatches are checked in the
//! Discord connector's tests, which drive the local gateway with the real client.)
#![cfg(feature = "telegram")]
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::shapes::check;
use civicbridge_testkit::telegram::{png, FileKind, Post, ResidentFile, TelegramServer};
use serde_json::{json, Value};

async fn call(server: &TelegramServer, method: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/bot{}/{method}", server.url(), server.token()))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn upload(
    server: &TelegramServer,
    method: &str,
    field: &str,
    chat: i64,
    data: Vec<u8>,
    name: &str,
) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("chat_id", chat.to_string())
        .text("caption", "a *file*")
        .part(
            field.to_owned(),
            reqwest::multipart::Part::bytes(data).file_name(name.to_owned()),
        );
    reqwest::Client::new()
        .post(format!("{}/bot{}/{method}", server.url(), server.token()))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Written into the JSON where TypeScript needs `undefined`, then replaced by it.
const UNDEFINED: &str = "__typescript_undefined__";

/// Gives every replied-to message (`reply_to_message` of a message) the explicit
/// `reply_to_message: undefined` the typings ask for.
fn mark_replied_to(v: &mut Value, replied: bool) {
    match v {
        Value::Object(m) => {
            if replied && !m.contains_key("reply_to_message") {
                m.insert("reply_to_message".into(), Value::from(UNDEFINED));
            }
            for (k, child) in m.iter_mut() {
                mark_replied_to(child, k == "reply_to_message");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| mark_replied_to(c, false)),
        _ => {}
    }
}

#[tokio::test]
async fn every_bot_api_answer_matches_grammy_types() {
    let server = TelegramServer::start().await;
    server.record_answers();
    let group = server.create_group("Residents");
    let forum = server.create_forum("Forum");
    let ada = (7, "Ada");
    // The bot asks for reaction updates (Telegram does not send them by default).
    call(
        &server,
        "getUpdates",
        json!({"timeout": 0, "allowed_updates": ["message", "edited_message", "message_reaction", "message_reaction_count"]}),
    )
    .await;
    // What residents do, as updates.
    let first = server
        .post_as_user(group, ada, "hello https://example.org @someone #tag /start")
        .unwrap();
    server
        .send_photo(group, ada, png(40, 30), "a photo")
        .unwrap();
    let doc = ResidentFile {
        kind: FileKind::Document,
        name: Some("minutes.pdf".into()),
        mime: Some("application/pdf".into()),
        data: b"%PDF-1.4".to_vec(),
    };
    server
        .post(group, ada, Post::text("the minutes").file(doc))
        .unwrap();
    server.reply(group, (8, "Bea"), first, "an answer").unwrap();
    let topic = server.create_topic(forum, "Roads").unwrap();
    server
        .post_in_topic(forum, topic, ada, "in a topic")
        .unwrap();
    server.edit(group, first, "hello, edited").unwrap();
    server.join(group, (9, "Cy")).unwrap();
    server.react(group, ada, first, &["👍"]).unwrap();
    server.react(group, ada, first, &["❤", "🔥"]).unwrap();
    server.react(group, ada, first, &[]).unwrap();
    server
        .react_as_anonymous_admin(group, first, &["🎉"])
        .unwrap();
    server
        .react_types(
            group,
            (8, "Bea"),
            first,
            vec![json!({"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"})],
        )
        .unwrap();
    server
        .set_anonymous_reactions(group, first, &[("👍", 3), ("😁", 1)])
        .unwrap();

    // What the bot asks.
    call(&server, "getMe", json!({})).await;
    let updates = call(&server, "getUpdates", json!({"offset": 0, "timeout": 0})).await;
    let photo = updates["result"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|u| {
            u["message"]["photo"]
                .as_array()
                .and_then(|p| p.last())
                .cloned()
        })
        .unwrap();
    call(&server, "getFile", json!({"file_id": photo["file_id"]})).await;
    let sent = call(
        &server,
        "sendMessage",
        json!({"chat_id": group, "text": "Bold answer", "entities": [{"type": "bold", "offset": 0, "length": 4}],
               "reply_parameters": {"message_id": first}}),
    )
    .await;
    let sent_id = sent["result"]["message_id"].clone();
    call(
        &server,
        "editMessageText",
        json!({"chat_id": group, "message_id": sent_id, "text": "Bold answer, edited"}),
    )
    .await;
    let pic = upload(&server, "sendPhoto", "photo", group, png(64, 48), "map.png").await;
    call(
        &server,
        "editMessageCaption",
        json!({"chat_id": group, "message_id": pic["result"]["message_id"], "caption": "a new caption"}),
    )
    .await;
    upload(
        &server,
        "sendDocument",
        "document",
        group,
        b"plain bytes".to_vec(),
        "notes.txt",
    )
    .await;
    call(&server, "getChat", json!({"chat_id": group})).await;
    call(&server, "getChat", json!({"chat_id": forum})).await;
    call(
        &server,
        "createForumTopic",
        json!({"chat_id": forum, "name": "Parks"}),
    )
    .await;
    call(
        &server,
        "sendMessage",
        json!({"chat_id": forum, "message_thread_id": topic, "text": "in the topic"}),
    )
    .await;
    call(
        &server,
        "deleteMessage",
        json!({"chat_id": group, "message_id": sent_id}),
    )
    .await;
    call(
        &server,
        "setMessageReaction",
        json!({"chat_id": group, "message_id": first, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
    )
    .await;
    call(
        &server,
        "setMessageReaction",
        json!({"chat_id": group, "message_id": first, "reaction": [{"type": "emoji", "emoji": "🦀"}]}),
    )
    .await;
    call(&server, "getWebhookInfo", json!({})).await;
    // Refusals are answers too.
    call(
        &server,
        "sendMessage",
        json!({"chat_id": -42, "text": "nobody"}),
    )
    .await;
    call(
        &server,
        "sendMessage",
        json!({"chat_id": group, "text": "  "}),
    )
    .await;
    call(
        &server,
        "getUpdates",
        json!({"offset": 1_000_000, "timeout": 0}),
    )
    .await;

    let answers = server.recorded();
    let delivered: Vec<&Value> = answers
        .iter()
        .filter(|(m, _)| m == "getupdates")
        .filter_map(|(_, b)| b["result"].as_array())
        .flatten()
        .collect();
    for kind in ["message_reaction", "message_reaction_count"] {
        assert!(
            delivered.iter().any(|u| u.get(kind).is_some()),
            "the scenario checks a {kind} update"
        );
    }
    assert!(
        delivered
            .iter()
            .any(|u| u["message_reaction"].get("actor_chat").is_some()),
        "and an anonymous admin's reaction"
    );
    assert!(
        methods(&answers).len() >= 13,
        "the scenario reaches every method: {:?}",
        methods(&answers)
    );
    check_answers("telegram", &answers);
}

/// The methods answered, each once, in order.
fn methods(answers: &[(String, Value)]) -> Vec<&str> {
    let mut methods: Vec<&str> = Vec::new();
    for (method, _) in answers {
        if !methods.contains(&method.as_str()) {
            methods.push(method);
        }
    }
    methods
}

/// Types every answer as what `@grammyjs/types` says its method returns, and has `tsc` check
/// them (as `out/<name>.ts`).
fn check_answers(name: &str, answers: &[(String, Value)]) {
    // Two places where the typings say less than the Bot API sends: a replied-to message is
    // typed `Message & { reply_to_message: undefined }`, a property JSON cannot write (so the
    // generator writes it), and `editMessageCaption` is typed as returning a captionable message
    // without its media, where Telegram returns the whole message.
    let mut ts = String::from(
        "import type { ApiMethods, ApiResponse, Message } from \"@grammyjs/types\";\n\
         type Methods = { [K in keyof ApiMethods<unknown> as Lowercase<K & string>]: ReturnType<ApiMethods<unknown>[K]> };\n\
         type Result = Omit<Methods, \"editmessagecaption\"> & { editmessagecaption: Message | true };\n",
    );
    for (i, (method, body)) in answers.iter().enumerate() {
        let mut body = body.clone();
        mark_replied_to(&mut body, false);
        let body = body
            .to_string()
            .replace(&format!("\"{UNDEFINED}\""), "undefined");
        ts.push_str(&format!(
            "export const a{i}: ApiResponse<Result[\"{method}\"]> = {body};\n"
        ));
    }
    check(name, &ts);
}

/// Private chats: a resident starts the bot (`/start` in a `private` chat), the bot writes to
/// them and sends them a file, they block it (`my_chat_member`) and start it again; the bot's
/// sends to someone who never started it or blocked it are refused.
#[tokio::test]
async fn private_chats_match_grammy_types() {
    let server = TelegramServer::start().await;
    server.record_answers();
    let group = server.create_group("Residents");
    let ada = (7, "Ada");
    call(
        &server,
        "getUpdates",
        json!({"timeout": 0, "allowed_updates": ["message", "my_chat_member"]}),
    )
    .await;
    server.post_as_user(group, (8, "Bea"), "hello").unwrap();
    server.start_bot(ada).unwrap();
    call(
        &server,
        "sendMessage",
        json!({"chat_id": 7, "text": "Your message was held", "entities": [{"type": "bold", "offset": 5, "length": 7}]}),
    )
    .await;
    upload(
        &server,
        "sendDocument",
        "document",
        7,
        b"{}".to_vec(),
        "export.json",
    )
    .await;
    call(&server, "getChat", json!({"chat_id": 7})).await;
    call(&server, "getChat", json!({"chat_id": 8})).await;
    server.block_bot(ada).unwrap();
    call(
        &server,
        "sendMessage",
        json!({"chat_id": 7, "text": "blocked"}),
    )
    .await;
    call(
        &server,
        "sendMessage",
        json!({"chat_id": 8, "text": "never started"}),
    )
    .await;
    server.start_bot(ada).unwrap();
    let updates = call(&server, "getUpdates", json!({"offset": 0, "timeout": 0})).await;
    let kinds: Vec<&str> = updates["result"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| {
            u.as_object()?
                .keys()
                .find(|k| *k != "update_id")
                .map(String::as_str)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "my_chat_member",
            "my_chat_member",
            "message"
        ],
        "Bea's post, /start, blocked, unblocked, /start again"
    );
    let answers = server.recorded();
    let refusals: Vec<&Value> = answers
        .iter()
        .filter(|(_, b)| b["ok"] == false)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(
        refusals
            .iter()
            .map(|b| (
                b["error_code"].as_i64().unwrap(),
                b["description"].as_str().unwrap()
            ))
            .collect::<Vec<_>>(),
        [
            (403, "Forbidden: bot was blocked by the user"),
            (
                403,
                "Forbidden: bot can't initiate conversation with a user"
            ),
        ]
    );
    check_answers("telegram_private", &answers);
}
