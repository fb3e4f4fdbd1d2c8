//! What the bridge posts appears correctly to the staff client.

use crate::common::scene;
use civicbridge_api::{
    AttachmentKind, Connector, Outgoing, OutgoingFile, Persona, RemoteMsgId, RichText, RoomId,
    Span, ThreadId, ThreadTarget,
};

fn attributed(room: &RoomId, txn: &str, name: &str, text: &str) -> Outgoing {
    let mut out = Outgoing::text(
        room.clone(),
        txn,
        RichText {
            spans: vec![
                Span::Bold(vec![Span::Text(format!("{name} (Telegram):"))]),
                Span::Text(format!(" {text}")),
            ],
        },
    );
    out.persona = Some(Persona {
        display_name: name.into(),
        avatar_url: None,
        platform_label: "Telegram".into(),
    });
    out
}

#[tokio::test]
async fn bridged_message_reply_thread_reply_edit_and_redaction_appear_to_staff() {
    let s = scene(false, None).await;
    let room = RoomId::new(s.room.to_string());
    let c = &s.connector;

    // Attribution: bold name prefix plus an MSC4144 per-message profile.
    let first = c
        .send(&attributed(
            &room,
            "job-1",
            "Resident Rob",
            "pothole on <Elm> St",
        ))
        .await
        .unwrap();
    assert_eq!(first.ids.len(), 1);
    assert_eq!(first.thread, None);
    let root = first.ids[0].clone();
    let ev = s.staff.event_json(&s.room, root.as_str()).await;
    assert_eq!(ev["sender"], c.user_id());
    assert_eq!(ev["content"]["msgtype"], "m.text");
    assert_eq!(
        ev["content"]["body"],
        "Resident Rob (Telegram): pothole on <Elm> St"
    );
    assert_eq!(
        ev["content"]["formatted_body"],
        "<strong>Resident Rob (Telegram):</strong> pothole on &lt;Elm&gt; St"
    );
    assert_eq!(
        ev["content"]["com.beeper.per_message_profile"]["displayname"],
        "Resident Rob"
    );
    assert_eq!(ev["content"]["m.mentions"], serde_json::json!({}));

    // A reply.
    let mut reply = attributed(&room, "job-2", "Resident Rob", "it is deep");
    reply.reply_to = Some(root.clone());
    let reply_id = c.send(&reply).await.unwrap().ids[0].clone();
    let ev = s.staff.event_json(&s.room, reply_id.as_str()).await;
    assert_eq!(
        ev["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        root.as_str()
    );

    // A thread reply starting a thread from the root, then one into the existing thread.
    let mut t1 = attributed(&room, "job-3", "Resident Rob", "photo coming");
    t1.thread = Some(ThreadTarget::StartFrom(root.clone()));
    let receipt = c.send(&t1).await.unwrap();
    assert_eq!(receipt.thread, Some(ThreadId::new(root.as_str())));
    let ev = s.staff.event_json(&s.room, receipt.ids[0].as_str()).await;
    assert_eq!(ev["content"]["m.relates_to"]["rel_type"], "m.thread");
    assert_eq!(ev["content"]["m.relates_to"]["event_id"], root.as_str());
    let mut t2 = attributed(&room, "job-4", "Resident Rob", "here it is");
    t2.thread = Some(ThreadTarget::Existing(ThreadId::new(root.as_str())));
    t2.reply_to = Some(receipt.ids[0].clone());
    let receipt2 = c.send(&t2).await.unwrap();
    let ev = s.staff.event_json(&s.room, receipt2.ids[0].as_str()).await;
    assert_eq!(ev["content"]["m.relates_to"]["event_id"], root.as_str());
    assert_eq!(ev["content"]["m.relates_to"]["is_falling_back"], false);
    assert_eq!(
        ev["content"]["m.relates_to"]["m.in_reply_to"]["event_id"],
        receipt.ids[0].as_str()
    );
    // The server sees a thread with both replies.
    let thread = s
        .staff
        .room(&s.room)
        .relations(
            root.as_str().try_into().unwrap(),
            matrix_sdk::room::RelationsOptions {
                include_relations: matrix_sdk::room::IncludeRelations::RelationsOfType(
                    matrix_sdk::ruma::events::relation::RelationType::Thread,
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(thread.chunk.len(), 2);

    // An edit, shown as the new text.
    c.edit(
        &room,
        &root,
        &attributed(
            &room,
            "job-1-edit",
            "Resident Rob",
            "pothole on Elm St (fixed?)",
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        s.staff.shown_text(&s.room, root.as_str()).await.as_deref(),
        Some("Resident Rob (Telegram): pothole on Elm St (fixed?)")
    );

    // A redaction.
    c.delete(&room, &reply_id).await.unwrap();
    assert_eq!(s.staff.shown_text(&s.room, reply_id.as_str()).await, None);
}

#[tokio::test]
async fn notices_reactions_attachments_and_idempotent_retries() {
    let s = scene(false, None).await;
    let room = RoomId::new(s.room.to_string());
    let c = &s.connector;

    let mut card = Outgoing::text(room.clone(), "card-1", "Approve #12? React ✅");
    card.notice = true;
    let card_id = c.send(&card).await.unwrap().ids[0].clone();
    let ev = s.staff.event_json(&s.room, card_id.as_str()).await;
    assert_eq!(ev["content"]["msgtype"], "m.notice");

    // The same job sent twice (a retry after a crash) posts once.
    let again = c.send(&card).await.unwrap();
    assert_eq!(again.ids, vec![card_id.clone()]);

    // Reactions, repeated safely.
    c.react(&room, &card_id, "👀").await.unwrap();
    c.react(&room, &card_id, "👀").await.unwrap();
    let rel = s
        .staff
        .room(&s.room)
        .relations(
            card_id.as_str().try_into().unwrap(),
            matrix_sdk::room::RelationsOptions {
                include_relations: matrix_sdk::room::IncludeRelations::RelationsOfType(
                    matrix_sdk::ruma::events::relation::RelationType::Annotation,
                ),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rel.chunk.len(), 1, "one reaction, not two");
    let reaction: serde_json::Value = rel.chunk[0].raw().deserialize_as().unwrap();
    assert_eq!(reaction["content"]["m.relates_to"]["key"], "👀");

    // An attachment with a caption: text first, then the uploaded file.
    let mut out = Outgoing::text(room.clone(), "job-file", "the report");
    out.attachments = vec![OutgoingFile {
        kind: AttachmentKind::File,
        name: "report.txt".into(),
        mime: Some("text/plain".into()),
        data: b"quarterly numbers".to_vec(),
    }];
    let receipt = c.send(&out).await.unwrap();
    assert_eq!(receipt.ids.len(), 2);
    let file_ev = s.staff.event_json(&s.room, receipt.ids[1].as_str()).await;
    assert_eq!(file_ev["content"]["msgtype"], "m.file");
    assert_eq!(file_ev["content"]["body"], "report.txt");
    assert_eq!(file_ev["content"]["info"]["mimetype"], "text/plain");
    // A retry of the same job posts neither the text nor the file again.
    assert_eq!(c.send(&out).await.unwrap().ids, receipt.ids);
    let mxc = file_ev["content"]["url"].as_str().unwrap().to_owned();
    let downloaded = s
        .staff
        .client
        .media()
        .get_media_content(
            &matrix_sdk::media::MediaRequestParameters {
                source: matrix_sdk::ruma::events::room::MediaSource::Plain(mxc.into()),
                format: matrix_sdk::media::MediaFormat::File,
            },
            false,
        )
        .await
        .unwrap();
    assert_eq!(downloaded, b"quarterly numbers");

    // Errors are classified. M_FORBIDDEN: the bot (power level 0) may not redact staff's
    // message.
    let staff_msg = s.staff.post(&s.room, "mine").await;
    let err = c
        .delete(&room, &RemoteMsgId::new(staff_msg))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, civicbridge_api::ConnectorError::Rejected(m) if m.contains("M_FORBIDDEN")),
        "{err:?}"
    );
    // An unknown event cannot be reacted to.
    let err = c
        .react(&room, &RemoteMsgId::new("$doesnotexist"), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, civicbridge_api::ConnectorError::Rejected(_)),
        "{err:?}"
    );
}
