//! The shared connector conformance suite, with serenity against the local Discord.
#![allow(clippy::unwrap_used)]

mod common;

use async_trait::async_trait;
use civicbridge_api::testing::conformance::{run_suite, PlatformHarness};
use civicbridge_api::{RemoteMsgId, RoomId};
use civicbridge_discord::DiscordConnector;
use civicbridge_testkit::discord::{DiscordServer, ServerOptions};
use std::sync::Arc;

struct Harness {
    server: DiscordServer,
    channel: u64,
    person: u64,
}

#[async_trait]
impl PlatformHarness for Harness {
    fn room(&self) -> RoomId {
        RoomId::new(self.channel.to_string())
    }
    async fn post_as_person(&self, text: &str) -> RemoteMsgId {
        // The bot must be online to see it: Discord does not queue dispatches for a bot that has
        // not identified yet.
        civicbridge_api::testing::wait_until(common::WAIT, "the bot identified", || {
            self.server.gateway_counts().1 >= 1
        })
        .await;
        RemoteMsgId::new(
            self.server
                .post_as_user(self.channel, self.person, text)
                .to_string(),
        )
    }
    async fn shown_text(&self, id: &RemoteMsgId) -> Option<String> {
        let m = self.server.message(id.as_str().parse().ok()?)?;
        (!m.deleted).then_some(m.shown)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenity_passes_the_conformance_suite() {
    let (server, _guild, channel, _forum, ada, _bob) =
        common::server_world(ServerOptions::default()).await;
    let connector = Arc::new(DiscordConnector::new(common::config(&server)).unwrap());
    let harness = Harness {
        server,
        channel,
        person: ada,
    };
    run_suite(connector.clone(), &harness).await;
    // Nothing the suite posted could ping anyone.
    for m in harness.server.messages_in(channel) {
        if m.author_id == harness.server.bot_id() {
            assert_eq!(m.allowed_mentions, Some(serde_json::json!({"parse": []})));
            assert!(!m.pings_everyone && m.pinged_users.is_empty());
        }
    }
}
