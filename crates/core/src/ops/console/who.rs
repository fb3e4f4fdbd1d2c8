//! Who is signed in, and what they may do: the same rules as in the rooms
//! ([`permissions::role`]): a link's `moderators`/`admins` lists, or their standing (power
//! level) in that link's moderation room as the platform reported it with the `!weblogin`
//! they signed in by. That standing is a snapshot: a demotion in the room counts from their
//! next sign-in, at most one idle period later.

use crate::moderation::commands::permissions::{self, Actor, Role};
use crate::store::LinkRecord;
use civicbridge_api::{RoomRef, Standing, UserKey};

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `platform:id`, as the audit log names moderators.
    pub key: UserKey,
    /// Their display name when they asked to sign in.
    pub name: String,
    /// Their standing in the room they asked from, as its platform reported it.
    pub standing: Option<(RoomRef, Standing)>,
}

impl Person {
    /// The actor decisions are taken as: the same as a command typed in the room.
    pub fn actor(&self) -> Actor {
        Actor::Person {
            key: self.key.clone(),
            name: self.name.clone(),
            standing: self.standing.clone(),
        }
    }

    /// Their role on `link`.
    pub fn role(&self, link: &LinkRecord) -> Role {
        permissions::role(link, &self.actor())
    }

    /// The links of `links` they moderate (or administer).
    pub fn links<'a>(&self, links: &'a [LinkRecord]) -> Vec<&'a LinkRecord> {
        links
            .iter()
            .filter(|l| self.role(l) >= Role::Moderator)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::rules::Side;
    use crate::store::LinkRoom;
    use civicbridge_api::{LinkId, Platform};

    fn link(id: &str, mods: &str, room: &str) -> LinkRecord {
        LinkRecord {
            id: LinkId::new(id),
            rooms: vec![LinkRoom {
                room: RoomRef::new(Platform::new("matrix"), "!staff"),
                side: Side::Staff,
            }],
            moderation_room: Some(RoomRef::new(Platform::new("matrix"), room)),
            moderators: vec![mods.parse().expect("key")],
            admins: vec![],
        }
    }

    #[test]
    fn a_person_sees_the_links_they_moderate_by_list_or_by_standing_in_its_room() {
        let links = vec![
            link("a", "matrix:@mo:x", "!ma"),
            link("b", "matrix:@other:x", "!mb"),
            link("c", "matrix:@other:x", "!mc"),
        ];
        let p = Person {
            key: "matrix:@mo:x".parse().expect("key"),
            name: "Mo".into(),
            standing: Some((
                RoomRef::new(Platform::new("matrix"), "!mc"),
                Standing::Moderator,
            )),
        };
        let ids: Vec<_> = p.links(&links).iter().map(|l| l.id.to_string()).collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
