//! Encrypted rooms through the daemon: a staff member or moderator on a client of their own
//! (matrix-sdk with its own device and keys, not the bot's), a real Synapse, the local Telegram
//! server, before and after a daemon restart (same device, same keys).
//!
//! - An encrypted staff room: the bot decrypts what staff write (the moderation card shows it)
//!   and encrypts what it posts for staff.
//! - An encrypted moderation room: the approval cards arrive encrypted and the moderator's
//!   client decrypts them; the moderator's ✅ and their encrypted `!approve` decide the items;
//!   after a restart the bot still posts cards there (from the same device) and reads commands.
#![allow(clippy::unwrap_used)]

use crate::phone::Phone;
use crate::world;

use civicbridge_core::store::Store;
use civicbridge_demo::matrix::{Account, MatrixUser};
use civicbridge_demo::Saved;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::OwnedUserId;
use serde_json::json;
use world::{World, WAIT};

/// Approves held item `n` from the moderation room.
async fn approve(w: &World, n: u32, text: &str) {
    w.in_mod_room("the card", |m| {
        m.body.starts_with(&format!("Held #{n}")) && m.body.contains(text)
    })
    .await;
    w.moderator
        .say(&w.moderation_room, &format!("!approve #{n}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_encrypted_staff_room_crosses_both_ways_before_and_after_a_restart() {
    let w = World::new().await;
    let store = Store::memory();
    let rules = civicbridge_demo::world::demo_rules();
    let daemon = w.start(store.clone(), rules.clone()).await;
    let phone = Phone::new(&w).await;
    let room = phone.encrypted_room("Confidential staff").await;
    let group = w.telegram.create_group("Budget questions");
    w.moderator
        .say(
            &w.moderation_room,
            &format!("!link budget staff=matrix:{room} public=telegram:{group}"),
        )
        .await
        .unwrap();
    // Not invited yet: the bot says so; invited, it joins.
    w.in_mod_room("the notice", |m| {
        m.body
            .contains(&format!("the bot cannot take part in matrix:{room}"))
    })
    .await;
    let bot: OwnedUserId = w.bot.user_id.as_str().try_into().unwrap();
    phone
        .client
        .get_room(&room)
        .unwrap()
        .invite_user_by_id(&bot)
        .await
        .unwrap();
    phone.wait_joined(&room, &w.bot.user_id).await;

    // Staff → residents: the bot decrypts it (the card shows the text).
    phone
        .client
        .get_room(&room)
        .unwrap()
        .send(RoomMessageEventContent::text_plain(
            "The budget vote is on Tuesday",
        ))
        .await
        .unwrap();
    approve(&w, 1, "The budget vote is on Tuesday").await;
    civicbridge_api::testing::wait_until(WAIT, "the staff message on Telegram", || {
        w.telegram
            .bot_messages(group)
            .iter()
            .any(|m| m.text.contains("The budget vote is on Tuesday"))
    })
    .await;

    // Residents → staff: the bot encrypts it for the phone.
    w.telegram
        .post_as_user(group, (77, "Bea"), "Will it be streamed?")
        .unwrap();
    approve(&w, 2, "Will it be streamed?").await;
    assert!(
        phone.wait_seen("Will it be streamed?").await,
        "arrived encrypted"
    );

    // After a restart, the same device and keys.
    daemon.shutdown().await.unwrap();
    let daemon = w.start(store, rules).await;
    w.telegram
        .post_as_user(group, (77, "Bea"), "And recorded?")
        .unwrap();
    approve(&w, 3, "And recorded?").await;
    assert!(phone.wait_seen("And recorded?").await, "arrived encrypted");
    daemon.shutdown().await.unwrap();
}

/// The moderation room itself is encrypted: the moderator's own client (a new device of their
/// account, not the bot's) creates it, reads the cards the bot encrypts there, and decides
/// with a ✅ and with an encrypted `!approve`; a restarted bot keeps its device and keys there.
#[tokio::test]
async fn an_encrypted_moderation_room_works_both_ways_before_and_after_a_restart() {
    let hs = civicbridge_testkit::synapse::shared().await.unwrap();
    let bot: Account = hs.register_fresh("civicbridge").await.unwrap().into();
    let moderator: Account = hs.register_fresh("moderator").await.unwrap().into();
    let staff = MatrixUser::new(hs.url(), hs.register_fresh("staff").await.unwrap().into());
    let staff_room = staff
        .create_room("Residents' questions (staff)", &[&bot.user_id])
        .await
        .unwrap();
    let phone = Phone::login(hs.url(), &moderator.user_id, &moderator.password).await;
    // Its creator holds power level 100 there: a moderator.
    let moderation_room = phone
        .encrypted_room_inviting("Moderation", &[&bot.user_id])
        .await;
    let w = crate::world::World::with_matrix(Saved {
        bot,
        staff: staff.account.clone(),
        moderator,
        staff_room,
        moderation_room: moderation_room.to_string(),
    })
    .await;
    let store = Store::memory();
    let rules = civicbridge_demo::world::demo_rules();
    let daemon = w.start(store.clone(), rules.clone()).await;
    phone.wait_joined(&moderation_room, &w.bot.user_id).await;
    let room = phone.client.get_room(&moderation_room).unwrap();

    // A held question: its card arrives encrypted, and the phone decrypts it.
    w.ask_on_telegram((77, "Bea"), "Is the pool open on Sunday?")
        .unwrap();
    let card1 = phone
        .wait_message("card #1", |m| {
            m.body.starts_with("Held #1") && m.body.contains("Is the pool open on Sunday?")
        })
        .await;
    let bot_device = card1.device.clone().expect("the card arrived encrypted");
    // The moderator's ✅ decides it; the copy goes out.
    room.send_raw(
        "m.reaction",
        json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": card1.event_id, "key": "✅"}}),
    )
    .await
    .unwrap();
    w.in_staff_room("the approved question", |m| {
        m.body.contains("Is the pool open on Sunday?")
    })
    .await;

    // An encrypted `!approve`: the bot decrypts the command.
    w.ask_on_telegram((77, "Bea"), "And on holidays?").unwrap();
    phone
        .wait_message("card #2", |m| {
            m.body.starts_with("Held #2") && m.body.contains("And on holidays?")
        })
        .await;
    let sent = room
        .send(RoomMessageEventContent::text_plain("!approve #2"))
        .await
        .unwrap();
    assert!(sent.encryption_info.is_some(), "the command went encrypted");
    w.in_staff_room("the question approved by command", |m| {
        m.body.contains("And on holidays?")
    })
    .await;

    // After a restart: the same device posts the next card, and a command is still read.
    daemon.shutdown().await.unwrap();
    let daemon = w.start(store, rules).await;
    w.ask_on_telegram((77, "Bea"), "Is there a lifeguard?")
        .unwrap();
    let card3 = phone
        .wait_message("card #3", |m| {
            m.body.starts_with("Held #3") && m.body.contains("Is there a lifeguard?")
        })
        .await;
    assert_eq!(card3.device.as_deref(), Some(bot_device.as_str()));
    room.send(RoomMessageEventContent::text_plain("!approve #3"))
        .await
        .unwrap();
    w.in_staff_room("the question approved after the restart", |m| {
        m.body.contains("Is there a lifeguard?")
    })
    .await;
    daemon.shutdown().await.unwrap();
}
