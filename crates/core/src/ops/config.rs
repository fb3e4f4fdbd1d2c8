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
        let admin = self.admin.validate()?;
        if let Some(a) = &admin {
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
mod tests {
    use super::*;
    use async_trait::async_trait;
    use civicbridge_api::{BuildError, Built, SectionError};

    /// A platform for these tests: a section with one `token`; `hall` can host moderation
    /// rooms, `square` cannot. (Each real connector tests its own section.)
    #[derive(Debug)]
    struct TestPlatform(Platform, bool);

    #[async_trait]
    impl PlatformFactory for TestPlatform {
        fn platform(&self) -> Platform {
            self.0
        }
        fn label(&self) -> &'static str {
            "Test"
        }
        fn hosts_moderation(&self) -> bool {
            self.1
        }
        fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Raw {
                token: String,
            }
            let raw: Raw = section.parse()?;
            if raw.token == "oops" {
                return Err(section.invalid("token", "is not a token"));
            }
            Ok(vec![raw.token])
        }
        async fn build(&self, _: &Section, _: BuildContext) -> Result<Built, BuildError> {
            Err(BuildError::Failed("not built in these tests".into()))
        }
    }

    fn factories() -> Vec<Arc<dyn PlatformFactory>> {
        vec![
            Arc::new(TestPlatform(Platform::new("hall"), true)),
            Arc::new(TestPlatform(Platform::new("square"), false)),
        ]
    }

    const GOOD: &str = r#"
        [hall]
        token = "hall-secret-abcdefghij"
        [square]
        token = "square-secret-klmnop"
        [links.planning]
        moderation_room = "hall:!mod"
        moderators = ["hall:@mod"]
        rooms = [
          { room = "hall:!staff", side = "staff" },
          { room = "square:-100", side = "public" },
        ]
    "#;

    fn err(text: &str) -> String {
        Settings::from_toml(text, Path::new("/tmp"), &factories())
            .unwrap_err()
            .to_string()
    }

    /// What a reload cannot apply is named by key; links and rules are not on the list.
    #[test]
    fn a_reload_names_what_only_a_restart_changes() {
        use crate::ops::reload::needs_restart;
        let parse = |t: &str| Settings::from_toml(t, Path::new("/srv"), &factories()).unwrap();
        let old = parse(GOOD);
        assert!(needs_restart(&old, &parse(GOOD)).is_empty());
        let rules = format!("{GOOD}\n[links.planning.rules]\nlinks = \"drop\"\n");
        assert!(
            needs_restart(&old, &parse(&rules)).is_empty(),
            "rules apply at once"
        );
        let token = GOOD.replace("hall-secret-abcdefghij", "hall-secret-changed-0123");
        assert_eq!(needs_restart(&old, &parse(&token)), vec!["hall"]);
        let store = format!("[store]\npath = \"/elsewhere\"\n{GOOD}");
        assert_eq!(needs_restart(&old, &parse(&store)), vec!["store.path"]);
        let admin = format!("{GOOD}\n[admin]\nlisten = \"127.0.0.1:9\"\n");
        assert_eq!(needs_restart(&old, &parse(&admin)), vec!["admin"]);
        let log = format!("[log]\nfilter = \"debug\"\n{GOOD}");
        assert_eq!(needs_restart(&old, &parse(&log)), vec!["log"]);
    }

    #[test]
    fn a_good_config_validates_with_default_rules() {
        let s = Settings::from_toml(GOOD, Path::new("/srv"), &factories()).expect("valid");
        assert_eq!(s.links.len(), 1);
        assert_eq!(s.links[0].rules, Rules::default());
        assert_eq!(s.store_path, Path::new("/srv/civicbridge-data"));
        assert_eq!(
            s.platforms(),
            vec![Platform::new("hall"), Platform::new("square")]
        );
        assert_eq!(
            s.secrets,
            vec!["hall-secret-abcdefghij", "square-secret-klmnop"]
        );
        let ctx = s.build_context(Platform::new("hall"));
        assert_eq!(ctx.data_dir, Path::new("/srv/civicbridge-data/hall"));
        let rooms: Vec<&str> = ctx.rooms.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            rooms,
            vec!["!staff", "!mod"],
            "bridged and moderation rooms"
        );
        assert!(
            !format!("{:?}", s.links).contains("abcdefghij"),
            "secrets never print"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = err(&GOOD.replace("square:-100", "irc:#x"));
        assert!(
            e.starts_with("links.planning.rooms[1].room: platform irc has no [irc] section"),
            "{e}"
        );
        let e = err(&GOOD.replace("token = \"square-secret-klmnop\"", ""));
        assert!(
            e.starts_with("square: missing") && e.contains("token"),
            "{e}"
        );
        let e = err(&GOOD.replace("square-secret-klmnop", "oops"));
        assert!(e.starts_with("square.token: is not a token"), "{e}");
        let e = err(&format!(
            "{GOOD}\n[links.planning.rules]\nblocked_patterns = [\"(oops\"]\n"
        ));
        assert!(
            e.starts_with("links.planning.rules.blocked_patterns[0]: `(oops` is not a valid"),
            "{e}"
        );
        let e = err(&GOOD.replace("{ room = \"square:-100\", side = \"public\" },", ""));
        assert!(
            e.starts_with("links.planning.rooms: a link joins at least two rooms"),
            "{e}"
        );
        let e = err(&GOOD.replace("square:-100", "hall:!staff"));
        assert!(
            e.contains("already used at links.planning.rooms[0].room"),
            "{e}"
        );
        let e = err(&GOOD.replace("hall:!mod", "square:-5"));
        assert!(
            e.starts_with(
                "links.planning.moderation_room: square rooms cannot be moderation rooms (these can: hall)"
            ),
            "{e}"
        );
        let e = err(&GOOD.replace("moderators = [\"hall:@mod\"]", "moderators = [\"mod\"]"));
        assert!(e.starts_with("links.planning.moderators[0]"), "{e}");
        let e = err(&GOOD.replace("moderators = [\"hall:@mod\"]", "moderators = [\"irc:mod\"]"));
        assert!(e.starts_with("links.planning.moderators[0]"), "{e}");
        let e = err(&format!("{GOOD}\n[admin]\nlisten = \"localhost\"\n"));
        assert!(
            e.starts_with("admin.listen: `localhost` is not an address"),
            "{e}"
        );
        let e = err(&format!("surprise = 1\n{GOOD}"));
        assert!(
            e.starts_with(
                "surprise: not a setting, nor a platform this build knows (hall, square)"
            ),
            "{e}"
        );
    }
}
