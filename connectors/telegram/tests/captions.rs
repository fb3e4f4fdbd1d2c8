//! Editing a bridged photo or document edits its caption (`editMessageCaption`): Telegram has no
//! text to edit on a media message.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{AttachmentKind, Connector, Outgoing, OutgoingFile, RichText, RoomId, Span};
use civicbridge_testkit::telegram::{png, Media, TelegramServer};
use common::connector;
use serde_json::{json, Value};

fn with_file(chat: i64, text: RichText, kind: AttachmentKind, name: &str) -> Outgoing {
    let mut o = Outgoing::text(RoomId::new(chat.to_string()), "t1", text);
    o.attachments = vec![OutgoingFile {
        kind,
        name: name.into(),
        mime: None,
        data: png(40, 30),
    }];
    o
}

fn attributed(text: &str) -> RichText {
    RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("Kim (Matrix):".into())]),
            Span::Text(format!(" {text}")),
        ],
    }
}

#[tokio::test]
async fn editing_a_bridged_photo_edits_its_caption() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let room = RoomId::new(chat.to_string());
    let sent = with_file(
        chat,
        attributed("the pothole"),
        AttachmentKind::Image,
        "p.png",
    );
    let receipt = conn.send(&sent).await.unwrap();
    let id = &receipt.ids[0];
    let msg: i32 = id.as_str().parse().unwrap();
    assert!(matches!(
        server.message(chat, msg).unwrap().media,
        Some(Media::Photo { .. })
    ));

    let edit = Outgoing::text(room.clone(), "t2", attributed("the pothole, 🚧 fixed"));
    conn.edit(&room, id, &edit).await.unwrap();
    // The outbox may retry an edit that already landed: not an error.
    conn.edit(&room, id, &edit).await.unwrap();

    let m = server.message(chat, msg).unwrap();
    assert_eq!(m.text, "Kim (Matrix): the pothole, 🚧 fixed");
    assert_eq!(m.history, vec!["Kim (Matrix): the pothole".to_owned()]);
    assert_eq!(
        m.entities,
        vec![json!({"type": "bold", "offset": 0, "length": 13})]
    );
    assert!(
        matches!(m.media, Some(Media::Photo { .. })),
        "still a photo"
    );
}

#[tokio::test]
async fn editing_a_bridged_document_edits_its_caption() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let room = RoomId::new(chat.to_string());
    let sent = with_file(chat, attributed("minutes"), AttachmentKind::File, "m.pdf");
    let receipt = conn.send(&sent).await.unwrap();
    let id = &receipt.ids[0];
    conn.edit(
        &room,
        id,
        &Outgoing::text(room.clone(), "t2", attributed("minutes v2")),
    )
    .await
    .unwrap();
    let m = server.message(chat, id.as_str().parse().unwrap()).unwrap();
    assert_eq!(m.text, "Kim (Matrix): minutes v2");
    assert!(matches!(m.media, Some(Media::Document { .. })));
}

#[tokio::test]
async fn an_edit_that_empties_the_text_removes_a_photos_caption() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let room = RoomId::new(chat.to_string());
    let sent = with_file(chat, attributed("oops"), AttachmentKind::Image, "p.png");
    let receipt = conn.send(&sent).await.unwrap();
    let id = &receipt.ids[0];
    conn.edit(
        &room,
        id,
        &Outgoing::text(room.clone(), "t2", RichText::default()),
    )
    .await
    .unwrap();
    let msg: i32 = id.as_str().parse().unwrap();
    let m = server.message(chat, msg).unwrap();
    assert_eq!(m.text, "");
    assert!(m.entities.is_empty());
    let json = server.message_json(chat, msg).unwrap();
    assert!(json.get("caption").is_none(), "{json}");
}

async fn raw(
    server: &TelegramServer,
    method: &str,
    form: reqwest::multipart::Form,
) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/bot{}/{method}", server.url(), server.token()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn form(chat: i64) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().text("chat_id", chat.to_string())
}

#[tokio::test]
async fn edit_message_caption_refuses_as_telegram_does() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let refused = |d: &str| {
        (
            400u16,
            json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {d}")}),
        )
    };
    let (_, text) = raw(&server, "sendMessage", form(chat).text("text", "plain")).await;
    let photo = reqwest::multipart::Part::bytes(png(40, 30)).file_name("p.png");
    let (_, photo) = raw(
        &server,
        "sendPhoto",
        form(chat).part("photo", photo).text("caption", "old"),
    )
    .await;
    let edit = |id: &Value, caption: &str| {
        form(chat)
            .text("message_id", id.to_string())
            .text("caption", caption.to_owned())
    };

    assert_eq!(
        raw(
            &server,
            "editMessageCaption",
            edit(&text["result"]["message_id"], "c")
        )
        .await,
        refused("there is no caption in the message to edit")
    );
    assert_eq!(
        raw(&server, "editMessageCaption", edit(&json!(99), "c")).await,
        refused("message to edit not found")
    );
    assert_eq!(
        raw(&server, "editMessageCaption", edit(&photo["result"]["message_id"], " old\n")).await,
        refused("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"),
        "the caption is trimmed before it is compared"
    );
    let (status, edited) = raw(
        &server,
        "editMessageCaption",
        edit(&photo["result"]["message_id"], "new"),
    )
    .await;
    assert_eq!((status, &edited["result"]["caption"]), (200, &json!("new")));
}
