//! A person's own Matrix client in the end-to-end tests: matrix-sdk with a device and keys of
//! its own (not the bot's), syncing in the background and keeping every message it read,
//! decrypted. What a staff member's or a moderator's phone sees of encrypted rooms (an
//! encrypted moderation room's cards, the bot's direct messages).
#![allow(dead_code, clippy::unwrap_used)]

use crate::world::{World, WAIT};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::deserialized_responses::EncryptionInfo;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::message::OriginalSyncRoomMessageEvent;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::{Client, Room, RoomMemberships};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One message a phone decrypted (or read in the clear).
#[derive(Debug, Clone)]
pub struct Seen {
    pub event_id: String,
    /// The room it was read in.
    pub room: String,
    pub body: String,
    /// The sender's device, when the message arrived encrypted.
    pub device: Option<String>,
}

/// A person's phone: their own device, syncing, keeping every message it read.
pub struct Phone {
    pub client: Client,
    /// In order.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    sync: tokio::task::JoinHandle<()>,
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Phone {
    /// A fresh staff member's phone.
    pub async fn new(w: &World) -> Phone {
        let user = w.synapse().register_fresh("phone").await.unwrap();
        Phone::login(w.homeserver_url(), &user.user_id, &user.password).await
    }

    /// A new device of an existing account.
    pub async fn login(homeserver: &str, user_id: &str, password: &str) -> Phone {
        let client = Client::builder()
            .homeserver_url(homeserver)
            .build()
            .await
            .unwrap();
        client
            .matrix_auth()
            .login_username(user_id, password)
            .initial_device_display_name("staff phone")
            .send()
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        client.add_event_handler(
            move |ev: OriginalSyncRoomMessageEvent, room: Room, info: Option<EncryptionInfo>| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push(Seen {
                        event_id: ev.event_id.to_string(),
                        room: room.room_id().to_string(),
                        body: ev.content.body().to_owned(),
                        device: info
                            .map(|i| i.sender_device.map(|d| d.to_string()).unwrap_or_default()),
                    });
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

    /// Accepts every invite this device knows of (as the person tapping "join").
    pub async fn accept_invites(&self) {
        for room in self.client.invited_rooms() {
            room.join().await.unwrap();
        }
    }

    pub async fn encrypted_room(&self, name: &str) -> OwnedRoomId {
        self.encrypted_room_inviting(name, &[]).await
    }

    pub async fn encrypted_room_inviting(&self, name: &str, invite: &[&str]) -> OwnedRoomId {
        let mut req = create_room::v3::Request::new();
        req.name = Some(name.to_owned());
        req.invite = invite
            .iter()
            .map(|u| OwnedUserId::try_from(*u).unwrap())
            .collect();
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

    pub async fn wait_joined(&self, room: &OwnedRoomId, user: &str) {
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

    /// Waits for a message with `text`; whether it arrived encrypted.
    pub async fn wait_seen(&self, text: &str) -> bool {
        self.wait_message(text, |m| m.body.contains(text))
            .await
            .device
            .is_some()
    }

    /// Waits for a message satisfying `f`, and returns it.
    pub async fn wait_message(&self, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = self.seen.lock().unwrap().iter().find(|m| f(m)).cloned();
            if let Some(m) = found {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the phone never read {what:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
