//! Which links are in force: the config's, merged with the links changed at runtime by the
//! rule in `store/runtime_links.rs` (a runtime change stands until the config changes that same
//! link). Pure, so the rule is tested on its own.

use crate::moderation::rules::Rules;
use crate::ops::config::LinkSettings;
use crate::store::runtime_links::LinkOverride;
use crate::store::LinkRecord;
use civicbridge_api::{LinkId, Platform, RoomRef};
use std::collections::{HashMap, HashSet};

/// A link in force, and the config's rules for it (`None`: a link only the runtime knows, whose
/// rules live in the store alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub link: LinkRecord,
    pub config_rules: Option<Rules>,
}

/// The outcome of a merge.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// In the config's order, then the runtime-only links by id.
    pub links: Vec<InForce>,
    /// Runtime changes the config has overtaken: to forget.
    pub overtaken: Vec<LinkOverride>,
    /// Runtime links left out of force this time, with why (a room another link now uses, a
    /// platform without a connector): kept, since a later config may make room for them.
    pub left_out: Vec<(LinkId, String)>,
}

/// Merges `config` with the runtime `overrides`, for a process with connectors for `platforms`.
pub fn merge(
    config: &[LinkSettings],
    overrides: &[LinkOverride],
    platforms: &HashSet<Platform>,
) -> Merged {
    let by_id: HashMap<&LinkId, &LinkOverride> = overrides.iter().map(|o| (&o.id, o)).collect();
    let in_config: HashMap<&LinkId, &LinkSettings> =
        config.iter().map(|l| (&l.link.id, l)).collect();
    let mut merged = Merged::default();
    // The config's links first: their rooms are the config's promise and win any conflict.
    let mut runtime = Vec::new();
    for l in config {
        match by_id.get(&l.link.id) {
            Some(o) if o.config_then.as_ref() == Some(&l.link) => {
                if let Some(link) = &o.link {
                    runtime.push(InForce {
                        link: link.clone(),
                        config_rules: Some(l.rules.clone()),
                    });
                }
            }
            other => {
                if let Some(o) = other {
                    merged.overtaken.push((*o).clone());
                }
                merged.links.push(InForce {
                    link: l.link.clone(),
                    config_rules: Some(l.rules.clone()),
                });
            }
        }
    }
    let mut extra: Vec<&LinkOverride> = overrides
        .iter()
        .filter(|o| !in_config.contains_key(&o.id))
        .collect();
    extra.sort_by(|a, b| a.id.cmp(&b.id));
    for o in extra {
        if o.config_then.is_some() {
            // The config named this link when it was changed and no longer does: the config
            // changed it (by removing it).
            merged.overtaken.push(o.clone());
            continue;
        }
        if let Some(link) = &o.link {
            runtime.push(InForce {
                link: link.clone(),
                config_rules: None,
            });
        }
    }
    for l in runtime.iter_mut().filter(|l| l.config_rules.is_none()) {
        people_of_the_room(&mut l.link, config);
    }
    let mut used: HashMap<RoomRef, LinkId> = HashMap::new();
    for l in &merged.links {
        for r in rooms_of(&l.link) {
            used.insert(r.clone(), l.link.id.clone());
        }
    }
    for l in runtime {
        match conflict(&l.link, &used, platforms) {
            Some(why) => merged.left_out.push((l.link.id.clone(), why)),
            None => {
                for r in rooms_of(&l.link) {
                    used.insert(r.clone(), l.link.id.clone());
                }
                merged.links.push(l);
            }
        }
    }
    merged
}

/// A link only the runtime knows is moderated by the people of its moderation room: those the
/// config names for the links moderated there, now (a moderator the config drops loses the
/// runtime links too). With no config link moderated there, it keeps the people it was
/// created with.
fn people_of_the_room(link: &mut LinkRecord, config: &[LinkSettings]) {
    let there: Vec<&LinkRecord> = config
        .iter()
        .map(|c| &c.link)
        .filter(|c| c.moderation_room.is_some() && c.moderation_room == link.moderation_room)
        .collect();
    if there.is_empty() {
        return;
    }
    let mut moderators = Vec::new();
    let mut admins = Vec::new();
    for c in there {
        for (from, to) in [(&c.moderators, &mut moderators), (&c.admins, &mut admins)] {
            for u in from {
                if !to.contains(u) {
                    to.push(u.clone());
                }
            }
        }
    }
    link.moderators = moderators;
    link.admins = admins;
}

/// The bridged rooms and the moderation room of `link`.
pub fn rooms_of(link: &LinkRecord) -> impl Iterator<Item = &RoomRef> {
    link.rooms
        .iter()
        .map(|r| &r.room)
        .chain(&link.moderation_room)
}

/// Why `link` cannot be in force beside the links that use `used`, if it cannot. A moderation
/// room may serve several links; a bridged room only one.
fn conflict(
    link: &LinkRecord,
    used: &HashMap<RoomRef, LinkId>,
    platforms: &HashSet<Platform>,
) -> Option<String> {
    for r in rooms_of(link) {
        if !platforms.contains(&r.platform) {
            return Some(format!("no {} connector is configured", r.platform));
        }
    }
    for r in &link.rooms {
        if let Some(other) = used.get(&r.room) {
            return Some(format!("room {} is used by link {other}", r.room));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::rules::Side;
    use crate::store::LinkRoom;

    fn platforms() -> HashSet<Platform> {
        ["matrix", "telegram"]
            .into_iter()
            .map(Platform::new)
            .collect()
    }

    fn record(id: &str, rooms: &[&str]) -> LinkRecord {
        LinkRecord {
            id: LinkId::new(id),
            rooms: rooms
                .iter()
                .map(|r| LinkRoom {
                    room: r.parse().expect("room"),
                    side: Side::Public,
                })
                .collect(),
            moderation_room: Some("matrix:!mod".parse().expect("room")),
            moderators: Vec::new(),
            admins: Vec::new(),
        }
    }

    fn config(l: &LinkRecord) -> LinkSettings {
        LinkSettings {
            link: l.clone(),
            rules: Rules::default(),
        }
    }

    fn ids(m: &Merged) -> Vec<&str> {
        m.links.iter().map(|l| l.link.id.as_str()).collect()
    }

    #[test]
    fn a_runtime_change_stands_until_the_config_changes_that_link() {
        let a = record("a", &["matrix:!s", "telegram:-1"]);
        let unlinked = LinkOverride {
            id: a.id.clone(),
            config_then: Some(a.clone()),
            link: None,
        };
        // The config still says what it said: the unlink stands.
        let m = merge(&[config(&a)], std::slice::from_ref(&unlinked), &platforms());
        assert!(m.links.is_empty() && m.overtaken.is_empty());
        // The config changed that link: its version is in force, the change is forgotten.
        let a2 = record("a", &["matrix:!s", "telegram:-2"]);
        let m = merge(
            &[config(&a2)],
            std::slice::from_ref(&unlinked),
            &platforms(),
        );
        assert_eq!(ids(&m), ["a"]);
        assert_eq!(m.links[0].link, a2);
        assert_eq!(m.overtaken, vec![unlinked.clone()]);
        // The config dropped it: the same (the config changed it, by removing it).
        let m = merge(&[], std::slice::from_ref(&unlinked), &platforms());
        assert!(m.links.is_empty());
        assert_eq!(m.overtaken, vec![unlinked]);
    }

    #[test]
    fn a_link_only_the_runtime_knows_stays_unless_the_config_takes_its_name_or_rooms() {
        let a = record("a", &["matrix:!s", "telegram:-1"]);
        let b = record("b", &["matrix:!t", "telegram:-2"]);
        let created = LinkOverride {
            id: b.id.clone(),
            config_then: None,
            link: Some(b.clone()),
        };
        let m = merge(&[config(&a)], std::slice::from_ref(&created), &platforms());
        assert_eq!(ids(&m), ["a", "b"]);
        assert_eq!(m.links[1].config_rules, None, "its rules are the store's");
        // The config now has a link of that name: the config's.
        let b2 = record("b", &["matrix:!u", "telegram:-3"]);
        let m = merge(
            &[config(&a), config(&b2)],
            std::slice::from_ref(&created),
            &platforms(),
        );
        assert_eq!(m.links[1].link, b2);
        assert_eq!(m.overtaken.len(), 1);
        // The config gave one of its rooms to another link: left out, kept for later.
        let c = record("c", &["matrix:!t", "telegram:-9"]);
        let m = merge(
            &[config(&a), config(&c)],
            std::slice::from_ref(&created),
            &platforms(),
        );
        assert_eq!(ids(&m), ["a", "c"]);
        assert!(m.overtaken.is_empty());
        assert_eq!(m.left_out.len(), 1);
        assert!(
            m.left_out[0].1.contains("used by link c"),
            "{:?}",
            m.left_out
        );
        // A platform without a connector: left out too.
        let only_matrix: HashSet<Platform> = [Platform::new("matrix")].into_iter().collect();
        let m = merge(&[], std::slice::from_ref(&created), &only_matrix);
        assert!(m.links.is_empty());
        assert!(m.left_out[0].1.contains("no telegram connector"));
    }

    #[test]
    fn a_runtime_link_is_moderated_by_the_people_the_config_gives_its_moderation_room() {
        let mut a = record("a", &["matrix:!s", "telegram:-1"]);
        a.moderators = vec!["matrix:@mo".parse().expect("user")];
        a.admins = vec!["matrix:@boss".parse().expect("user")];
        let mut b = record("b", &["matrix:!t", "telegram:-2"]);
        // Created when someone else moderated that room.
        b.moderators = vec!["matrix:@gone".parse().expect("user")];
        let created = LinkOverride {
            id: b.id.clone(),
            config_then: None,
            link: Some(b.clone()),
        };
        let m = merge(&[config(&a)], std::slice::from_ref(&created), &platforms());
        assert_eq!(m.links[1].link.moderators, a.moderators);
        assert_eq!(m.links[1].link.admins, a.admins);
        // Moderated in a room no config link uses: it keeps its own people.
        b.moderation_room = Some("matrix:!elsewhere".parse().expect("room"));
        let created = LinkOverride {
            link: Some(b.clone()),
            ..created
        };
        let m = merge(&[config(&a)], &[created], &platforms());
        assert_eq!(m.links[1].link.moderators, b.moderators);
    }
}
