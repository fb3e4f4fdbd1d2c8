//! Entities as Telegram treats them: it trims the text, drops links, mentions, hashtags and
//! commands a client marks, and detects them itself in every message. The connector's styling
//! survives that both ways, with emoji and CJK around (offsets are UTF-16 code units).
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, EventKind, MemoryState, Outgoing, RichText, RoomId, Span};
use civicbridge_testkit::telegram::{Post, TelegramServer};
use common::{connector, run, ADA};
use serde_json::{json, Value};
use std::sync::Arc;

/// `(type, the text it covers)` for each entity.
fn covered(text: &str, entities: &[Value]) -> Vec<(String, String)> {
    let units: Vec<u16> = text.encode_utf16().collect();
    entities
        .iter()
        .map(|e| {
            let o = e["offset"].as_u64().unwrap() as usize;
            let l = e["length"].as_u64().unwrap() as usize;
            (
                e["type"].as_str().unwrap().to_owned(),
                String::from_utf16(&units[o..o + l]).unwrap(),
            )
        })
        .collect()
}

/// An entity over the first `needle` in `text`, in UTF-16 units.
fn over(text: &str, needle: &str, kind: &str) -> Value {
    let start = text.find(needle).unwrap();
    json!({
        "type": kind,
        "offset": text[..start].encode_utf16().count(),
        "length": needle.encode_utf16().count(),
    })
}

fn t(s: &str) -> Span {
    Span::Text(s.into())
}

#[tokio::test]
async fn a_residents_styles_survive_trimming_and_detection() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let mut r = run(connector(&server), Arc::new(MemoryState::default()));

    let raw =
        "  😀 漢字 bold, 見て italic, リンク, let x see https://x.org/路 @adalovelace #roads\n";
    let mut link = over(raw, "リンク", "text_link");
    link["url"] = json!("https://example.org/l");
    let entities = vec![
        over(raw, "漢字 bold", "bold"),
        over(raw, "見て italic", "italic"),
        link,
        over(raw, "let x", "code"),
        // What a client marks itself is dropped and detected again.
        over(raw, "see", "url"),
    ];
    let id = server
        .post(chat, ADA, Post::text(raw).entities(entities))
        .unwrap();
    let shown = server.message(chat, id).unwrap();
    assert_eq!(shown.text, raw.trim());
    assert_eq!(
        covered(&shown.text, &shown.entities),
        [
            ("bold", "漢字 bold"),
            ("italic", "見て italic"),
            ("text_link", "リンク"),
            ("code", "let x"),
            ("url", "https://x.org/路"),
            ("mention", "@adalovelace"),
            ("hashtag", "#roads"),
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );

    let s = r.next("the message").await;
    let EventKind::Message(m) = &s.event.kind else {
        panic!("{:?}", s.event)
    };
    assert_eq!(
        m.text.spans,
        vec![
            t("😀 "),
            Span::Bold(vec![t("漢字 bold")]),
            t(", "),
            Span::Italic(vec![t("見て italic")]),
            t(", "),
            Span::Link {
                url: "https://example.org/l".into(),
                children: vec![t("リンク")]
            },
            t(", "),
            Span::Code("let x".into()),
            t(" see https://x.org/路 "),
            Span::Mention {
                user: None,
                name: "adalovelace".into()
            },
            t(" #roads"),
        ]
    );
    s.ack.send(()).unwrap();
    r.stop().await;
}

#[tokio::test]
async fn the_bridges_styles_arrive_with_what_telegram_detects_beside_them() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let text = RichText {
        spans: vec![
            t("\n "),
            Span::Bold(vec![t("Ada (Matrix):")]),
            t(" 😀 漢字 "),
            Span::Italic(vec![t("見て")]),
            t(" "),
            Span::Link {
                url: "https://example.org/l".into(),
                children: vec![t("リンク")],
            },
            t(" "),
            Span::Code("x.org".into()),
            t(" see https://x.org "),
            Span::Mention {
                user: None,
                name: "adalovelace".into(),
            },
            t(" 🚧\n\n"),
        ],
    };
    let room = RoomId::new(chat.to_string());
    let receipt = conn
        .send(&Outgoing::text(room.clone(), "t1", text))
        .await
        .unwrap();
    let id: i32 = receipt.ids[0].as_str().parse().unwrap();
    let shown = server.message(chat, id).unwrap();
    assert_eq!(
        shown.text,
        "Ada (Matrix): 😀 漢字 見て リンク x.org see https://x.org @adalovelace 🚧"
    );
    assert_eq!(
        covered(&shown.text, &shown.entities),
        [
            ("bold", "Ada (Matrix):"),
            ("italic", "見て"),
            ("text_link", "リンク"),
            ("code", "x.org"),
            ("url", "https://x.org"),
            ("mention", "@adalovelace"),
        ]
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
    );

    // Editing to the same text is recognised as unchanged, detected entities and all.
    let same = Outgoing::text(room.clone(), "t2", RichText::plain(shown.text.clone()));
    conn.edit(&room, &receipt.ids[0], &same).await.unwrap();
    conn.edit(&room, &receipt.ids[0], &same).await.unwrap();
}

#[tokio::test]
async fn a_long_text_whose_cut_leaves_only_whitespace_still_arrives_whole() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    let text = format!("{}{}tail", "a".repeat(4000), "\n".repeat(4200));
    let room = RoomId::new(chat.to_string());
    let receipt = conn
        .send(&Outgoing::text(room, "t1", RichText::plain(text)))
        .await
        .unwrap();
    let shown: Vec<String> = server
        .bot_messages(chat)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(shown, vec!["a".repeat(4000), "tail".to_owned()]);
    assert_eq!(receipt.ids.len(), 2, "one id per message posted");
}
