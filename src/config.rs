//! The config file: TOML plus environment overrides (`CIVICBRIDGE__TELEGRAM__TOKEN=…`), read into
//! raw serde structs and then validated into [`Settings`], with errors that name the bad key and
//! say what is wrong. `config.example.toml` documents every key.

use crate::rules::{Rules, Side};
use crate::store::{LinkRecord, LinkRoom};
use civicbridge_api::{LinkId, Platform, RoomRef};
use civicbridge_discord::DiscordConfig;
use civicbridge_matrix::MatrixConfig;
use civicbridge_telegram::TelegramConfig;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

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
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    log: LogSettings,
    matrix: Option<MatrixConfig>,
    telegram: Option<TelegramConfig>,
    discord: Option<DiscordConfig>,
    #[serde(default)]
    links: BTreeMap<String, RawLink>,
    #[serde(default)]
    connectors: RawWatch,
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
            filter: "info".into(),
            json: false,
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store_path: PathBuf,
    pub log: LogSettings,
    pub matrix: Option<MatrixConfig>,
    pub telegram: Option<TelegramConfig>,
    pub discord: Option<DiscordConfig>,
    pub links: Vec<LinkSettings>,
    /// `connectors.outage_notice_after_secs`.
    pub outage_notice_after: std::time::Duration,
}

#[derive(Debug, Clone)]
pub struct LinkSettings {
    pub link: LinkRecord,
    pub rules: Rules,
}

impl Settings {
    /// Reads `path`, applies `CIVICBRIDGE__…` environment overrides, and validates.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
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
        raw.validate(base)
    }

    /// Parses and validates TOML text (relative store paths resolve against `base`).
    pub fn from_toml(text: &str, base: &Path) -> Result<Settings, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        raw.validate(base)
    }

    pub fn platforms(&self) -> Vec<Platform> {
        let mut v = Vec::new();
        if self.matrix.is_some() {
            v.push(Platform::Matrix);
        }
        if self.telegram.is_some() {
            v.push(Platform::Telegram);
        }
        if self.discord.is_some() {
            v.push(Platform::Discord);
        }
        v
    }
}

impl RawConfig {
    fn validate(self, base: &Path) -> Result<Settings, ConfigError> {
        if let Some(m) = &self.matrix {
            // The connector checks these against the homeserver at start; catch what can be
            // caught without a network call here, so `check` reports it.
            if !(m.homeserver_url.starts_with("http://")
                || m.homeserver_url.starts_with("https://"))
            {
                return Err(invalid(
                    "matrix.homeserver_url",
                    "must start with http:// or https://",
                ));
            }
            if !m.user_id.starts_with('@') || !m.user_id.contains(':') {
                return Err(invalid(
                    "matrix.user_id",
                    "not a Matrix user id like @bridge:example.org",
                ));
            }
            if m.password.is_none() && m.access_token.is_none() {
                return Err(invalid(
                    "matrix.password",
                    "missing: give password or access_token",
                ));
            }
        }
        if let Some(t) = &self.telegram {
            // Building the connector validates its config (and makes no network call); its
            // errors name the key, e.g. `telegram.token is not a bot token`.
            civicbridge_telegram::TelegramConnector::new(t.clone())
                .map_err(|e| ConfigError::Connector(e.to_string()))?;
        }
        if let Some(d) = &self.discord {
            d.validate().map_err(|e| match e {
                // Config errors name the key (`discord.token is empty`); drop the generic prefix.
                civicbridge_discord::DiscordError::Config(m) => ConfigError::Connector(m),
                other => ConfigError::Connector(other.to_string()),
            })?;
        }
        let configured: Vec<Platform> = [
            self.matrix.as_ref().map(|_| Platform::Matrix),
            self.telegram.as_ref().map(|_| Platform::Telegram),
            self.discord.as_ref().map(|_| Platform::Discord),
        ]
        .into_iter()
        .flatten()
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
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(
                    &key,
                    "link names use letters, digits, - and _ only",
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
                    if room.platform != Platform::Matrix {
                        return Err(invalid(
                            &mkey,
                            "must be a Matrix room (matrix:!room:server)",
                        ));
                    }
                    if !configured.contains(&Platform::Matrix) {
                        return Err(invalid(
                            &mkey,
                            "needs the [matrix] account, which is not configured",
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
            for (field, users) in [("moderators", &raw.moderators), ("admins", &raw.admins)] {
                for (i, u) in users.iter().enumerate() {
                    let ok = u
                        .split_once(':')
                        .is_some_and(|(p, id)| p.parse::<Platform>().is_ok() && !id.is_empty());
                    if !ok {
                        return Err(invalid(
                            format!("{key}.{field}[{i}]"),
                            format!("`{u}` is not platform:user (e.g. matrix:@ada:example.org)"),
                        ));
                    }
                }
            }
            raw.rules
                .validate()
                .map_err(|e| invalid(format!("{key}.rules.{}", e.key), e.problem))?;
            links.push(LinkSettings {
                link: LinkRecord {
                    id: LinkId::new(name),
                    rooms,
                    moderation_room: Some(moderation_room),
                    moderators: raw.moderators,
                    admins: raw.admins,
                },
                rules: raw.rules,
            });
        }
        let store_path = match self.store.path {
            Some(p) if p.is_relative() => base.join(p),
            Some(p) => p,
            None => base.join("civicbridge-data"),
        };
        let matrix = self.matrix.map(|mut m| {
            // The bot accepts invites to every Matrix room a link uses, and keeps its session
            // and encryption keys beside the bridge's own state unless told otherwise.
            for l in &links {
                let rooms = l
                    .link
                    .rooms
                    .iter()
                    .map(|r| &r.room)
                    .chain(&l.link.moderation_room);
                for r in rooms.filter(|r| r.platform == Platform::Matrix) {
                    if !m.rooms.iter().any(|x| x == r.room.as_str()) {
                        m.rooms.push(r.room.to_string());
                    }
                }
            }
            m.data_dir = Some(match m.data_dir.take() {
                Some(d) if d.is_relative() => base.join(d),
                Some(d) => d,
                None => store_path.join("matrix"),
            });
            m
        });
        Ok(Settings {
            store_path,
            log: self.log,
            matrix,
            telegram: self.telegram,
            discord: self.discord,
            links,
            outage_notice_after: std::time::Duration::from_secs(
                self.connectors.outage_notice_after_secs,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [matrix]
        homeserver_url = "http://127.0.0.1:8008"
        user_id = "@bridge:localhost"
        password = "pw"
        [telegram]
        token = "123456:ABCdefghijklmnopqrstuvwxyz0123456789"
        [links.planning]
        moderation_room = "matrix:!mod:localhost"
        moderators = ["matrix:@mod:localhost"]
        rooms = [
          { room = "matrix:!staff:localhost", side = "staff" },
          { room = "telegram:-100", side = "public" },
        ]
    "#;

    fn err(text: &str) -> String {
        Settings::from_toml(text, Path::new("/tmp"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_config_validates_with_default_rules() {
        let s = Settings::from_toml(GOOD, Path::new("/srv")).expect("valid");
        assert_eq!(s.links.len(), 1);
        assert_eq!(s.links[0].rules, Rules::default());
        assert_eq!(s.store_path, Path::new("/srv/civicbridge-data"));
        assert!(
            !format!("{s:?}").contains("abcdefghij"),
            "secrets never print"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = err(&GOOD.replace("telegram:-100", "irc:#x"));
        assert!(
            e.starts_with("links.planning.rooms[1].room: unknown platform `irc`"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "token = \"123456:ABCdefghijklmnopqrstuvwxyz0123456789\"",
            "",
        ));
        assert!(
            e.contains("missing field `token`") && e.contains("telegram"),
            "{e}"
        );
        let e = err(&GOOD.replace("123456:ABCdefghijklmnopqrstuvwxyz0123456789", "oops"));
        assert!(e.starts_with("telegram.token is not a bot token"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[links.planning.rules]\nblocked_patterns = [\"(oops\"]\n"
        ));
        assert!(
            e.starts_with("links.planning.rules.blocked_patterns[0]: `(oops` is not a valid"),
            "{e}"
        );
        let e = err(&GOOD.replace("{ room = \"telegram:-100\", side = \"public\" },", ""));
        assert!(
            e.starts_with("links.planning.rooms: a link joins at least two rooms"),
            "{e}"
        );
        let e = err(&GOOD.replace("telegram:-100", "matrix:!staff:localhost"));
        assert!(
            e.contains("already used at links.planning.rooms[0].room"),
            "{e}"
        );
        let e = err(&GOOD.replace("matrix:!mod:localhost", "telegram:-5"));
        assert!(
            e.starts_with("links.planning.moderation_room: must be a Matrix room"),
            "{e}"
        );
        let e = err(&GOOD.replace(
            "moderators = [\"matrix:@mod:localhost\"]",
            "moderators = [\"mod\"]",
        ));
        assert!(e.starts_with("links.planning.moderators[0]"), "{e}");
        let e = err(&format!("{GOOD}\nsurprise = 1\n"));
        assert!(e.contains("unknown field `surprise`"), "{e}");
    }
}
