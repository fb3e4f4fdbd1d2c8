//! An encrypted staff room through the daemon: a staff member on a client of their own
//! (matrix-sdk with its own device and keys, not the bot's), a real Synapse, the local Telegram
//! server. The bot decrypts what staff write (the moderation card shows it) and encrypts what
//! it posts for staff, before and after a daemon restart (same device, same keys).
#![allow(clippy::unwrap_used)]

use crate::world;

use civicbridge_core::store::Store;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::{Client, RoomMemberships};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use world::{World, WAIT};

/// A staff member's phone: their own device, syncing, keeping every message it decrypted.
struct Phone {
    client: Client,
    /// (body, whether it arrived encrypted), in order.
    seen: Arc<Mutex<Vec<(String, bool)>>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Phone {
    async fn new(w: &World) -> Phone {
        let user = w.synapse().register_fresh("phone").await.unwrap();
        let client = Client::builder()
            .homeserver_url(w.homeserver_url())
            .build()
            .await
            .unwrap();
        client
            .matrix_auth()
            .login_username(&user.user_id, &user.password)
            .initial_device_display_name("staff phone")
            .send()
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        client.add_event_handler(
            move |ev: OriginalSyncRoomMessageEvent, info: Option<EncryptionInfo>| {
                let kept = kept.clone();
                async move {
                    kept.lock()
                        .unwrap()
                        .push((ev.content.body().to_owned(), info.is_some()));
                }
            },
        );
        client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .unwrap();
        let c = client.clone();
        let sync = tokio::spawn(async move {
            let _ = c
                .sync(SyncSettings::default().timeout(Duration::from_secs(1)))
                .await;
        });
        Phone { client, seen, sync }
    }

    async fn encrypted_room(&self, name: &str) -> OwnedRoomId {
        let mut req = create_room::v3::Request::new();
        req.name = Some(name.to_owned());
        req.initial_state = vec![InitialStateEvent::with_empty_state_key(
            RoomEncryptionEventContent::with_recommended_defaults(),
        )
        .to_raw_any()];
        self.client
            .create_room(req)
            .await
            .unwrap()
            .room_id()
            .to_owned()
    }

    async fn wait_joined(&self, room: &OwnedRoomId, user: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(r) = self.client.get_room(room) {
                let members = r.members(RoomMemberships::JOIN).await.unwrap_or_default();
                if members.iter().any(|m| m.user_id().as_str() == user) {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{user} never joined"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_seen(&self, text: &str) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self
                .seen
                .lock()
                .unwrap()
                .iter()
                .find(|(b, _)| b.contains(text))
                .map(|(_, encrypted)| *encrypted);
            if let Some(encrypted) = found {
                return encrypted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the phone never decrypted {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Approves held item `n` from the moderation room.
async fn approve(w: &World, n: u32, text: &str) {
    w.in_mod_room("the card", |m| {
        m.body.starts_with(&format!("Held #{n}")) && m.body.contains(text)
    })
    .await;
    w.moderator
        .say(&w.moderation_room, &format!("!approve #{n}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_encrypted_staff_room_crosses_both_ways_before_and_after_a_restart() {
    let w = World::new().await;
    let store = Store::memory();
    let rules = civicbridge_demo::world::demo_rules();
    let daemon = w.start(store.clone(), rules.clone()).await;
    let phone = Phone::new(&w).await;
    let room = phone.encrypted_room("Confidential staff").await;
    let group = w.telegram.create_group("Budget questions");
    w.moderator
        .say(
            &w.moderation_room,
            &format!("!link budget staff=matrix:{room} public=telegram:{group}"),
        )
        .await
        .unwrap();
    // Not invited yet: the bot says so; invited, it joins.
    w.in_mod_room("the notice", |m| {
        m.body
            .contains(&format!("the bot cannot take part in matrix:{room}"))
    })
    .await;
    let bot: OwnedUserId = w.bot.user_id.as_str().try_into().unwrap();
    phone
        .client
        .get_room(&room)
        .unwrap()
        .invite_user_by_id(&bot)
        .await
        .unwrap();
    phone.wait_joined(&room, &w.bot.user_id).await;

    // Staff → residents: the bot decrypts it (the card shows the text).
    phone
        .client
        .get_room(&room)
        .unwrap()
        .send(RoomMessageEventContent::text_plain(
            "The budget vote is on Tuesday",
        ))
        .await
        .unwrap();
    approve(&w, 1, "The budget vote is on Tuesday").await;
    civicbridge_api::testing::wait_until(WAIT, "the staff message on Telegram", || {
        w.telegram
            .bot_messages(group)
            .iter()
            .any(|m| m.text.contains("The budget vote is on Tuesday"))
    })
    .await;

    // Residents → staff: the bot encrypts it for the phone.
    w.telegram
        .post_as_user(group, (77, "Bea"), "Will it be streamed?")
        .unwrap();
    approve(&w, 2, "Will it be streamed?").await;
    assert!(
        phone.wait_seen("Will it be streamed?").await,
        "arrived encrypted"
    );

    // After a restart, the same device and keys.
    daemon.shutdown().await.unwrap();
    let daemon = w.start(store, rules).await;
    w.telegram
        .post_as_user(group, (77, "Bea"), "And recorded?")
        .unwrap();
    approve(&w, 3, "And recorded?").await;
    assert!(phone.wait_seen("And recorded?").await, "arrived encrypted");
    daemon.shutdown().await.unwrap();
}
