//! Who may do what in a link's moderation.
//!
//! Two sources, either suffices:
//! - the config: `moderators` and `admins` of the link (as `platform:user`);
//! - the sender's standing in the link's moderation room, as its platform records it
//!   (`Sender::standing`, set by the connector: on Matrix a power level of 50 makes a moderator,
//!   100 an admin). It counts only for links moderated from the room the event came from, so
//!   standing in one room never grants rights over another link.
//!
//! Moderators decide held items and use the read-only commands; rule changes, trust and block
//! need an admin. The CLI acts as an admin (whoever runs it can already write the data directory).

use crate::moderation::audit::AuditActor;
use crate::store::LinkRecord;
use civicbridge_api::{Event, RoomRef, Standing, UserKey};

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
    /// A person in a room: `key` is `platform:user`, `standing` theirs as their platform
    /// records it, with the room it holds in.
    Person {
        key: UserKey,
        name: String,
        standing: Option<(RoomRef, Standing)>,
    },
    /// An admin at the command line.
    Cli,
    /// A caller of the admin API, by its token's name, with the role the config gives it.
    Token { name: String, role: Role },
}

impl Actor {
    /// The sender of `ev`, with their standing in `ev`'s room when the platform gave one.
    pub fn of(ev: &Event) -> Actor {
        Actor::Person {
            key: ev.sender_key(),
            name: ev.sender.display_name.clone(),
            standing: ev.sender.standing.map(|s| (ev.room.clone(), s)),
        }
    }

    /// A person known only by key (tests, other callers without an event).
    pub fn person(key: UserKey) -> Actor {
        Actor::Person {
            name: key.to_string(),
            key,
            standing: None,
        }
    }

    /// How the audit log names the actor.
    pub fn audit(&self) -> AuditActor {
        match self {
            Actor::Person { key, .. } => AuditActor::Person(key.clone()),
            Actor::Cli => AuditActor::Cli,
            Actor::Token { name, .. } => AuditActor::Token(name.clone()),
        }
    }

    /// How people are shown the actor (cards, replies).
    pub fn display(&self) -> &str {
        match self {
            Actor::Person { name, .. } => name,
            Actor::Cli => "an admin (command line)",
            Actor::Token {
                role: Role::Admin, ..
            } => "an admin (admin API)",
            Actor::Token { .. } => "a moderator (admin API)",
        }
    }
}

/// The actor's role on `link`.
pub fn role(link: &LinkRecord, actor: &Actor) -> Role {
    let (key, standing) = match actor {
        Actor::Person { key, standing, .. } => (key, standing),
        Actor::Cli => return Role::Admin,
        // A token's role holds on every link.
        Actor::Token { role, .. } => return *role,
    };
    let by_standing = match standing {
        Some((room, s)) if link.moderation_room.as_ref() == Some(room) => match s {
            Standing::Admin => Role::Admin,
            Standing::Moderator => Role::Moderator,
            Standing::Member => Role::Nobody,
        },
        _ => Role::Nobody,
    };
    let by_config = if link.is_admin(key) {
        Role::Admin
    } else if link.is_moderator(key) {
        Role::Moderator
    } else {
        Role::Nobody
    };
    by_standing.max(by_config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::rules::Side;
    use crate::store::LinkRoom;
    use civicbridge_api::{LinkId, Platform};

    fn link() -> LinkRecord {
        LinkRecord {
            id: LinkId::new("l"),
            rooms: vec![LinkRoom {
                room: RoomRef::new(Platform::new("chat"), "!staff"),
                side: Side::Staff,
            }],
            moderation_room: Some(RoomRef::new(Platform::new("chat"), "!mod")),
            moderators: vec!["chat:@m".parse().unwrap()],
            admins: vec!["chat:@a".parse().unwrap()],
        }
    }

    fn at(room: &str, standing: Standing) -> Actor {
        Actor::Person {
            key: "chat:@x".parse().unwrap(),
            name: "X".into(),
            standing: Some((RoomRef::new(Platform::new("chat"), room), standing)),
        }
    }

    #[test]
    fn config_lists_and_standing_in_the_moderation_room_both_count() {
        let l = link();
        assert_eq!(
            role(&l, &Actor::person("chat:@m".parse().unwrap())),
            Role::Moderator
        );
        assert_eq!(
            role(&l, &Actor::person("chat:@a".parse().unwrap())),
            Role::Admin
        );
        assert_eq!(
            role(&l, &Actor::person("chat:@x".parse().unwrap())),
            Role::Nobody
        );
        assert_eq!(role(&l, &at("!mod", Standing::Member)), Role::Nobody);
        assert_eq!(role(&l, &at("!mod", Standing::Moderator)), Role::Moderator);
        assert_eq!(role(&l, &at("!mod", Standing::Admin)), Role::Admin);
        assert_eq!(
            role(&l, &at("!staff", Standing::Admin)),
            Role::Nobody,
            "standing elsewhere grants nothing here"
        );
        assert_eq!(role(&l, &Actor::Cli), Role::Admin);
    }
}
