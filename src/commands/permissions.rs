//! Who may do what in a link's moderation.
//!
//! Two sources, either suffices:
//! - the config: `moderators` and `admins` of the link (as `platform:user`);
//! - Matrix power levels in the link's moderation room: 50 or more makes a moderator (Element's
//!   "Moderator"), 100 or more an admin (Element's "Admin"; a room creator in room version 12
//!   outranks every number). The level comes with the event (`Sender::power_level`, filled by the
//!   Matrix connector) and counts only for links moderated from the room the event came from, so
//!   power in one room never grants rights over another link.
//!
//! Moderators decide held items and use the read-only commands; rule changes, trust and block
//! need an admin. The CLI acts as an admin (whoever runs it can already write the data directory).

use crate::store::LinkRecord;
use civicbridge_api::{Event, RoomRef};

/// The power level that makes a moderator in a moderation room.
pub const MODERATOR_POWER: i64 = 50;
/// The power level that makes an admin in a moderation room.
pub const ADMIN_POWER: i64 = 100;

/// What someone may do on one link. Ordered: an admin is also a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Nobody,
    Moderator,
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Nobody => "nobody",
            Role::Moderator => "a moderator",
            Role::Admin => "an admin",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person in a room: `key` is `platform:user`, `power` their power level and the room it
    /// was measured in.
    Person {
        key: String,
        name: String,
        power: Option<(RoomRef, i64)>,
    },
    /// An admin at the command line.
    Cli,
}

impl Actor {
    /// The sender of `ev`, with their power level in `ev`'s room when the platform gave one.
    pub fn of(ev: &Event) -> Actor {
        Actor::Person {
            key: format!("{}:{}", ev.room.platform, ev.sender.id),
            name: ev.sender.display_name.clone(),
            power: ev.sender.power_level.map(|p| (ev.room.clone(), p)),
        }
    }

    /// A person known only by key (tests, other callers without an event).
    pub fn person(key: impl Into<String>) -> Actor {
        let key = key.into();
        Actor::Person {
            name: key.clone(),
            key,
            power: None,
        }
    }

    /// How the audit log names the actor: `platform:user` or `cli`.
    pub fn name(&self) -> &str {
        match self {
            Actor::Person { key, .. } => key,
            Actor::Cli => "cli",
        }
    }

    /// How people are shown the actor (cards, replies).
    pub fn display(&self) -> &str {
        match self {
            Actor::Person { name, .. } => name,
            Actor::Cli => "an admin (command line)",
        }
    }
}

/// The actor's role on `link`.
pub fn role(link: &LinkRecord, actor: &Actor) -> Role {
    let Actor::Person { key, power, .. } = actor else {
        return Role::Admin;
    };
    let by_power = match power {
        Some((room, level)) if link.moderation_room.as_ref() == Some(room) => {
            if *level >= ADMIN_POWER {
                Role::Admin
            } else if *level >= MODERATOR_POWER {
                Role::Moderator
            } else {
                Role::Nobody
            }
        }
        _ => Role::Nobody,
    };
    let by_config = if link.is_admin(key) {
        Role::Admin
    } else if link.is_moderator(key) {
        Role::Moderator
    } else {
        Role::Nobody
    };
    by_power.max(by_config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Side;
    use crate::store::LinkRoom;
    use civicbridge_api::{LinkId, Platform};

    fn link() -> LinkRecord {
        LinkRecord {
            id: LinkId::new("l"),
            rooms: vec![LinkRoom {
                room: RoomRef::new(Platform::Matrix, "!staff"),
                side: Side::Staff,
            }],
            moderation_room: Some(RoomRef::new(Platform::Matrix, "!mod")),
            moderators: vec!["matrix:@m".into()],
            admins: vec!["matrix:@a".into()],
        }
    }

    fn at(room: &str, level: i64) -> Actor {
        Actor::Person {
            key: "matrix:@x".into(),
            name: "X".into(),
            power: Some((RoomRef::new(Platform::Matrix, room), level)),
        }
    }

    #[test]
    fn config_lists_and_power_levels_in_the_moderation_room_both_count() {
        let l = link();
        assert_eq!(role(&l, &Actor::person("matrix:@m")), Role::Moderator);
        assert_eq!(role(&l, &Actor::person("matrix:@a")), Role::Admin);
        assert_eq!(role(&l, &Actor::person("matrix:@x")), Role::Nobody);
        assert_eq!(role(&l, &at("!mod", 0)), Role::Nobody);
        assert_eq!(role(&l, &at("!mod", 49)), Role::Nobody);
        assert_eq!(role(&l, &at("!mod", 50)), Role::Moderator);
        assert_eq!(role(&l, &at("!mod", 100)), Role::Admin);
        assert_eq!(role(&l, &at("!mod", i64::MAX)), Role::Admin);
        assert_eq!(
            role(&l, &at("!staff", 100)),
            Role::Nobody,
            "power elsewhere grants nothing here"
        );
        assert_eq!(role(&l, &Actor::Cli), Role::Admin);
    }
}
