//! The fast path's classifier, attacked: everything that must reach the SDK does.

use super::*;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::{
    InvitedRoom, JoinedRoom, LeftRoom, State, StateEvents,
};
use matrix_sdk::ruma::{owned_room_id, owned_user_id, OwnedRoomId};
use serde_json::json;

fn room() -> OwnedRoomId {
    owned_room_id!("!plain:example.org")
}

fn raw<T>(v: serde_json::Value) -> Raw<T> {
    Raw::from_json_string(v.to_string()).unwrap()
}

fn message(body: &str) -> serde_json::Value {
    json!({
        "type": "m.room.message", "event_id": format!("$e-{body}"), "sender": "@a:example.org",
        "origin_server_ts": 1, "content": { "msgtype": "m.text", "body": body }
    })
}

/// A response with `events` in one joined room and the given key counts.
fn response(events: Vec<serde_json::Value>) -> Response {
    let mut r = Response::new("s2".to_owned());
    r.device_one_time_keys_count
        .insert(OneTimeKeyAlgorithm::SignedCurve25519, UInt::from(50u32));
    let mut joined = JoinedRoom::new();
    joined.timeline.events = events.into_iter().map(raw).collect();
    r.rooms.join.insert(room(), joined);
    r
}

/// A response whose one event is `text` as written: JSON a `serde_json::Value` cannot carry
/// (an escaped type, a key given twice).
fn response_of_text(text: &str) -> Response {
    let mut r = response(vec![]);
    r.rooms
        .join
        .get_mut(&room())
        .unwrap()
        .timeline
        .events
        .push(Raw::from_json_string(text.to_owned()).unwrap());
    r
}

fn plain_rooms(_: &RoomId) -> Known {
    Known::JoinedPlain
}

fn verdict(r: &Response) -> Result<(), NeedsSdk> {
    classify(r, Some(&KeyCounts::of(r)), plain_rooms)
}

#[test]
fn plaintext_messages_in_a_known_unencrypted_room_are_plain() {
    let r = response(vec![message("a"), message("b")]);
    assert_eq!(verdict(&r), Ok(()));
    // Edits, reactions and unknown non-state types are still plain timeline events.
    let r = response(vec![
        json!({"type": "m.reaction", "event_id": "$r", "sender": "@a:x", "origin_server_ts": 1,
               "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e", "key": "👍"}}}),
        json!({"type": "org.example.custom", "event_id": "$c", "sender": "@a:x", "origin_server_ts": 1, "content": {}}),
    ]);
    assert_eq!(verdict(&r), Ok(()));
    // An empty response (a long poll that timed out) is plain.
    let mut empty = Response::new("s3".to_owned());
    empty.device_one_time_keys_count = r.device_one_time_keys_count.clone();
    assert_eq!(verdict(&empty), Ok(()));
}

#[test]
fn a_room_turning_encrypted_goes_to_the_sdk_even_in_the_timeline() {
    let encryption = json!({
        "type": "m.room.encryption", "state_key": "", "event_id": "$enc", "sender": "@a:x",
        "origin_server_ts": 1, "content": {"algorithm": "m.megolm.v1.aes-sha2"}
    });
    let r = response(vec![
        message("before"),
        encryption.clone(),
        message("after"),
    ]);
    assert_eq!(verdict(&r), Err(NeedsSdk::StateEvent));
    // The same as room state (use_state_after).
    let mut r = response(vec![message("a")]);
    let joined = r.rooms.join.get_mut(&room()).unwrap();
    let mut after = StateEvents::new();
    after.events.push(raw(encryption));
    joined.state = State::After(after);
    assert_eq!(verdict(&r), Err(NeedsSdk::RoomState));
}

#[test]
fn any_state_key_even_malformed_or_null_makes_it_state() {
    for key in [
        json!(""),
        json!(null),
        json!(7),
        json!({"x": 1}),
        json!("@a:x"),
    ] {
        let mut ev = message("m");
        ev["state_key"] = key.clone();
        assert_eq!(
            verdict(&response(vec![ev])),
            Err(NeedsSdk::StateEvent),
            "{key}"
        );
    }
    // A membership change, the commonest state in a timeline.
    let join = json!({"type": "m.room.member", "state_key": "@b:x", "event_id": "$m",
        "sender": "@b:x", "origin_server_ts": 1, "content": {"membership": "join", "displayname": "B"}});
    assert_eq!(verdict(&response(vec![join])), Err(NeedsSdk::StateEvent));
}

#[test]
fn encrypted_events_and_redactions_go_to_the_sdk() {
    let enc = json!({"type": "m.room.encrypted", "event_id": "$x", "sender": "@a:x",
        "origin_server_ts": 1, "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "…"}});
    assert_eq!(
        verdict(&response(vec![message("a"), enc])),
        Err(NeedsSdk::Encrypted)
    );
    let redaction = json!({"type": "m.room.redaction", "redacts": "$m", "event_id": "$rd",
        "sender": "@a:x", "origin_server_ts": 1, "content": {"redacts": "$m"}});
    assert_eq!(
        verdict(&response(vec![redaction])),
        Err(NeedsSdk::Redaction)
    );
}

#[test]
fn unreadable_types_go_to_the_sdk() {
    for ev in [
        json!({"event_id": "$n", "sender": "@a:x", "content": {}}),
        json!({"type": 5, "event_id": "$n", "content": {}}),
        json!({"type": null, "content": {}}),
    ] {
        assert_eq!(verdict(&response(vec![ev])), Err(NeedsSdk::Unreadable));
    }
    // An escaped type ("m.room.encrypted" spelt with \u0079): a borrowed `&str` cannot hold
    // it, so the SDK decides rather than a check a spelling could slip past.
    let text =
        r#"{"type": "m.room.encr\u0079pted", "event_id": "$x", "sender": "@a:x", "content": {}}"#;
    assert_eq!(verdict(&response_of_text(text)), Err(NeedsSdk::Unreadable));
}

/// A key given twice could be read one way by the classifier and another by the conversion
/// (which keeps the last): such an event is the SDK's, whichever copy says what.
#[test]
fn a_type_or_state_key_given_twice_goes_to_the_sdk() {
    for text in [
        r#"{"type": "m.room.message", "type": "m.room.encrypted", "event_id": "$d", "sender": "@a:x", "content": {}}"#,
        r#"{"type": "m.room.encrypted", "type": "m.room.message", "event_id": "$d", "sender": "@a:x", "content": {}}"#,
        r#"{"type": "m.room.message", "state_key": null, "state_key": "", "event_id": "$d", "sender": "@a:x", "content": {}}"#,
    ] {
        assert_eq!(
            verdict(&response_of_text(text)),
            Err(NeedsSdk::Unreadable),
            "{text}"
        );
    }
}

#[test]
fn rooms_the_sdk_does_not_know_as_joined_and_plain_go_to_it() {
    let r = response(vec![message("a")]);
    let shown = KeyCounts::of(&r);
    assert_eq!(
        classify(&r, Some(&shown), |_| Known::Other),
        Err(NeedsSdk::Room)
    );
    // Two rooms, one of them unknown: the whole response goes.
    let mut r = response(vec![message("a")]);
    let other = owned_room_id!("!other:example.org");
    let mut joined = JoinedRoom::new();
    joined.timeline.events.push(raw(message("b")));
    r.rooms.join.insert(other.clone(), joined);
    assert_eq!(
        classify(&r, Some(&shown), |id| if id == other {
            Known::Other
        } else {
            Known::JoinedPlain
        }),
        Err(NeedsSdk::Room)
    );
}

#[test]
fn encryption_machinery_changes_go_to_the_sdk() {
    let base = response(vec![message("a")]);
    let shown = KeyCounts::of(&base);

    // One-time keys claimed by someone starting an Olm session: the count fell.
    let mut r = base.clone();
    r.device_one_time_keys_count
        .insert(OneTimeKeyAlgorithm::SignedCurve25519, UInt::from(49u32));
    assert_eq!(
        classify(&r, Some(&shown), plain_rooms),
        Err(NeedsSdk::KeyCounts)
    );
    // The fallback key used.
    let mut r = base.clone();
    r.device_unused_fallback_key_types = Some(vec![]);
    assert_eq!(
        classify(&r, Some(&shown), plain_rooms),
        Err(NeedsSdk::KeyCounts)
    );
    // Nothing shown to the SDK yet.
    assert_eq!(classify(&base, None, plain_rooms), Err(NeedsSdk::KeyCounts));

    let mut r = base.clone();
    r.to_device.events.push(raw(
        json!({"type": "m.room_key", "sender": "@a:x", "content": {}}),
    ));
    assert_eq!(
        classify(&r, Some(&shown), plain_rooms),
        Err(NeedsSdk::ToDevice)
    );

    let mut r = base.clone();
    r.device_lists
        .changed
        .push(owned_user_id!("@a:example.org"));
    assert_eq!(
        classify(&r, Some(&shown), plain_rooms),
        Err(NeedsSdk::DeviceLists)
    );
    let mut r = base.clone();
    r.device_lists.left.push(owned_user_id!("@a:example.org"));
    assert_eq!(
        classify(&r, Some(&shown), plain_rooms),
        Err(NeedsSdk::DeviceLists)
    );
}

#[test]
fn membership_account_data_and_room_extras_go_to_the_sdk() {
    let base = response(vec![message("a")]);
    let shown = KeyCounts::of(&base);
    let check = |r: &Response| classify(r, Some(&shown), plain_rooms);

    let mut r = base.clone();
    r.rooms
        .invite
        .insert(owned_room_id!("!i:x"), InvitedRoom::new());
    assert_eq!(check(&r), Err(NeedsSdk::Membership));
    let mut r = base.clone();
    r.rooms
        .leave
        .insert(owned_room_id!("!l:x"), LeftRoom::new());
    assert_eq!(check(&r), Err(NeedsSdk::Membership));

    let mut r = base.clone();
    r.account_data.events.push(raw(
        json!({"type": "m.direct", "content": {"@a:x": ["!d:x"]}}),
    ));
    assert_eq!(check(&r), Err(NeedsSdk::AccountData));

    let mut r = base.clone();
    r.presence.events.push(raw(
        json!({"type": "m.presence", "sender": "@a:x", "content": {"presence": "online"}}),
    ));
    assert_eq!(check(&r), Err(NeedsSdk::Presence));

    let mut r = base.clone();
    let joined = r.rooms.join.get_mut(&room()).unwrap();
    joined.timeline.limited = true;
    joined.timeline.prev_batch = Some("p1".to_owned());
    assert_eq!(check(&r), Err(NeedsSdk::Limited));

    let mut r = base.clone();
    let joined = r.rooms.join.get_mut(&room()).unwrap();
    joined.summary.joined_member_count = Some(UInt::from(3u32));
    assert_eq!(check(&r), Err(NeedsSdk::RoomSummary));

    let mut r = base.clone();
    let joined = r.rooms.join.get_mut(&room()).unwrap();
    joined.account_data.events.push(raw(
        json!({"type": "m.fully_read", "content": {"event_id": "$e"}}),
    ));
    assert_eq!(check(&r), Err(NeedsSdk::RoomAccountData));

    let mut r = base.clone();
    let joined = r.rooms.join.get_mut(&room()).unwrap();
    joined.ephemeral.events.push(raw(
        json!({"type": "m.typing", "content": {"user_ids": []}}),
    ));
    assert_eq!(check(&r), Err(NeedsSdk::Ephemeral));

    // State before the timeline (the variant without use_state_after) counts too.
    let mut r = base.clone();
    let mut before = StateEvents::new();
    before
        .events
        .push(raw(json!({"type": "m.room.name", "state_key": "",
        "event_id": "$n", "sender": "@a:x", "origin_server_ts": 1, "content": {"name": "n"}})));
    r.rooms.join.get_mut(&room()).unwrap().state = State::Before(before);
    assert_eq!(check(&r), Err(NeedsSdk::RoomState));
}
