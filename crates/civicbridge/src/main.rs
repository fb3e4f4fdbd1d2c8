//! The `civicbridge` command line. Thin: parsing, exit codes and printing; the work is in the
//! library. Exit codes: 0 ok, 1 failure while running, 2 bad input (one line on stderr).

use anyhow::Context;
use civicbridge_api::{BuildError, Connector, LinkId};
use civicbridge_core::ops::config::Settings;
use civicbridge_core::ops::daemon::{self, Daemon};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{ErrorKind, Store, StoreError};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

mod cli {
    pub mod privacy;
    pub mod remote;
}
mod platforms;
mod systemd;

#[derive(Parser)]
#[command(
    name = "civicbridge",
    version,
    about = "A moderated bridge between Matrix, Telegram and Discord"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the bridge until SIGINT or SIGTERM.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config and print its links and effective rules.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Show or change a link's rules (while the bridge runs, through its admin API when the
    /// config has [admin] listen and an admin token).
    Rules {
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        action: RulesCmd,
    },
    /// List or decide held messages.
    Queue {
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        action: QueueCmd,
    },
    /// Delete every copy of a bridged message (WHAT: m7, #12, a message link or id; see !help).
    Takedown {
        #[arg(long, short)]
        config: PathBuf,
        link: String,
        what: String,
    },
    /// Put a sender (platform:id) on a link's trusted list.
    Trust {
        #[arg(long, short)]
        config: PathBuf,
        link: String,
        user: String,
    },
    /// Put a sender (platform:id) on a link's blocked list.
    Block {
        #[arg(long, short)]
        config: PathBuf,
        link: String,
        user: String,
    },
    /// Erase a person: delete every copy of their messages the bot can (when the bridge next
    /// starts), discard their held items, and replace their content in the store by tombstones.
    Erase {
        #[arg(long, short)]
        config: PathBuf,
        /// The person, as PLATFORM:ID (e.g. telegram:42).
        #[arg(long)]
        user: String,
    },
    /// Prune mirrored content older than each link's retention_days (the bridge does this
    /// hourly while it runs).
    Prune {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Export or verify the audit log.
    Audit {
        #[arg(long, short)]
        config: PathBuf,
        #[command(subcommand)]
        action: AuditCmd,
    },
    /// See it work without any accounts: a real Synapse and local Telegram and Discord servers
    /// on 127.0.0.1, a short moderated conversation, then instructions to take part. (Not in
    /// the production build: feature `demo`.)
    #[cfg(feature = "demo")]
    Demo(civicbridge_demo::cli::DemoArgs),
}

#[derive(Subcommand)]
enum RulesCmd {
    Show {
        link: Option<String>,
    },
    Set {
        link: String,
        key: String,
        value: String,
    },
}

#[derive(Subcommand)]
enum QueueCmd {
    List,
    Approve {
        id: String,
    },
    Reject {
        id: String,
        reason: Option<String>,
    },
    /// Approve with this text instead of the held one.
    Edit {
        id: String,
        text: String,
    },
    /// List the parked items (jobs and events the bridge set aside after they failed).
    Parked,
    /// Put a parked item (P3) back: a job into the outbox, an event for its link to handle
    /// again; either runs at the next start.
    Retry {
        id: String,
    },
    /// Remove a parked item (P3) for good.
    Drop {
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Write entries as JSON Lines (to stdout, or --out FILE).
    Export {
        /// Only entries from this time on: a date (YYYY-MM-DD, midnight UTC) or RFC 3339.
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check the hash chain of the store's log, or of an exported file.
    Verify {
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

/// A failure with its exit code.
enum Failure {
    /// Bad input: exit 2 with one line.
    Input(String),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

fn input(e: impl std::fmt::Display) -> Failure {
    Failure::Input(e.to_string())
}

/// A store error's exit code, by its kind: what the admin asked for or a store in use by the
/// running bridge is their input to change (2); anything else is a failure (1), with `doing`.
fn store_failure(e: StoreError, doing: &'static str) -> Failure {
    match e.kind() {
        ErrorKind::Refused => input(e),
        ErrorKind::Busy => input(format!(
            "{e}; stop the bridge first, use the moderation room commands while it runs, or turn on its admin API ([admin] listen and an admin token) for these commands"
        )),
        ErrorKind::Unusable | ErrorKind::Failed => {
            Failure::Run(anyhow::Error::new(e).context(doing))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Run(e.into()))
        .and_then(|rt| rt.block_on(dispatch(cli.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("civicbridge: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("civicbridge: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn dispatch(cmd: Cmd) -> Result<(), Failure> {
    match cmd {
        Cmd::Run { config } => run(&config).await,
        Cmd::Check { config } => check(&config),
        Cmd::Rules { config, action } => rules(&config, action).await,
        Cmd::Queue { config, action } => queue(&config, action).await,
        Cmd::Takedown { config, link, what } => {
            use civicbridge_core::moderation::commands::takedown::Target;
            let cmd = match civicbridge_core::moderation::commands::parse::target(&what) {
                // A link no platform of this build reads names nothing: say so now.
                Some(Target::Link(url))
                    if !platforms::all()
                        .iter()
                        .any(|f| f.message_link(&url).is_some()) =>
                {
                    Err(format!(
                        "`{what}` is not a link to a message on any platform"
                    ))
                }
                // One word: the text also goes to the running bridge as `!takedown WHAT`.
                Some(_) if what.trim().contains(char::is_whitespace) => Err(format!(
                    "`{what}` names no message (m7, #12, a link or an id)"
                )),
                Some(t) => Ok((
                    civicbridge_core::moderation::commands::Command::Takedown(t),
                    format!("!takedown {}", what.trim()),
                )),
                None => Err(format!(
                    "`{what}` names no message (m7, #12, a link or an id)"
                )),
            };
            admin_command(&config, &link, cmd).await
        }
        // The person is read as a key here, never pasted into a chat command: `--user
        // "telegram:42 otherlink"` must not act on another link.
        Cmd::Trust { config, link, user } => {
            let user = person(&load(&config)?, &user)?;
            let text = format!("!trust {user}");
            let cmd = civicbridge_core::moderation::commands::Command::Trust(user, None);
            admin_command(&config, &link, Ok((cmd, text))).await
        }
        Cmd::Block { config, link, user } => {
            let user = person(&load(&config)?, &user)?;
            let text = format!("!block {user}");
            let cmd = civicbridge_core::moderation::commands::Command::Block(user, None);
            admin_command(&config, &link, Ok((cmd, text))).await
        }
        Cmd::Audit { config, action } => cli::privacy::audit_cmd(&config, action),
        Cmd::Erase { config, user } => cli::privacy::erase(&config, &user).await,
        Cmd::Prune { config } => cli::privacy::prune(&config).await,
        #[cfg(feature = "demo")]
        Cmd::Demo(args) => demo(args).await,
    }
}

#[cfg(feature = "demo")]
async fn demo(args: civicbridge_demo::cli::DemoArgs) -> Result<(), Failure> {
    civicbridge_core::ops::telemetry::init(&civicbridge_core::ops::config::LogSettings {
        filter: "warn".into(),
        json: false,
    });
    civicbridge_demo::cli::run(args)
        .await
        .context("demo")
        .map_err(Failure::Run)
}

/// `--user` read as a person on one of the config's platforms.
fn person(settings: &Settings, user: &str) -> Result<civicbridge_api::UserKey, Failure> {
    let user: civicbridge_api::UserKey = user.parse().map_err(|e| input(format!("--user: {e}")))?;
    let platforms = settings.platforms();
    if !platforms.contains(&user.platform) {
        let names: Vec<&str> = platforms.iter().map(|p| p.as_str()).collect();
        return Err(input(format!(
            "--user: `{user}` is not on a platform of this config ({})",
            names.join(", ")
        )));
    }
    Ok(user)
}

fn load(config: &Path) -> Result<Settings, Failure> {
    Settings::load(config, &platforms::all()).map_err(input)
}

fn open_store(settings: &Settings) -> Result<Store, Failure> {
    Store::open(&settings.store_path).map_err(|e| store_failure(e, "opening the store"))
}

/// The store, or, while the running bridge holds it, the bridge's admin API (see
/// `cli::remote`).
enum Access {
    Store(Store),
    Running(cli::remote::Remote),
}

fn open_or_remote(settings: &Settings) -> Result<Access, Failure> {
    match Store::open(&settings.store_path) {
        Ok(store) => Ok(Access::Store(store)),
        Err(e) if e.kind() == ErrorKind::Busy => match cli::remote::Remote::of(settings) {
            Some(remote) => Ok(Access::Running(remote)),
            None => Err(store_failure(e, "opening the store")),
        },
        Err(e) => Err(store_failure(e, "opening the store")),
    }
}

/// `text` as one word of a command sent to the running bridge: it must not carry a second
/// argument (another link, another person) into the command.
fn one_word<'a>(what: &str, text: &'a str) -> Result<&'a str, Failure> {
    let text = text.trim();
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(input(format!("{what}: `{text}` must be one word")));
    }
    Ok(text)
}

fn out(text: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

async fn run(config: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    register_secrets(&settings);
    civicbridge_core::ops::telemetry::init(&settings.log);
    // From here a SIGHUP reloads instead of ending the process.
    let mut hangups = daemon::Hangups::new();
    let store = open_store(&settings)?;
    let connectors = build_connectors(&settings).await?;
    let mut options = daemon::Options {
        platforms: platforms::all(),
        ..daemon::Options::default()
    };
    options.watch.notice_after = settings.outage_notice_after;
    options.admin = settings.admin.clone();
    let mut daemon = Daemon::start(store, &settings.links, connectors, options)
        .await
        .context("starting the bridge")?;
    let mut settings = settings;
    systemd::ready();
    let watchdog = systemd::watchdog(daemon.liveness());
    let failed = loop {
        enum Next {
            Stop,
            Reload,
            Failed((civicbridge_api::Platform, civicbridge_api::ConnectorError)),
        }
        let next = tokio::select! {
            _ = daemon::signal() => Next::Stop,
            _ = hangups.recv() => Next::Reload,
            f = daemon.connector_failed() => Next::Failed(f),
        };
        match next {
            Next::Stop => break None,
            // A connector refusing its credentials cannot recover by itself: stop, exit 1,
            // one line.
            Next::Failed(f) => break Some(f),
            Next::Reload => {
                systemd::reloading();
                reload(&mut daemon, config, &mut settings);
                systemd::ready();
            }
        }
    };
    systemd::stopping();
    drop(watchdog);
    tracing::info!("shutting down");
    let stopped = daemon.shutdown().await;
    if let Some((platform, e)) = failed {
        return Err(Failure::Run(anyhow::anyhow!(
            "the {} connector failed for good: {e}",
            platform.label()
        )));
    }
    stopped.context("shutting down")?;
    Ok(())
}

/// SIGHUP: the config file again. A bad file changes nothing and the bridge runs on.
fn reload(daemon: &mut Daemon, config: &Path, settings: &mut Settings) {
    use civicbridge_core::ops::reload;
    tracing::info!(config = %config.display(), "reloading the config");
    match reload::reload(daemon, config, &platforms::all(), settings) {
        Ok(r) => {
            tracing::info!(links = %r.links, "config reloaded");
            if !r.need_restart.is_empty() {
                tracing::warn!(
                    settings = r.need_restart.join(", "),
                    "these settings changed and take effect at the next restart"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "config reload refused; running on as before"),
    }
}

/// Every credential in the config, so the log never shows one (see `telemetry`).
fn register_secrets(settings: &Settings) {
    for s in &settings.secrets {
        civicbridge_core::ops::telemetry::add_secret(s);
    }
}

/// The connectors of the configured platforms, built by their factories. Matrix logs in here
/// (or restores its session), so wrong credentials stop the start with the homeserver's answer.
async fn build_connectors(settings: &Settings) -> Result<Vec<Arc<dyn Connector>>, Failure> {
    let mut out: Vec<Arc<dyn Connector>> = Vec::new();
    for p in &settings.platforms {
        let ctx = settings.build_context(p.factory.platform());
        let built = p
            .factory
            .build(&p.section, ctx)
            .await
            .map_err(|e| match e {
                BuildError::Config(e) => input(e),
                BuildError::Failed(e) => Failure::Run(anyhow::anyhow!(e)),
            })?;
        // What the connector obtained itself (a session's access token) is a secret too.
        for s in &built.secrets {
            civicbridge_core::ops::telemetry::add_secret(s);
        }
        out.push(built.connector);
    }
    Ok(out)
}

fn check(config: &Path) -> Result<(), Failure> {
    let settings = load(config)?;
    out(format!("{}: ok", config.display()));
    out(format!("store: {}", settings.store_path.display()));
    let platforms: Vec<String> = settings.platforms().iter().map(|p| p.to_string()).collect();
    out(format!("platforms: {}", platforms.join(", ")));
    for l in &settings.links {
        out(format!("\nlink {}", l.link.id));
        for r in &l.link.rooms {
            out(format!(
                "  {:<7} {}",
                format!("{:?}", r.side).to_lowercase(),
                r.room
            ));
        }
        if let Some(m) = &l.link.moderation_room {
            out(format!("  moderation room: {m}"));
        }
        let listed = |people: &[civicbridge_api::UserKey]| {
            people
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        out(format!("  moderators: {}", listed(&l.link.moderators)));
        out(format!("  admins: {}", listed(&l.link.admins)));
        out("  rules:");
        let rules = toml::to_string(&l.rules).map_err(|e| Failure::Run(e.into()))?;
        for line in rules.lines() {
            out(format!("    {line}"));
        }
    }
    Ok(())
}

fn link_id(settings: &Settings, name: &str) -> Result<LinkId, Failure> {
    settings
        .links
        .iter()
        .find(|l| l.link.id.as_str() == name)
        .map(|l| l.link.id.clone())
        .ok_or_else(|| {
            let known: Vec<&str> = settings.links.iter().map(|l| l.link.id.as_str()).collect();
            input(format!(
                "unknown link `{name}` (configured: {})",
                known.join(", ")
            ))
        })
}

async fn rules(config: &Path, action: RulesCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => {
            return match action {
                RulesCmd::Show { link } => {
                    let links = match link {
                        Some(name) => vec![link_id(&settings, &name)?],
                        None => settings.links.iter().map(|l| l.link.id.clone()).collect(),
                    };
                    for id in links {
                        remote.run(id.as_str(), &format!("!rules {id}")).await?;
                    }
                    Ok(())
                }
                RulesCmd::Set { link, key, value } => {
                    let id = link_id(&settings, &link)?;
                    let key = one_word("key", &key)?;
                    let text = format!("!set {id} {key} {}", value.trim());
                    remote.run(id.as_str(), &text).await
                }
            };
        }
    };
    let pairs: Vec<_> = settings
        .links
        .iter()
        .map(|l| (l.link.clone(), l.rules.clone()))
        .collect();
    store.sync_config(&pairs).context("syncing config")?;
    match action {
        RulesCmd::Show { link } => {
            let links = match link {
                Some(name) => vec![link_id(&settings, &name)?],
                None => settings.links.iter().map(|l| l.link.id.clone()).collect(),
            };
            for id in links {
                let rules = store
                    .rules(&id)
                    .context("reading rules")?
                    .unwrap_or_default();
                out(format!("[links.{id}.rules]"));
                out(toml::to_string(&rules).map_err(|e| Failure::Run(e.into()))?);
            }
        }
        RulesCmd::Set { link, key, value } => {
            let id = link_id(&settings, &link)?;
            let rules = store
                .set_rule(
                    &id,
                    &key,
                    &value,
                    &civicbridge_core::moderation::audit::AuditActor::Cli,
                )
                .map_err(|e| store_failure(e, "changing the rules"))?;
            out(format!("link {id}: {key} set"));
            out(toml::to_string(&rules).map_err(|e| Failure::Run(e.into()))?);
        }
    }
    Ok(())
}

async fn queue(config: &Path, action: QueueCmd) -> Result<(), Failure> {
    let settings = load(config)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => return queue_remote(&settings, &remote, action).await,
    };
    let (id, decision) = match action {
        QueueCmd::List => {
            let items = store.pending().context("reading the queue")?;
            for line in civicbridge_core::moderation::commands::info::queue_listing(
                &mut &store,
                &items,
                None,
            ) {
                out(line);
            }
            let parked = store.parked().context("reading the parked items")?;
            if !parked.is_empty() {
                out(format!("{} parked item(s)", parked.len()));
                for p in parked {
                    out(p.line());
                }
            }
            return Ok(());
        }
        QueueCmd::Parked => {
            let parked = store.parked().context("reading the parked items")?;
            out(format!("{} parked item(s)", parked.len()));
            for p in parked {
                out(p.line());
            }
            return Ok(());
        }
        QueueCmd::Retry { id } => return parked_cmd(&store, &id, true).await,
        QueueCmd::Drop { id } => return parked_cmd(&store, &id, false).await,
        QueueCmd::Approve { id } => (
            id,
            civicbridge_core::moderation::approval::Decision::Approve,
        ),
        QueueCmd::Reject { id, reason } => (
            id,
            civicbridge_core::moderation::approval::Decision::Reject(reason),
        ),
        QueueCmd::Edit { id, text } => (
            id,
            civicbridge_core::moderation::approval::Decision::ApproveEdited(
                civicbridge_api::RichText::plain(text),
            ),
        ),
    };
    // `#3v2` names a revision (as `queue list` shows it); a bare `#3` is the first.
    let item: civicbridge_core::moderation::approval::ItemRef = id.parse().map_err(input)?;
    let id = item.id;
    // The CLI acts as an admin of every link (whoever runs it can write the data directory);
    // it is audited as `cli`. The jobs it queues are sent when the bridge next starts.
    let decided = store
        .transact(|tx| {
            civicbridge_core::moderation::approval::decide(
                tx,
                item.id,
                &decision,
                item.seen(),
                &civicbridge_core::moderation::approval::Actor::Cli,
            )
        })
        .context("recording the decision")?;
    store.flush().await.context("flushing")?;
    match decided {
        Ok(d) => out(format!(
            "{id}: done; {} job(s) queued for the next start",
            d.jobs.len()
        )),
        Err(r) => return Err(input(r)),
    }
    Ok(())
}

/// `queue …` while the bridge runs: the moderation-room command of each action. Decisions
/// and parked items find their own link, so any link in force carries them.
async fn queue_remote(
    settings: &Settings,
    remote: &cli::remote::Remote,
    action: QueueCmd,
) -> Result<(), Failure> {
    let Some(link) = settings.links.first().map(|l| l.link.id.clone()) else {
        return Err(input("the config has no links"));
    };
    let item = |id: &str| -> Result<String, Failure> {
        let id = one_word("id", id)?;
        id.parse::<civicbridge_core::moderation::approval::ItemRef>()
            .map_err(input)?;
        Ok(id.to_owned())
    };
    let parked = |id: &str| -> Result<String, Failure> {
        let id = one_word("id", id)?;
        id.parse::<civicbridge_core::store::ParkedId>()
            .map_err(input)?;
        Ok(id.to_owned())
    };
    let text = match action {
        QueueCmd::List => "!queue".to_owned(),
        QueueCmd::Parked => "!parked".to_owned(),
        QueueCmd::Retry { id } => format!("!retry {}", parked(&id)?),
        QueueCmd::Drop { id } => format!("!drop {}", parked(&id)?),
        QueueCmd::Approve { id } => format!("!approve {}", item(&id)?),
        QueueCmd::Reject { id, reason } => {
            format!("!reject {} {}", item(&id)?, reason.unwrap_or_default())
        }
        QueueCmd::Edit { id, text } => format!("!edit {} {text}", item(&id)?),
    };
    remote.run(link.as_str(), text.trim_end()).await
}

/// `queue retry|drop P3`: the moderation-room commands, run as an admin of every link.
async fn parked_cmd(store: &Store, id: &str, retry: bool) -> Result<(), Failure> {
    let id: civicbridge_core::store::ParkedId = id.parse().map_err(input)?;
    let link = store
        .transact(|tx| Ok(tx.parked_item(id)?.map(|p| p.link)))
        .context("reading the parked item")?
        .ok_or_else(|| input(format!("there is no parked item {id}")))?;
    let links = store.links().context("reading the links")?;
    let Some(record) = link
        .as_ref()
        .and_then(|l| links.iter().find(|r| &r.id == l))
        .or(links.first())
        .cloned()
    else {
        return Err(input("the store has no links"));
    };
    let cmd = if retry {
        civicbridge_core::moderation::commands::Command::Retry(id)
    } else {
        civicbridge_core::moderation::commands::Command::Drop(id)
    };
    let done = civicbridge_core::moderation::commands::run_as_admin(
        store,
        &record.id,
        cmd,
        &platforms::all(),
    )
    .context("running the command")?;
    store.flush().await.context("flushing")?;
    out(if retry {
        format!("{id}: put back; it runs when the bridge next starts")
    } else {
        done.reply
    });
    Ok(())
}

/// `takedown`, `trust`, `block`: the moderation-room commands, run as an admin (`text` is the
/// command as typed in the room, for the running bridge).
async fn admin_command(
    config: &Path,
    link: &str,
    cmd: Result<(civicbridge_core::moderation::commands::Command, String), String>,
) -> Result<(), Failure> {
    let (cmd, text) = cmd.map_err(input)?;
    let settings = load(config)?;
    let id = link_id(&settings, link)?;
    let store = match open_or_remote(&settings)? {
        Access::Store(store) => store,
        Access::Running(remote) => return remote.run(id.as_str(), &text).await,
    };
    let done =
        civicbridge_core::moderation::commands::run_as_admin(&store, &id, cmd, &platforms::all())
            .context("running the command")?;
    store.flush().await.context("flushing")?;
    out(done.reply);
    if !done.jobs.is_empty() {
        out(format!(
            "{} job(s) queued for the next start",
            done.jobs.len()
        ));
    }
    Ok(())
}

fn print_raw(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
}
