//! The end-to-end world of the moderator's workflow tests: the demo's world
//! ([`civicbridge_demo::World`]: the shared Synapse, the local Telegram and Discord servers, the
//! people, the rooms and the config), set up as these tests need it, with waits that fail the
//! test instead of returning errors.
//!
//! What differs from the demo: moderators are whoever holds power level 50 in the moderation
//! room (the config names none), an outsider has joined that room with power 0, syncs and polls
//! are short so a daemon stops quickly, and each test starts its own daemon on a store it chose
//! (seeded, in memory, on disk) under its own rules. Rooms are unencrypted (the Matrix
//! connector's encryption has its own tests), unless a test brings its own ([`World::with_matrix`],
//! as `e2e_encrypted` does).
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_core::moderation::rules::Rules;
use civicbridge_core::ops::daemon::Daemon;
use civicbridge_core::store::Store;
use civicbridge_demo::matrix::{MatrixUser, RoomMessage};
use civicbridge_demo::WorldOptions;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(60);

/// The world, and what the tests add to it.
pub struct World {
    world: civicbridge_demo::World,
    /// Someone in the moderation room without any standing there.
    pub outsider: MatrixUser,
    /// Holds the config and the Matrix session; removed with the world.
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for World {
    type Target = civicbridge_demo::World;
    fn deref(&self) -> &Self::Target {
        &self.world
    }
}

impl World {
    pub async fn new() -> World {
        Self::build(
            civicbridge_demo::world::demo_rules(),
            "",
            Default::default(),
        )
        .await
    }

    /// The world with `rules` and `extra` (top-level sections) in its config file, for the
    /// shipped binary (an in-process daemon takes its rules from [`World::start`]), and its
    /// local Discord server started with `discord`.
    pub async fn build(
        rules: Rules,
        extra: &str,
        discord: civicbridge_testkit::discord::ServerOptions,
    ) -> World {
        Self::create(rules, extra, discord, None).await
    }

    /// The world on Matrix accounts and rooms the caller made on the shared Synapse (`saved`),
    /// e.g. an encrypted moderation room created by a moderator's own client.
    pub async fn with_matrix(saved: civicbridge_demo::Saved) -> World {
        Self::create(
            civicbridge_demo::world::demo_rules(),
            "",
            Default::default(),
            Some(saved),
        )
        .await
    }

    async fn create(
        rules: Rules,
        extra: &str,
        discord: civicbridge_testkit::discord::ServerOptions,
        saved: Option<civicbridge_demo::Saved>,
    ) -> World {
        let dir = tempfile::tempdir().unwrap();
        let world = civicbridge_demo::World::create(WorldOptions {
            moderators_in_config: false,
            sync_timeout_s: 1,
            poll_timeout_secs: 1,
            extra_config: extra.to_owned(),
            rules,
            discord,
            saved,
            ..WorldOptions::test(dir.path())
        })
        .await
        .unwrap();
        let outsider = world.person("outsider").await.unwrap();
        world
            .moderator
            .invite(&world.moderation_room, outsider.user_id())
            .await
            .unwrap();
        outsider.join(&world.moderation_room).await.unwrap();
        World {
            world,
            outsider,
            _dir: dir,
        }
    }

    /// Starts the daemon on `store` under `rules`, with quick retries; returns once every
    /// connector is live.
    pub async fn start(&self, store: Store, rules: Rules) -> Daemon {
        self.world
            .start_daemon(store, &rules, crate::common::fast_retries())
            .await
            .unwrap()
    }

    /// Polls the moderation room until a message satisfies `f`; returns it.
    pub async fn in_mod_room(&self, what: &str, f: impl Fn(&RoomMessage) -> bool) -> RoomMessage {
        self.moderator
            .wait_for_message(&self.moderation_room, WAIT, what, f)
            .await
            .unwrap()
    }

    pub async fn in_staff_room(&self, what: &str, f: impl Fn(&RoomMessage) -> bool) -> RoomMessage {
        self.staff
            .wait_for_message(&self.staff_room, WAIT, what, f)
            .await
            .unwrap()
    }
}
