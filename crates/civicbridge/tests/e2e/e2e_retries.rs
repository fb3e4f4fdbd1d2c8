//! Paths that run only after something failed or restarted, end to end: a Telegram topic opened
//! for a staff thread is opened once although a call failed with a 5xx, and a Discord persona
//! (webhook) copy is edited and deleted after a daemon restart (the connector finds the webhook
//! that posted it again).
#![allow(clippy::unwrap_used)]

use crate::bridge_process::staff_answers_cross;
use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::store::Store;
use civicbridge_testkit::telegram::Fault;
use world::{World, WAIT};

/// How many of the bot's Telegram posts say `text`, and in which topics.
fn on_telegram(w: &World, text: &str) -> Vec<Option<i32>> {
    w.telegram
        .bot_messages(w.tg_chat)
        .into_iter()
        .filter(|m| m.text.contains(text) && !m.deleted)
        .map(|m| m.thread)
        .collect()
}

/// Staff post `root`, then `answer` in its thread, with the next call to `failing` answered
/// with a 5xx: the answer lands in a topic of its own.
async fn answer_in_a_new_topic(w: &World, root: &str, answer: &str, failing: &str) {
    let root_id = w.staff.say(&w.staff_room, root).await.unwrap();
    wait_until(WAIT, "the root on Telegram", || {
        on_telegram(w, root).len() == 1
    })
    .await;
    w.telegram.fail_method(failing, 1, Fault::ServerError);
    w.staff
        .say_in_thread(&w.staff_room, &root_id, answer)
        .await
        .unwrap();
    wait_until(WAIT, "the answer in a topic", || {
        on_telegram(w, answer).iter().any(Option::is_some)
    })
    .await;
    assert_eq!(on_telegram(w, answer).len(), 1, "{answer} posted once");
}

#[tokio::test]
async fn a_topic_for_a_staff_thread_is_opened_once_though_a_call_failed_with_a_5xx() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), staff_answers_cross()).await;
    let topics = w.telegram.topics(w.tg_chat).len();
    // The post into the new topic fails once: the retry reuses the topic.
    answer_in_a_new_topic(
        &w,
        "Roadworks on Mill Lane",
        "They start on Monday",
        "sendMessage",
    )
    .await;
    assert_eq!(w.telegram.topics(w.tg_chat).len(), topics + 1);
    // Opening the topic fails once: it is opened on the retry, once.
    answer_in_a_new_topic(
        &w,
        "Library closing early",
        "At three today",
        "createForumTopic",
    )
    .await;
    assert_eq!(w.telegram.topics(w.tg_chat).len(), topics + 2);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_discord_persona_copy_is_edited_and_deleted_after_a_daemon_restart() {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), staff_answers_cross()).await;
    let said = w
        .staff
        .say(&w.staff_room, "The hall opens at nine")
        .await
        .unwrap();
    wait_until(WAIT, "the persona copy on Discord", || {
        w.discord
            .webhook_messages(w.dc_channel)
            .iter()
            .any(|m| m.content.contains("The hall opens at nine"))
    })
    .await;
    daemon.shutdown().await.unwrap();

    let daemon = w.start(store, staff_answers_cross()).await;
    w.staff
        .edit(&w.staff_room, &said, "The hall opens at ten")
        .await
        .unwrap();
    wait_until(WAIT, "the persona copy edited in place", || {
        w.discord
            .webhook_messages(w.dc_channel)
            .iter()
            .any(|m| m.edited && m.content.contains("The hall opens at ten"))
    })
    .await;
    let copies: Vec<String> = w
        .discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .filter(|m| !m.deleted && m.content.contains("The hall opens"))
        .map(|m| m.content)
        .collect();
    assert_eq!(copies.len(), 1, "edited, not posted again: {copies:?}");
    // Deleting it goes through the same webhook.
    assert_eq!(w.staff.redact(&w.staff_room, &said).await.unwrap(), 200);
    wait_until(WAIT, "the persona copy deleted", || {
        w.discord
            .webhook_messages(w.dc_channel)
            .iter()
            .filter(|m| m.content.contains("The hall opens"))
            .all(|m| m.deleted)
    })
    .await;
    daemon.shutdown().await.unwrap();
}
