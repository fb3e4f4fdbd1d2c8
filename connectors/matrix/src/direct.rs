//! The bot's direct room with one person, for `Connector::tell` (`tell.rs`): found, checked,
//! or made.
//!
//! What `tell` carries is private (a subject-access export, a sign-in link), so a room only
//! counts as the direct room with `@u` when, as the homeserver says now:
//! - the bot is joined, `@u` is joined or invited, and nobody else is joined or invited;
//! - it is encrypted.
//!
//! Where the room is looked for, in order: the room remembered for `@u` in the connector's
//! `ConnectorState` (key [`state_key`], so a restart reuses it even before the SDK has synced
//! the bot's account data), then the bot's `m.direct` account data (newest first). A room that
//! fails the check is left (and dropped from `m.direct`), so it neither leaks what comes next
//! (someone else invited into it) nor is tried again. When none holds, a new one is made:
//! private, `is_direct`, `@u` invited, `m.room.encryption` in its initial state (so not one
//! event is ever in the clear), history visible from the invite on (`invited`), only the bot
//! may invite; then it is recorded in `m.direct` and remembered.
//!
//! Room keys and the invited person: matrix-sdk 0.18 shares a room key with every *active*
//! member (joined or invited) unless the history visibility is `joined`
//! (`BaseClient::share_room_key`), with all their devices by default
//! (`CollectStrategy::AllDevices`), and fetches the member list from the server before the
//! first encrypted send (`ensure_room_encryption_ready`). So what the bot posts before `@u`
//! accepts is readable once they do, as long as their device existed when it was posted (a
//! device made later cannot read earlier messages without key backup: not ours to solve).
//! `invited` rather than `joined` is what keeps that true.
//!
//! Inbound: the sync loop drops every event of these rooms before converting it
//! ([`DirectRooms::is_private`]), and never joins them on an invite: the bot creates them, and
//! invites are accepted only for link rooms (`rooms.rs`).

use crate::erase::Erase;
use crate::error::{classify_http, classify_sdk, MatrixError};
use crate::rooms::AcceptRooms;
use crate::MatrixConnector;
use civicbridge_api::{ConnectorError, ConnectorState};
use matrix_sdk::ruma::api::client::membership::get_member_events;
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::direct::DirectEventContent;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::room::history_visibility::{
    HistoryVisibility, RoomHistoryVisibilityEventContent,
};
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use matrix_sdk::{Room, RoomState};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The `ConnectorState` key of the direct room remembered for `user`.
pub fn state_key(user: &UserId) -> String {
    format!("matrix.direct.{user}")
}

/// Direct rooms the bot made or found in this process, shared with the sync loop; with the
/// SDK's view of `m.direct`, what the loop drops.
#[derive(Debug, Clone, Default)]
pub(crate) struct DirectRooms {
    known: Arc<Mutex<HashSet<OwnedRoomId>>>,
    /// Held while a direct room is found or made, so two `tell`s to one person at once (the
    /// outbox runs lanes in parallel) cannot each make a room.
    resolving: Arc<tokio::sync::Mutex<()>>,
}

impl DirectRooms {
    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<OwnedRoomId>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, room: &OwnedRoomId) {
        self.set().insert(room.clone());
    }

    /// Whether `room`'s events stay out of the bridge: a direct room (made by `tell`, or in
    /// the bot's `m.direct`), unless a link uses it (a link room always counts, even if
    /// someone once invited the bot to it as a DM, which puts it in `m.direct`).
    pub(crate) fn is_private(&self, room: &Room, links: &AcceptRooms) -> bool {
        let direct = room.direct_targets_length() > 0 || self.set().contains(room.room_id());
        direct && !links.contains(room.room_id().as_str())
    }
}

/// Why a room is not (or no longer) the direct room with someone.
#[derive(Debug, PartialEq, Eq)]
enum Unfit {
    /// The SDK does not know the room, or the bot is not joined.
    NotJoined,
    /// The person left, declined, or was never there.
    PersonGone,
    /// Someone else is joined or invited.
    Crowded,
    NotEncrypted,
}

impl MatrixConnector {
    /// The direct room with `user`, found or made (see the module doc).
    pub(crate) async fn direct_room(
        &self,
        user: &UserId,
        state: Option<&Arc<dyn ConnectorState>>,
    ) -> Result<Room, ConnectorError> {
        let _one_at_a_time = self.direct.resolving.lock().await;
        let remembered = state
            .and_then(|s| s.get(&state_key(user)))
            .and_then(|r| OwnedRoomId::try_from(r).ok());
        let listed = self.direct_rooms_listed(user).await?;
        let mut candidates: Vec<OwnedRoomId> = remembered.into_iter().collect();
        for r in listed.iter().rev() {
            if !candidates.contains(r) {
                candidates.push(r.clone());
            }
        }
        let mut chosen = None;
        for id in candidates {
            match self.fitness(&id, user).await? {
                Ok(room) => {
                    chosen = Some(room);
                    break;
                }
                Err(why) => {
                    tracing::info!(room = %id, %user, ?why, "matrix: direct room no longer fit");
                    self.abandon(&id).await;
                }
            }
        }
        let (room, listed) = match chosen {
            Some(room) => (room, listed),
            None => {
                self.check_known(user).await?;
                let room = self.create_direct_room(user).await?;
                // Read again: `create_room` has listed it (its `mark_as_dm` appends without
                // looking, so listing it twice is what a blind second call would do).
                (room, self.direct_rooms_listed(user).await?)
            }
        };
        let id = room.room_id().to_owned();
        self.direct.insert(&id);
        self.remember(state, user, &id).await?;
        // `create_room` records a new room in `m.direct` but only logs a failure; a room found
        // through the state alone (another client rewrote `m.direct`) is listed again.
        if !listed.contains(&id) {
            self.client
                .account()
                .mark_as_dm(&id, &[user.to_owned()])
                .erased()
                .await
                .map_err(|e| classify_sdk(&e))?;
        }
        Ok(room)
    }

    /// The rooms `m.direct` lists for `user`, from the server (the SDK's copy may be behind a
    /// room made just before).
    async fn direct_rooms_listed(&self, user: &UserId) -> Result<Vec<OwnedRoomId>, ConnectorError> {
        Ok(self
            .direct_content()
            .await?
            .get(<&matrix_sdk::ruma::events::direct::DirectUserIdentifier>::from(user))
            .cloned()
            .unwrap_or_default())
    }

    async fn direct_content(&self) -> Result<DirectEventContent, ConnectorError> {
        let raw = self
            .client
            .account()
            .fetch_account_data_static::<DirectEventContent>()
            .erased()
            .await
            .map_err(|e| classify_sdk(&e))?;
        // An unreadable `m.direct` (another client wrote nonsense) lists nothing we can use.
        Ok(raw.and_then(|r| r.deserialize().ok()).unwrap_or_default())
    }

    async fn remember(
        &self,
        state: Option<&Arc<dyn ConnectorState>>,
        user: &UserId,
        room: &OwnedRoomId,
    ) -> Result<(), ConnectorError> {
        let Some(state) = state else {
            return Ok(());
        };
        if state.get(&state_key(user)).as_deref() == Some(room.as_str()) {
            return Ok(());
        }
        state.put(&state_key(user), room.as_str()).await
    }

    /// Whether `id` is fit to be the direct room with `user`, as the homeserver says now.
    /// Errors are failures to ask (`Transient`, `RateLimited`); a refusal to show the members
    /// (the bot is not in the room) is `Unfit`.
    async fn fitness(
        &self,
        id: &OwnedRoomId,
        user: &UserId,
    ) -> Result<Result<Room, Unfit>, ConnectorError> {
        let Some(room) = self
            .client
            .get_room(id)
            .filter(|r| r.state() == RoomState::Joined)
        else {
            return Ok(Err(Unfit::NotJoined));
        };
        let members = match self
            .client
            .send(get_member_events::v3::Request::new(id.clone()))
            .erased()
            .await
        {
            Ok(m) => m.chunk,
            Err(e) => {
                return match classify_http(&e) {
                    ConnectorError::Rejected(_) => Ok(Err(Unfit::NotJoined)),
                    other => Err(other),
                }
            }
        };
        let present = members
            .iter()
            .filter_map(|m| m.deserialize_as::<serde_json::Value>().ok())
            .filter(|m| matches!(m["content"]["membership"].as_str(), Some("join" | "invite")))
            .filter_map(|m| {
                let who = m["state_key"].as_str()?.to_owned();
                let membership = m["content"]["membership"].as_str()?.to_owned();
                Some((who, membership))
            })
            .collect::<Vec<_>>();
        let verdict = direct_members(&present, self.own_user.as_str(), user.as_str());
        if let Err(why) = verdict {
            return Ok(Err(why));
        }
        let encrypted = room
            .latest_encryption_state()
            .erased()
            .await
            .map_err(|e| classify_sdk(&e))?
            .is_encrypted();
        Ok(if encrypted {
            Ok(room)
        } else {
            Err(Unfit::NotEncrypted)
        })
    }

    /// Leaves a room that is no longer fit and drops it from `m.direct`; best effort: a room
    /// that stays listed is checked (and found unfit) again next time.
    async fn abandon(&self, id: &OwnedRoomId) {
        let Some(room) = self.client.get_room(id) else {
            return;
        };
        if room.state() == RoomState::Joined {
            if let Err(e) = room.leave().erased().await {
                tracing::warn!(room = %id, error = %e, "matrix: could not leave an unfit direct room");
                return;
            }
        }
        // `forget` also removes the room from `m.direct` (matrix-sdk's `set_is_direct(false)`).
        if let Err(e) = room.forget().erased().await {
            tracing::warn!(room = %id, error = %e, "matrix: could not forget an unfit direct room");
        }
    }

    async fn create_direct_room(&self, user: &UserId) -> Result<Room, ConnectorError> {
        let mut req = create_room::v3::Request::new();
        req.invite = vec![user.to_owned()];
        req.is_direct = true;
        // Not `TrustedPrivateChat`: the person gets no power over the room.
        req.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        req.initial_state = vec![
            InitialStateEvent::with_empty_state_key(
                RoomEncryptionEventContent::with_recommended_defaults(),
            )
            .to_raw_any(),
            InitialStateEvent::with_empty_state_key(RoomHistoryVisibilityEventContent::new(
                HistoryVisibility::Invited,
            ))
            .to_raw_any(),
        ];
        // Only the bot may invite: nobody else is let into a room that carries secrets.
        req.power_level_content_override = Some(
            Raw::from_json_string(r#"{"invite":100}"#.to_owned()).map_err(|e| {
                ConnectorError::from(MatrixError::Build(format!("power levels: {e}")))
            })?,
        );
        let room = self
            .client
            .create_room(req)
            .erased()
            .await
            // A person who cannot be invited (unknown, malformed, refusing invites: 400, 403,
            // 404) is `Rejected`, as `classify_http` reads every 4xx but 401 and 429.
            .map_err(|e| classify_sdk(&e))?;
        tracing::info!(room = %room.room_id(), %user, "matrix: made a direct room");
        Ok(room)
    }
}

/// Whether the active members (`(user, "join" | "invite")`) make a direct room of `bot` with
/// `person`.
fn direct_members(present: &[(String, String)], bot: &str, person: &str) -> Result<(), Unfit> {
    if !present.iter().any(|(u, m)| u == bot && m == "join") {
        return Err(Unfit::NotJoined);
    }
    if !present.iter().any(|(u, _)| u == person) {
        return Err(Unfit::PersonGone);
    }
    if present.iter().any(|(u, _)| u != bot && u != person) {
        return Err(Unfit::Crowded);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(u, m)| ((*u).to_owned(), (*m).to_owned()))
            .collect()
    }

    #[test]
    fn only_the_bot_and_the_person_make_a_direct_room() {
        let (bot, ada) = ("@bot:h", "@ada:h");
        assert_eq!(
            direct_members(&m(&[(bot, "join"), (ada, "invite")]), bot, ada),
            Ok(())
        );
        assert_eq!(
            direct_members(&m(&[(bot, "join"), (ada, "join")]), bot, ada),
            Ok(())
        );
        assert_eq!(
            direct_members(&m(&[(bot, "join")]), bot, ada),
            Err(Unfit::PersonGone)
        );
        assert_eq!(
            direct_members(&m(&[(bot, "invite"), (ada, "join")]), bot, ada),
            Err(Unfit::NotJoined)
        );
        assert_eq!(
            direct_members(
                &m(&[(bot, "join"), (ada, "join"), ("@eve:h", "invite")]),
                bot,
                ada
            ),
            Err(Unfit::Crowded)
        );
    }

    #[test]
    fn state_keys_name_the_user() {
        let u = matrix_sdk::ruma::OwnedUserId::try_from("@ada:h").expect("user id");
        assert_eq!(state_key(&u), "matrix.direct.@ada:h");
    }
}
