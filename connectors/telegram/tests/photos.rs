//! Photos: the local server refuses what Telegram cannot decode as an image and reports the sizes
//! Telegram keeps; the connector sends such a file again as a document, so it still crosses.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{AttachmentKind, Connector, Outgoing, OutgoingFile, RichText, RoomId, Span};
use civicbridge_testkit::telegram::{png, Media, TelegramServer};
use common::connector;
use serde_json::{json, Value};

fn image(chat: i64, name: &str, data: Vec<u8>) -> Outgoing {
    let text = RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("Ada (Matrix):".into())]),
            Span::Text(" my street 🌳".into()),
        ],
    };
    let mut o = Outgoing::text(RoomId::new(chat.to_string()), "t1", text);
    o.attachments = vec![OutgoingFile {
        kind: AttachmentKind::Image,
        name: name.into(),
        mime: None,
        data,
    }];
    o
}

async fn upload(server: &TelegramServer, chat: i64, data: Vec<u8>) -> (u16, Value) {
    let form = reqwest::multipart::Form::new()
        .text("chat_id", chat.to_string())
        .part(
            "photo",
            reqwest::multipart::Part::bytes(data).file_name("p.jpg"),
        );
    let r = reqwest::Client::new()
        .post(format!("{}/bot{}/sendPhoto", server.url(), server.token()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn send_photo_refuses_what_is_not_an_image_and_reports_real_sizes() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");

    let (status, body) = upload(&server, chat, b"\xFF\xD8 not really a jpeg".to_vec()).await;
    assert_eq!(
        (status, body),
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: IMAGE_PROCESS_FAILED"})
        )
    );
    let (status, body) = upload(&server, chat, png(2100, 100)).await;
    assert_eq!(
        (status, body["description"].clone()),
        (400, json!("Bad Request: PHOTO_INVALID_DIMENSIONS"))
    );
    assert!(server.bot_messages(chat).is_empty(), "nothing was posted");

    let (status, body) = upload(&server, chat, png(3000, 2000)).await;
    assert_eq!(status, 200);
    let sizes = body["result"]["photo"].as_array().unwrap();
    let dims: Vec<(u64, u64)> = sizes
        .iter()
        .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        dims,
        [(90, 60), (320, 213), (800, 533), (1280, 853), (2560, 1707)]
    );
    for s in sizes {
        for k in ["file_id", "file_unique_id"] {
            assert!(s[k].as_str().is_some_and(|v| !v.is_empty()), "{k} in {s}");
        }
        assert!(s["file_size"].as_u64().is_some_and(|n| n > 0));
    }
    let ids: std::collections::HashSet<&str> =
        sizes.iter().filter_map(|s| s["file_id"].as_str()).collect();
    assert_eq!(ids.len(), 5, "each size is its own file");
}

#[tokio::test]
async fn an_image_telegram_cannot_decode_crosses_as_a_document_with_its_caption() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    let o = image(chat, "IMG_0001.heic", heic.clone());
    let receipt = conn.send(&o).await.unwrap();
    assert_eq!(receipt.ids.len(), 1);

    let shown = server.bot_messages(chat);
    assert_eq!(
        shown.len(),
        1,
        "one message: the refused photo was never posted"
    );
    assert!(matches!(shown[0].media, Some(Media::Document { .. })));
    assert_eq!(shown[0].file.as_deref(), Some(&heic[..]));
    assert_eq!(shown[0].text, "Ada (Matrix): my street 🌳");
    assert_eq!(
        shown[0].entities,
        vec![json!({"type": "bold", "offset": 0, "length": 13})]
    );
    assert_eq!(receipt.ids[0].as_str(), shown[0].id.to_string());

    // A real picture still goes as a photo.
    let o = image(chat, "street.png", png(640, 480));
    conn.send(&o).await.unwrap();
    let shown = server.bot_messages(chat);
    assert!(matches!(shown[1].media, Some(Media::Photo { .. })));
}
