//! The gateway: serenity connects to the local server, and every dispatch the server emits makes
//! a serenity handler fire (serenity silently drops payloads it cannot parse, so we count).
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::EventKind;
use common::world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dispatch_fires_its_handler() {
    let mut w = world().await;
    // Every kind of dispatch the fake emits, caused as people and as the bot would.
    let m1 = w.server.post_as_user(w.channel, w.ada, "hello **all**");
    let m2 = w.server.reply_as_user(w.channel, w.bob, m1, "hi <@1> back");
    w.server.edit_as_user(m2, "hi back (edited)");
    w.server.react_as_user(m1, w.bob, "👍");
    w.server.unreact_as_user(m1, w.bob, "👍");
    let t = w
        .server
        .start_thread_as_user(w.channel, m1, w.ada, "a thread");
    let m3 = w.server.post_as_user(t, w.bob, "in the thread");
    w.server
        .forum_post_as_user(w.forum, w.ada, "Idea", "first post");
    w.server
        .upload_as_user(w.channel, w.ada, "a file", "a.txt", "text/plain", b"abc");
    let extra = w.server.create_channel(w.guild, "later");
    w.server.post_as_user(extra, w.ada, "in a new channel");
    w.server.delete_as_user(m3);
    let (hook, _) = w.server.create_foreign_webhook(w.channel, "Partner", w.ada);
    w.server
        .post_as_webhook(w.channel, hook, "Partner Org", "from a partner");
    w.all_dispatches_handled().await;

    let (sent, _) = w.counts();
    for t in [
        "READY",
        "GUILD_CREATE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "THREAD_CREATE",
        "CHANNEL_CREATE",
    ] {
        assert!(
            sent.get(t).copied().unwrap_or(0) >= 1,
            "the fake emitted no {t}"
        );
    }
    // And the events reached the sink.
    let (e, _) = w
        .until(|e| matches!(e.kind, EventKind::Delete { .. }))
        .await;
    assert_eq!(e.room.room.as_str(), w.channel.to_string());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_with_the_intents_the_bridge_needs() {
    let w = world().await;
    let intents = w.server.last_intents().unwrap();
    let want = civicbridge_discord::intents().bits();
    assert_eq!(intents, want);
    // guilds | guild messages | reactions | message content
    assert_eq!(want, 1 | (1 << 9) | (1 << 10) | (1 << 15));
    w.stop().await;
}
