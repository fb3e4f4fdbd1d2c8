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

/// `https://matrix.to/#/!room:server/$event?via=server`: ids percent-encoded as the spec's
/// `matrix.to` URIs carry them (ruma's), so nothing in an id can end a part early. `via`
/// names the room's server where its id has one (not in version 12 rooms).
pub fn message_url(room: &RoomId, id: &RemoteMsgId) -> Option<String> {
    let (room, event) = (room_id(room).ok()?, event_id(id).ok()?);
    let uri = match room.server_name() {
        Some(server) => room.matrix_to_event_uri_via(event, [server.to_owned()]),
        None => room.matrix_to_event_uri(event),
    };
    Some(uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_url_is_encoded_and_reads_back_as_the_same_message() {
        use civicbridge_api::PlatformFactory;
        for room in [
            "!abcdef:localhost",
            "!Cuyf34gef24t2XH4sNyPMqRwfCXYL7AnbiFQO2Kmg7w",
        ] {
            let (room, id) = (RoomId::new(room), RemoteMsgId::new("$ev/1+x?y#z"));
            let url = message_url(&room, &id).expect("a url");
            assert!(url.starts_with("https://matrix.to/#/!"), "{url}");
            // What could end the id early is escaped: one `#`, one `?` (before `via`).
            assert!(url.contains("$ev%2F1+x%3Fy%23z"), "{url}");
            assert_eq!(url.matches('#').count(), 1, "{url}");
            let back = crate::MatrixFactory.message_link(&url).expect("reads back");
            assert_eq!((back.room, back.msg), (Some(room), id), "{url}");
        }
        assert_eq!(
            message_url(&RoomId::new("#alias:x"), &RemoteMsgId::new("$e")),
            None
        );
        assert_eq!(
            message_url(&RoomId::new("!a:x"), &RemoteMsgId::new("e")),
            None
        );
    }

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
