//! End to end: the real daemon with all three real connectors (matrix-sdk against a real
//! Synapse, teloxide and serenity against the local servers), built by `civicbridge_core::demo`'s
//! world, the same one `civicbridge demo` shows.
#![allow(clippy::unwrap_used)]

use civicbridge_core::moderation::audit;
use civicbridge_core::store::prelude::*;
use civicbridge_demo::scenario;
use civicbridge_demo::{World, WorldOptions};

#[tokio::test]
async fn the_demo_scenario_crosses_three_platforms_under_moderation() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::create(WorldOptions::test(dir.path())).await.unwrap();
    world.start().await.unwrap();

    let outcome = scenario::play(&world, &mut |_| {}).await.unwrap();
    assert!(outcome.telegram_answer.thread.is_some(), "in a topic");
    assert_eq!(
        world.discord.thread_parent(outcome.discord_thread),
        Some(world.dc_channel)
    );

    // Each message arrived once.
    let on_telegram = world
        .telegram_bot_posts()
        .into_iter()
        .filter(|m| m.text.contains(scenario::ANSWER))
        .count();
    assert_eq!(on_telegram, 1);
    let transcript = scenario::transcript(&world, &outcome).await.unwrap();
    assert!(transcript.contains(scenario::FOLLOW_UP), "{transcript}");

    let store = world.store().await.unwrap();
    assert_eq!(store.pending().unwrap().len(), 1, "Bea's reply is held");
    assert!(audit::verify(store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
    world.shutdown().await.unwrap();
}

/// A resident's question in a Telegram forum topic whose opening message never crossed (every
/// topic a resident opens): the staff answer in the Matrix thread of its copy goes back into that
/// same topic, not into a new one.
#[tokio::test]
async fn a_staff_answer_lands_in_the_telegram_topic_the_question_was_asked_in() {
    let dir = tempfile::tempdir().unwrap();
    let world = World::create(WorldOptions::test(dir.path())).await.unwrap();
    world.start().await.unwrap();
    let outcome = scenario::play(&world, &mut |_| {}).await.unwrap();
    assert_eq!(outcome.telegram_answer.thread, Some(world.tg_topic));
    world.shutdown().await.unwrap();
}
