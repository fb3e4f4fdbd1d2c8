//! What staff do in Matrix reaches the bridge as the right `Event`.

use crate::common::{hs, is_message, memory_state, run, scene, until_fast_path, Staff, WAIT};
use civicbridge_api::{AttachmentKind, Connector, EventKind, RemoteMsgId, Span, ThreadId};
use civicbridge_matrix::MatrixConnector;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn staff_message_thread_reply_edit_redaction_and_reaction_arrive_as_events() {
    let s = scene(false, None).await;
    let mut r = run(s.connector.clone(), memory_state());
    let staff_id = s.staff.client.user_id().unwrap().to_string();

    // A formatted staff message, with the sender's display name.
    s.staff
        .client
        .account()
        .set_display_name(Some("Clerk Ada"))
        .await
        .unwrap();
    name_shown(&s, "Clerk Ada").await;
    let root = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "Road **closed** <today>",
                   "format": "org.matrix.custom.html",
                   "formatted_body": "Road <strong>closed</strong> &lt;today&gt;<script>x</script>"}),
        )
        .await;
    let e = r.until(|e| is_message(e, &root)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(e.sender.id.as_str(), staff_id);
    assert!(!e.sender.is_bridge);
    assert_eq!(e.sender.display_name, "Clerk Ada");
    assert_eq!(e.id.as_str(), root);
    assert_eq!(
        m.text.spans,
        vec![
            Span::Text("Road ".into()),
            Span::Bold(vec![Span::Text("closed".into())]),
            Span::Text(" <today>".into())
        ]
    );

    // A threaded reply.
    let in_thread = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "until 5pm",
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
    assert_eq!(m.reply_to, None);

    // A plain reply.
    let reply = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "noted",
                   "m.relates_to": {"m.in_reply_to": {"event_id": in_thread}}}),
        )
        .await;
    let e = r.until(|e| is_message(e, &reply)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.reply_to, Some(RemoteMsgId::new(in_thread.clone())));

    // An edit.
    let edit = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.text", "body": "* Road closed until 6pm",
                   "m.new_content": {"msgtype": "m.text", "body": "Road closed until 6pm"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": root}}),
        )
        .await;
    let e = r.until(|e| e.id.as_str() == edit).await;
    match &e.kind {
        EventKind::Edit { target, new } => {
            assert_eq!(target.as_str(), root);
            assert_eq!(new.text.to_plain(), "Road closed until 6pm");
        }
        other => panic!("expected an edit, got {other:?}"),
    }

    // A reaction.
    let reaction = s
        .staff
        .send_json(
            &s.room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": reply, "key": "✅"}}),
        )
        .await;
    let e = r.until(|e| e.id.as_str() == reaction).await;
    assert_eq!(
        e.kind,
        EventKind::Reaction {
            target: RemoteMsgId::new(reply.clone()),
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

    // A redaction.
    let redaction = s
        .staff
        .room(&s.room)
        .redact(
            &matrix_sdk::ruma::OwnedEventId::try_from(reply.as_str()).unwrap(),
            Some("oops"),
            None,
        )
        .await
        .unwrap();
    let e = r
        .until(|e| e.id.as_str() == redaction.event_id.as_str())
        .await;
    assert_eq!(
        e.kind,
        EventKind::Delete {
            target: RemoteMsgId::new(reply)
        }
    );
    r.stop().await;
}

#[tokio::test]
async fn notices_emotes_and_files_arrive_and_files_can_be_fetched() {
    let s = scene(false, None).await;
    let mut r = run(s.connector.clone(), memory_state());
    let notice = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.notice", "body": "fyi"}),
        )
        .await;
    let e = r.until(|e| is_message(e, &notice)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.text.to_plain(), "fyi");

    let emote = s
        .staff
        .send_json(
            &s.room,
            "m.room.message",
            json!({"msgtype": "m.emote", "body": "waves"}),
        )
        .await;
    let e = r.until(|e| is_message(e, &emote)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert!(m.text.to_plain().ends_with(" waves"), "{:?}", m.text);

    let bytes = b"minutes of the meeting".to_vec();
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
    let id = sent.event_id.to_string();
    let e = r.until(|e| is_message(e, &id)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.kind, AttachmentKind::File);
    assert_eq!(a.name, "minutes.txt");
    assert!(a.url.starts_with("mxc://"), "{}", a.url);
    assert_eq!(s.connector.fetch(a).await.unwrap(), bytes);
    r.stop().await;
}

#[tokio::test]
async fn invites_to_configured_rooms_are_accepted_and_others_declined() {
    let hs = hs().await;
    let staff = Staff::new(hs).await;
    let b = crate::common::bot(hs).await;
    let connector = Arc::new(MatrixConnector::connect(b.config.clone()).await.unwrap());
    let mut cfg = b.config.clone();
    // Rooms created after connect: the running connector answers their invites.
    let wanted = staff.create_room(&b.user.user_id, false, None).await;
    let unwanted = staff.create_room(&b.user.user_id, false, None).await;
    drop(connector);
    cfg.rooms = vec![wanted.to_string()];
    // Restart with the room configured (invites seen while down are answered on the first sync).
    let connector = Arc::new(MatrixConnector::connect(cfg).await.unwrap());
    let r = run(connector.clone(), memory_state());
    staff.wait_joined(&wanted, &b.user.user_id).await;
    let bot_user: matrix_sdk::ruma::OwnedUserId = b.user.user_id.as_str().try_into().unwrap();
    let room = staff.room(&unwanted);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        room.sync_members().await.ok();
        let m = room.get_member(&bot_user).await.unwrap();
        if m.is_some_and(|m| {
            *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Leave
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "invite never declined"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.stop().await;
}

/// The connector caches who sent what (`sync/senders.rs`) while reading plain responses without
/// the SDK. A display-name change is room state, so it must empty that cache: the next message
/// carries the new name, not the one cached from the warm-up.
#[tokio::test]
async fn a_new_display_name_reaches_the_next_message_on_the_fast_path() {
    let s = scene(false, None).await;
    let mut r = run(s.connector.clone(), memory_state());
    until_fast_path(&s, &mut r).await;
    let before = s.staff.post(&s.room, "under the old name").await;
    let e = r.until(|e| is_message(e, &before)).await;
    assert_ne!(e.sender.display_name, "Clerk Bea");

    s.staff
        .client
        .account()
        .set_display_name(Some("Clerk Bea"))
        .await
        .unwrap();
    name_shown(&s, "Clerk Bea").await;
    let after = s.staff.post(&s.room, "under the new name").await;
    let e = r.until(|e| is_message(e, &after)).await;
    assert_eq!(e.sender.display_name, "Clerk Bea");
    r.stop().await;
}

/// Waits until the room shows the staff member under `name`. Synapse rewrites the member event
/// in each room after a profile change; a message posted before that rightly carries the old
/// name.
async fn name_shown(s: &crate::common::Scene, name: &str) {
    let me = s.staff.client.user_id().unwrap().to_owned();
    let staff_room = s.staff.room(&s.room);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        staff_room.sync_members().await.ok();
        let m = staff_room.get_member(&me).await.unwrap();
        if m.is_some_and(|m| m.display_name() == Some(name)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "name never changed to {name}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
