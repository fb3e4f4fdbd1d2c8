//! How a platform plugs into the daemon: each connector crate provides one [`PlatformFactory`],
//! and the binary's list of factories is the only place that names every platform.
//!
//! A factory owns everything the core would otherwise have to know about its platform: the
//! config section `[<platform>]` (its type, its checks, and errors that name its keys), how the
//! connector is built, whether the platform can host moderation rooms, and how a person's link
//! to one of its messages reads (`https://t.me/c/…`, `https://discord.com/channels/…`). Adding a
//! platform is a new crate with a factory and one line in the binary; the core and this
//! contract do not change.

use crate::connector::Connector;
use crate::ids::{Platform, RemoteMsgId, RoomId};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::Arc;

/// A platform's config section as read, environment overrides included. A factory reads it
/// into its own type with [`Section::parse`]; errors then name the section's keys.
#[derive(Clone)]
pub struct Section {
    name: String,
    make: Arc<dyn Fn() -> Box<dyn erased_serde::Deserializer<'static>> + Send + Sync>,
}

impl Section {
    /// A section named `name` (`telegram`), read from any owned serde value that can be cloned
    /// (the `config` crate's value, a `toml::Value`, a `serde_json::Value`).
    pub fn new<D>(name: impl Into<String>, value: D) -> Section
    where
        D: serde::Deserializer<'static> + Clone + Send + Sync + 'static,
    {
        Section {
            name: name.into(),
            make: Arc::new(move || {
                Box::new(<dyn erased_serde::Deserializer>::erase(value.clone()))
            }),
        }
    }

    /// The section's name, as the prefix of every key in it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The section read into `T`; the error names the section.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, SectionError> {
        let mut de = (self.make)();
        erased_serde::deserialize(&mut *de).map_err(|e| SectionError {
            key: self.name.clone(),
            problem: e.to_string(),
        })
    }

    /// An error about `key` inside this section (`token` → `telegram.token: …`).
    pub fn invalid(&self, key: &str, problem: impl Into<String>) -> SectionError {
        SectionError {
            key: format!("{}.{key}", self.name),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Debug for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Section").field("name", &self.name).finish()
    }
}

/// A config section refused: the key at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionError {
    /// The key (`telegram.token`); empty when `problem` names it itself.
    pub key: String,
    pub problem: String,
}

impl SectionError {
    /// A connector's own message that already names its key (`telegram.token is not a bot
    /// token`).
    pub fn said(message: impl Into<String>) -> SectionError {
        SectionError {
            key: String::new(),
            problem: message.into(),
        }
    }
}

impl std::fmt::Display for SectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.key, self.problem)
        }
    }
}

impl std::error::Error for SectionError {}

/// Why a connector could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Its section is wrong (the admin must fix the config: exit code 2).
    #[error(transparent)]
    Config(#[from] SectionError),
    /// Building it failed while running (a login refused, a server down: exit code 1).
    #[error("{0}")]
    Failed(String),
}

/// What a factory is given besides its section.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// Where the connector may keep files of its own (sessions, keys): `<store>/<platform>`.
    pub data_dir: PathBuf,
    /// The config file's directory, for relative paths in the section.
    pub base_dir: PathBuf,
    /// This platform's rooms that links use, bridged and moderation rooms alike: a connector
    /// that joins rooms or accepts invites needs the list.
    pub rooms: Vec<RoomId>,
}

/// A built connector and the secrets it holds (tokens, passwords, session tokens it obtained),
/// which the daemon keeps out of every log line.
pub struct Built {
    pub connector: Arc<dyn Connector>,
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for Built {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Built")
            .field("platform", &self.connector.platform())
            .finish_non_exhaustive()
    }
}

/// A message named by a link a person pasted: its room when the link says which, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageLink {
    pub room: Option<RoomId>,
    pub msg: RemoteMsgId,
}

/// A homeserver that vouches for its own people with OpenID tokens (Matrix's
/// `GET /_matrix/federation/v1/openid/userinfo`). The console trusts the one the platform's
/// section names, so a moderator can sign in from an Element widget without a `!weblogin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenIdHomeserver {
    /// The server name user ids end with (`example.org` in `@ada:example.org`).
    pub server_name: String,
    /// Where it answers (`https://matrix.example.org`).
    pub base_url: String,
}

/// One platform's entry point. Called by the daemon at start: `check` for every configured
/// section (also by `civicbridge check`, without I/O), then `build`.
#[async_trait]
pub trait PlatformFactory: Send + Sync + std::fmt::Debug {
    /// The platform served, with its section name (`[telegram]`) and room prefix
    /// (`telegram:-100…`).
    fn platform(&self) -> Platform;

    /// The name people see (`Ada (Telegram):`). Registered as the platform's label at start.
    fn label(&self) -> &'static str;

    /// Whether a room of this platform can be a link's moderation room: the connector posts
    /// and edits its own messages, reports replies and reactions, and says who may moderate
    /// there (`Sender::standing`).
    fn hosts_moderation(&self) -> bool {
        false
    }

    /// Checks the section without I/O, so `civicbridge check` reports what would fail at start.
    /// Returns the secrets in it (tokens, passwords), to keep out of the log.
    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError>;

    /// Builds the connector. May do I/O (a Matrix login); must not start reading the platform
    /// (the daemon calls `Connector::run` for that).
    async fn build(&self, section: &Section, ctx: BuildContext) -> Result<Built, BuildError>;

    /// The homeserver whose OpenID tokens identify this platform's people, from the section
    /// (already checked). Only a platform whose ids a homeserver vouches for says one.
    fn openid_homeserver(&self, _section: &Section) -> Option<OpenIdHomeserver> {
        None
    }

    /// Reads a link to a message on this platform, if `text` is one.
    fn message_link(&self, _text: &str) -> Option<MessageLink> {
        None
    }
}
