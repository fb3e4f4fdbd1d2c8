//! What the connector does so Discord accepts what it sends: uploads within the server's limit
//! (10 MiB, more with boosts) and webhook names without "discord" or "clyde".
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{
    AttachmentKind, Connector, Outgoing, OutgoingFile, Persona, RemoteMsgId, RoomId,
};
use civicbridge_testkit::discord::ServerOptions;
use common::{world, world_with, WAIT};

const MIB: u64 = 1024 * 1024;

fn id(r: &RemoteMsgId) -> u64 {
    r.as_str().parse().unwrap()
}

fn file(size: u64) -> OutgoingFile {
    OutgoingFile {
        kind: AttachmentKind::File,
        name: "report.pdf".into(),
        mime: Some("application/pdf".into()),
        data: vec![7; size as usize],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_stay_within_the_servers_limit() {
    let w = world().await;
    let caps = w.connector.capabilities();
    assert_eq!(
        caps.max_attachment_bytes,
        Some(10 * MIB),
        "Discord's default for bots"
    );

    let mut out = Outgoing::text(RoomId::new(w.channel.to_string()), "u1", "minutes");
    out.attachments = vec![file(9 * MIB)];
    let r = w.connector.send(&out).await.unwrap();
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(m.attachments[0].1.len() as u64, 9 * MIB);

    // Sent anyway, 11 MiB is refused by Discord: the core never tries, as the capability says.
    out.attachments = vec![file(11 * MIB)];
    let e = w.connector.send(&out).await.unwrap_err();
    assert!(format!("{e:?}").contains("40005"), "{e:?}");

    // A boost to level 2 (GUILD_UPDATE) raises it to 50 MiB.
    w.server.set_premium_tier(w.guild, 2);
    let c = w.connector.clone();
    civicbridge_api::testing::wait_until(WAIT, "the level 2 limit", || {
        c.capabilities().max_attachment_bytes == Some(50 * MIB)
    })
    .await;
    let r = w.connector.send(&out).await.unwrap();
    assert_eq!(r.ids.len(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_lower_limit_is_kept() {
    let w = world_with(ServerOptions::default(), |c| {
        c.max_attachment_bytes = Some(MIB);
    })
    .await;
    assert_eq!(w.connector.capabilities().max_attachment_bytes, Some(MIB));
    w.server.set_premium_tier(w.guild, 3);
    let c = w.connector.clone();
    civicbridge_api::testing::wait_until(WAIT, "GUILD_UPDATE handled", || {
        c.handler_counts().contains_key("GUILD_UPDATE")
    })
    .await;
    assert_eq!(w.connector.capabilities().max_attachment_bytes, Some(MIB));
    w.stop().await;
}

fn persona(name: &str) -> Persona {
    Persona {
        display_name: name.into(),
        avatar_url: None,
        platform_label: "Telegram".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_named_clyde_or_discord_still_cross_by_webhook() {
    let w = world().await;
    for (n, name) in ["Clyde", "Discord Mod", "xX_cLyDe_Xx"].iter().enumerate() {
        let mut out = Outgoing::text(
            RoomId::new(w.channel.to_string()),
            format!("c{n}").as_str(),
            "hello",
        );
        out.persona = Some(persona(name));
        let r = w.connector.send(&out).await.unwrap();
        let m = w.server.message(id(&r.ids[0])).unwrap();
        assert!(m.webhook_id.is_some(), "{name}: by webhook");
        let lower = m.username.to_lowercase();
        assert!(
            !lower.contains("clyde") && !lower.contains("discord"),
            "{}",
            m.username
        );
        assert!(m.username.ends_with(" (Telegram)"), "{}", m.username);
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_avatar_discord_cannot_fetch_is_left_out() {
    let w = world().await;
    let mut out = Outgoing::text(RoomId::new(w.channel.to_string()), "av1", "hello");
    let mut p = persona("Ada");
    p.avatar_url = Some("mxc://matrix.org/abc".into());
    out.persona = Some(p);
    let r = w.connector.send(&out).await.unwrap();
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(
        (m.username.as_str(), m.avatar_url),
        ("Ada (Telegram)", None)
    );
    w.stop().await;
}

/// Without Message Content granted, Discord closes the gateway with 4014: the connector stops
/// with an auth error that says what an admin must do, instead of retrying for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_message_content_stops_and_says_why() {
    use civicbridge_api::{ConnectorError, EventSink, MemoryState};
    use std::sync::Arc;
    let (server, ..) = common::server_world(ServerOptions::default()).await;
    server.set_privileged_intents(0);
    let connector = civicbridge_discord::DiscordConnector::new(common::config(&server)).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let run = connector.run(
        EventSink::new(tx),
        Arc::new(MemoryState::default()),
        tokio_util::sync::CancellationToken::new(),
    );
    let e = tokio::time::timeout(WAIT, run).await.unwrap().unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Auth(m) if m.contains("Message Content")),
        "{e:?}"
    );
}
