//! The daemon with two real connectors over loopback (serenity against the local Discord server,
//! teloxide against the local Bot API server) and a fake Matrix: a partner's question on Discord
//! reaches Telegram at once and the staff room after approval; the staff answer reaches both
//! public rooms as the right kind of reply, with nothing able to ping anyone.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeConnector};
use civicbridge_api::{Connector, Message, Platform};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::daemon::Daemon;
use civicbridge_core::store::Store;
use civicbridge_discord::{DiscordConfig, DiscordConnector};
use civicbridge_telegram::{PacingConfig, TelegramConfig, TelegramConnector};
use civicbridge_testkit::discord::DiscordServer;
use civicbridge_testkit::telegram::TelegramServer;
use common::{acked, fast_retries, MODERATOR, MODS, STAFF, STAFFER, WAIT};
use std::sync::Arc;

#[tokio::test]
async fn a_partners_question_crosses_three_platforms_under_moderation() {
    let tg = TelegramServer::start().await;
    let chat = tg.create_group("Residents");
    let dc = DiscordServer::start().await.unwrap();
    let guild = dc.create_guild("Council partners");
    let channel = dc.create_channel(guild, "general");
    let ada = dc.create_user("ada", Some("Ada Lovelace"));

    let mut links = common::link_with_telegram(
        &chat.to_string(),
        Rules {
            staff_to_public: DirectionRule::new(Policy::Auto),
            public_to_staff: DirectionRule::new(Policy::Approve),
            public_to_public: DirectionRule::new(Policy::Auto),
            // Let `@everyone` through so the test can show it arrives inert.
            hold_mass_mentions: false,
            ..Rules::default()
        },
    );
    for r in &mut links[0].link.rooms {
        if r.room.platform == Platform::new("discord") {
            r.room.room = civicbridge_api::RoomId::new(channel.to_string());
        }
    }
    let mut tcfg = TelegramConfig::new(tg.token());
    tcfg.api_url = Some(tg.url());
    tcfg.poll_timeout_secs = 1;
    tcfg.pacing = PacingConfig::off();
    let discord =
        Arc::new(DiscordConnector::new(DiscordConfig::local(dc.token(), dc.api_base())).unwrap());
    let matrix = FakeConnector::new(Platform::new("matrix"));
    let conns: Vec<Arc<dyn Connector>> = vec![
        matrix.clone(),
        Arc::new(TelegramConnector::new(tcfg).unwrap()),
        discord.clone(),
    ];
    let store = Store::memory();
    let daemon = Daemon::start(store.clone(), &links, conns, fast_retries())
        .await
        .unwrap();
    wait_until(WAIT, "the Discord gateway is ready", || {
        discord
            .handler_counts()
            .get("GUILD_CREATE")
            .copied()
            .unwrap_or(0)
            >= 1
    })
    .await;

    dc.post_as_user(
        channel,
        ada,
        "Is the **hall** free for @everyone on Friday?",
    );
    wait_until(WAIT, "the Telegram copy", || {
        tg.bot_messages(chat).len() == 1
    })
    .await;
    let on_telegram = &tg.bot_messages(chat)[0];
    assert_eq!(
        on_telegram.text,
        "Ada Lovelace (Discord): Is the hall free for @everyone on Friday?"
    );
    assert!(
        on_telegram
            .entities
            .iter()
            .filter(|e| e["type"] == "bold")
            .count()
            >= 2,
        "attribution and **hall** are bold"
    );
    wait_until(WAIT, "the approval card", || {
        matrix.texts_in(MODS).iter().any(|t| t.contains("Held #1"))
    })
    .await;
    assert!(matrix.texts_in(STAFF).is_empty());

    acked(matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    wait_until(WAIT, "the staff copy", || matrix.texts_in(STAFF).len() == 1).await;
    let staff_copy = matrix.visible_in(STAFF)[0].id.clone();

    let mut answer = Message::text("$a1", "Yes, book it with @everyone's blessing.");
    answer.reply_to = Some(staff_copy);
    acked(matrix.inject(matrix.message_event(STAFF, STAFFER, answer))).await;
    wait_until(WAIT, "the answer on both public platforms", || {
        tg.bot_messages(chat).len() == 2 && !dc.webhook_messages(channel).is_empty()
    })
    .await;
    let tg_answer = &tg.bot_messages(chat)[1];
    assert_eq!(
        tg_answer.text,
        "Sam (Matrix): Yes, book it with @everyone's blessing."
    );
    assert_eq!(
        tg_answer.reply_to,
        Some(on_telegram.id),
        "a native reply to the question's copy"
    );
    let dc_answer = &dc.webhook_messages(channel)[0];
    assert!(
        dc_answer.username.contains("Sam"),
        "posted under the author's name: {}",
        dc_answer.username
    );
    assert!(
        dc_answer.content.contains("book it with"),
        "{}",
        dc_answer.content
    );
    assert!(
        !dc_answer.pings_everyone && dc_answer.pinged_users.is_empty(),
        "nothing pings anyone"
    );
    daemon.shutdown().await.unwrap();
    assert_eq!(tg.bot_messages(chat).len(), 2, "each once");
    assert_eq!(
        dc.webhook_messages(channel).len() + dc.bot_messages(channel).len(),
        1,
        "each once"
    );
}
