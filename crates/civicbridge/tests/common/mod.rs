//! A bridge on fake platforms: one link joining a staff Matrix room, a Telegram group and a
//! Discord channel, moderated from a Matrix room.
#![allow(dead_code, clippy::unwrap_used)]

pub mod admin;
pub mod browser;
pub mod cli;
pub mod console;

use civicbridge_api::testing::FakeConnector;
use civicbridge_api::{Connector, LinkId, Platform, RoomRef};
use civicbridge_core::moderation::rules::{
    DirectionRule, EditPolicy, LinkPolicy, Policy, Rules, Side,
};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::pipeline::outbox::RetryPolicy;
use civicbridge_core::store::{LinkRecord, LinkRoom, Store};
use std::sync::Arc;
use std::time::Duration;

pub const STAFF: &str = "!staff";
pub const MODS: &str = "!mod";
pub const TG: &str = "-100";
pub const DC: &str = "200";
pub const MODERATOR: (&str, &str) = ("@mod", "Mo");
pub const STAFFER: (&str, &str) = ("@sam", "Sam");
pub const RESIDENT: (&str, &str) = ("42", "Ada");
pub const WAIT: Duration = Duration::from_secs(20);

pub fn link(rules: Rules) -> Vec<LinkSettings> {
    link_with_telegram(TG, rules)
}

/// The test link, with its Telegram room at `telegram_chat`.
pub fn link_with_telegram(telegram_chat: &str, rules: Rules) -> Vec<LinkSettings> {
    vec![LinkSettings {
        link: LinkRecord {
            id: LinkId::new("planning"),
            rooms: vec![
                LinkRoom {
                    room: RoomRef::new(Platform::new("matrix"), STAFF),
                    side: Side::Staff,
                },
                LinkRoom {
                    room: RoomRef::new(Platform::new("telegram"), telegram_chat),
                    side: Side::Public,
                },
                LinkRoom {
                    room: RoomRef::new(Platform::new("discord"), DC),
                    side: Side::Public,
                },
            ],
            moderation_room: Some(RoomRef::new(Platform::new("matrix"), MODS)),
            moderators: vec!["matrix:@mod".parse().unwrap()],
            admins: vec![],
        },
        rules,
    }]
}

/// Everything crosses at once (no filters): for pipeline mechanics.
pub fn open_rules() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        links: LinkPolicy::Allow,
        edits_public_to_staff: EditPolicy::Auto,
        ..Rules::default()
    }
}

pub struct Fakes {
    pub matrix: Arc<FakeConnector>,
    pub telegram: Arc<FakeConnector>,
    pub discord: Arc<FakeConnector>,
}

impl Fakes {
    pub fn new() -> Fakes {
        Fakes {
            matrix: FakeConnector::new(Platform::new("matrix")),
            telegram: FakeConnector::new(Platform::new("telegram")),
            discord: FakeConnector::new(Platform::new("discord")),
        }
    }

    pub fn all(&self) -> Vec<Arc<dyn Connector>> {
        vec![
            self.matrix.clone(),
            self.telegram.clone(),
            self.discord.clone(),
        ]
    }
}

pub fn fast_retries() -> Options {
    Options {
        retry: RetryPolicy {
            base: Duration::from_millis(5),
            max: Duration::from_millis(50),
        },
        grace: Duration::from_secs(10),
        // A room the bot could not join is tried again soon.
        watch: civicbridge_core::ops::watch::WatchOptions {
            room_recheck: Duration::from_millis(50),
            ..Default::default()
        },
        // The real platforms' factories, for `!takedown` with a link to a message.
        platforms: vec![
            Arc::new(civicbridge_matrix::MatrixFactory),
            Arc::new(civicbridge_telegram::TelegramFactory),
            Arc::new(civicbridge_discord::DiscordFactory),
        ],
        ..Options::default()
    }
}

pub async fn start(store: Store, rules: Rules, fakes: &Fakes) -> Daemon {
    Daemon::start(store, &link(rules), fakes.all(), fast_retries())
        .await
        .unwrap()
}

/// Waits for an injected event's acknowledgement.
pub async fn acked(rx: tokio::sync::oneshot::Receiver<()>) {
    tokio::time::timeout(WAIT, rx)
        .await
        .expect("ack in time")
        .expect("acknowledged");
}
