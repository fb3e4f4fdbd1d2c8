//! Links changed from the moderation room through the real connectors: a real Synapse and the
//! local Telegram server. An admin types `!link` for a new Telegram group and a new staff room;
//! the bot says it must be invited to the room, accepts the invite when it comes and says so,
//! and the new link works at once, its cards naming both rooms as their platforms name them. A group the bot was
//! removed from is reported with what to do.
#![allow(clippy::unwrap_used)]

use crate::world;

use civicbridge_core::store::Store;
use world::{World, WAIT};

#[tokio::test]
async fn an_admin_links_a_new_group_and_staff_room_and_the_cards_name_them() {
    let w = World::new().await;
    let daemon = w
        .start(Store::memory(), civicbridge_demo::world::demo_rules())
        .await;
    let group = w.telegram.create_group("Library friends");
    let room = w.moderator.create_room("Library staff", &[]).await.unwrap();
    w.moderator
        .say(
            &w.moderation_room,
            &format!("!link library staff=matrix:{room} public=telegram:{group}"),
        )
        .await
        .unwrap();
    w.in_mod_room("the reply", |m| m.body.contains("Link library created"))
        .await;
    // Nobody invited the bot: it says so, and what to do.
    let notice = w
        .in_mod_room("the notice about the room", |m| {
            m.body
                .contains(&format!("the bot cannot take part in matrix:{room}"))
        })
        .await;
    assert!(notice.body.contains("invite the bot"), "{}", notice.body);
    w.moderator.invite(&room, &w.bot.user_id).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !w
        .moderator
        .joined_members(&room)
        .await
        .unwrap()
        .contains(&w.bot.user_id)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot accepts the invite"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // It notices by itself that it is in, and says so, with the room's name.
    w.in_mod_room("the all-clear", |m| {
        m.body
            .contains("✓ Link library: the bot now takes part in Library staff (Matrix)")
    })
    .await;
    w.telegram
        .post_as_user(group, (77, "Bea"), "is the library open on Sunday?")
        .unwrap();
    let card = w
        .in_mod_room("the card", |m| {
            m.body.contains("is the library open on Sunday?")
        })
        .await;
    assert!(
        card.body
            .contains("In Library friends (Telegram) → Library staff (Matrix)"),
        "{}",
        card.body
    );
    w.moderator
        .say(&w.moderation_room, "!approve #1")
        .await
        .unwrap();
    w.moderator
        .wait_for_message(&room, WAIT, "the approved question", |m| {
            m.body.contains("is the library open on Sunday?")
        })
        .await
        .unwrap();

    // A group the bot was removed from: the moderators are told what to do.
    let gone = w.telegram.create_group("Old group");
    w.telegram.kick_bot(gone);
    w.moderator
        .say(
            &w.moderation_room,
            &format!("!link old staff=matrix:{room}x public=telegram:{gone}"),
        )
        .await
        .unwrap();
    let notice = w
        .in_mod_room("the notice about the group", |m| {
            m.body
                .contains(&format!("the bot cannot take part in telegram:{gone}"))
        })
        .await;
    assert!(
        notice.body.contains("add it"),
        "says what to do: {}",
        notice.body
    );
    daemon.shutdown().await.unwrap();
}
