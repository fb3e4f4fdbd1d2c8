//! Reactions crossing end to end, in each direction: a real Synapse (the staff member's
//! reactions and redactions through the client-server API), the local Telegram and Discord
//! servers (residents' reactions through their control APIs, the bot's as the servers record
//! them), and the daemon with the three real connectors.
#![allow(clippy::unwrap_used)]

use crate::bridge_process::staff_answers_cross;
use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::rules::{ReactionPolicy, Rules};
use civicbridge_core::store::Store;
use world::{World, WAIT};

/// The bot's reactions on a Discord message.
fn discord_bot(w: &World, message: u64) -> Vec<String> {
    let bot = w.discord.bot_id();
    w.discord
        .reactions(message)
        .into_iter()
        .filter(|(_, user)| *user == bot)
        .map(|(e, _)| e)
        .collect()
}

/// The keys the bot reacts with on `event` in `room`, as a Matrix client sees them (redacted
/// reactions gone).
async fn matrix_bot(w: &World, room: &str, event: &str) -> Vec<String> {
    w.staff
        .history(room)
        .await
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.reaction" && e["sender"] == w.bot.user_id.as_str())
        .filter(|e| e["content"]["m.relates_to"]["event_id"] == event)
        .filter_map(|e| {
            e["content"]["m.relates_to"]["key"]
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

async fn wait_matrix(w: &World, room: &str, event: &str, want: &[&str], what: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = matrix_bot(w, room, event).await;
        if got == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {got:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reactions_cross_in_each_direction_and_follow_their_removal() {
    let w = World::new().await;
    let rules = Rules {
        reactions_public_to_staff: ReactionPolicy::Auto,
        ..staff_answers_cross()
    };
    let daemon = w.start(Store::memory(), rules).await;

    // Staff → public.
    let original = w
        .staff
        .say(&w.staff_room, "The pool reopens on Monday")
        .await
        .unwrap();
    wait_until(WAIT, "the copies", || {
        w.telegram.bot_messages(w.tg_chat).len() == 1
            && (w.discord.webhook_messages(w.dc_channel).len()
                + w.discord.bot_messages(w.dc_channel).len())
                == 1
    })
    .await;
    let tg = w.telegram.bot_messages(w.tg_chat)[0].id;
    let dc = w
        .discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .next()
        .unwrap()
        .id;
    let thumbs = w.staff.react(&w.staff_room, &original, "👍").await.unwrap();
    wait_until(WAIT, "👍 on both public copies", || {
        w.telegram.bot_reactions(w.tg_chat, tg) == ["👍"] && discord_bot(&w, dc) == ["👍"]
    })
    .await;
    w.staff.redact(&w.staff_room, &thumbs).await.unwrap();
    wait_until(WAIT, "👍 taken back from both", || {
        w.telegram.bot_reactions(w.tg_chat, tg).is_empty() && discord_bot(&w, dc).is_empty()
    })
    .await;

    // Public → public and public → staff: a Telegram resident's 🔥 on the copy there.
    w.telegram
        .react(w.tg_chat, (42, "Ada"), tg, &["🔥"])
        .unwrap();
    wait_until(WAIT, "🔥 on Discord", || discord_bot(&w, dc) == ["🔥"]).await;
    wait_matrix(
        &w,
        &w.staff_room,
        &original,
        &["🔥"],
        "🔥 in the staff room",
    )
    .await;
    // A Discord resident's ❤️: Telegram keeps its one reaction (🔥 came first).
    let bea = w.discord.create_user("bea", Some("Bea"));
    w.discord.react_as_user(dc, bea, "❤️");
    wait_matrix(
        &w,
        &w.staff_room,
        &original,
        &["🔥", "❤️"],
        "❤️ in the staff room",
    )
    .await;
    // Ada takes 🔥 back: it leaves Discord and the staff room; Telegram now shows ❤.
    w.telegram.react(w.tg_chat, (42, "Ada"), tg, &[]).unwrap();
    wait_until(WAIT, "🔥 gone from Discord", || {
        discord_bot(&w, dc).is_empty()
    })
    .await;
    wait_until(WAIT, "❤ on Telegram", || {
        w.telegram.bot_reactions(w.tg_chat, tg) == ["❤"]
    })
    .await;
    wait_matrix(
        &w,
        &w.staff_room,
        &original,
        &["❤️"],
        "only ❤️ in the staff room",
    )
    .await;
    daemon.shutdown().await.unwrap();
}
