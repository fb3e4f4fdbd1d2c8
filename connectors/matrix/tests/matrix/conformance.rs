//! The shared connector conformance suite, against Synapse, in both room-id shapes.

use crate::common::{scene, Staff};
use async_trait::async_trait;
use civicbridge_api::testing::conformance::{run_suite, PlatformHarness};
use civicbridge_api::{RemoteMsgId, RoomId};
use matrix_sdk::ruma::{OwnedRoomId, RoomVersionId};

struct Harness {
    staff: Staff,
    room: OwnedRoomId,
}

#[async_trait]
impl PlatformHarness for Harness {
    fn room(&self) -> RoomId {
        RoomId::new(self.room.to_string())
    }
    async fn post_as_person(&self, text: &str) -> RemoteMsgId {
        RemoteMsgId::new(self.staff.post(&self.room, text).await)
    }
    async fn shown_text(&self, id: &RemoteMsgId) -> Option<String> {
        self.staff.shown_text(&self.room, id.as_str()).await
    }
}

#[tokio::test]
async fn passes_the_conformance_suite_in_a_version_12_room() {
    let s = scene(false, None).await;
    assert!(
        !s.room.as_str().contains(':'),
        "Synapse's default room version 12 has no server part: {}",
        s.room
    );
    let harness = Harness {
        staff: s.staff,
        room: s.room,
    };
    run_suite(s.connector, &harness).await;
}

#[tokio::test]
async fn passes_the_conformance_suite_in_a_version_11_room() {
    let s = scene(false, Some(RoomVersionId::V11)).await;
    assert!(s.room.as_str().ends_with(":localhost"), "{}", s.room);
    let harness = Harness {
        staff: s.staff,
        room: s.room,
    };
    run_suite(s.connector, &harness).await;
}
