//! Typed identifiers.
//!
//! Platform ids are opaque strings: only the connector that owns a platform builds or parses
//! them. The core compares and stores them, nothing more. Internal ids (`MirrorId`, `PendingId`)
//! are numbers handed out by the store.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A chat platform, named by the connector that serves it (`"matrix"`, `"telegram"`, a test's
/// `"loopback"`). The set is open: the core compares, stores and prints platform ids but never
/// names one; each connector crate declares its own (`Platform::new`) and the binary's list of
/// platforms is the only place that knows them all.
///
/// An id is 1–32 of `a-z 0-9 _ -`, starting with a letter. It is `Copy`: ids read from text
/// (config, store, command line) are interned once per distinct id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform(&'static str);

/// Ids read from text, each leaked once; bounded by the distinct ids a deployment uses.
static INTERNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
/// Labels a connector registered for its platform (`Platform::register_label`).
static LABELS: std::sync::RwLock<Vec<(&'static str, &'static str)>> =
    std::sync::RwLock::new(Vec::new());

/// The names no platform may take (see `Platform::parse`).
const RESERVED: &[&str] = &["person", "token"];

impl Platform {
    /// A connector's own platform. `id` must be a valid id (see the type's docs); connectors
    /// declare it once as a constant.
    pub const fn new(id: &'static str) -> Platform {
        Platform(id)
    }

    /// Reads an id from text (config, store, command line): checked, lowercased, interned.
    pub fn parse(s: &str) -> Result<Platform, String> {
        let id = s.trim().to_ascii_lowercase();
        let valid = (1..=32).contains(&id.len())
            && id.starts_with(|c: char| c.is_ascii_lowercase())
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "`{s}` is not a platform name (letters, digits, _ and -, starting with a letter)"
            ));
        }
        if RESERVED.contains(&id.as_str()) {
            // The audit log names people without a role `person:<hash>` and admin API tokens
            // `token:<name>`: a platform of either name would make those read as someone's id.
            return Err(format!("`{s}` is reserved and cannot name a platform"));
        }
        let mut interned = INTERNED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = interned.iter().find(|k| **k == id) {
            return Ok(Platform(known));
        }
        let leaked: &'static str = Box::leak(id.into_boxed_str());
        interned.push(leaked);
        Ok(Platform(leaked))
    }

    /// The id used in config files, keys and the CLI.
    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Sets the name people see for this platform (`Alice (Telegram): hello`). Connectors
    /// whose label is not their id with a capital first letter register it when they are built.
    pub fn register_label(self, label: &'static str) {
        let mut labels = LABELS.write().unwrap_or_else(|p| p.into_inner());
        labels.retain(|(id, _)| *id != self.0);
        labels.push((self.0, label));
    }

    /// The name shown to people: the registered label, else the id with a capital first letter
    /// (`telegram` → `Telegram`).
    pub fn label(self) -> String {
        let labels = LABELS.read().unwrap_or_else(|p| p.into_inner());
        if let Some((_, label)) = labels.iter().find(|(id, _)| *id == self.0) {
            return (*label).to_owned();
        }
        let mut chars = self.0.chars();
        chars
            .next()
            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({})", self.0)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

impl Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Platform::parse(&s).map_err(serde::de::Error::custom)
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A room on one platform: a Matrix room id, a Telegram chat id, a Discord channel id.
    RoomId
);
string_id!(
    /// A message on one platform (Matrix event id, Telegram message id, Discord snowflake).
    RemoteMsgId
);
string_id!(
    /// A user on one platform.
    RemoteUserId
);
string_id!(
    /// A thread on one platform: a Matrix thread root, a Telegram forum topic id, a Discord
    /// thread channel id.
    ThreadId
);
string_id!(
    /// The unique id of one inbound event on its platform, used to drop replays. Two deliveries
    /// of the same platform event must carry the same id; an edit is a different event from the
    /// message it edits.
    InboundId
);
string_id!(
    /// The name of a link, as written in the config (`[links.<name>]`).
    LinkId
);

impl LinkId {
    /// The longest link name, in characters.
    pub const MAX_NAME_LEN: usize = 64;

    /// Whether `name` may name a link (in the config or `!link`): ASCII letters, digits, `-`
    /// and `_`, at most [`Self::MAX_NAME_LEN`]. Names appear in commands, metrics labels and
    /// the audit log, so nothing that could be read two ways.
    pub fn is_valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= Self::MAX_NAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }
}

/// A room anywhere: the platform plus the platform's own room id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoomRef {
    pub platform: Platform,
    pub room: RoomId,
}

impl RoomRef {
    pub fn new(platform: Platform, room: impl Into<String>) -> Self {
        Self {
            platform,
            room: RoomId::new(room),
        }
    }
}

impl fmt::Display for RoomRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.room)
    }
}

impl std::str::FromStr for RoomRef {
    type Err = String;
    /// Parses `platform:room`, e.g. `telegram:-1001234` or `matrix:!abc:example.org`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (p, room) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not of the form platform:room"))?;
        if room.is_empty() {
            return Err(format!("`{s}` has an empty room id"));
        }
        Ok(RoomRef::new(p.parse()?, room))
    }
}

/// A person on a platform, written `platform:id` (`telegram:42`, `matrix:@ada:example.org`).
/// Rules (`trusted`, `blocked`), link moderators and admins, erasure and the audit log's actor
/// all name people this way; this is the one place the form is parsed and printed. The id is
/// everything after the first `:` (a Matrix id has colons of its own), trimmed and non-empty.
/// Stored as its text, so records written before the type existed read back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserKey {
    pub platform: Platform,
    pub id: RemoteUserId,
}

impl UserKey {
    pub fn new(platform: Platform, id: RemoteUserId) -> UserKey {
        UserKey { platform, id }
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.platform, self.id)
    }
}

impl std::str::FromStr for UserKey {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (p, id) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not of the form PLATFORM:ID (e.g. telegram:42)"))?;
        let id = id.trim();
        if id.is_empty() {
            return Err(format!("`{s}` has no user id after `{p}:`"));
        }
        // No platform's user ids hold spaces or hidden characters; text that does is two
        // words run together (`telegram:42 otherlink`) or a forgery, never a person.
        if id
            .chars()
            .any(|c| c.is_whitespace() || crate::names::is_hidden(c))
        {
            return Err(format!(
                "`{s}` has a space or hidden character in its user id"
            ));
        }
        Ok(UserKey::new(p.parse()?, RemoteUserId::new(id)))
    }
}

/// A key equals its printed form (`telegram:42`): handy where people are listed as text.
impl PartialEq<str> for UserKey {
    fn eq(&self, text: &str) -> bool {
        text.split_once(':')
            .is_some_and(|(p, id)| p == self.platform.as_str() && id == self.id.as_str())
    }
}

impl PartialEq<&str> for UserKey {
    fn eq(&self, text: &&str) -> bool {
        *self == **text
    }
}

impl TryFrom<String> for UserKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<UserKey> for String {
    fn from(k: UserKey) -> String {
        k.to_string()
    }
}

macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let digits = s.strip_prefix($prefix).unwrap_or(s);
                digits
                    .parse()
                    .map($name)
                    .map_err(|_| format!("`{s}` is not a valid {} id", stringify!($name)))
            }
        }
    };
}

number_id!(
    /// One bridged message: its source and every copy the bridge made of it.
    MirrorId,
    "m"
);
number_id!(
    /// One message held for a moderator's decision.
    PendingId,
    "#"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keys_parse_and_bad_ones_are_explained() {
        let ada: UserKey = "Matrix:@ada:example.org".parse().unwrap();
        assert_eq!(ada.platform.as_str(), "matrix");
        assert_eq!(
            ada.id.as_str(),
            "@ada:example.org",
            "the id keeps its own colons"
        );
        assert_eq!(ada.to_string(), "matrix:@ada:example.org");
        assert_eq!(
            " telegram: 42 ".parse::<UserKey>().unwrap().to_string(),
            "telegram:42"
        );
        assert!("42".parse::<UserKey>().unwrap_err().contains("PLATFORM:ID"));
        assert!("i r c:42"
            .parse::<UserKey>()
            .unwrap_err()
            .contains("not a platform name"));
        assert!("discord: "
            .parse::<UserKey>()
            .unwrap_err()
            .contains("no user id"));
        // `person:<hash>` is how the audit log names someone without a role, never a key.
        assert!("person:4f2a"
            .parse::<UserKey>()
            .unwrap_err()
            .contains("reserved"));
        assert!("telegram:42 otherlink"
            .parse::<UserKey>()
            .unwrap_err()
            .contains("space"));
        assert!("telegram:4\u{202e}2".parse::<UserKey>().is_err());
        // Stored as its text, and a stored text that is no key is refused, not misread.
        assert_eq!(
            serde_json::to_string(&ada).unwrap(),
            "\"matrix:@ada:example.org\""
        );
        assert_eq!(
            serde_json::from_str::<UserKey>("\"matrix:@ada:example.org\"").unwrap(),
            ada
        );
        assert!(serde_json::from_str::<UserKey>("\"nobody\"").is_err());
    }

    #[test]
    fn room_ref_round_trips_through_text_with_colons_in_the_room() {
        let r: RoomRef = "matrix:!abc:example.org".parse().expect("parses");
        assert_eq!(r.platform, Platform::new("matrix"));
        assert_eq!(r.room.as_str(), "!abc:example.org");
        assert_eq!(r.to_string(), "matrix:!abc:example.org");
    }

    #[test]
    fn platforms_are_open_checked_and_interned() {
        let irc: RoomRef = "IRC:#x".parse().expect("any well-formed platform name");
        assert_eq!(irc.platform, Platform::new("irc"));
        assert_eq!(irc.platform.label(), "Irc");
        Platform::new("irc").register_label("IRC");
        assert_eq!(irc.platform.label(), "IRC");
        let again = Platform::parse("irc").expect("parses");
        assert!(
            std::ptr::eq(again.as_str(), irc.platform.as_str()),
            "interned once"
        );
        for bad in ["", "9lives", "a b", "x/y", "ünï", &"x".repeat(33)] {
            assert!(Platform::parse(bad).is_err(), "{bad:?}");
        }
        let json = serde_json::to_string(&irc).expect("serialises");
        assert_eq!(json, r##"{"platform":"irc","room":"#x"}"##);
        assert!(serde_json::from_str::<Platform>(r#""no way""#).is_err());
    }

    #[test]
    fn room_ref_rejects_a_bad_platform_and_empty_room() {
        assert!("i r c:#x".parse::<RoomRef>().is_err());
        assert!("telegram:"
            .parse::<RoomRef>()
            .unwrap_err()
            .contains("empty"));
    }

    #[test]
    fn pending_id_accepts_with_and_without_prefix() {
        assert_eq!("#12".parse::<PendingId>(), Ok(PendingId(12)));
        assert_eq!("12".parse::<PendingId>(), Ok(PendingId(12)));
        assert!("#x".parse::<PendingId>().is_err());
        assert_eq!(PendingId(7).to_string(), "#7");
    }
}
