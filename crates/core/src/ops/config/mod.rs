//! The config file: TOML plus environment overrides (`CIVICBRIDGE__TELEGRAM__TOKEN=…`), read into
//! raw serde structs and then validated into [`Settings`], with errors that name the bad key and
//! say what is wrong. `config.example.toml` documents every key.
//!
//! The core knows no platform: every other top-level table (`[telegram]`, `[matrix]` …) is a
//! platform's section, handed to the factory of that name (`civicbridge_api::PlatformFactory`),
//! which checks it and later builds the connector from it.

use crate::moderation::rules::{Rules, Side, UserKey};
use crate::store::{LinkRecord, LinkRoom};
use civicbridge_api::{BuildContext, LinkId, Platform, PlatformFactory, RoomRef, Section};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A secret (token, password): deserialises from a string, never prints.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What is wrong with a config, naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {problem}")]
    Read { path: String, problem: String },
    #[error("{0}")]
    Parse(String),
    #[error("{key}: {problem}")]
    Invalid { key: String, problem: String },
    /// A connector refused its section; the message names the key.
    #[error("{0}")]
    Connector(String),
}

fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        problem: problem.into(),
    }
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    log: LogSettings,
    #[serde(default)]
    links: BTreeMap<String, RawLink>,
    #[serde(default)]
    connectors: RawWatch,
    #[serde(default)]
    admin: crate::ops::admin::RawAdmin,
    #[serde(default)]
    console: crate::ops::console::RawConsole,
    /// Every other table: a platform's section, by name.
    #[serde(flatten)]
    platforms: BTreeMap<String, config::Value>,
}

/// `[connectors]`: how the daemon watches them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawWatch {
    /// A connector down this long gets one notice in the moderation rooms.
    outage_notice_after_secs: u64,
}

impl Default for RawWatch {
    fn default() -> Self {
        RawWatch {
            outage_notice_after_secs: 60,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    #[serde(default)]
    rooms: Vec<RawRoom>,
    moderation_room: Option<String>,
    #[serde(default)]
    moderators: Vec<String>,
    #[serde(default)]
    admins: Vec<String>,
    #[serde(default)]
    rules: Rules,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoom {
    room: String,
    side: Side,
}

/// Logging: `filter` is a `RUST_LOG`-style directive (the `RUST_LOG` variable wins if set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub filter: String,
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            // The bridge's own INFO lines; only warnings and errors from the SDKs.
            filter: "warn,civicbridge=info".into(),
            json: false,
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store_path: PathBuf,
    /// The directory relative paths resolve against (the config file's).
    pub base_dir: PathBuf,
    pub log: LogSettings,
    /// The configured platforms, each with its factory and its checked section.
    pub platforms: Vec<PlatformSettings>,
    /// The secrets the sections hold (tokens, passwords), to keep out of the log.
    pub secrets: Vec<String>,
    pub links: Vec<LinkSettings>,
    /// `connectors.outage_notice_after_secs`.
    pub outage_notice_after: std::time::Duration,
    /// `[admin]`: the admin listener, if on.
    pub admin: Option<crate::ops::admin::AdminSettings>,
}

/// One configured platform: its factory and its section (`[telegram]`).
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    pub factory: Arc<dyn PlatformFactory>,
    pub section: Section,
}

#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub link: LinkRecord,
    pub rules: Rules,
}

impl Settings {
    /// Reads `path`, applies `CIVICBRIDGE__…` environment overrides, and validates, with
    /// `factories` for the platforms this build knows.
    pub fn load(
        path: &Path,
        factories: &[Arc<dyn PlatformFactory>],
    ) -> Result<Settings, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::Read {
                path: path.display().to_string(),
                problem: "no such file".into(),
            });
        }
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("CIVICBRIDGE")
                    .prefix_separator("__")
                    .separator("__"),
            )
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Parse(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        raw.validate(base, factories)
    }

    /// Parses and validates TOML text (relative paths resolve against `base`).
    pub fn from_toml(
        text: &str,
        base: &Path,
        factories: &[Arc<dyn PlatformFactory>],
    ) -> Result<Settings, ConfigError> {
        let raw: RawConfig = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| ConfigError::Parse(e.to_string()))?;
        raw.validate(base, factories)
    }

    /// The configured platforms, in the config's order of sections.
    pub fn platforms(&self) -> Vec<Platform> {
        self.platforms
            .iter()
            .map(|p| p.factory.platform())
            .collect()
    }

    /// What platform `p`'s factory is given to build its connector: its own directory in the
    /// store, the config's directory, and the rooms of that platform the links use.
    pub fn build_context(&self, p: Platform) -> BuildContext {
        let mut rooms = Vec::new();
        for l in &self.links {
            let used = l
                .link
                .rooms
                .iter()
                .map(|r| &r.room)
                .chain(&l.link.moderation_room);
            for r in used.filter(|r| r.platform == p) {
                if !rooms.contains(&r.room) {
                    rooms.push(r.room.clone());
                }
            }
        }
        BuildContext {
            data_dir: self.store_path.join(p.as_str()),
            base_dir: self.base_dir.clone(),
            rooms,
        }
    }
}

impl RawConfig {
    fn validate(
        self,
        base: &Path,
        factories: &[Arc<dyn PlatformFactory>],
    ) -> Result<Settings, ConfigError> {
        let mut platforms = Vec::new();
        let mut secrets = Vec::new();
        for (name, value) in self.platforms {
            let Some(factory) = factories.iter().find(|f| f.platform().as_str() == name) else {
                let known: Vec<&str> = factories.iter().map(|f| f.platform().as_str()).collect();
                return Err(invalid(
                    &name,
                    format!(
                        "not a setting, nor a platform this build knows ({})",
                        known.join(", ")
                    ),
                ));
            };
            let section = Section::new(name.clone(), value);
            // The factory checks what it can without I/O, so `check` reports it; its errors
            // name the key (`telegram.token is not a bot token`).
            secrets.extend(
                factory
                    .check(&section)
                    .map_err(|e| match e.key.is_empty() {
                        true => ConfigError::Connector(e.problem),
                        false => invalid(e.key, e.problem),
                    })?,
            );
            platforms.push(PlatformSettings {
                factory: factory.clone(),
                section,
            });
        }
        let configured: Vec<Platform> = platforms.iter().map(|p| p.factory.platform()).collect();
        let hosts_moderation: Vec<Platform> = platforms
            .iter()
            .filter(|p| p.factory.hosts_moderation())
            .map(|p| p.factory.platform())
            .collect();

        if self.links.is_empty() {
            return Err(invalid(
                "links",
                "no links configured: add at least one [links.<name>]",
            ));
        }
        let mut seen: HashMap<RoomRef, String> = HashMap::new();
        let mut links = Vec::new();
        for (name, raw) in self.links {
            let key = format!("links.{name}");
            if !LinkId::is_valid_name(&name) {
                return Err(invalid(
                    &key,
                    "link names use letters, digits, - and _ only, at most 64",
                ));
            }
            if raw.rooms.len() < 2 {
                return Err(invalid(
                    format!("{key}.rooms"),
                    format!("a link joins at least two rooms; found {}", raw.rooms.len()),
                ));
            }
            let mut rooms = Vec::new();
            for (i, r) in raw.rooms.iter().enumerate() {
                let rkey = format!("{key}.rooms[{i}].room");
                let room: RoomRef = r.room.parse().map_err(|e: String| invalid(&rkey, e))?;
                if !configured.contains(&room.platform) {
                    return Err(invalid(
                        &rkey,
                        format!(
                            "platform {} has no [{}] section",
                            room.platform, room.platform
                        ),
                    ));
                }
                if let Some(other) = seen.insert(room.clone(), rkey.clone()) {
                    return Err(invalid(
                        &rkey,
                        format!("room {room} is already used at {other}"),
                    ));
                }
                rooms.push(LinkRoom { room, side: r.side });
            }
            let mkey = format!("{key}.moderation_room");
            let moderation_room = match &raw.moderation_room {
                None => {
                    return Err(invalid(
                        &mkey,
                        "missing: held messages are shown to moderators there",
                    ))
                }
                Some(s) => {
                    let room: RoomRef = s.parse().map_err(|e: String| invalid(&mkey, e))?;
                    if !configured.contains(&room.platform) {
                        return Err(invalid(
                            &mkey,
                            format!(
                                "platform {} has no [{}] section",
                                room.platform, room.platform
                            ),
                        ));
                    }
                    if !hosts_moderation.contains(&room.platform) {
                        let able: Vec<&str> = factories
                            .iter()
                            .filter(|f| f.hosts_moderation())
                            .map(|f| f.platform().as_str())
                            .collect();
                        return Err(invalid(
                            &mkey,
                            format!(
                                "{} rooms cannot be moderation rooms (these can: {})",
                                room.platform,
                                able.join(", ")
                            ),
                        ));
                    }
                    if rooms.iter().any(|r| r.room == room) {
                        return Err(invalid(
                            &mkey,
                            "must not be one of the link's bridged rooms",
                        ));
                    }
                    room
                }
            };
            let mut people = [Vec::new(), Vec::new()];
            for ((field, users), read) in [("moderators", &raw.moderators), ("admins", &raw.admins)]
                .into_iter()
                .zip(&mut people)
            {
                for (i, u) in users.iter().enumerate() {
                    let user = u
                        .parse::<UserKey>()
                        .ok()
                        .filter(|k| configured.contains(&k.platform))
                        .ok_or_else(|| {
                            invalid(
                                format!("{key}.{field}[{i}]"),
                                format!(
                                    "`{u}` is not platform:user on a configured platform \
                                     (e.g. matrix:@ada:example.org)"
                                ),
                            )
                        })?;
                    read.push(user);
                }
            }
            let [moderators, admins] = people;
            raw.rules
                .validate()
                .map_err(|e| invalid(format!("{key}.rules.{}", e.key), e.problem))?;
            links.push(LinkSettings {
                link: LinkRecord {
                    id: LinkId::new(name),
                    rooms,
                    moderation_room: Some(moderation_room),
                    moderators,
                    admins,
                },
                rules: raw.rules,
            });
        }
        let store_path = match self.store.path {
            Some(p) if p.is_relative() => base.join(p),
            Some(p) => p,
            None => base.join("civicbridge-data"),
        };
        let mut admin = self.admin.validate()?;
        let mut console = self.console.validate(admin.is_some())?;
        if let Some(c) = &mut console {
            // The bot's own homeserver vouches for its people (an Element widget's sign-in).
            for p in &platforms {
                if let Some(hs) = p.factory.openid_homeserver(&p.section) {
                    c.openid.own(p.factory.platform(), &hs)?;
                }
            }
            c.openid.check()?;
        }
        if let Some(a) = &mut admin {
            a.console = console;
            secrets.extend(a.tokens.secrets());
        }
        Ok(Settings {
            admin,
            store_path,
            base_dir: base.to_path_buf(),
            log: self.log,
            platforms,
            secrets,
            links,
            outage_notice_after: std::time::Duration::from_secs(
                self.connectors.outage_notice_after_secs,
            ),
        })
    }
}

#[cfg(test)]
mod tests;
