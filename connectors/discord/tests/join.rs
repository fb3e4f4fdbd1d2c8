//! `join` against the local Discord: the bot can see the channel (its name comes back), or
//! Discord refuses and the moderators read what to do.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, ConnectorError, EventKind, Outgoing, RichText, RoomId};
use civicbridge_discord::DiscordConnector;
use civicbridge_testkit::discord::{Fault, FaultRoute, ServerOptions};
use common::{config, server_world, world};
use std::time::Duration;

fn room(id: u64) -> RoomId {
    RoomId::new(id.to_string())
}

#[tokio::test]
async fn join_returns_the_name_of_a_channel_the_bot_can_see() {
    let (server, guild, channel, forum, ada, _) = server_world(ServerOptions::default()).await;
    let conn = DiscordConnector::new(config(&server)).unwrap();

    assert_eq!(
        conn.join(&room(channel)).await.unwrap().name.as_deref(),
        Some("general")
    );
    assert_eq!(
        conn.join(&room(forum)).await.unwrap().name.as_deref(),
        Some("ideas")
    );
    let root = server.post_as_user(channel, ada, "shall we?");
    let thread = server.start_thread_as_user(channel, root, ada, "Budget talk");
    assert_eq!(
        conn.join(&room(thread)).await.unwrap().name.as_deref(),
        Some("Budget talk")
    );
    let odd = "ünïcode-🏠-".repeat(6);
    let other = server.create_channel(guild, &odd);
    assert_eq!(conn.join(&room(other)).await.unwrap().name, Some(odd));
    // Leaving is the admins' business: a no-op, and the bot can still see the channel.
    assert_eq!(conn.leave(&room(channel)).await, Ok(()));
    assert!(conn.join(&room(channel)).await.is_ok());
}

#[tokio::test]
async fn a_channel_the_bot_cannot_be_in_is_refused_with_what_to_do() {
    let (server, guild, channel, _, ada, _) = server_world(ServerOptions::default()).await;
    let conn = DiscordConnector::new(config(&server)).unwrap();

    let e = conn.join(&room(1_234_567_890_123)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m)
            if m.contains("invite the bot") && m.contains("10003")),
        "{e:?}"
    );

    server.set_bot_can_see(channel, false);
    let e = conn.join(&room(channel)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m)
            if m.contains("View Channel") && m.contains("50001")),
        "{e:?}"
    );
    // A thread of a hidden channel is hidden too.
    let other = server.create_channel(guild, "other");
    let root = server.post_as_user(other, ada, "hi");
    let thread = server.start_thread_as_user(other, root, ada, "t");
    server.set_bot_can_see(other, false);
    assert!(matches!(
        conn.join(&room(thread)).await,
        Err(ConnectorError::Rejected(m)) if m.contains("View Channel")
    ));

    server.set_bot_can_see(channel, true);
    assert!(conn.join(&room(channel)).await.is_ok(), "access given back");

    for bad in ["!room:example.org", "0", ""] {
        let e = conn.join(&RoomId::new(bad)).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Rejected(_)), "{bad}: {e:?}");
    }
}

#[tokio::test]
async fn a_platform_that_cannot_answer_is_not_a_refusal() {
    let (server, _, channel, _, _, _) = server_world(ServerOptions::default()).await;
    let conn = DiscordConnector::new(config(&server)).unwrap();

    server.fail_next(FaultRoute::Any, Fault::ServerError);
    let e = conn.join(&room(channel)).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");

    server.fail_next(
        FaultRoute::Any,
        Fault::RateLimited {
            retry_after: 1.5,
            global: false,
        },
    );
    assert_eq!(
        conn.join(&room(channel)).await,
        Err(ConnectorError::RateLimited {
            retry_after: Duration::from_millis(1500)
        })
    );
    assert!(
        conn.join(&room(channel)).await.is_ok(),
        "the next call works"
    );
}

/// The local Discord hides a channel from the bot as Discord does: sends are refused with
/// 50001, and residents' messages there never reach the bot.
#[tokio::test]
async fn a_hidden_channel_is_hidden_everywhere() {
    let mut w = world().await;
    let hidden = w.server.create_channel(w.guild, "staff-only");
    w.server.set_bot_can_see(hidden, false);

    let out = Outgoing::text(room(hidden), "t1", RichText::plain("hello"));
    let e = w.connector.send(&out).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("Missing Access")),
        "{e:?}"
    );

    let secret = w.server.post_as_user(hidden, w.ada, "not for bots");
    let seen = w.server.post_as_user(w.channel, w.ada, "for everyone");
    let (_, before) = w
        .until(|e| matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == seen.to_string()))
        .await;
    assert!(
        !before.iter().any(
            |e| matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == secret.to_string())
        ),
        "{before:?}"
    );
    w.stop().await;
}

#[tokio::test]
async fn a_message_url_names_the_server_once_the_channel_is_known_and_reads_back() {
    use civicbridge_api::{PlatformFactory, RemoteMsgId, ThreadId};
    let (server, guild, channel, _, ada, _) = server_world(ServerOptions::default()).await;
    let conn = DiscordConnector::new(config(&server)).unwrap();
    let msg = RemoteMsgId::new("1234567890123456");
    // Not seen yet: no link, and no request made to find out.
    assert_eq!(conn.message_url(&room(channel), None, &msg), None);

    conn.join(&room(channel)).await.unwrap();
    let url = conn.message_url(&room(channel), None, &msg).unwrap();
    assert_eq!(
        url,
        format!(
            "https://discord.com/channels/{guild}/{channel}/{}",
            msg.as_str()
        )
    );
    let back = civicbridge_discord::DiscordFactory
        .message_link(&url)
        .unwrap();
    assert_eq!((back.room, back.msg), (Some(room(channel)), msg.clone()));

    // In a thread, the thread is the channel the message is in.
    let root = server.post_as_user(channel, ada, "shall we?");
    let thread = server.start_thread_as_user(channel, root, ada, "Budget talk");
    let t = ThreadId::new(thread.to_string());
    assert_eq!(
        conn.message_url(&room(channel), Some(&t), &msg).unwrap(),
        format!(
            "https://discord.com/channels/{guild}/{thread}/{}",
            msg.as_str()
        )
    );
    // Hostile ids make no link rather than a path of their choosing.
    assert_eq!(
        conn.message_url(&room(channel), None, &RemoteMsgId::new("1/../../x")),
        None
    );
    assert_eq!(
        conn.message_url(&room(channel), Some(&ThreadId::new("x/..")), &msg),
        None
    );
}
