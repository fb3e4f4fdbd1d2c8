//! `Connector::tell`: the bot's encrypted direct room with a person, found or made; the text
//! and files posted there readable once they accept the invite; retries posted once; unknown
//! people refused; the room's own events never bridged.

use crate::common::{hs, is_message, memory_state, run, scene, Staff, WAIT};
use civicbridge_api::{
    AttachmentKind, Connector, ConnectorError, ConnectorState, OutgoingFile, Private, RemoteUserId,
    RichText, RoomId,
};
use civicbridge_matrix::{direct_room_state_key, MatrixConnector};
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::api::client::state::get_state_event_for_key;
use matrix_sdk::ruma::events::direct::DirectEventContent;
use matrix_sdk::ruma::events::room::{EncryptedFile, MediaSource};
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

const EXPORT: &[u8] = b"{\"messages\": [\"confidential\"]}";

fn private(to: &str, txn: &str, text: &str, files: Vec<OutgoingFile>) -> Private {
    Private {
        to: RemoteUserId::new(to),
        met_in: RoomId::new("!irrelevant:localhost"),
        txn_id: txn.to_owned(),
        text: RichText::plain(text),
        files,
    }
}

fn export_file() -> OutgoingFile {
    OutgoingFile {
        kind: AttachmentKind::File,
        name: "export-ada.json".into(),
        mime: Some("application/json".into()),
        data: EXPORT.to_vec(),
    }
}

fn user_of(staff: &Staff) -> OwnedUserId {
    staff.client.user_id().expect("staff logged in").to_owned()
}

/// The first room `staff` is invited to that is not in `seen`, once their sync has it.
async fn wait_invite(staff: &Staff, seen: &HashSet<OwnedRoomId>) -> OwnedRoomId {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(r) = staff
            .client
            .invited_rooms()
            .into_iter()
            .map(|r| r.room_id().to_owned())
            .find(|r| !seen.contains(r))
        {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no invite within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One state event's content as the bot reads it from the server.
async fn state_event(
    bot: &MatrixConnector,
    room: &OwnedRoomId,
    kind: StateEventType,
    key: &str,
) -> Value {
    let req = get_state_event_for_key::v3::Request::new(room.clone(), kind, key.to_owned());
    let resp = bot.client().send(req).await.expect("state event");
    serde_json::from_str(resp.event_or_content.get()).expect("json")
}

/// The rooms the bot's `m.direct` lists for `user`, from the server.
async fn listed(bot: &MatrixConnector, user: &OwnedUserId) -> Vec<OwnedRoomId> {
    let raw = bot
        .client()
        .account()
        .fetch_account_data_static::<DirectEventContent>()
        .await
        .expect("m.direct")
        .expect("m.direct is set");
    let content = raw.deserialize().expect("m.direct parses");
    content
        .get(<&matrix_sdk::ruma::events::direct::DirectUserIdentifier>::from(&**user))
        .cloned()
        .unwrap_or_default()
}

/// The bytes of an encrypted file event, downloaded and decrypted by `staff`.
async fn download(staff: &Staff, content: &Value) -> Vec<u8> {
    let file: EncryptedFile =
        serde_json::from_value(content["file"].clone()).expect("an encrypted file");
    let request = MediaRequestParameters {
        source: MediaSource::Encrypted(Box::new(file)),
        format: MediaFormat::File,
    };
    staff
        .client
        .media()
        .get_media_content(&request, false)
        .await
        .expect("download")
}

#[tokio::test]
async fn a_person_reads_the_text_and_the_file_after_accepting_and_the_room_is_reused() {
    let s = scene(true, None).await;
    let state = memory_state();
    let mut r = run(s.connector.clone(), state.clone());
    let ada = user_of(&s.staff);
    assert!(s.connector.capabilities().private_messages);

    let first = s
        .connector
        .tell(&private(
            ada.as_str(),
            "tell-1",
            "Your export is attached.",
            vec![export_file()],
        ))
        .await
        .expect("tell");
    assert_eq!(first.ids.len(), 2, "the text, then the file");

    let dm = wait_invite(&s.staff, &HashSet::new()).await;
    // Made as a direct, private, encrypted room, remembered and listed in `m.direct`.
    let invite = state_event(&s.connector, &dm, StateEventType::RoomMember, ada.as_str()).await;
    assert_eq!(invite["membership"], "invite");
    assert_eq!(invite["is_direct"], true);
    let enc = state_event(&s.connector, &dm, StateEventType::RoomEncryption, "").await;
    assert_eq!(enc["algorithm"], "m.megolm.v1.aes-sha2");
    let hv = state_event(&s.connector, &dm, StateEventType::RoomHistoryVisibility, "").await;
    assert_eq!(hv["history_visibility"], "invited");
    let jr = state_event(&s.connector, &dm, StateEventType::RoomJoinRules, "").await;
    assert_eq!(jr["join_rule"], "invite");
    assert_eq!(listed(&s.connector, &ada).await, vec![dm.clone()]);
    assert_eq!(
        state.get(&direct_room_state_key(&ada)).as_deref(),
        Some(dm.as_str())
    );

    // Posted before Ada joined, readable by her device once she has.
    s.staff.client.join_room_by_id(&dm).await.expect("accept");
    let text = s.staff.event_json(&dm, first.ids[0].as_str()).await;
    assert_eq!(text["content"]["msgtype"], "m.notice");
    assert_eq!(text["content"]["body"], "Your export is attached.");
    let raw = s
        .staff
        .room(&dm)
        .event(
            &OwnedEventId::try_from(first.ids[0].as_str()).expect("event id"),
            None,
        )
        .await
        .expect("event");
    assert!(raw.encryption_info().is_some(), "the text was encrypted");
    let file = s.staff.event_json(&dm, first.ids[1].as_str()).await;
    assert_eq!(file["content"]["msgtype"], "m.file");
    assert_eq!(file["content"]["body"], "export-ada.json");
    assert!(file["content"].get("url").is_none(), "no clear upload");
    assert_eq!(download(&s.staff, &file["content"]).await, EXPORT);

    // What Ada writes there is never bridged: the link room's next message comes first.
    s.staff.post(&dm, "!export @someone:localhost").await;
    let marker = s.staff.post(&s.room, "in the link room").await;
    r.until(|e| {
        assert_ne!(e.room.room.as_str(), dm.as_str(), "a DM event was bridged");
        is_message(e, &marker)
    })
    .await;

    // The second tell reuses the room; a retry with the same txn_id posts nothing new.
    let second = private(
        ada.as_str(),
        "tell-2",
        "And a second file.",
        vec![export_file()],
    );
    let a = s.connector.tell(&second).await.expect("second tell");
    let b = s.connector.tell(&second).await.expect("retried tell");
    assert_eq!(a, b, "a retry answers with the same events");
    for id in &a.ids {
        s.staff.event_json(&dm, id.as_str()).await;
    }
    assert_eq!(listed(&s.connector, &ada).await, vec![dm.clone()]);
    let posted_by_bot = count_bot_messages(&s.staff, &dm, s.connector.user_id()).await;
    assert_eq!(
        posted_by_bot, 4,
        "two tells of two messages each, the retry posted none"
    );
    r.stop().await;
}

/// The bot's message events in `room` (encrypted ones counted once each).
async fn count_bot_messages(staff: &Staff, room: &OwnedRoomId, bot: &str) -> usize {
    let mut opts = matrix_sdk::room::MessagesOptions::backward();
    opts.limit = 100u32.into();
    let page = staff.room(room).messages(opts).await.expect("messages");
    page.chunk
        .iter()
        .filter_map(|ev| ev.raw().deserialize_as::<Value>().ok())
        .filter(|ev| ev["sender"] == bot)
        .filter(|ev| {
            matches!(
                ev["type"].as_str(),
                Some("m.room.message" | "m.room.encrypted")
            )
        })
        .count()
}

#[tokio::test]
async fn after_the_person_leaves_a_new_room_is_made_and_a_restart_reuses_the_room() {
    let s = scene(false, None).await;
    let ada = user_of(&s.staff);
    let state = memory_state();
    let r = run(s.connector.clone(), state.clone());

    let first = s
        .connector
        .tell(&private(ada.as_str(), "leave-1", "Hello.", vec![]))
        .await
        .expect("tell");
    assert_eq!(first.ids.len(), 1);
    let old = wait_invite(&s.staff, &HashSet::new()).await;
    s.staff.client.join_room_by_id(&old).await.expect("accept");
    s.staff.room(&old).leave().await.expect("leave");

    s.connector
        .tell(&private(ada.as_str(), "leave-2", "Hello again.", vec![]))
        .await
        .expect("tell after the leave");
    let new = wait_invite(&s.staff, &HashSet::from([old.clone()])).await;
    assert_ne!(new, old);
    assert_eq!(
        state.get(&direct_room_state_key(&ada)).as_deref(),
        Some(new.as_str())
    );
    assert_eq!(
        listed(&s.connector, &ada).await,
        vec![new.clone()],
        "the abandoned room is dropped from m.direct"
    );
    // The bot left the old room and forgot it.
    let old_state = s.connector.client().get_room(&old).map(|r| r.state());
    assert!(
        matches!(old_state, None | Some(matrix_sdk::RoomState::Left)),
        "{old_state:?}"
    );
    r.stop().await;

    // A restart (same data dir, same state): the invited room is still the one, found
    // through the state even after another client emptied `m.direct`, which lists it again.
    s.connector
        .client()
        .account()
        .set_account_data(DirectEventContent::default())
        .await
        .expect("empty m.direct");
    let config = s.bot.config.clone();
    drop(s.connector);
    let again = std::sync::Arc::new(MatrixConnector::connect(config).await.expect("reconnects"));
    let r = run(again.clone(), state.clone());
    again
        .tell(&private(
            ada.as_str(),
            "after-restart",
            "Still here.",
            vec![],
        ))
        .await
        .expect("tell after restart");
    assert_eq!(
        state.get(&direct_room_state_key(&ada)).as_deref(),
        Some(new.as_str())
    );
    assert_eq!(listed(&again, &ada).await, vec![new]);
    r.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_users_are_rejected_and_no_room_is_made() {
    let hs = hs().await;
    let bot = crate::common::bot(hs).await;
    let connector = MatrixConnector::connect(bot.config.clone())
        .await
        .expect("connects");
    let connector = std::sync::Arc::new(connector);
    let r = run(connector.clone(), memory_state());
    let rooms_before = connector.client().joined_rooms().len();
    for to in [
        "@nobody-here:localhost",
        "not a user id",
        "@missing-server",
        "#alias:localhost",
        connector.user_id(),
    ] {
        let r = connector.tell(&private(to, "t", "hi", vec![])).await;
        assert!(matches!(r, Err(ConnectorError::Rejected(_))), "{to}: {r:?}");
    }
    assert_eq!(connector.client().joined_rooms().len(), rooms_before);
    r.stop().await;
}

#[tokio::test]
async fn a_persons_own_direct_room_invite_is_declined_not_taken_for_a_link() {
    let s = scene(false, None).await;
    let bot_id = s.bot.user.user_id.clone();
    let mut r = run(s.connector.clone(), memory_state());
    let bot = OwnedUserId::try_from(bot_id.as_str()).expect("bot id");
    let dm = s.staff.client.create_dm(&bot).await.expect("staff's DM");
    let dm = dm.room_id().to_owned();
    crate::join::wait_member(&s.staff, &dm, &bot_id, "the DM invite declined", |ev| {
        crate::join::membership(ev) == "leave" && ev["sender"] == bot_id.as_str()
    })
    .await;
    let marker = s.staff.post(&s.room, "still bridged").await;
    r.until(|e| {
        assert_ne!(e.room.room.as_str(), dm.as_str(), "a DM event was bridged");
        is_message(e, &marker)
    })
    .await;
    r.stop().await;
}
