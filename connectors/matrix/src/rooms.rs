//! `Connector::join` and `leave` on Matrix, where the bot's membership is its own: `join` joins
//! the room (a public room, or one it is invited to) and from then on accepts the room's
//! invites; `leave` leaves it and declines its invites from then on.
//!
//! The rooms whose invites are accepted are [`AcceptRooms`], shared with the sync loop: the
//! configured rooms at start, then whatever `join` and `leave` make of them. `join` adds the
//! room *before* asking the server, and keeps it when the server refuses: the refusal tells a
//! moderator to invite the bot, and that invite is then accepted without a restart.
//!
//! The name returned is read from the server (`m.room.name`, else `m.room.canonical_alias`),
//! not from the SDK's store: right after a join the room's state has not been synced yet, and
//! the SDK's computed display names ("Empty room", member lists) are not what people call it.

use crate::erase::Erase;
use crate::error::{classify_http, classify_sdk};
use crate::{ids, MatrixConnector};
use civicbridge_api::{ConnectorError, RoomId, RoomInfo};
use matrix_sdk::ruma::api::client::membership::leave_room;
use matrix_sdk::ruma::api::client::state::get_state_event_for_key;
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::OwnedRoomId;
use matrix_sdk::RoomState;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Rooms whose invites the bot accepts (all others it declines), by room id.
#[derive(Debug, Clone, Default)]
pub(crate) struct AcceptRooms(Arc<Mutex<HashSet<String>>>);

impl AcceptRooms {
    pub(crate) fn new(rooms: impl IntoIterator<Item = String>) -> AcceptRooms {
        AcceptRooms(Arc::new(Mutex::new(rooms.into_iter().collect())))
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn contains(&self, room: &str) -> bool {
        self.set().contains(room)
    }

    fn insert(&self, room: &str) {
        self.set().insert(room.to_owned());
    }

    fn remove(&self, room: &str) {
        self.set().remove(room);
    }
}

impl MatrixConnector {
    pub(crate) async fn join_impl(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        let id = ids::room_id(room)?;
        self.accept_rooms.insert(id.as_str());
        let joined = self
            .client
            .get_room(&id)
            .is_some_and(|r| r.state() == RoomState::Joined);
        if !joined {
            self.client
                .join_room_by_id(&id)
                .erased()
                .await
                .map_err(|e| join_refusal(&e))?;
        }
        Ok(RoomInfo {
            name: self.room_name(&id).await?,
        })
    }

    pub(crate) async fn leave_impl(&self, room: &RoomId) -> Result<(), ConnectorError> {
        let id = ids::room_id(room)?;
        self.accept_rooms.remove(id.as_str());
        let result: Result<(), matrix_sdk::Error> = match self.client.get_room(&id) {
            // The SDK's own leave also marks the room left in its store, so a later `join`
            // really joins again. (It also leaves the room's predecessors, which an upgrade
            // replaced: no link should still use those.)
            Some(r)
                if matches!(
                    r.state(),
                    RoomState::Joined | RoomState::Invited | RoomState::Knocked
                ) =>
            {
                r.leave().erased().await
            }
            // Not in the room as far as the SDK knows; the server is asked anyway, in case the
            // store is behind it.
            _ => self
                .client
                .send(leave_room::v3::Request::new(id.clone()))
                .erased()
                .await
                .map(|_| ())
                .map_err(Into::into),
        };
        match result {
            Ok(()) => Ok(()),
            // Leaving a room the bot is not in (or that does not exist) is done already.
            Err(matrix_sdk::Error::Http(h)) if matches!(status(&h), Some(403 | 404)) => Ok(()),
            Err(e) => Err(classify_sdk(&e)),
        }
    }

    /// The room's name as people see it: `m.room.name`, else the canonical alias, else none.
    async fn room_name(&self, id: &OwnedRoomId) -> Result<Option<String>, ConnectorError> {
        if let Some(name) = self
            .state_field(id, StateEventType::RoomName, "name")
            .await?
        {
            return Ok(Some(name));
        }
        self.state_field(id, StateEventType::RoomCanonicalAlias, "alias")
            .await
    }

    /// One string field of a room's state event (empty key), from the server. An absent event
    /// or field, or an empty string, is `None`.
    async fn state_field(
        &self,
        id: &OwnedRoomId,
        kind: StateEventType,
        field: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let req = get_state_event_for_key::v3::Request::new(id.clone(), kind, String::new());
        match self.client.send(req).erased().await {
            Ok(resp) => {
                let content: serde_json::Value =
                    serde_json::from_str(resp.event_or_content.get()).unwrap_or_default();
                Ok(content
                    .get(field)
                    .and_then(serde_json::Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned))
            }
            Err(e) => match classify_http(&e) {
                // No such state (404), or not readable: the room simply has no name we can show.
                ConnectorError::Rejected(why) => {
                    tracing::debug!(room = %id, %why, "matrix: no room state to name the room");
                    Ok(None)
                }
                other => Err(other),
            },
        }
    }
}

fn status(e: &matrix_sdk::HttpError) -> Option<u16> {
    e.as_client_api_error().map(|a| a.status_code.as_u16())
}

/// Why the server would not let the bot join, in words a moderator can act on (the server's
/// own words follow). Failures that may pass are classified as everywhere else.
fn join_refusal(e: &matrix_sdk::Error) -> ConnectorError {
    let matrix_sdk::Error::Http(h) = e else {
        return classify_sdk(e);
    };
    match status(h) {
        Some(403) => ConnectorError::Rejected(format!(
            "the bot may not join this room (not invited, or banned): invite the bot to the \
             room, it accepts the invite by itself ({h})"
        )),
        Some(404) => ConnectorError::Rejected(format!(
            "the homeserver does not know this room: check the room id, or invite the bot to \
             the room ({h})"
        )),
        _ => classify_http(h),
    }
}
