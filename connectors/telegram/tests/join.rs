//! `join` against the local Bot API server: the bot is in the chat (its title comes back), or
//! Telegram refuses and the moderators read what to do.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, ConnectorError, RoomId, RoomInfo};
use civicbridge_testkit::telegram::{Fault, TelegramServer};
use common::connector;
use std::time::Duration;

fn room(chat: i64) -> RoomId {
    RoomId::new(chat.to_string())
}

#[tokio::test]
async fn join_returns_the_title_of_a_chat_the_bot_is_in() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents of Elm Street");
    let forum = server.create_forum("Tenants' forum");
    let conn = connector(&server);

    assert_eq!(
        conn.join(&room(group)).await,
        Ok(RoomInfo {
            name: Some("Residents of Elm Street".into())
        })
    );
    assert_eq!(
        conn.join(&room(forum)).await.unwrap().name.as_deref(),
        Some("Tenants' forum")
    );
    // Joining again changes nothing, and leaving is the admins' business: a no-op.
    assert_eq!(
        conn.join(&room(group)).await.unwrap().name.as_deref(),
        Some("Residents of Elm Street")
    );
    assert_eq!(conn.leave(&room(group)).await, Ok(()));
    assert!(conn.join(&room(group)).await.is_ok());
}

#[tokio::test]
async fn titles_pass_as_given() {
    let server = TelegramServer::start().await;
    let odd = "\u{202e}évil\u{0007}\n🏠".repeat(40);
    let chat = server.create_group(&odd);
    let conn = connector(&server);
    assert_eq!(conn.join(&room(chat)).await.unwrap().name, Some(odd));
}

#[tokio::test]
async fn a_chat_the_bot_is_not_in_is_refused_with_what_to_do() {
    let server = TelegramServer::start().await;
    let conn = connector(&server);

    let e = conn.join(&room(-1_009_999_999_999)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(r)
            if r.contains("add the bot to the group") && r.contains("chat not found")),
        "{e:?}"
    );

    let chat = server.create_group("Residents");
    server.kick_bot(chat);
    let e = conn.join(&room(chat)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(r)
            if r.contains("removed from this chat") && r.contains("kicked")),
        "{e:?}"
    );

    let e = conn
        .join(&RoomId::new("!room:example.org"))
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Rejected(_)), "{e:?}");
}

#[tokio::test]
async fn a_platform_that_cannot_answer_is_not_a_refusal() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);

    server.fail_method("getChat", 1, Fault::DropConnection);
    let e = conn.join(&room(chat)).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
    assert!(!e.to_string().contains(server.token()), "{e}");

    server.fail_method("getChat", 1, Fault::TooManyRequests { retry_after: 3 });
    assert_eq!(
        conn.join(&room(chat)).await,
        Err(ConnectorError::RateLimited {
            retry_after: Duration::from_secs(3)
        })
    );

    assert!(conn.join(&room(chat)).await.is_ok(), "the next call works");
}
