//! The `civicbridge` command line. Thin: parsing, exit codes and printing; the work is in the
//! library. Exit codes: 0 ok, 1 failure while running, 2 bad input (one line on stderr).

use civicbridge_api::LinkId;
use civicbridge_core::ops::config::Settings;
use civicbridge_core::store::{ErrorKind, Store, StoreError};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod cli {
    pub mod moderation;
    pub mod privacy;
    pub mod remote;
    pub mod run;
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
    /// Subject access: write everything the bridge holds about a person to FILE as JSON, and a
    /// readable summary to FILE.txt (audited).
    Export {
        #[arg(long, short)]
        config: PathBuf,
        /// The person, as PLATFORM:ID (e.g. telegram:42).
        #[arg(long)]
        user: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// The transparency report: counts by link, month, direction, reason code and outcome, from
    /// the audit log, with no personal data, written to OUT.csv and OUT.json.
    Report {
        #[arg(long, short)]
        config: PathBuf,
        /// From this date (YYYY-MM-DD, midnight UTC, or RFC 3339), inclusive.
        #[arg(long)]
        from: String,
        /// To this date, exclusive.
        #[arg(long)]
        to: String,
        /// Where to write: OUT.csv and OUT.json.
        #[arg(long)]
        out: PathBuf,
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
        Cmd::Run { config } => cli::run::run(&config).await,
        Cmd::Check { config } => check(&config),
        Cmd::Rules { config, action } => cli::moderation::rules(&config, action).await,
        Cmd::Queue { config, action } => cli::moderation::queue(&config, action).await,
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
            cli::moderation::admin_command(&config, &link, cmd).await
        }
        // The person is read as a key here, never pasted into a chat command: `--user
        // "telegram:42 otherlink"` must not act on another link.
        Cmd::Trust { config, link, user } => {
            let user = person(&load(&config)?, &user)?;
            let text = format!("!trust {user}");
            let cmd = civicbridge_core::moderation::commands::Command::Trust(user, None);
            cli::moderation::admin_command(&config, &link, Ok((cmd, text))).await
        }
        Cmd::Block { config, link, user } => {
            let user = person(&load(&config)?, &user)?;
            let text = format!("!block {user}");
            let cmd = civicbridge_core::moderation::commands::Command::Block(user, None);
            cli::moderation::admin_command(&config, &link, Ok((cmd, text))).await
        }
        Cmd::Audit { config, action } => cli::privacy::audit_cmd(&config, action).await,
        Cmd::Erase { config, user } => cli::privacy::erase(&config, &user).await,
        Cmd::Prune { config } => cli::privacy::prune(&config).await,
        Cmd::Export { config, user, out } => cli::privacy::export(&config, &user, &out).await,
        Cmd::Report {
            config,
            from,
            to,
            out,
        } => cli::privacy::report(&config, &from, &to, &out).await,
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
    anyhow::Context::context(civicbridge_demo::cli::run(args).await, "demo").map_err(Failure::Run)
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

fn out(text: impl std::fmt::Display) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
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

fn print_raw(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
}
