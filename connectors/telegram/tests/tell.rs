//! `tell` writes to one person in their private chat with the bot, over loopback with the real
//! teloxide client: only to people who started the bot and have not blocked it (`Rejected`
//! otherwise, the contract's "cannot be reached privately now"), text with its entities, then
//! files as documents with their names and bytes. A private `/start` is never an event.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{
    AttachmentKind, Connector, ConnectorError, EventKind, MemoryState, OutgoingFile, Private,
    RemoteUserId, RichText, RoomId, Span,
};
use civicbridge_testkit::telegram::{Fault, Media, TelegramServer};
use common::{connector, run, ADA, WAIT};
use std::sync::Arc;
use std::time::Duration;

fn private(to: i64, met_in: i64, text: RichText) -> Private {
    Private {
        to: RemoteUserId::new(to.to_string()),
        met_in: RoomId::new(met_in.to_string()),
        txn_id: "tell-1".into(),
        text,
        files: Vec::new(),
    }
}

fn export(name: &str, data: &[u8]) -> OutgoingFile {
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
            Span::Bold(vec![Span::Text("Residents".into())]),
            Span::Text(" was held: it names a neighbour.".into()),
        ],
    }
}

#[tokio::test]
async fn a_tell_reaches_a_resident_who_started_the_bot_with_its_entities() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let conn = connector(&server);
    assert!(conn.capabilities().private_messages);
    server.start_bot(ADA).unwrap();

    let receipt = conn.tell(&private(ADA.0, group, why())).await.unwrap();

    let shown = server.private_messages(ADA.0);
    assert_eq!(shown.len(), 1);
    assert_eq!(receipt.ids.len(), 1);
    assert_eq!(receipt.ids[0].as_str(), shown[0].id.to_string());
    assert_eq!(receipt.thread, None);
    assert_eq!(
        shown[0].text,
        "Your message in Residents was held: it names a neighbour."
    );
    let bold = &shown[0].entities[0];
    assert_eq!(
        (&bold["type"], &bold["offset"], &bold["length"]),
        (&"bold".into(), &16.into(), &9.into())
    );
    assert!(
        server.bot_messages(group).is_empty(),
        "nothing in the group: it was private"
    );
}

#[tokio::test]
async fn a_tell_is_rejected_for_residents_who_cannot_be_reached_privately() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let conn = connector(&server);
    // Seen in the group, never started the bot.
    server.post_as_user(group, (77, "Bob"), "hello").unwrap();
    // Started it, then blocked it.
    server.start_bot(ADA).unwrap();
    server.block_bot(ADA).unwrap();

    let rejected = |r: Result<_, ConnectorError>| match r {
        Err(ConnectorError::Rejected(why)) => why,
        other => panic!("expected Rejected, got {other:?}"),
    };
    let never_started = rejected(conn.tell(&private(77, group, why())).await);
    assert_eq!(
        never_started,
        "Forbidden: bot can't initiate conversation with a user"
    );
    let blocked = rejected(conn.tell(&private(ADA.0, group, why())).await);
    assert_eq!(blocked, "Forbidden: bot was blocked by the user");
    let unknown = rejected(conn.tell(&private(999_999, group, why())).await);
    assert_eq!(unknown, "Bad Request: chat not found");
    // A chat acting as a sender (anonymous admin, channel) has no private chat: refused
    // without asking Telegram.
    rejected(conn.tell(&private(group, group, why())).await);
    let mut file_only = private(ADA.0, group, RichText::default());
    file_only.files.push(export("export.json", b"{}"));
    assert_eq!(
        rejected(conn.tell(&file_only).await),
        "Forbidden: bot was blocked by the user",
        "a file to a blocked user is refused the same way"
    );
    assert!(server.private_messages(77).is_empty());
    assert!(server.private_messages(ADA.0).is_empty());

    // Starting the bot again unblocks it.
    server.start_bot(ADA).unwrap();
    conn.tell(&private(ADA.0, group, why())).await.unwrap();
    assert_eq!(server.private_messages(ADA.0).len(), 1);
}

#[tokio::test]
async fn files_arrive_as_documents_with_their_names_and_bytes_after_the_text() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let conn = connector(&server);
    server.start_bot(ADA).unwrap();
    let json = br#"{"messages":[{"text":"caf\u00e9 \u2603"}]}"#;
    // Bytes that are an image still go as a document: an export arrives as it was made.
    let png = civicbridge_testkit::telegram::png(4, 4);
    let mut p = private(ADA.0, group, RichText::plain("Your export is attached."));
    p.files.push(export("ada-export.json", json));
    p.files.push(OutgoingFile {
        kind: AttachmentKind::Image,
        name: "avatar.png".into(),
        mime: Some("image/png".into()),
        data: png.clone(),
    });

    let receipt = conn.tell(&p).await.unwrap();

    let shown = server.private_messages(ADA.0);
    assert_eq!(shown.len(), 3);
    assert_eq!(
        receipt
            .ids
            .iter()
            .map(|i| i.as_str().to_owned())
            .collect::<Vec<_>>(),
        shown.iter().map(|m| m.id.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(shown[0].text, "Your export is attached.");
    assert!(shown[0].media.is_none());
    for (m, (name, data)) in shown[1..]
        .iter()
        .zip([("ada-export.json", json.to_vec()), ("avatar.png", png)])
    {
        assert!(matches!(m.media, Some(Media::Document { .. })), "{m:?}");
        assert_eq!(m.text, "", "no caption");
        assert_eq!(
            server.private_file(ADA.0, m.id),
            Some((Some(name.to_owned()), data))
        );
    }
}

#[tokio::test]
async fn an_empty_text_does_not_panic() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let conn = connector(&server);
    server.start_bot(ADA).unwrap();

    for empty in [
        RichText::default(),
        RichText::plain("   \n\t "),
        RichText {
            spans: vec![Span::Bold(vec![])],
        },
    ] {
        let r = conn.tell(&private(ADA.0, group, empty.clone())).await;
        assert!(
            matches!(r, Err(ConnectorError::Rejected(_))),
            "{empty:?}: {r:?}"
        );
    }
    assert!(server.private_messages(ADA.0).is_empty());

    // Empty text with a file: only the file.
    let mut p = private(ADA.0, group, RichText::plain(" "));
    p.files.push(export("export.json", b"[]"));
    let receipt = conn.tell(&p).await.unwrap();
    assert_eq!(receipt.ids.len(), 1);
    assert_eq!(server.private_messages(ADA.0).len(), 1);
}

#[tokio::test]
async fn rate_limits_and_outages_are_classified_as_for_sends() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let conn = connector(&server);
    server.start_bot(ADA).unwrap();

    server.fail_method("sendMessage", 1, Fault::TooManyRequests { retry_after: 7 });
    assert_eq!(
        conn.tell(&private(ADA.0, group, why())).await,
        Err(ConnectorError::RateLimited {
            retry_after: Duration::from_secs(7)
        })
    );
    server.fail_method("sendDocument", 1, Fault::DropConnection);
    let mut p = private(ADA.0, group, RichText::default());
    p.files.push(export("export.json", b"{}"));
    assert!(matches!(
        conn.tell(&p).await,
        Err(ConnectorError::Transient(_))
    ));
    assert!(server.private_messages(ADA.0).is_empty());
}

#[tokio::test]
async fn a_private_start_is_never_an_event_and_does_not_hold_the_offset() {
    let server = TelegramServer::start().await;
    let group = server.create_group("Residents");
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));

    server.start_bot(ADA).unwrap();
    server.start_bot((77, "Bob")).unwrap();
    let later = server
        .post_as_user(group, ADA, "after starting the bot")
        .unwrap();

    // The first event is the group message: the /start updates before it meant nothing.
    let s = r.next("the group message").await;
    assert_eq!(s.event.room.room.as_str(), group.to_string());
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    assert_eq!(m.id.as_str(), later.to_string());
    assert_eq!(
        s.event.sender.language.as_deref(),
        Some("en"),
        "language_code is carried"
    );
    s.ack.send(()).unwrap();

    // The batch is confirmed, /start updates with it: Telegram would not send them again.
    all_confirmed(&server).await;
    // Private messages alone: nothing is submitted, and they are confirmed all the same.
    server.start_bot(ADA).unwrap();
    all_confirmed(&server).await;
    r.none_within(Duration::from_millis(300)).await;
    r.stop().await;
}

/// Waits until every update has been confirmed by a `getUpdates` offset.
async fn all_confirmed(server: &TelegramServer) {
    wait_until(WAIT, "every update confirmed, the private ones too", || {
        server.pending_updates() == 0
    })
    .await;
}
