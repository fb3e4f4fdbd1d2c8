//! The demo world: a real Synapse, the local Telegram and Discord servers, three Matrix people
//! (the bridge's bot, a staff member, a moderator), a staff room, a moderation room, a Telegram
//! forum group with a topic, a Discord channel, a config for one link, and the real daemon on
//! it. `civicbridge demo` and the end-to-end tests build the same world.

use super::matrix::{Account, MatrixUser};
use super::wait::wait_for;
use super::DemoError;
use civicbridge_api::{Connector, PlatformFactory};
use civicbridge_core::moderation::rules::Rules;
use civicbridge_core::ops::config::Settings;
use civicbridge_core::ops::daemon::{self, Daemon};
use civicbridge_core::store::{Store, StoreError};
use civicbridge_discord::DiscordConnector;
use civicbridge_testkit::discord::{DiscordServer, ServerOptions};
use civicbridge_testkit::synapse::{self, Synapse, SynapseOptions};
use civicbridge_testkit::telegram::{ShownMessage, TelegramServer, DEFAULT_TOKEN};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a world waits for a platform to get somewhere before calling it broken.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The link's id in the config.
pub const LINK: &str = "riverside";

/// Which homeserver the world uses.
#[derive(Debug, Clone)]
pub enum Homeserver {
    /// The test process's shared Synapse (`synapse::shared()`); fresh users per world.
    Shared,
    /// A Synapse of its own: kept in `data_dir` (reused by a later start) or temporary, on
    /// `port` if free. Needed to restart the homeserver.
    Own {
        data_dir: Option<PathBuf>,
        port: Option<u16>,
    },
}

/// What to build.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// Holds the config file, the bridge's store (`bridge-store`) and the Matrix session
    /// (`matrix`).
    pub dir: PathBuf,
    pub homeserver: Homeserver,
    pub rules: Rules,
    pub daemon: daemon::Options,
    /// Ports for the local Telegram and Discord servers (0: any free port; a taken port falls
    /// back to any).
    pub telegram_port: u16,
    /// How the local Discord server behaves (its port, heartbeat interval …).
    pub discord: ServerOptions,
    /// Matrix accounts and rooms from an earlier run on the same kept homeserver.
    pub saved: Option<Saved>,
    /// Whether the config names the moderator as the link's moderator; without it, power level
    /// 50 in the moderation room is what makes one.
    pub moderators_in_config: bool,
    /// How long the bridge's Matrix sync and Telegram poll wait for news (a daemon stops within
    /// about that long).
    pub sync_timeout_s: u64,
    pub poll_timeout_secs: u64,
    /// TOML appended to the config after the link (top-level sections such as `[connectors]`).
    pub extra_config: String,
}

impl WorldOptions {
    /// A world in `dir` on the shared Synapse, with the demo's rules and config (what the demo
    /// runs, on its own homeserver).
    pub fn test(dir: &Path) -> WorldOptions {
        WorldOptions {
            dir: dir.to_owned(),
            homeserver: Homeserver::Shared,
            rules: demo_rules(),
            daemon: daemon::Options::default(),
            telegram_port: 0,
            discord: ServerOptions::default(),
            saved: None,
            moderators_in_config: true,
            sync_timeout_s: 10,
            poll_timeout_secs: 5,
            extra_config: String::new(),
        }
    }
}

/// The demo's moderation: nothing a resident writes reaches anyone until a moderator approves
/// it; staff answers go out at once.
pub fn demo_rules() -> Rules {
    use civicbridge_core::moderation::rules::{DirectionRule, Policy};
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..Rules::default()
    }
}

/// The Matrix side of a world, kept between demo runs (`demo.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub bot: Account,
    pub staff: Account,
    pub moderator: Account,
    pub staff_room: String,
    pub moderation_room: String,
}

#[derive(Debug)]
enum Hs {
    Shared(&'static Synapse),
    Own(Synapse),
}

/// The daemon while it runs.
#[derive(Debug)]
struct Running {
    daemon: Daemon,
}

/// A built world. Dropping it stops the local servers and an own Synapse; call
/// [`World::stop`] first to stop the daemon gracefully.
#[derive(Debug)]
pub struct World {
    hs: Hs,
    pub telegram: TelegramServer,
    pub discord: DiscordServer,
    pub staff: MatrixUser,
    pub moderator: MatrixUser,
    pub bot: Account,
    pub staff_room: String,
    pub moderation_room: String,
    /// The Telegram forum group and its topic where residents ask.
    pub tg_chat: i64,
    pub tg_topic: i32,
    pub dc_guild: u64,
    pub dc_channel: u64,
    pub config_path: PathBuf,
    pub(crate) options: WorldOptions,
    /// Behind a lock so the daemon can restart while others act in the world (`&self`).
    running: tokio::sync::Mutex<Option<Running>>,
}

impl World {
    /// Builds everything but the daemon (see [`World::start`]).
    pub async fn create(options: WorldOptions) -> Result<World, DemoError> {
        std::fs::create_dir_all(&options.dir).map_err(DemoError::io(&options.dir))?;
        let hs = match &options.homeserver {
            Homeserver::Shared => Hs::Shared(synapse::shared().await?),
            Homeserver::Own { data_dir, port } => Hs::Own(
                Synapse::start(SynapseOptions {
                    data_dir: data_dir.clone(),
                    port: *port,
                    ..SynapseOptions::default()
                })
                .await?,
            ),
        };
        let synapse = match &hs {
            Hs::Shared(s) => *s,
            Hs::Own(s) => s,
        };
        let saved = match options.saved.clone() {
            Some(s) => s,
            None => matrix_side(synapse, matches!(options.homeserver, Homeserver::Shared)).await?,
        };
        let staff = MatrixUser::new(synapse.url(), saved.staff.clone());
        let moderator = MatrixUser::new(synapse.url(), saved.moderator.clone());

        let telegram = match TelegramServer::bind(
            &format!("127.0.0.1:{}", options.telegram_port),
            DEFAULT_TOKEN,
        )
        .await
        {
            Ok(s) => s,
            Err(_) => TelegramServer::start().await,
        };
        let tg_chat = telegram.create_forum("Riverside residents");
        let tg_topic = telegram.create_topic(tg_chat, "Library")?;
        let discord = match DiscordServer::start_with(options.discord.clone()).await {
            Ok(s) => s,
            Err(_) => {
                DiscordServer::start_with(ServerOptions {
                    port: 0,
                    ..options.discord.clone()
                })
                .await?
            }
        };
        let dc_guild = discord.create_guild("Riverside community");
        let dc_channel = discord.create_channel(dc_guild, "ask-the-council");

        let config_path = options.dir.join("civicbridge.toml");
        let world = World {
            hs,
            telegram,
            discord,
            staff,
            moderator,
            bot: saved.bot.clone(),
            staff_room: saved.staff_room.clone(),
            moderation_room: saved.moderation_room.clone(),
            tg_chat,
            tg_topic,
            dc_guild,
            dc_channel,
            config_path,
            options,
            running: tokio::sync::Mutex::new(None),
        };
        world.write_config(&world.options.rules)?;
        Ok(world)
    }

    pub fn synapse(&self) -> &Synapse {
        match &self.hs {
            Hs::Shared(s) => s,
            Hs::Own(s) => s,
        }
    }

    /// The homeserver's URL, e.g. `http://127.0.0.1:8008`.
    pub fn homeserver_url(&self) -> &str {
        self.synapse().url()
    }

    /// What to keep for a later run on the same homeserver.
    pub fn saved(&self) -> Saved {
        Saved {
            bot: self.bot.clone(),
            staff: self.staff.account.clone(),
            moderator: self.moderator.account.clone(),
            staff_room: self.staff_room.clone(),
            moderation_room: self.moderation_room.clone(),
        }
    }

    /// Rewrites the config file with `rules` for the link (for a reload of a running bridge).
    pub fn write_config(&self, rules: &Rules) -> Result<(), DemoError> {
        std::fs::write(&self.config_path, self.config_text(rules)?)
            .map_err(DemoError::io(&self.config_path))
    }

    /// Where the bridge keeps its state.
    pub fn store_path(&self) -> PathBuf {
        self.options.dir.join("bridge-store")
    }

    /// Where the bridge's Matrix connector keeps its session and crypto store.
    pub fn matrix_dir(&self) -> PathBuf {
        self.options.dir.join("matrix")
    }

    /// Starts the daemon on the world's config and store and waits until every connector is
    /// live (see [`World::start_daemon`]); [`World::stop`] stops it.
    pub async fn start(&self) -> Result<(), DemoError> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let store = open_store(&self.store_path()).await?;
        let daemon = self
            .start_daemon(store, &self.options.rules, self.options.daemon.clone())
            .await?;
        *running = Some(Running { daemon });
        Ok(())
    }

    /// Starts a daemon of the caller's own on `store`, with the world's config under `rules`
    /// and `options`, as `civicbridge run` builds it (the platforms' factories), and waits until
    /// every connector is live: the bot has joined both Matrix rooms, Telegram is being polled,
    /// the Discord gateway is ready. For tests that seed the store or watch the daemon.
    pub async fn start_daemon(
        &self,
        store: Store,
        rules: &Rules,
        options: daemon::Options,
    ) -> Result<Daemon, DemoError> {
        self.start_daemon_on(store, &self.config_text(rules)?, options)
            .await
    }

    /// As [`World::start_daemon`], on the config text `config` (the world's own,
    /// [`World::config_text`], with whatever the caller added, such as a second link); waits
    /// for the world's own rooms only.
    pub async fn start_daemon_on(
        &self,
        store: Store,
        config: &str,
        options: daemon::Options,
    ) -> Result<Daemon, DemoError> {
        let settings = Settings::from_toml(config, &self.options.dir, &platforms())?;
        let (connectors, discord) = connectors(&settings).await?;
        let options = daemon::Options {
            platforms: platforms(),
            admin: options.admin.or(settings.admin.clone()),
            ..options
        };
        let daemon = Daemon::start(store, &settings.links, connectors, options).await?;
        for (room, member) in [
            (&self.staff_room, &self.staff),
            (&self.moderation_room, &self.moderator),
        ] {
            wait_for(PATIENCE, "the bot to join the Matrix rooms", || async {
                Ok(member
                    .joined_members(room)
                    .await?
                    .contains(&self.bot.user_id)
                    .then_some(()))
            })
            .await?;
        }
        wait_for(PATIENCE, "the Discord gateway to be ready", || async {
            Ok((discord
                .handler_counts()
                .get("GUILD_CREATE")
                .copied()
                .unwrap_or(0)
                >= 1)
                .then_some(()))
        })
        .await?;
        wait_for(PATIENCE, "the bridge to poll Telegram", || async {
            Ok((self.telegram.polls_in_progress() >= 1).then_some(()))
        })
        .await?;
        Ok(daemon)
    }

    /// A fresh Matrix account on the world's homeserver, in no room yet.
    pub async fn person(&self, prefix: &str) -> Result<MatrixUser, DemoError> {
        MatrixUser::register(self.synapse(), prefix).await
    }

    /// Stops the daemon gracefully (nothing unsent is lost: it waits in the store).
    pub async fn stop(&self) -> Result<(), DemoError> {
        let taken = self.running.lock().await.take();
        if let Some(r) = taken {
            r.daemon.shutdown().await?;
        }
        Ok(())
    }

    /// Stops and starts the daemon on the same store.
    pub async fn restart(&self) -> Result<(), DemoError> {
        self.stop().await?;
        self.start().await
    }

    /// The running daemon's store (to check the outbox, the queue, the audit log).
    pub async fn store(&self) -> Option<Store> {
        self.running
            .lock()
            .await
            .as_ref()
            .map(|r| r.daemon.store().clone())
    }

    /// Where the running daemon's admin listener listens, if it has one.
    pub async fn admin_addr(&self) -> Option<std::net::SocketAddr> {
        self.running
            .lock()
            .await
            .as_ref()
            .and_then(|r| r.daemon.admin_addr())
    }

    /// A console sign-in link for the moderator, as `!weblogin` would send them (`None`: the
    /// console is off or the daemon is not running).
    pub async fn console_sign_in(&self) -> Option<String> {
        let key: civicbridge_api::UserKey = format!("matrix:{}", self.moderator.user_id())
            .parse()
            .ok()?;
        let person = civicbridge_core::ops::console::who::Person {
            name: "moderator".into(),
            key,
            standing: None,
        };
        self.running
            .lock()
            .await
            .as_ref()
            .and_then(|r| r.daemon.console_sign_in(person))
    }

    /// Resolves when a connector of the running daemon fails for good (holds the daemon while
    /// it waits: drop the future before stopping).
    pub async fn connector_failed(&self) -> Option<(civicbridge_api::Platform, String)> {
        let mut running = self.running.lock().await;
        match running.as_mut() {
            Some(r) => {
                let (p, e) = r.daemon.connector_failed().await;
                Some((p, e.to_string()))
            }
            None => None,
        }
    }

    /// A resident posts in the Telegram topic; returns the message id.
    pub fn ask_on_telegram(&self, user: (i64, &str), text: &str) -> Result<i32, DemoError> {
        Ok(self
            .telegram
            .post_in_topic(self.tg_chat, self.tg_topic, user, text)?)
    }

    /// What the bot posted in the Telegram group, oldest first.
    pub fn telegram_bot_posts(&self) -> Vec<ShownMessage> {
        self.telegram.bot_messages(self.tg_chat)
    }

    /// Stops everything this world started: the daemon, then an own Synapse (the local servers
    /// stop when the world is dropped).
    pub async fn shutdown(self) -> Result<(), DemoError> {
        let stopped = self.stop().await;
        if let Hs::Own(s) = &self.hs {
            s.stop_async().await;
        }
        stopped
    }
}

/// Registers the three Matrix people and creates the two rooms. On the shared server names are
/// fresh per call; on an own server they are fixed (`civicbridge`, `staff`, `moderator`) so the
/// demo's logins are easy to type.
async fn matrix_side(hs: &Synapse, shared: bool) -> Result<Saved, DemoError> {
    let register = |name: &'static str| async move {
        let user = if shared {
            hs.register_fresh(name).await?
        } else {
            hs.register(name, &password(), false).await?
        };
        Ok::<Account, DemoError>(user.into())
    };
    let bot = register("civicbridge").await?;
    let staff = MatrixUser::new(hs.url(), register("staff").await?);
    let moderator = MatrixUser::new(hs.url(), register("moderator").await?);
    let staff_room = staff
        .create_room("Residents' questions (staff)", &[&bot.user_id])
        .await?;
    // The moderator creates the moderation room, so holds power level 100 there.
    let moderation_room = moderator
        .create_room("Moderation", &[&bot.user_id, staff.user_id()])
        .await?;
    staff.invite(&staff_room, moderator.user_id()).await?;
    moderator.join(&staff_room).await?;
    Ok(Saved {
        bot,
        staff: staff.account,
        moderator: moderator.account,
        staff_room,
        moderation_room,
    })
}

/// A password for a demo account: readable, random enough for a loopback-only server.
fn password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let words = ["river", "bridge", "lantern", "harbour", "meadow", "orchard"];
    format!(
        "{}-{}-{}",
        words[rng.random_range(0..words.len())],
        words[rng.random_range(0..words.len())],
        rng.random_range(1000..10000)
    )
}

/// Opens the store, waiting for a previous daemon in this process to let go of its lock.
async fn open_store(path: &Path) -> Result<Store, DemoError> {
    wait_for(PATIENCE, "the store lock", || async {
        match Store::open(path) {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::Locked(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

/// The demo's platforms: the three this world runs locally.
pub fn platforms() -> Vec<Arc<dyn PlatformFactory>> {
    vec![
        Arc::new(civicbridge_matrix::MatrixFactory),
        Arc::new(civicbridge_telegram::TelegramFactory),
        Arc::new(civicbridge_discord::DiscordFactory),
    ]
}

/// The three connectors for `settings`, built by their factories as `civicbridge run` builds
/// them; the Discord one is built from its section directly, for its readiness counters.
pub async fn connectors(
    settings: &Settings,
) -> Result<(Vec<Arc<dyn Connector>>, Arc<DiscordConnector>), DemoError> {
    let mut out: Vec<Arc<dyn Connector>> = Vec::new();
    let mut discord = None;
    for p in &settings.platforms {
        let platform = p.factory.platform();
        if platform == civicbridge_discord::PLATFORM {
            let config: civicbridge_discord::DiscordConfig = p
                .section
                .parse()
                .map_err(|e| DemoError::Connector(e.to_string()))?;
            let c = Arc::new(
                DiscordConnector::new(config).map_err(|e| DemoError::Connector(e.to_string()))?,
            );
            out.push(c.clone());
            discord = Some(c);
            continue;
        }
        let built = p
            .factory
            .build(&p.section, settings.build_context(platform))
            .await
            .map_err(|e| DemoError::Connector(e.to_string()))?;
        out.push(built.connector);
    }
    let Some(discord) = discord else {
        return Err(DemoError::Connector(
            "the demo config needs matrix, telegram and discord sections".into(),
        ));
    };
    Ok((out, discord))
}
