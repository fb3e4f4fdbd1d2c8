//! Encrypted rooms both ways: the bot decrypts staff messages and encrypts what it posts, and
//! a restarted bot (same device, same keys) still does.

use crate::common::{is_message, memory_state, run, scene, until_fast_path};
use civicbridge_api::{
    Connector, EventKind, Outgoing, RemoteMsgId, RoomId, ThreadId, ThreadTarget,
};
use civicbridge_matrix::MatrixConnector;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn staff_messages_are_decrypted_and_bridged_messages_are_encrypted() {
    let s = scene(true, None).await;
    let room = RoomId::new(s.room.to_string());
    let mut r = run(s.connector.clone(), memory_state());

    // Staff -> bridge: a message, a thread reply and an edit, all encrypted, and a reaction and
    // its removal (matrix-sdk 0.18 sends `m.reaction` in the clear even in encrypted rooms).
    let root = s.staff.post(&s.room, "confidential: budget draft").await;
    let e = r.until(|e| is_message(e, &root)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.text.to_plain(), "confidential: budget draft");

    let raw = s
        .staff
        .room(&s.room)
        .event(
            &matrix_sdk::ruma::OwnedEventId::try_from(root.as_str()).unwrap(),
            None,
        )
        .await;
    assert!(
        raw.unwrap().encryption_info().is_some(),
        "the staff message really was encrypted"
    );

    let in_thread = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "page 2",
                   "m.relates_to": {"rel_type": "m.thread", "event_id": root,
                                    "is_falling_back": true,
                                    "m.in_reply_to": {"event_id": root}}}),
        )
        .await;
    let e = r.until(|e| is_message(e, &in_thread)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.thread, Some(ThreadId::new(root.clone())));

    let edit = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "* budget v2",
                   "m.new_content": {"msgtype": "m.text", "body": "budget v2"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": root}}),
        )
        .await;
    let e = r.until(|e| e.id.as_str() == edit).await;
    assert!(
        matches!(&e.kind, EventKind::Edit { target, new } if target.as_str() == root && new.text.to_plain() == "budget v2"),
        "{:?}",
        e.kind
    );

    let reaction = s
        .staff
        .send_json(
            &s.room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": root, "key": "✅"}}),
        )
        .await;
    let e = r.until(|e| e.id.as_str() == reaction).await;
    assert_eq!(
        e.kind,
        EventKind::Reaction {
            target: RemoteMsgId::new(root.clone()),
            key: "✅".into(),
            id: Some(RemoteMsgId::new(reaction.clone())),
        }
    );
    // Its removal: the reaction's own redaction, which the core matches by the reaction's id.
    let unreaction = s
        .staff
        .room(&s.room)
        .redact(
            &matrix_sdk::ruma::OwnedEventId::try_from(reaction.as_str()).unwrap(),
            None,
            None,
        )
        .await
        .unwrap();
    let e = r
        .until(|e| e.id.as_str() == unreaction.event_id.as_str())
        .await;
    assert_eq!(
        e.kind,
        EventKind::Delete {
            target: RemoteMsgId::new(reaction)
        }
    );

    // Bridge -> staff: a message, a thread reply, an edit and a redaction, all encrypted.
    let sent = s
        .connector
        .send(&Outgoing::text(
            room.clone(),
            "enc-1",
            "Rob (Telegram): is it public yet?",
        ))
        .await
        .unwrap();
    let id = sent.ids[0].clone();
    let ev = s.staff.event_json(&s.room, id.as_str()).await;
    assert_eq!(ev["content"]["body"], "Rob (Telegram): is it public yet?");
    let raw = s
        .staff
        .room(&s.room)
        .event(
            &matrix_sdk::ruma::OwnedEventId::try_from(id.as_str()).unwrap(),
            None,
        )
        .await;
    assert!(
        raw.unwrap().encryption_info().is_some(),
        "the bot encrypted its message"
    );

    let mut t = Outgoing::text(room.clone(), "enc-2", "Rob (Telegram): in thread");
    t.thread = Some(ThreadTarget::StartFrom(RemoteMsgId::new(root.clone())));
    let tid = s.connector.send(&t).await.unwrap().ids[0].clone();
    let ev = s.staff.event_json(&s.room, tid.as_str()).await;
    assert_eq!(ev["content"]["m.relates_to"]["event_id"], root.as_str());

    s.connector
        .edit(
            &room,
            &id,
            &Outgoing::text(room.clone(), "enc-1-edit", "Rob (Telegram): edited"),
        )
        .await
        .unwrap();
    assert_eq!(
        s.staff.shown_text(&s.room, id.as_str()).await.as_deref(),
        Some("Rob (Telegram): edited")
    );
    // Files both ways: an encrypted upload from staff is fetched by the bot (its key stays in
    // the event), and the bot's file in a thread is encrypted and readable by staff.
    let bytes = b"draft minutes".to_vec();
    let sent = s
        .staff
        .room(&s.room)
        .send_attachment(
            "minutes.txt",
            &mime::TEXT_PLAIN,
            bytes.clone(),
            matrix_sdk::attachment::AttachmentConfig::new(),
        )
        .await
        .unwrap();
    let file_id = sent.event_id.to_string();
    let e = r.until(|e| is_message(e, &file_id)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    let a = &m.attachments[0];
    assert!(
        a.url
            .starts_with(civicbridge_matrix::inbound::EVENT_REF_PREFIX),
        "{}",
        a.url
    );
    assert_eq!(s.connector.fetch(a).await.unwrap(), bytes);

    let mut with_file = Outgoing::text(room.clone(), "enc-file", "");
    with_file.thread = Some(ThreadTarget::Existing(ThreadId::new(root.clone())));
    with_file.attachments = vec![civicbridge_api::OutgoingFile {
        kind: civicbridge_api::AttachmentKind::Image,
        name: "pothole.png".into(),
        mime: Some("image/png".into()),
        data: b"not really a png".to_vec(),
    }];
    let receipt = s.connector.send(&with_file).await.unwrap();
    assert_eq!(
        receipt.ids.len(),
        1,
        "no empty text message before the file"
    );
    let ev = s.staff.event_json(&s.room, receipt.ids[0].as_str()).await;
    assert_eq!(ev["content"]["msgtype"], "m.image");
    assert_eq!(ev["content"]["m.relates_to"]["event_id"], root.as_str());
    assert!(
        ev["content"].get("url").is_none(),
        "the file is not in the clear"
    );
    let file: matrix_sdk::ruma::events::room::EncryptedFile =
        serde_json::from_value(ev["content"]["file"].clone()).unwrap();
    let downloaded = s
        .staff
        .client
        .media()
        .get_media_content(
            &matrix_sdk::media::MediaRequestParameters {
                source: matrix_sdk::ruma::events::room::MediaSource::Encrypted(Box::new(file)),
                format: matrix_sdk::media::MediaFormat::File,
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(downloaded, b"not really a png");

    s.connector.delete(&room, &tid).await.unwrap();
    assert_eq!(s.staff.shown_text(&s.room, tid.as_str()).await, None);
    r.stop().await;

    // A restarted bot keeps its device and keys: it still reads new staff messages.
    let config = s.bot.config.clone();
    let device = s.connector.device_id();
    drop(s.connector);
    let connector = Arc::new(MatrixConnector::connect(config).await.unwrap());
    assert_eq!(connector.device_id(), device);
    let mut r = run(connector.clone(), memory_state());
    let after = s.staff.post(&s.room, "after the restart").await;
    let e = r.until(|e| is_message(e, &after)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.text.to_plain(), "after the restart");
    r.stop().await;
}

/// A room read on the fast path (`sync/plain.rs`: responses the connector reads without the
/// SDK) turns encrypted while the bridge runs. The response carrying `m.room.encryption` must
/// reach the SDK, or the bot would not decrypt what staff write next and would post in the
/// clear into an encrypted room.
#[tokio::test]
async fn a_room_turning_encrypted_while_read_on_the_fast_path_is_treated_as_encrypted() {
    let s = scene(false, None).await;
    let room = RoomId::new(s.room.to_string());
    let mut r = run(s.connector.clone(), memory_state());
    until_fast_path(&s, &mut r).await;

    s.staff
        .room(&s.room)
        .enable_encryption()
        .await
        .expect("staff turns encryption on");
    let device = s.connector.device_id().expect("bot device");
    s.staff
        .wait_knows_device(&s.bot.user.user_id, &device)
        .await;
    let secret = s.staff.post(&s.room, "from now on, private").await;
    let e = r.until(|e| is_message(e, &secret)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.text.to_plain(), "from now on, private", "decrypted");
    let staff_event = s
        .staff
        .room(&s.room)
        .event(
            &matrix_sdk::ruma::OwnedEventId::try_from(secret.as_str()).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(
        staff_event.encryption_info().is_some(),
        "the staff message really was encrypted"
    );

    let sent = s
        .connector
        .send(&Outgoing::text(
            room,
            "after-enc",
            "Rob (Telegram): still here",
        ))
        .await
        .unwrap();
    let on_server = s.staff.event_json(&s.room, sent.ids[0].as_str()).await;
    assert_eq!(on_server["content"]["body"], "Rob (Telegram): still here");
    let raw = s
        .staff
        .room(&s.room)
        .event(
            &matrix_sdk::ruma::OwnedEventId::try_from(sent.ids[0].as_str()).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(
        raw.encryption_info().is_some(),
        "the bot encrypted its message in the room that turned encrypted"
    );
    r.stop().await;
}
