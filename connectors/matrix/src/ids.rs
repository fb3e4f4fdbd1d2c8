//! Matrix ids <-> civicbridge's opaque ids. Room ids of both shapes are accepted: version 12
//! rooms (`!<hash>`, no server part) and older ones (`!opaque:server`).

use crate::error::MatrixError;
use civicbridge_api::{RemoteMsgId, RoomId};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};

pub fn room_id(room: &RoomId) -> Result<OwnedRoomId, MatrixError> {
    OwnedRoomId::try_from(room.as_str()).map_err(|_| MatrixError::InvalidId {
        what: "room id",
        value: room.as_str().to_owned(),
    })
}

pub fn event_id(id: &RemoteMsgId) -> Result<OwnedEventId, MatrixError> {
    OwnedEventId::try_from(id.as_str()).map_err(|_| MatrixError::InvalidId {
        what: "event id",
        value: id.as_str().to_owned(),
    })
}

pub fn user_id(id: &str) -> Result<OwnedUserId, MatrixError> {
    OwnedUserId::try_from(id).map_err(|_| MatrixError::InvalidId {
        what: "user id",
        value: id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_room_id_shapes_parse() {
        let v12 = RoomId::new("!Cuyf34gef24t2XH4sNyPMqRwfCXYL7AnbiFQO2Kmg7w");
        let v11 = RoomId::new("!abcdef:localhost");
        assert_eq!(room_id(&v12).expect("v12").as_str(), v12.as_str());
        assert_eq!(room_id(&v11).expect("v11").as_str(), v11.as_str());
        assert!(room_id(&RoomId::new("#alias:localhost")).is_err());
        assert!(event_id(&RemoteMsgId::new("$abc")).is_ok());
        assert!(user_id("@bot:localhost").is_ok());
    }
}
