//! Private chats through the methods, as the server runs them: who the bot may write to, and
//! the Bot API's wording when it may not.

use super::{block, start};
use crate::telegram::methods::call;
use crate::telegram::params::Params;
use crate::telegram::world::{User, World};
use serde_json::{json, Value};

fn world() -> World {
    World::new(User {
        id: 1,
        is_bot: true,
        first_name: "Bot".into(),
        last_name: None,
        username: Some("bot".into()),
    })
}

fn send(w: &mut World, chat: i64) -> Result<Value, (u16, String)> {
    call(
        w,
        "sendmessage",
        &Params::from_json(json!({"chat_id": chat, "text": "why"})),
    )
    .expect("known method")
    .map_err(|e| (e.code, e.description))
}

#[test]
fn only_a_resident_who_started_the_bot_can_be_written_to() {
    let mut w = world();
    assert_eq!(
        send(&mut w, 7),
        Err((400, "Bad Request: chat not found".into())),
        "a user the bot never saw"
    );
    let group = w.add_chat("Group", false);
    w.user(7, "Ada");
    assert_eq!(
        send(&mut w, 7),
        Err((
            403,
            "Forbidden: bot can't initiate conversation with a user".into()
        )),
        "seen in a group, never started"
    );
    assert_eq!(
        send(&mut w, 1),
        Err((403, "Forbidden: bots can't send messages to bots".into()))
    );
    start(&mut w, (7, "Ada")).expect("start");
    let sent = send(&mut w, 7).expect("started");
    assert_eq!(sent["chat"]["type"], "private");
    assert_eq!(sent["chat"]["id"], 7);
    assert_eq!(sent["chat"]["first_name"], "Ada");
    assert!(
        sent["chat"].get("title").is_none(),
        "a private chat has no title"
    );
    block(&mut w, (7, "Ada")).expect("block");
    assert_eq!(
        send(&mut w, 7),
        Err((403, "Forbidden: bot was blocked by the user".into()))
    );
    let doc = call(
        &mut w,
        "senddocument",
        &Params::from_json(json!({"chat_id": 7, "document": "whatever"})),
    )
    .expect("known")
    .expect_err("blocked");
    assert_eq!(doc.description, "Forbidden: bot was blocked by the user");
    assert!(send(&mut w, group).is_ok(), "groups are not affected");
    start(&mut w, (7, "Ada")).expect("restart");
    assert!(send(&mut w, 7).is_ok(), "starting again unblocks");
}

#[test]
fn start_is_a_private_message_update_with_a_command() {
    let mut w = world();
    let id = start(&mut w, (7, "Ada")).expect("start");
    let (_, update) = w.updates.back().expect("an update").clone();
    let m = &update["message"];
    assert_eq!(m["message_id"], id);
    assert_eq!(m["text"], "/start");
    assert_eq!(
        m["chat"],
        json!({"id": 7, "type": "private", "first_name": "Ada", "username": "ada_7"})
    );
    assert_eq!(m["from"]["id"], 7);
    assert_eq!(
        m["entities"],
        json!([{"type": "bot_command", "offset": 0, "length": 6}])
    );
}

#[test]
fn block_and_unblock_are_my_chat_member_updates_when_asked_for() {
    let mut w = world();
    w.set_allowed_updates(Some(&json!(["message"])));
    start(&mut w, (7, "Ada")).expect("start");
    block(&mut w, (7, "Ada")).expect("block");
    assert!(
        w.updates
            .iter()
            .all(|(_, u)| u.get("my_chat_member").is_none()),
        "not asked for: never stored"
    );
    // Telegram's default list includes `my_chat_member`.
    w.set_allowed_updates(Some(&json!([])));
    start(&mut w, (7, "Ada")).expect("restart");
    let change = w
        .updates
        .iter()
        .find_map(|(_, u)| u.get("my_chat_member").cloned())
        .expect("my_chat_member");
    assert_eq!(change["old_chat_member"]["status"], "kicked");
    assert_eq!(change["new_chat_member"]["status"], "member");
    assert_eq!(change["chat"]["type"], "private");
    assert!(start(&mut w, (0, "Nobody")).is_err());
    assert!(
        block(&mut w, (1, "Bot")).is_err(),
        "the bot cannot block itself"
    );
}

#[test]
fn get_chat_reads_a_known_user_before_they_start() {
    let mut w = world();
    let get = |w: &mut World| {
        call(w, "getchat", &Params::from_json(json!({"chat_id": 7})))
            .expect("known")
            .map_err(|e| e.description)
    };
    assert_eq!(get(&mut w), Err("Bad Request: chat not found".into()));
    w.user(7, "Ada");
    assert_eq!(get(&mut w).expect("known user")["type"], "private");
    block(&mut w, (7, "Ada")).expect("block");
    assert_eq!(get(&mut w).expect("still readable")["first_name"], "Ada");
}
