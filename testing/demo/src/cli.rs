//! The `civicbridge demo` command: builds the world under one data directory, plays the story,
//! shows what everyone sees, then keeps running with instructions to take part, until Ctrl-C.
//!
//! Data directory layout (default `$XDG_CACHE_HOME/civicbridge/demo`, else
//! `~/.cache/civicbridge/demo`):
//! - `synapse/`: the homeserver's config, database and keys, reused by every later run (the
//!   Synapse program itself is installed once per machine in `~/.cache/civicbridge/synapse-venv`).
//! - `demo.json`: the Matrix accounts and room ids created on the first run.
//! - `bridge/`: the config the demo writes, the bridge's Matrix session (`matrix/`, kept: one
//!   device across runs, as in production) and its store (`bridge-store/`, recreated each run).
//!
//! The local Telegram and Discord servers keep their state in memory, so each run recreates
//! their group and channel (with fresh ids; the config is rewritten to match) and starts the
//! bridge's store afresh: a store that remembered the last run's Telegram message ids would
//! take the new run's messages, which reuse those ids, for replays. Matrix accounts, rooms and
//! the bot's session persist (a fresh store has a new instance name in its transaction ids, so
//! Synapse never takes a new send for a repeat of the last run's).

use super::scenario;
use super::world::{World, WorldOptions};
use super::{DemoError, Homeserver, Saved};
use civicbridge_core::ops::daemon;
use civicbridge_testkit::discord::ServerOptions;
use civicbridge_testkit::synapse::{venv_dir, SYNAPSE_VERSION};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Ports the demo asks for, so the printed commands stay the same from run to run (any free
/// port is used when one is taken).
const SYNAPSE_PORT: u16 = 8008;
const TELEGRAM_PORT: u16 = 8081;
const DISCORD_PORT: u16 = 8082;
/// The admin listener's port, as in README's example (any free port if it is taken).
const ADMIN_PORT: u16 = 9090;

/// Options of `civicbridge demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Where the demo keeps everything (reused by the next run). Default: the user's cache
    /// directory, `~/.cache/civicbridge/demo`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Play the scenario, verify every step, stop everything, and exit 0 (all good) or 1.
    #[arg(long)]
    pub check: bool,
    /// Start everything but do not play the scenario.
    #[arg(long, conflicts_with = "check")]
    pub no_scenario: bool,
}

/// The default data directory.
pub fn default_data_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("civicbridge").join("demo")
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Runs the demo. `Err` is a failure (exit 1); with `--check`, a failed step is one.
pub async fn run(args: DemoArgs) -> Result<(), DemoError> {
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&dir).map_err(DemoError::io(&dir))?;
    say(&format!(
        "civicbridge demo · everything lives in {}",
        dir.display()
    ));

    let synapse_dir = dir.join("synapse");
    let state_path = dir.join("demo.json");
    let saved = load_saved(&state_path, &synapse_dir)?;
    let installed = venv_dir()
        .join(format!(".civicbridge-synapse-{SYNAPSE_VERSION}"))
        .exists();
    let ticker = if installed {
        say(if saved.is_some() {
            "· starting Synapse (the homeserver) from the last run's data …"
        } else {
            "· starting Synapse (the homeserver) …"
        });
        None
    } else {
        say(&format!(
            "· installing Synapse {SYNAPSE_VERSION} into {} (first run only: about a minute) …",
            venv_dir().display()
        ));
        Some(tokio::spawn(tick("installing and starting Synapse")))
    };
    let bridge_dir = dir.join("bridge");
    // A fresh bridge store each run (see the module doc).
    let store = bridge_dir.join("bridge-store");
    if store.exists() {
        std::fs::remove_dir_all(&store).map_err(DemoError::io(&store))?;
    }
    let reused = saved.is_some();
    let admin = admin_listen();
    let world = World::create(WorldOptions {
        homeserver: Homeserver::Own {
            data_dir: Some(synapse_dir),
            port: Some(SYNAPSE_PORT),
        },
        daemon: daemon::Options {
            admin: Some(civicbridge_core::ops::admin::AdminSettings {
                listen: admin,
                tokens: Default::default(),
                console: Some(civicbridge_core::ops::console::ConsoleSettings::local(
                    &format!("http://{admin}"),
                )),
            }),
            ..daemon::Options::default()
        },
        telegram_port: TELEGRAM_PORT,
        discord: ServerOptions {
            port: DISCORD_PORT,
            ..ServerOptions::default()
        },
        saved,
        ..WorldOptions::test(&bridge_dir)
    })
    .await;
    if let Some(t) = ticker {
        t.abort();
        eprintln!();
    }
    let world = world?;
    say(&format!("· Synapse is up at {}", world.homeserver_url()));
    if !reused {
        say("· created the bot, a staff member and a moderator, the staff room and the moderation room");
    }
    save(&state_path, &world.saved())?;
    say(&format!(
        "· local Telegram Bot API at {} (forum group \"Riverside residents\", topic \"Library\")",
        world.telegram.url()
    ));
    say(&format!(
        "· local Discord at {} (server \"Riverside community\", #ask-the-council)",
        world.discord.api_base()
    ));
    say(&format!(
        "· starting the bridge on {} …",
        world.config_path.display()
    ));
    let started = world.start().await;
    if let Err(e) = started {
        let _ = world.shutdown().await;
        return Err(e);
    }
    if let Some(addr) = world.admin_addr().await {
        say(&format!(
            "· admin listener at http://{addr}/ (livez, readyz: is every platform connected?, metrics)"
        ));
    }
    if let Some(link) = world.console_sign_in().await {
        let addr = world
            .admin_addr()
            .await
            .map(|a| a.to_string())
            .unwrap_or_default();
        say(&format!("· moderation console at http://{addr}/console/"));
        say(&format!(
            "  sign in as the moderator (once, within 5 minutes; later, !weblogin in the moderation room): {link}"
        ));
    }
    say("· the bridge is running\n");

    if !args.no_scenario {
        say(
            "The story (public_to_staff = \"approve\": residents' messages wait for a moderator)\n",
        );
        let played = scenario::play(&world, &mut |line| say(line)).await;
        match played {
            Ok(outcome) => {
                say("");
                match scenario::transcript(&world, &outcome).await {
                    Ok(t) => say(&format!("What each participant sees now:\n{t}")),
                    Err(e) => say(&format!("(could not read the transcripts: {e})")),
                }
                if args.check {
                    say("demo --check: every step verified ✔");
                }
            }
            Err(e) => {
                say(&format!("✘ the scenario failed: {e}"));
                let _ = world.shutdown().await;
                return Err(e);
            }
        }
    }
    if args.check {
        return world.shutdown().await;
    }

    let resident = world.discord.create_user("chris", Some("Chris"));
    say(&instructions(&world, resident));
    tokio::select! {
        _ = daemon::signal() => say("\nstopping: the bridge, Synapse and the local servers …"),
        failed = world.connector_failed() => {
            if let Some((platform, why)) = failed {
                say(&format!("\nthe {platform} connector stopped: {why}; stopping everything …"));
            }
        }
    }
    let stopped = world.shutdown().await;
    say("stopped.");
    stopped
}

/// Prints elapsed seconds on stderr while something slow runs (aborted by the caller).
async fn tick(what: &'static str) {
    let start = Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r  {what} … {} s ", start.elapsed().as_secs());
        let _ = err.flush();
    }
}

/// The last run's accounts and rooms, if its homeserver data is still there.
fn load_saved(path: &Path, synapse_dir: &Path) -> Result<Option<Saved>, DemoError> {
    if !path.exists() || !synapse_dir.join("homeserver.db").exists() {
        return Ok(None);
    }
    let text = std::fs::read(path).map_err(DemoError::io(path))?;
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| DemoError::State {
            path: path.to_owned(),
            problem: e.to_string(),
        })
}

fn save(path: &Path, saved: &Saved) -> Result<(), DemoError> {
    let text = serde_json::to_vec_pretty(saved).map_err(|e| DemoError::State {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(DemoError::io(path))
}

/// How to take part, with ready-to-paste commands.
pub fn instructions(world: &World, discord_resident: u64) -> String {
    let tg = world.telegram.url();
    let dc = world.discord.api_base();
    format!(
        r#"
The demo keeps running. Take part:

Matrix (any Matrix client that can reach 127.0.0.1, e.g. Element desktop; homeserver {hs}):
  staff member:  {staff}   password: {staff_pw}
  moderator:     {moderator}   password: {mod_pw}
  The moderator approves held messages in the "Moderation" room with a ✅ reaction on the card,
  or by typing !approve ID (!reject ID [reason], !queue, !help).

Post as a resident on Telegram (the local Bot API server):
  curl -s -X POST {tg}/control/post -H 'content-type: application/json' \
    -d '{{"chat_id": {chat}, "message_thread_id": {topic}, "user_id": 7, "first_name": "Chris", "text": "Hello from Telegram"}}'
  see what the bot posted there:  curl -s '{tg}/control/messages?chat_id={chat}'

Post as a resident on Discord (the local Discord server):
  curl -s -X POST {dc}/_control/messages -H 'content-type: application/json' \
    -d '{{"channel": "{channel}", "user": "{resident}", "text": "Hello from Discord"}}'
  see the channel:  curl -s {dc}/_control/channels/{channel}/messages

The bridge's config: {config}
Press Ctrl-C to stop everything (the bridge, Synapse, the local servers)."#,
        hs = world.homeserver_url(),
        staff = world.staff.account.user_id,
        staff_pw = world.staff.account.password,
        moderator = world.moderator.account.user_id,
        mod_pw = world.moderator.account.password,
        chat = world.tg_chat,
        topic = world.tg_topic,
        channel = world.dc_channel,
        resident = discord_resident,
        config = world.config_path.display(),
    )
}

/// `127.0.0.1:9090` if it is free now, else a port on loopback free now (a concrete one: the
/// console's sign-in links name it).
fn admin_listen() -> std::net::SocketAddr {
    let preferred = std::net::SocketAddr::from(([127, 0, 0, 1], ADMIN_PORT));
    match std::net::TcpListener::bind(preferred) {
        Ok(_) => preferred,
        Err(_) => std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .unwrap_or(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
    }
}
