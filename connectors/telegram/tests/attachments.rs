//! Photos and documents: residents' files arrive as attachments the core can fetch and re-send.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{
    AttachmentKind, Connector, ConnectorError, EventKind, MemoryState, Outgoing, OutgoingFile,
    RichText, RoomId, Span,
};
use civicbridge_testkit::telegram::{FileKind, Media, Post, ResidentFile, TelegramServer};
use common::{connector, run, ADA};
use std::sync::Arc;

fn jpeg() -> Vec<u8> {
    civicbridge_testkit::telegram::png(120, 90)
}

#[tokio::test]
async fn a_residents_photo_arrives_as_an_attachment_the_core_can_resend() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let other = server.create_group("Partners");
    let conn = connector(&server);
    let mut r = run(conn.clone(), Arc::new(MemoryState::default()));

    server.send_photo(chat, ADA, jpeg(), "the pothole").unwrap();
    let s = r.next("photo").await;
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    assert_eq!(m.text.to_plain(), "the pothole", "the caption is the text");
    assert_eq!(m.attachments.len(), 1);
    let att = &m.attachments[0];
    assert_eq!(att.kind, AttachmentKind::Image);
    assert_eq!(att.size, Some(jpeg().len() as u64));
    assert!(
        !att.url.contains(server.token()),
        "a file reference never carries the token"
    );
    let att = att.clone();
    s.ack.send(()).unwrap();

    let bytes = conn.fetch(&att).await.unwrap();
    assert_eq!(bytes, jpeg());

    let mut o = Outgoing::text(
        RoomId::new(other.to_string()),
        "re-send",
        RichText {
            spans: vec![
                Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
                Span::Text(" the pothole".into()),
            ],
        },
    );
    o.attachments = vec![OutgoingFile {
        kind: att.kind,
        name: att.name.clone(),
        mime: att.mime.clone(),
        data: bytes,
    }];
    let receipt = conn.send(&o).await.unwrap();
    assert_eq!(receipt.ids.len(), 1, "the text rides as the caption");
    let shown = server.bot_messages(other);
    assert!(matches!(shown[0].media, Some(Media::Photo { .. })));
    assert_eq!(shown[0].file.as_deref(), Some(&jpeg()[..]));
    assert_eq!(shown[0].text, "Ada (Telegram): the pothole");
    assert_eq!(shown[0].entities.len(), 1);
    r.stop().await;
}

#[tokio::test]
async fn a_long_text_goes_before_its_files_and_documents_stay_documents() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let long = "word ".repeat(300);
    let mut o = Outgoing::text(
        RoomId::new(chat.to_string()),
        "t",
        RichText::plain(long.trim_end()),
    );
    o.attachments = vec![OutgoingFile {
        kind: AttachmentKind::File,
        name: "minutes.pdf".into(),
        mime: Some("application/pdf".into()),
        data: b"%PDF-1.4 minutes".to_vec(),
    }];
    let receipt = conn.send(&o).await.unwrap();
    assert_eq!(receipt.ids.len(), 2);
    let shown = server.bot_messages(chat);
    assert_eq!(shown[0].text, long.trim_end());
    assert!(shown[0].media.is_none());
    assert!(matches!(shown[1].media, Some(Media::Document { .. })));
    assert_eq!(
        shown[1].text, "",
        "no caption once the text went on its own"
    );
}

#[tokio::test]
async fn files_over_20_mb_are_rejected_with_a_clear_notice() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let mut r = run(conn.clone(), Arc::new(MemoryState::default()));
    let big = ResidentFile {
        kind: FileKind::Document,
        name: Some("video.mov".into()),
        mime: Some("video/quicktime".into()),
        data: vec![0u8; 21 * 1024 * 1024],
    };
    server.post(chat, ADA, Post::text("").file(big)).unwrap();
    let s = r.next("document").await;
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    let mut att = m.attachments[0].clone();
    s.ack.send(()).unwrap();
    assert_eq!(att.kind, AttachmentKind::File);
    assert_eq!(att.name, "video.mov");

    let e = conn.fetch(&att).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(t) if t.contains("20 MB")),
        "{e:?}"
    );
    // Without a known size, getFile's own refusal gives the same notice.
    att.size = None;
    let e = conn.fetch(&att).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(t) if t.contains("20 MB")),
        "{e:?}"
    );
    r.stop().await;
}

#[tokio::test]
async fn voice_stickers_and_documents_arrive_with_their_kinds() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));
    let file = |kind, name: Option<&str>, mime: &str| ResidentFile {
        kind,
        name: name.map(str::to_owned),
        mime: Some(mime.into()),
        data: vec![7; 64],
    };
    server
        .post(
            chat,
            ADA,
            Post::text("").file(file(FileKind::Voice, None, "audio/ogg")),
        )
        .unwrap();
    server
        .post(
            chat,
            ADA,
            Post::text("").file(file(FileKind::Sticker, None, "image/webp")),
        )
        .unwrap();
    server
        .post(
            chat,
            ADA,
            Post::text("the minutes").file(file(
                FileKind::Document,
                Some("minutes.pdf"),
                "application/pdf",
            )),
        )
        .unwrap();
    let mut kinds = Vec::new();
    for what in ["voice", "sticker", "document"] {
        let s = r.next(what).await;
        let EventKind::Message(m) = &s.event.kind else {
            panic!("{:?}", s.event)
        };
        assert_eq!(m.attachments.len(), 1, "{what}");
        kinds.push((
            m.attachments[0].kind,
            m.attachments[0].name.clone(),
            m.text.to_plain(),
        ));
        s.ack.send(()).unwrap();
    }
    assert_eq!(kinds[0].0, AttachmentKind::Voice);
    assert_eq!(kinds[1].0, AttachmentKind::Sticker);
    assert_eq!(
        kinds[2],
        (
            AttachmentKind::File,
            "minutes.pdf".into(),
            "the minutes".into()
        )
    );
    r.stop().await;
}

#[tokio::test]
async fn uploads_respect_the_configured_limit_and_big_images_go_as_documents() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut c = common::config(&server);
    c.max_attachment_bytes = 12 * 1024 * 1024;
    let conn = civicbridge_telegram::TelegramConnector::new(c).unwrap();
    assert_eq!(
        conn.capabilities().max_attachment_bytes,
        Some(12 * 1024 * 1024)
    );
    let file = |len: usize| OutgoingFile {
        kind: AttachmentKind::Image,
        name: "scan.png".into(),
        mime: Some("image/png".into()),
        data: vec![1; len],
    };
    let mut o = Outgoing::text(RoomId::new(chat.to_string()), "t", RichText::plain("scan"));
    o.attachments = vec![file(13 * 1024 * 1024)];
    let e = conn.send(&o).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(t) if t.contains("scan.png")),
        "{e:?}"
    );
    assert!(server.bot_messages(chat).is_empty());

    // Bots may send photos up to 10 MB; a bigger image still arrives, as a document.
    o.attachments = vec![file(11 * 1024 * 1024)];
    conn.send(&o).await.unwrap();
    let shown = server.bot_messages(chat);
    assert!(matches!(shown[0].media, Some(Media::Document { .. })));
    assert_eq!(shown[0].text, "scan");
}
