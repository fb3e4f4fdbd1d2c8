//! Typed identifiers.
//!
//! Platform ids are opaque strings: only the connector that owns a platform builds or parses
//! them. The core compares and stores them, nothing more. Internal ids (`MirrorId`, `PendingId`)
//! are numbers handed out by the store.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A chat platform civicbridge connects to. One connector serves each platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Matrix,
    Telegram,
    Discord,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Matrix, Platform::Telegram, Platform::Discord];

    /// The lowercase name used in config files, keys and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Matrix => "matrix",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
        }
    }

    /// The name shown to people, as in `Alice (Telegram): hello`.
    pub fn label(self) -> &'static str {
        match self {
            Platform::Matrix => "Matrix",
            Platform::Telegram => "Telegram",
            Platform::Discord => "Discord",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown platform `{s}` (expected matrix, telegram or discord)"))
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
    fn room_ref_round_trips_through_text_with_colons_in_the_room() {
        let r: RoomRef = "matrix:!abc:example.org".parse().expect("parses");
        assert_eq!(r.platform, Platform::Matrix);
        assert_eq!(r.room.as_str(), "!abc:example.org");
        assert_eq!(r.to_string(), "matrix:!abc:example.org");
    }

    #[test]
    fn room_ref_rejects_unknown_platform_and_empty_room() {
        assert!("irc:#x"
            .parse::<RoomRef>()
            .unwrap_err()
            .contains("unknown platform"));
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
