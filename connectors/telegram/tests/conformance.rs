//! The shared connector conformance suite, with teloxide talking to the local Bot API server.
#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use civicbridge_api::testing::conformance::{run_suite, PlatformHarness};
use civicbridge_api::{RemoteMsgId, RoomId};
use civicbridge_testkit::telegram::TelegramServer;

struct Harness {
    server: TelegramServer,
    chat: i64,
}

#[async_trait]
impl PlatformHarness for Harness {
    fn room(&self) -> RoomId {
        RoomId::new(self.chat.to_string())
    }

    async fn post_as_person(&self, text: &str) -> RemoteMsgId {
        let id = self
            .server
            .post_as_user(self.chat, common::ADA, text)
            .unwrap();
        RemoteMsgId::new(id.to_string())
    }

    async fn shown_text(&self, id: &RemoteMsgId) -> Option<String> {
        let m = self.server.message(self.chat, id.as_str().parse().ok()?)?;
        (!m.deleted).then_some(m.text)
    }
}

#[tokio::test]
async fn telegram_connector_passes_the_conformance_suite() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = common::connector(&server);
    run_suite(conn, &Harness { server, chat }).await;
}
