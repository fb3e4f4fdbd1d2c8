//! Inbound parsing of recorded event JSON (shapes as Synapse and Element send them).

use super::*;
use serde_json::json;

const ROOM: &str = "!Cuyf34gef24t2XH4sNyPMqRwfCXYL7AnbiFQO2Kmg7w";

fn ctx() -> InboundContext<'static> {
    InboundContext {
        room: ROOM,
        own_user: "@bridge:localhost",
        sender_name: Some("Ada Staff".into()),
        sender_avatar: None,
        sender_power: Some(standing_of(50)),
        sender_may_redact_others: false,
    }
}

fn ev(ty: &str, sender: &str, content: Value) -> Value {
    json!({
        "type": ty,
        "event_id": "$ev1",
        "sender": sender,
        "origin_server_ts": 1_700_000_000_123u64,
        "content": content,
        "unsigned": {"age": 5}
    })
}

fn message(e: &Event) -> &Message {
    match &e.kind {
        EventKind::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn a_text_message_becomes_a_message_with_sender_name() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.text", "body": "hello"}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert_eq!(e.id.as_str(), "$ev1");
    assert_eq!(e.room.room.as_str(), ROOM);
    assert_eq!(e.at_ms, 1_700_000_000_123);
    assert_eq!(e.sender.display_name, "Ada Staff");
    assert!(!e.sender.is_bridge);
    assert_eq!(
        e.sender.standing,
        Some(Standing::Moderator),
        "the standing travels with the sender"
    );
    assert_eq!(message(&e).text.to_plain(), "hello");
}

#[test]
fn the_bots_own_events_are_echoes() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@bridge:localhost",
            json!({"msgtype": "m.notice", "body": "card"}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert!(e.sender.is_bridge);
}

#[test]
fn html_is_sanitised_into_rich_text() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.text", "body": "**hi** <x>",
                   "format": "org.matrix.custom.html",
                   "formatted_body": "<strong>hi</strong> &lt;x&gt;<img src=\"mxc://a/b\">"}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert_eq!(
        message(&e).text.spans,
        vec![
            Span::Bold(vec![Span::Text("hi".into())]),
            Span::Text(" <x>".into())
        ]
    );
}

#[test]
fn thread_replies_carry_the_root_and_only_real_replies() {
    let falling_back = ev(
        "m.room.message",
        "@ada:localhost",
        json!({"msgtype": "m.text", "body": "in thread",
               "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                "is_falling_back": true,
                                "m.in_reply_to": {"event_id": "$latest"}}}),
    );
    let m = to_event(&falling_back, &ctx()).expect("converted");
    assert_eq!(message(&m).thread, Some(ThreadId::new("$root")));
    assert_eq!(message(&m).reply_to, None);

    let real_reply = ev(
        "m.room.message",
        "@ada:localhost",
        json!({"msgtype": "m.text", "body": "answer",
               "m.relates_to": {"rel_type": "m.thread", "event_id": "$root",
                                "is_falling_back": false,
                                "m.in_reply_to": {"event_id": "$q"}}}),
    );
    let m = to_event(&real_reply, &ctx()).expect("converted");
    assert_eq!(message(&m).reply_to, Some(RemoteMsgId::new("$q")));
}

#[test]
fn replies_drop_their_fallback() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.text", "body": "> <@b:localhost> old\n\nnew",
                   "m.relates_to": {"m.in_reply_to": {"event_id": "$old"}}}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert_eq!(message(&e).reply_to, Some(RemoteMsgId::new("$old")));
    assert_eq!(message(&e).text.to_plain(), "new");
}

#[test]
fn edits_use_the_new_content() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.text", "body": "* fixed",
                   "m.new_content": {"msgtype": "m.text", "body": "fixed"},
                   "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}}),
        ),
        &ctx(),
    )
    .expect("converted");
    match e.kind {
        EventKind::Edit { target, new } => {
            assert_eq!(target.as_str(), "$orig");
            assert_eq!(new.text.to_plain(), "fixed");
        }
        other => panic!("expected an edit, got {other:?}"),
    }
}

#[test]
fn redactions_in_old_and_new_room_versions() {
    let v11 = ev(
        "m.room.redaction",
        "@ada:localhost",
        json!({"redacts": "$x"}),
    );
    let mut old = ev("m.room.redaction", "@ada:localhost", json!({}));
    old["redacts"] = json!("$y");
    for (e, target) in [(v11, "$x"), (old, "$y")] {
        let e = to_event(&e, &ctx()).expect("converted");
        assert_eq!(
            e.kind,
            EventKind::Delete {
                target: RemoteMsgId::new(target)
            }
        );
    }
}

#[test]
fn a_sender_who_may_redact_others_is_reported_as_a_moderator() {
    let e = ev(
        "m.room.redaction",
        "@mod:localhost",
        json!({"redacts": "$x"}),
    );
    let plain = to_event(&e, &ctx()).expect("converted");
    assert_eq!(plain.sender.authority, Authority::Member);
    let mut c = ctx();
    c.sender_may_redact_others = true;
    let by_mod = to_event(&e, &c).expect("converted");
    assert_eq!(by_mod.sender.authority, Authority::Moderator);
    assert_eq!(by_mod.sender.id.as_str(), "@mod:localhost");
}

#[test]
fn reactions_are_annotations() {
    let e = to_event(
        &ev(
            "m.reaction",
            "@mod:localhost",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$card", "key": "✅"}}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert_eq!(
        e.kind,
        EventKind::Reaction {
            target: RemoteMsgId::new("$card"),
            key: "✅".into(),
            id: Some(RemoteMsgId::new("$ev1")),
        }
    );
}

#[test]
fn media_messages_become_attachments_without_secrets() {
    let plain = ev(
        "m.room.message",
        "@ada:localhost",
        json!({"msgtype": "m.image", "body": "cat.png", "url": "mxc://localhost/abc",
               "info": {"mimetype": "image/png", "size": 42}}),
    );
    let e = to_event(&plain, &ctx()).expect("converted");
    let m = message(&e);
    assert!(m.text.is_empty());
    assert_eq!(m.attachments[0].kind, AttachmentKind::Image);
    assert_eq!(m.attachments[0].url, "mxc://localhost/abc");
    assert_eq!(m.attachments[0].size, Some(42));

    let encrypted = ev(
        "m.room.message",
        "@ada:localhost",
        json!({"msgtype": "m.file", "body": "see this", "filename": "r.pdf",
               "file": {"url": "mxc://localhost/enc", "key": {"k": "SECRET"}, "iv": "x",
                        "hashes": {}, "v": "v2"}}),
    );
    let e = to_event(&encrypted, &ctx()).expect("converted");
    let m = message(&e);
    assert_eq!(m.text.to_plain(), "see this");
    assert_eq!(m.attachments[0].name, "r.pdf");
    assert!(!m.attachments[0].url.contains("SECRET"));
    assert!(m.attachments[0].url.starts_with(EVENT_REF_PREFIX));
}

#[test]
fn emotes_name_the_sender() {
    let e = to_event(
        &ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.emote", "body": "waves"}),
        ),
        &ctx(),
    )
    .expect("converted");
    assert_eq!(message(&e).text.to_plain(), "* Ada Staff waves");
}

#[test]
fn state_redacted_and_undecryptable_events_are_skipped() {
    for e in [
        ev(
            "m.room.member",
            "@ada:localhost",
            json!({"membership": "join"}),
        ),
        ev("m.room.message", "@ada:localhost", json!({})),
        ev(
            "m.room.encrypted",
            "@ada:localhost",
            json!({"algorithm": "m.megolm.v1.aes-sha2"}),
        ),
        ev(
            "m.room.message",
            "@ada:localhost",
            json!({"msgtype": "m.location", "body": "here", "geo_uri": "geo:0,0"}),
        ),
    ] {
        assert_eq!(to_event(&e, &ctx()), None, "{e}");
    }
}
