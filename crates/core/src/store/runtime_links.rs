//! Links changed while the bridge runs (`!link`, `!unlink`, the same through the admin API),
//! and the rooms' names the platforms gave.
//!
//! The merge rule is the one rules follow (`seed.rs`): the config seeds each link; a runtime
//! change wins for that link until the config changes that same link. So each change keeps the
//! config's record of the link as it was when the change was made ([`LinkOverride::config_then`]);
//! while the config still says that, the change stands, across reloads and restarts; once the
//! config says something else about the link, the config's version is in force again and the
//! change is dropped (audited). A link created at runtime that the config never names stays
//! until someone unlinks it.

use super::read::Read;
use super::{keys, LinkRecord, RulesRecord, Tree, Tx, TxError};
use crate::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use civicbridge_api::{LinkId, RoomRef};
use serde::{Deserialize, Serialize};

/// One link as changed at runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkOverride {
    pub id: LinkId,
    /// The config's record of the link when the change was made; `None`: the config had no
    /// such link.
    pub config_then: Option<LinkRecord>,
    /// The link as set; `None`: unlinked.
    pub link: Option<LinkRecord>,
}

/// A room's name as its platform last gave it (cleaned), for cards and notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomName {
    pub room: RoomRef,
    pub name: String,
}

/// Reads of the runtime links and the rooms' names.
pub trait RuntimeLinkReads: Read {
    fn link_overrides(&self) -> Result<Vec<LinkOverride>, super::StoreError> {
        super::read::all(self, Tree::LinkOverrides)
    }

    fn room_name(&self, room: &RoomRef) -> Result<Option<String>, super::StoreError> {
        Ok(super::read::get::<RoomName>(self, Tree::RoomNames, &keys::room(room))?.map(|n| n.name))
    }

    /// How people know `room`: its name and platform ("Riverside residents (Telegram)"), or
    /// its id when the platform never gave a name. A store that cannot be read shows the id.
    fn room_label(&self, room: &RoomRef) -> String {
        match self.room_name(room) {
            Ok(Some(name)) => format!("{name} ({})", room.platform.label()),
            _ => room.to_string(),
        }
    }
}

impl<R: Read + ?Sized> RuntimeLinkReads for R {}

impl Tx<'_> {
    /// Records a runtime change of link `ovr.id`, audited as `actor`. A link set (not unlinked)
    /// is also written as the link's record, so everything that reads a link by id sees it at
    /// once, with default rules if it has none yet or if `fresh` (a new link the config does
    /// not name must not inherit the rules of an earlier link of that name).
    pub fn set_link_override(
        &mut self,
        ovr: &LinkOverride,
        actor: &AuditActor,
        fresh: bool,
    ) -> Result<(), TxError> {
        let key = keys::link(&ovr.id);
        let before: Option<LinkRecord> = super::read::get(self, Tree::Links, &key)?;
        self.put(Tree::LinkOverrides, &key, ovr)?;
        if let Some(link) = &ovr.link {
            self.put(Tree::Links, &key, link)?;
            if fresh || super::read::get::<RulesRecord>(self, Tree::Rules, &key)?.is_none() {
                let rules = crate::moderation::rules::Rules::default();
                let record = RulesRecord {
                    seeded_from: super::hex_hash(&keys::encode(&rules)),
                    config: Some(rules.clone()),
                    rules,
                };
                self.put(Tree::Rules, &key, &record)?;
            }
        }
        self.audit(AuditDraft {
            actor: actor.clone(),
            action: match ovr.link {
                Some(_) => AuditAction::Linked,
                None => AuditAction::Unlinked,
            },
            link: Some(ovr.id.clone()),
            subject: None,
            detail: serde_json::json!({
                "before": before,
                "after": ovr.link,
                "default_rules": fresh,
            }),
        })?;
        Ok(())
    }

    /// Forgets a runtime change the config has since overtaken, audited.
    pub fn drop_link_override(&mut self, ovr: &LinkOverride) -> Result<(), TxError> {
        self.remove(Tree::LinkOverrides, &keys::link(&ovr.id))?;
        self.audit(AuditDraft {
            actor: AuditActor::Config,
            action: AuditAction::LinkOverrideDropped,
            link: Some(ovr.id.clone()),
            subject: None,
            detail: serde_json::json!({ "runtime": ovr.link }),
        })?;
        Ok(())
    }

    /// Remembers `room`'s name; `false` when it was already known as that.
    pub fn set_room_name(&mut self, room: &RoomRef, name: &str) -> Result<bool, TxError> {
        let key = keys::room(room);
        let old: Option<RoomName> = super::read::get(self, Tree::RoomNames, &key)?;
        if old.as_ref().map(|o| o.name.as_str()) == Some(name) {
            return Ok(false);
        }
        let record = RoomName {
            room: room.clone(),
            name: name.to_owned(),
        };
        self.put(Tree::RoomNames, &key, &record)?;
        Ok(true)
    }
}
