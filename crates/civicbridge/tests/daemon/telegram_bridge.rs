//! The daemon with the real Telegram connector (teloxide over loopback to the local Bot API
//! server) and fake Matrix and Discord: a resident's question held, approved, answered, and a
//! restart that neither loses nor repeats anything.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeConnector};
use civicbridge_api::{Connector, Message, Platform};
use civicbridge_core::moderation::audit;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::Daemon;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use civicbridge_telegram::{PacingConfig, TelegramConfig, TelegramConnector};
use civicbridge_testkit::telegram::TelegramServer;
use common::{acked, fast_retries, MODERATOR, MODS, STAFF, STAFFER, WAIT};
use std::sync::Arc;

const ADA: (i64, &str) = (42, "Ada");

fn link(chat: i64) -> Vec<LinkSettings> {
    let rules = Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Auto),
        ..Rules::default()
    };
    common::link_with_telegram(&chat.to_string(), rules)
}

fn telegram(server: &TelegramServer) -> Arc<TelegramConnector> {
    let mut c = TelegramConfig::new(server.token());
    c.api_url = Some(server.url());
    c.poll_timeout_secs = 1;
    c.pacing = PacingConfig::off();
    Arc::new(TelegramConnector::new(c).unwrap())
}

async fn start(
    dir: &std::path::Path,
    chat: i64,
    server: &TelegramServer,
    matrix: &Arc<FakeConnector>,
    discord: &Arc<FakeConnector>,
) -> (Daemon, Store) {
    let store = Store::open(dir).unwrap();
    let conns: Vec<Arc<dyn Connector>> = vec![matrix.clone(), telegram(server), discord.clone()];
    (
        Daemon::start(store.clone(), &link(chat), conns, fast_retries())
            .await
            .unwrap(),
        store,
    )
}

#[tokio::test]
async fn a_residents_question_is_moderated_answered_and_survives_a_restart() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents of Elm St");
    let matrix = FakeConnector::new(Platform::new("matrix"));
    let discord = FakeConnector::new(Platform::new("discord"));
    let dir = tempfile::tempdir().unwrap();
    let (daemon, store) = start(dir.path(), chat, &server, &matrix, &discord).await;

    // A resident asks; markup-looking text stays text everywhere.
    let question = server
        .post_as_user(chat, ADA, "Is the <b>tip</b> open on **Sunday**?")
        .unwrap();
    wait_until(WAIT, "the card and the Discord copy", || {
        matrix.texts_in(MODS).iter().any(|t| t.contains("Held #1"))
            && discord.texts_in("200").len() == 1
    })
    .await;
    assert_eq!(
        discord.texts_in("200"),
        ["Ada (Telegram): Is the <b>tip</b> open on **Sunday**?"]
    );
    assert!(
        matrix.texts_in(STAFF).is_empty(),
        "held from the staff room"
    );

    // A moderator approves; the staff room gets it.
    acked(matrix.post(MODS, MODERATOR, "$c1", "!approve #1")).await;
    wait_until(WAIT, "the staff copy", || matrix.texts_in(STAFF).len() == 1).await;
    let staff_copy = matrix.visible_in(STAFF)[0].id.clone();

    // Staff answer with a reply to the copy: on Telegram it is a reply to the resident's message.
    let mut answer = Message::text("$a1", "Yes, 9am to 4pm.");
    answer.reply_to = Some(staff_copy);
    acked(matrix.inject(matrix.message_event(STAFF, STAFFER, answer))).await;
    wait_until(WAIT, "the answer on Telegram", || {
        server.bot_messages(chat).len() == 1
    })
    .await;
    let shown = &server.bot_messages(chat)[0];
    assert_eq!(shown.text, "Sam (Matrix): Yes, 9am to 4pm.");
    assert_eq!(shown.reply_to, Some(question));
    assert_eq!(
        shown.entities[0]["type"], "bold",
        "the attribution is bold: {:?}",
        shown.entities
    );

    // Restart: the poll offset was stored by the bridge, so the first question is not replayed.
    daemon.shutdown().await.unwrap();
    drop(store);
    let (daemon, store) = start(dir.path(), chat, &server, &matrix, &discord).await;
    server
        .post_as_user(chat, ADA, "And on bank holidays?")
        .unwrap();
    wait_until(WAIT, "the second question on Discord", || {
        discord.texts_in("200").len() == 3
    })
    .await;
    wait_until(WAIT, "its card", || {
        matrix.texts_in(MODS).iter().any(|t| t.contains("Held #2"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        discord.texts_in("200"),
        [
            "Ada (Telegram): Is the <b>tip</b> open on **Sunday**?",
            "Sam (Matrix): Yes, 9am to 4pm.",
            "Ada (Telegram): And on bank holidays?",
        ],
        "each once, nothing repeated after the restart"
    );
    assert_eq!(store.pending().unwrap().len(), 1);
    assert!(store
        .connector_state(Platform::new("telegram"))
        .get(civicbridge_telegram::OFFSET_KEY)
        .is_some());
    assert!(audit::verify(store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
}

#[tokio::test]
async fn a_connector_that_cannot_authenticate_is_reported_by_the_daemon() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut c = TelegramConfig::new("999999:WrongTokenWrongTokenWrongToken12345");
    c.api_url = Some(server.url());
    c.poll_timeout_secs = 1;
    let conns: Vec<Arc<dyn Connector>> = vec![
        FakeConnector::new(Platform::new("matrix")),
        Arc::new(TelegramConnector::new(c).unwrap()),
        FakeConnector::new(Platform::new("discord")),
    ];
    let mut daemon = Daemon::start(Store::memory(), &link(chat), conns, fast_retries())
        .await
        .unwrap();
    let (platform, error) = tokio::time::timeout(WAIT, daemon.connector_failed())
        .await
        .expect("reported in time");
    assert_eq!(platform, Platform::new("telegram"));
    assert!(
        matches!(error, civicbridge_api::ConnectorError::Auth(_)),
        "{error:?}"
    );
    daemon.shutdown().await.unwrap();
}
