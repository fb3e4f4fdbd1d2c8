//! The methods through [`call`], as the server runs them: Telegram's error wording, flood
//! control on tokio's clock.

use super::call;
use crate::telegram::params::Params;
use crate::telegram::world::{User, World};
use serde_json::{json, Value};

fn world() -> (World, i64) {
    let mut w = World::new(User {
        id: 1,
        is_bot: true,
        first_name: "Bot".into(),
        last_name: None,
        username: Some("bot".into()),
    });
    let chat = w.add_chat("Group", false);
    (w, chat)
}

fn err(w: &mut World, method: &str, p: Value) -> String {
    call(w, method, &Params::from_json(p))
        .expect("known method")
        .expect_err("must fail")
        .description
}

#[test]
fn send_message_errors_match_telegram() {
    let (mut w, chat) = world();
    assert_eq!(
        err(&mut w, "sendmessage", json!({"text": "x"})),
        "Bad Request: chat_id is empty"
    );
    assert_eq!(
        err(&mut w, "sendmessage", json!({"chat_id": 5, "text": "x"})),
        "Bad Request: chat not found"
    );
    assert_eq!(
        err(&mut w, "sendmessage", json!({"chat_id": chat})),
        "Bad Request: message text is empty"
    );
    assert_eq!(
        err(
            &mut w,
            "sendmessage",
            json!({"chat_id": chat, "text": "x".repeat(4097)})
        ),
        "Bad Request: message is too long"
    );
    assert_eq!(
        err(
            &mut w,
            "sendmessage",
            json!({"chat_id": chat, "text": "<b>x", "parse_mode": "HTML"})
        ),
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    );
    assert_eq!(
        err(
            &mut w,
            "sendmessage",
            json!({"chat_id": chat, "text": "x", "message_thread_id": 3})
        ),
        "Bad Request: message thread not found"
    );
    assert_eq!(
        err(
            &mut w,
            "sendmessage",
            json!({"chat_id": chat, "text": "x", "reply_parameters": {"message_id": 99}})
        ),
        "Bad Request: message to be replied not found"
    );
    assert_eq!(
        err(
            &mut w,
            "createforumtopic",
            json!({"chat_id": chat, "name": "t"})
        ),
        "Bad Request: the chat is not a forum"
    );
}

#[tokio::test(start_paused = true)]
async fn flood_control_limits_groups_per_minute() {
    let (mut w, chat) = world();
    w.flood_group_per_minute = Some(3);
    let send = |w: &mut World| {
        call(
            w,
            "sendmessage",
            &Params::from_json(json!({"chat_id": chat, "text": "x"})),
        )
        .expect("known method")
    };
    for _ in 0..3 {
        send(&mut w).expect("within the limit");
    }
    let e = send(&mut w).expect_err("the 4th in a minute is refused");
    assert_eq!((e.code, e.retry_after), (429, Some(60)));
    tokio::time::advance(std::time::Duration::from_secs(45)).await;
    assert_eq!(
        send(&mut w).expect_err("still limited").retry_after,
        Some(15)
    );
    tokio::time::advance(std::time::Duration::from_secs(15)).await;
    send(&mut w).expect("a minute later it passes");
}

#[test]
fn edit_and_delete_errors_match_telegram() {
    let (mut w, chat) = world();
    let sent = call(
        &mut w,
        "sendmessage",
        &Params::from_json(json!({"chat_id": chat, "text": "a"})),
    )
    .expect("known")
    .expect("sent");
    let id = sent["message_id"].clone();
    assert_eq!(
        err(&mut w, "editmessagetext", json!({"chat_id": chat, "message_id": id, "text": "a"})),
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
    );
    assert_eq!(
        err(
            &mut w,
            "editmessagetext",
            json!({"chat_id": chat, "message_id": 99, "text": "b"})
        ),
        "Bad Request: message to edit not found"
    );
    assert_eq!(
        err(
            &mut w,
            "editmessagetext",
            json!({"chat_id": chat, "text": "b"})
        ),
        "Bad Request: message identifier is not specified"
    );
    let ok = call(
        &mut w,
        "deletemessage",
        &Params::from_json(json!({"chat_id": chat, "message_id": id})),
    )
    .expect("known");
    assert_eq!(ok, Ok(json!(true)));
    assert_eq!(
        err(
            &mut w,
            "deletemessage",
            json!({"chat_id": chat, "message_id": id})
        ),
        "Bad Request: message to delete not found"
    );
    assert_eq!(
        err(&mut w, "getfile", json!({"file_id": "nope"})),
        "Bad Request: invalid file_id"
    );
}

#[test]
fn edit_message_caption_edits_media_and_refuses_like_telegram() {
    let (mut w, chat) = world();
    let file = w
        .store_photo(crate::telegram::png(4, 3), Some("p.png".into()), None)
        .expect("an image");
    let photo = call(
        &mut w,
        "sendphoto",
        &Params::from_json(json!({"chat_id": chat, "photo": file, "caption": "old"})),
    )
    .expect("known")
    .expect("sent");
    let text = call(
        &mut w,
        "sendmessage",
        &Params::from_json(json!({"chat_id": chat, "text": "plain"})),
    )
    .expect("known")
    .expect("sent");
    let edited = call(
        &mut w,
        "editmessagecaption",
        &Params::from_json(json!({
            "chat_id": chat, "message_id": photo["message_id"],
            "caption": "<b>new</b> one", "parse_mode": "HTML"
        })),
    )
    .expect("known")
    .expect("edited");
    assert_eq!(edited["caption"], "new one");
    assert_eq!(
        edited["caption_entities"],
        json!([{"type": "bold", "offset": 0, "length": 3}])
    );
    assert!(edited["edit_date"].is_i64());
    assert_eq!(
        err(
            &mut w,
            "editmessagecaption",
            json!({"chat_id": chat, "message_id": photo["message_id"],
                   "caption": "new one",
                   "caption_entities": [{"type": "bold", "offset": 0, "length": 3}]})
        ),
        "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
    );
    assert_eq!(
        err(
            &mut w,
            "editmessagecaption",
            json!({"chat_id": chat, "message_id": text["message_id"], "caption": "c"})
        ),
        "Bad Request: there is no caption in the message to edit"
    );
    assert_eq!(
        err(
            &mut w,
            "editmessagecaption",
            json!({"chat_id": chat, "message_id": 99, "caption": "c"})
        ),
        "Bad Request: message to edit not found"
    );
    let e = call(
        &mut w,
        "editmessagecaption",
        &Params::from_json(json!({"chat_id": chat, "message_id": 99})),
    )
    .expect("known")
    .expect_err("refused");
    assert_eq!(e.code, 400);
}

#[test]
fn get_me_has_every_field_user_from_get_me_requires() {
    let (mut w, _) = world();
    let me = call(&mut w, "getme", &Params::from_json(json!({})))
        .expect("known")
        .expect("answered");
    let mut keys: Vec<&str> = me
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    // `@grammyjs/types` 5.0, `UserFromGetMe`: the required fields, plus the optional
    // `last_name` left out for a bot without one.
    let mut want = vec![
        "id",
        "is_bot",
        "first_name",
        "username",
        "can_join_groups",
        "can_read_all_group_messages",
        "supports_inline_queries",
        "can_connect_to_business",
        "has_main_web_app",
        "has_topics_enabled",
        "allows_users_to_create_topics",
        "can_manage_bots",
        "supports_join_request_queries",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
}
