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

/// A resident's message in the chat, for reactions.
fn resident_message(w: &mut World, chat: i64) -> i32 {
    crate::telegram::control::resident_post(
        w,
        chat,
        (7, "Ada"),
        crate::telegram::Post::text("react to me"),
    )
    .expect("posted")
}

fn react(w: &mut World, p: Value) -> Result<Value, String> {
    call(w, "setmessagereaction", &Params::from_json(p))
        .expect("known method")
        .map_err(|e| e.description)
}

#[test]
fn set_message_reaction_refuses_like_telegram() {
    let (mut w, chat) = world();
    let id = resident_message(&mut w, chat);
    let cases = [
        // The list is read first, as the Bot API server does.
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"type": "paid"}]}),
            "Bad Request: Can't parse ReactionType: invalid reaction type specified",
        ),
        (
            json!({"chat_id": 5, "message_id": id, "reaction": "[{\"type\":"}),
            "Bad Request: Can't parse reaction types JSON object",
        ),
        (
            json!({"chat_id": chat, "message_id": id, "reaction": {"type": "emoji", "emoji": "👍"}}),
            "Bad Request: Expected an Array of ReactionType",
        ),
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"emoji": "👍"}]}),
            "Bad Request: Can't parse ReactionType: Can't find field \"type\"",
        ),
        // Then the chat and the message.
        (
            json!({"chat_id": 5, "message_id": id, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
            "Bad Request: chat not found",
        ),
        (
            json!({"chat_id": chat, "message_id": 999, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
            "Bad Request: message to react not found",
        ),
        (
            json!({"chat_id": chat, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
            "Bad Request: message to react not found",
        ),
        // Then Telegram: the fixed emoji set, one reaction for a bot, custom emoji only where
        // already on the message.
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"type": "emoji", "emoji": "🦀"}]}),
            "Bad Request: REACTION_INVALID",
        ),
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"type": "emoji", "emoji": "❤️"}]}),
            "Bad Request: REACTION_INVALID",
        ),
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"type": "emoji", "emoji": "👍"}, {"type": "emoji", "emoji": "🔥"}]}),
            "Bad Request: REACTIONS_TOO_MANY",
        ),
        (
            json!({"chat_id": chat, "message_id": id, "reaction": [{"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"}]}),
            "Bad Request: REACTION_INVALID",
        ),
    ];
    for (params, want) in cases {
        assert_eq!(
            react(&mut w, params.clone()),
            Err(want.to_owned()),
            "{params}"
        );
    }
    assert!(w.reactions.get(&(chat, id)).is_none_or(|r| r.is_empty()));
}

#[test]
fn set_message_reaction_replaces_the_bots_reaction_and_sends_no_update() {
    let (mut w, chat) = world();
    let id = resident_message(&mut w, chat);
    w.set_allowed_updates(Some(&json!(["message_reaction", "message_reaction_count"])));
    let bot = w.bot.id;
    let emoji = |e: &str| json!({"type": "emoji", "emoji": e});
    for (given, shown) in [
        (json!([emoji("👍")]), vec![emoji("👍")]),
        (json!([emoji("🔥")]), vec![emoji("🔥")]),
        (json!([]), vec![]),
    ] {
        let r = react(
            &mut w,
            json!({"chat_id": chat, "message_id": id, "reaction": given, "is_big": true}),
        );
        assert_eq!(r, Ok(json!(true)));
        let now = w.reactions[&(chat, id)]
            .get(&bot)
            .cloned()
            .unwrap_or_default();
        assert_eq!(now, shown);
    }
    // A form-encoded list, absent list: both clear.
    react(&mut w, json!({"chat_id": chat, "message_id": id, "reaction": "[{\"type\":\"emoji\",\"emoji\":\"🎉\"}]"})).expect("set");
    assert_eq!(w.reactions[&(chat, id)][&bot], vec![emoji("🎉")]);
    react(&mut w, json!({"chat_id": chat, "message_id": id})).expect("cleared");
    assert!(!w.reactions[&(chat, id)].contains_key(&bot));
    assert!(
        w.updates
            .iter()
            .all(|(_, u)| u.get("message_reaction").is_none()),
        "\"The update isn't received for reactions set by bots\""
    );

    // A custom emoji a person already reacted with may be repeated by the bot.
    let custom = json!({"type": "custom_emoji", "custom_emoji_id": "5368324170671202286"});
    crate::telegram::reactions::set_reactions(
        &mut w,
        chat,
        id,
        crate::telegram::reactions::Reactor::User(8, "Bea"),
        vec![custom.clone()],
    )
    .expect("reacted");
    assert_eq!(
        react(
            &mut w,
            json!({"chat_id": chat, "message_id": id, "reaction": [custom]})
        ),
        Ok(json!(true))
    );
}

#[test]
fn allowed_updates_are_kept_as_telegram_keeps_them() {
    let (mut w, chat) = world();
    let id = resident_message(&mut w, chat);
    let kinds = |w: &World| -> Vec<String> {
        w.updates
            .iter()
            .filter_map(|(_, u)| u.as_object()?.keys().find(|k| *k != "update_id").cloned())
            .collect()
    };
    let ada = crate::telegram::reactions::Reactor::User(7, "Ada");
    let thumbs = vec![json!({"type": "emoji", "emoji": "👍"})];
    let set = crate::telegram::reactions::set_reactions;

    // By default: no reaction updates, and none delivered later either.
    set(&mut w, chat, id, ada, thumbs.clone()).expect("reacted");
    assert_eq!(kinds(&w), ["message"]);
    w.set_allowed_updates(Some(&json!([
        "Message",
        "message_reaction",
        "no_such_update"
    ])));
    assert_eq!(w.allowed_updates, Some(vec!["message", "message_reaction"]));
    set(&mut w, chat, id, ada, vec![]).expect("removed");
    assert_eq!(kinds(&w), ["message", "message_reaction"]);
    // The same reactions again change nothing: no update.
    set(&mut w, chat, id, ada, vec![]).expect("nothing");
    assert_eq!(kinds(&w).len(), 2);

    // Unreadable lists leave the setting; a list naming no known type restores the default.
    for keep in [json!("message"), json!([1]), json!({"a": 1})] {
        w.set_allowed_updates(Some(&keep));
        assert_eq!(
            w.allowed_updates,
            Some(vec!["message", "message_reaction"]),
            "{keep}"
        );
    }
    w.set_allowed_updates(None);
    assert!(w.allowed_updates.is_some(), "absent: the previous setting");
    w.set_allowed_updates(Some(&json!([])));
    assert_eq!(w.allowed_updates, None, "[] is the default");

    // Only an administrator gets reaction updates.
    w.set_allowed_updates(Some(&json!(["message_reaction", "message_reaction_count"])));
    w.chats.get_mut(&chat).expect("chat").bot_is_admin = false;
    set(&mut w, chat, id, ada, thumbs.clone()).expect("reacted");
    crate::telegram::reactions::set_anonymous(&mut w, chat, id, vec![(thumbs[0].clone(), 3)])
        .expect("counted");
    assert_eq!(kinds(&w).len(), 2, "not an admin: nothing");
    w.chats.get_mut(&chat).expect("chat").bot_is_admin = true;
    crate::telegram::reactions::set_anonymous(&mut w, chat, id, vec![(thumbs[0].clone(), 3)])
        .expect("counted");
    let last = &w.updates.back().expect("an update").1["message_reaction_count"];
    assert_eq!(
        last["reactions"],
        json!([{"type": {"type": "emoji", "emoji": "👍"}, "total_count": 4}]),
        "three anonymous and Ada's"
    );
}
