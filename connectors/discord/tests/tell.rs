//! `tell` writes to one person by DM, over loopback with the real serenity client: to people
//! who share a server with the bot and accept DMs (`Rejected` otherwise, the contract's "cannot
//! be reached privately now"), the text as `send` renders it with mentions off, files with
//! their names and bytes. DMs people send the bot are never events.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{
    AttachmentKind, Connector, ConnectorError, EventKind, OutgoingFile, Private, RemoteUserId,
    RichText, RoomId, Span,
};
use civicbridge_testkit::discord::{Fault, FaultRoute};
use common::world;
use serde_json::json;

fn private(to: u64, met_in: u64, text: RichText) -> Private {
    Private {
        to: RemoteUserId::new(to.to_string()),
        met_in: RoomId::new(met_in.to_string()),
        txn_id: format!("tell-{to}"),
        text,
        files: Vec::new(),
    }
}

fn file(name: &str, data: &[u8]) -> OutgoingFile {
    OutgoingFile {
        kind: AttachmentKind::File,
        name: name.into(),
        mime: Some("application/json".into()),
        data: data.to_vec(),
    }
}

fn why() -> RichText {
    RichText {
        spans: vec![
            Span::Text("Your message in ".into()),
            Span::Bold(vec![Span::Text("#general".into())]),
            Span::Text(" was held: it pinged @everyone *twice*.".into()),
        ],
    }
}

fn dm_opens(w: &common::World) -> usize {
    w.server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/users/@me/channels"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tell_reaches_a_member_by_dm_rendered_as_send_with_mentions_off() {
    let w = world().await;
    assert!(w.connector.capabilities().private_messages);

    let receipt = w
        .connector
        .tell(&private(w.ada, w.channel, why()))
        .await
        .unwrap();

    let dms = w.server.dm_messages(w.ada);
    assert_eq!(dms.len(), 1);
    assert_eq!(receipt.ids.len(), 1);
    assert_eq!(receipt.ids[0].as_str(), dms[0].id.to_string());
    assert_eq!(receipt.thread, None);
    assert_eq!(
        dms[0].shown,
        "Your message in #general was held: it pinged @everyone *twice*."
    );
    assert!(
        dms[0].content.starts_with("Your message in **") && dms[0].content.contains("\\@everyone"),
        "bold as markdown, a typed @everyone escaped: {}",
        dms[0].content
    );
    assert_eq!(dms[0].allowed_mentions, Some(json!({"parse": []})));
    assert!(!dms[0].pings_everyone);
    assert!(
        w.server.bot_messages(w.channel).is_empty(),
        "nothing in the room"
    );

    // A retry (same txn_id) posts nothing new: the nonce finds the first message.
    let again = w
        .connector
        .tell(&private(w.ada, w.channel, why()))
        .await
        .unwrap();
    assert_eq!(again.ids, receipt.ids);
    // Another tell posts again, in the DM channel opened once per person.
    let mut next = private(w.ada, w.channel, why());
    next.txn_id = "tell-next".into();
    w.connector.tell(&next).await.unwrap();
    assert_eq!(dm_opens(&w), 1);
    assert_eq!(w.server.dm_messages(w.ada).len(), 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tell_is_rejected_for_people_who_cannot_be_reached_by_dm() {
    let w = world().await;
    let rejected = |r: Result<_, ConnectorError>| match r {
        Err(ConnectorError::Rejected(why)) => why,
        other => panic!("expected Rejected, got {other:?}"),
    };
    w.server.close_dms(w.bob);
    let closed = rejected(w.connector.tell(&private(w.bob, w.channel, why())).await);
    assert!(closed.contains("50007"), "{closed}");
    w.server.leave_guild(w.guild, w.ada);
    let stranger = rejected(w.connector.tell(&private(w.ada, w.channel, why())).await);
    assert!(stranger.contains("50278"), "{stranger}");
    let unknown = rejected(w.connector.tell(&private(4242, w.channel, why())).await);
    assert!(unknown.contains("10013"), "{unknown}");
    let bot = w.server.bot_id();
    rejected(w.connector.tell(&private(bot, w.channel, why())).await);
    let mut garbage = private(1, w.channel, why());
    garbage.to = RemoteUserId::new("not a snowflake");
    rejected(w.connector.tell(&garbage).await);
    assert!(w.server.dm_messages(w.ada).is_empty());
    assert!(w.server.dm_messages(w.bob).is_empty());

    // Opening DMs again lets the next tell through, on the channel kept.
    w.server.open_dms(w.bob);
    w.connector
        .tell(&private(w.bob, w.channel, why()))
        .await
        .unwrap();
    assert_eq!(w.server.dm_messages(w.bob).len(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_arrive_with_their_names_and_bytes() {
    let w = world().await;
    let export = br#"{"messages":[{"text":"caf\u00e9"}]}"#;
    let mut p = private(
        w.ada,
        w.channel,
        RichText::plain("Your export is attached."),
    );
    p.files.push(file("ada-export.json", export));
    p.files.push(file("audit.jsonl", b"{}\n{}\n"));

    let receipt = w.connector.tell(&p).await.unwrap();

    let dms = w.server.dm_messages(w.ada);
    assert_eq!(
        dms.len(),
        2,
        "the text carries the first file, the second its own"
    );
    assert_eq!(
        receipt
            .ids
            .iter()
            .map(|i| i.as_str().to_owned())
            .collect::<Vec<_>>(),
        dms.iter().map(|m| m.id.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(dms[0].shown, "Your export is attached.");
    assert_eq!(
        dms[0].attachments,
        vec![("ada-export.json".to_owned(), export.to_vec())]
    );
    assert_eq!(dms[1].content, "");
    assert_eq!(
        dms[1].attachments,
        vec![("audit.jsonl".to_owned(), b"{}\n{}\n".to_vec())]
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_text_does_not_panic() {
    let w = world().await;
    for empty in [
        RichText::default(),
        RichText::plain(" \n\t "),
        RichText {
            spans: vec![Span::Bold(vec![])],
        },
    ] {
        let r = w
            .connector
            .tell(&private(w.ada, w.channel, empty.clone()))
            .await;
        assert!(
            matches!(r, Err(ConnectorError::Rejected(_))),
            "{empty:?}: {r:?}"
        );
    }
    assert!(w.server.dm_messages(w.ada).is_empty());
    let mut p = private(w.ada, w.channel, RichText::plain("  "));
    p.files.push(file("export.json", b"[]"));
    assert_eq!(w.connector.tell(&p).await.unwrap().ids.len(), 1);
    let dms = w.server.dm_messages(w.ada);
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0].attachments[0].0, "export.json");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_outages_are_classified_as_for_sends() {
    let w = world().await;
    w.server.fail_next(FaultRoute::CreateDm, Fault::ServerError);
    assert!(matches!(
        w.connector.tell(&private(w.ada, w.channel, why())).await,
        Err(ConnectorError::Transient(_))
    ));
    w.server.fail_next(
        FaultRoute::CreateMessage,
        Fault::RateLimited {
            retry_after: 2.5,
            global: false,
        },
    );
    assert_eq!(
        w.connector.tell(&private(w.ada, w.channel, why())).await,
        Err(ConnectorError::RateLimited {
            retry_after: std::time::Duration::from_millis(2500)
        })
    );
    // The retry posts once.
    w.connector
        .tell(&private(w.ada, w.channel, why()))
        .await
        .unwrap();
    assert_eq!(w.server.dm_messages(w.ada).len(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dms_from_people_are_never_events() {
    let mut w = world().await;
    w.server
        .dm_as_user(w.ada, "can you unban my friend?")
        .unwrap();
    let later = w.server.post_as_user(w.channel, w.bob, "in the room");

    let first = w.next().await;
    let EventKind::Message(m) = &first.kind else {
        panic!("{first:?}")
    };
    assert_eq!(
        m.id.as_str(),
        later.to_string(),
        "the DM came before it and is no event"
    );
    assert!(
        !w.server.dispatched().iter().any(|t| t == "CHANNEL_CREATE"),
        "Discord announces no DM channel to a bot"
    );
    // The bot does not ask for DIRECT_MESSAGES: Discord sent the DM to no session.
    let creates = w
        .server
        .dispatched()
        .iter()
        .filter(|t| *t == "MESSAGE_CREATE")
        .count();
    assert_eq!(creates, 1, "only the room's message was dispatched");
    w.stop().await;
}
