//! The links and rules trees: the configured links, each link's rules (seeded from the config
//! key by key, see `seed.rs`, and changed at runtime), every change audited in the same
//! transaction.

use super::read::Read;
use super::{keys, seed, LinkRecord, RulesRecord, Store, StoreError, Tree, Tx, TxError};
use crate::moderation::audit::AuditDraft;
use crate::moderation::rules::{RuleError, Rules};
use civicbridge_api::LinkId;

/// Reads of the links and rules trees. Both keep decoded copies for as long as their stored
/// bytes are unchanged (they are read for every send).
pub trait LinkReads: Read {
    fn links(&self) -> Result<Vec<LinkRecord>, StoreError> {
        super::read::all(self, Tree::Links)
    }

    fn link(&self, id: &LinkId) -> Result<Option<LinkRecord>, StoreError> {
        let key = keys::link(id);
        self.raw_get(Tree::Links, &key)?
            .map(|raw| self.decoded().links.decode(&key, raw))
            .transpose()
    }

    /// The link's current rules.
    fn rules(&self, link: &LinkId) -> Result<Option<Rules>, StoreError> {
        let key = keys::link(link);
        self.raw_get(Tree::Rules, &key)?
            .map(|raw| self.decoded().rules.decode(&key, raw).map(|r| r.rules))
            .transpose()
    }
}

impl<R: Read + ?Sized> LinkReads for R {}

impl Store {
    /// Audits that link `id` was taken out of service while the bridge ran. Its record stays
    /// (held items, mirrors and the audit log refer to it); a later config that names it again
    /// brings it back.
    pub fn retire_link(&self, id: &LinkId) -> Result<(), StoreError> {
        self.transact(|tx| {
            let before: Option<LinkRecord> = super::read::get(tx, Tree::Links, &keys::link(id))?;
            tx.audit(AuditDraft {
                actor: crate::moderation::audit::AuditActor::Config,
                action: crate::moderation::audit::AuditAction::LinkRemoved,
                link: Some(id.clone()),
                subject: None,
                detail: serde_json::json!({ "before": before }),
            })?;
            Ok(())
        })
    }

    /// Records the configured links, and seeds each link's rules from the config key by key
    /// (see `seed.rs`): a key the config changed replaces the stored one, every other key keeps
    /// its runtime changes, and the trusted and blocked lists are merged. Every change is
    /// audited, one entry per key. Returns the links whose rules changed.
    pub fn sync_config(&self, links: &[(LinkRecord, Rules)]) -> Result<Vec<LinkId>, StoreError> {
        let links: Vec<_> = links
            .iter()
            .map(|(l, r)| (l.clone(), Some(r.clone())))
            .collect();
        self.sync_links(&links)
    }

    /// [`Self::sync_config`] for the links in force, some of which the config does not name
    /// (created at runtime: `None`), whose rules are the store's alone (default rules if they
    /// have none yet).
    pub fn sync_links(
        &self,
        links: &[(LinkRecord, Option<Rules>)],
    ) -> Result<Vec<LinkId>, StoreError> {
        let mut reseeded = Vec::new();
        for (link, rules) in links {
            let changed = self.transact(|tx| {
                let key = keys::link(&link.id);
                let old_link: Option<LinkRecord> = super::read::get(tx, Tree::Links, &key)?;
                if old_link.as_ref() != Some(link) {
                    tx.put(Tree::Links, &key, link)?;
                    tx.audit(AuditDraft {
                        actor: crate::moderation::audit::AuditActor::Config,
                        action: crate::moderation::audit::AuditAction::LinkChanged,
                        link: Some(link.id.clone()),
                        subject: None,
                        detail: serde_json::json!({ "before": old_link, "after": link }),
                    })?;
                }
                let old: Option<RulesRecord> = super::read::get(tx, Tree::Rules, &key)?;
                let default = Rules::default();
                let rules = match (rules, &old) {
                    (Some(rules), _) => rules,
                    (None, Some(_)) => return Ok(false),
                    (None, None) => &default,
                };
                if old.as_ref().and_then(|o| o.config.as_ref()) == Some(rules) {
                    return Ok(false);
                }
                let seeded = seed::seed(old.as_ref(), rules);
                if old.as_ref() == Some(&seeded.record) {
                    return Ok(false);
                }
                tx.put(Tree::Rules, &key, &seeded.record)?;
                for (k, before, after) in &seeded.changes {
                    // The lists name people: the log shows them hashed.
                    let detail = serde_json::json!({
                        "before": crate::privacy::audit_rule_value_in(tx, k, before)?,
                        "after": crate::privacy::audit_rule_value_in(tx, k, after)?,
                    });
                    tx.audit(AuditDraft {
                        actor: crate::moderation::audit::AuditActor::Config,
                        action: crate::moderation::audit::AuditAction::RulesSeeded,
                        link: Some(link.id.clone()),
                        subject: (k != "*").then(|| k.clone()),
                        detail,
                    })?;
                }
                Ok(old.as_ref().map(|o| &o.rules) != Some(&seeded.record.rules))
            })?;
            if changed {
                reseeded.push(link.id.clone());
            }
        }
        Ok(reseeded)
    }

    /// Changes one rule of a link at runtime, audited in the same transaction.
    pub fn set_rule(
        &self,
        link: &LinkId,
        key: &str,
        value: &str,
        actor: &crate::moderation::audit::AuditActor,
    ) -> Result<Rules, StoreError> {
        self.transact(|tx| {
            let k = keys::link(link);
            let mut rec: RulesRecord = super::read::get(tx, Tree::Rules, &k)?
                .ok_or_else(|| StoreError::NotFound(format!("link `{link}`")))?;
            let before = rec.rules.clone();
            rec.rules
                .set(key, value)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            tx.put(Tree::Rules, &k, &rec)?;
            // The lists of people are shown hashed in `before` and `after`; the typed value
            // would name them.
            let names_people = matches!(key.split('.').next(), Some("trusted" | "blocked"));
            let detail = serde_json::json!({
                "value": (!names_people).then_some(value),
                "before": crate::privacy::audit_rules_in(tx, &before)?,
                "after": crate::privacy::audit_rules_in(tx, &rec.rules)?,
            });
            tx.audit(AuditDraft {
                actor: actor.clone(),
                action: crate::moderation::audit::AuditAction::RulesChanged,
                link: Some(link.clone()),
                subject: Some(key.to_owned()),
                detail,
            })?;
            Ok(rec.rules)
        })
    }
}

// Verbs for moderator commands (`!set`, `!trust`, `!block`): they change a link's rules inside
// the same transaction that marks the command's event as seen and queues the reply, so a
// replayed command is not applied twice.
impl Tx<'_> {
    /// Applies `change` to the link's rules and audits it as `actor`. A change the rules refuse
    /// (unknown key, bad value) is returned as `Ok(Err(..))` and nothing is written.
    pub fn change_rules(
        &mut self,
        link: &LinkId,
        actor: &crate::moderation::audit::AuditActor,
        subject: &str,
        change: impl FnOnce(&mut Rules) -> Result<(), RuleError>,
    ) -> Result<Result<Rules, RuleError>, TxError> {
        let k = keys::link(link);
        let Some(mut rec) = super::read::get::<RulesRecord>(self, Tree::Rules, &k)? else {
            return Err(StoreError::NotFound(format!("link `{link}`")).into());
        };
        let before = rec.rules.clone();
        if let Err(e) = change(&mut rec.rules) {
            return Ok(Err(e));
        }
        self.put(Tree::Rules, &k, &rec)?;
        let detail = serde_json::json!({
            "before": crate::privacy::audit_rules_in(self, &before)?,
            "after": crate::privacy::audit_rules_in(self, &rec.rules)?,
        });
        self.audit(AuditDraft {
            actor: actor.clone(),
            action: crate::moderation::audit::AuditAction::RulesChanged,
            link: Some(link.clone()),
            subject: Some(subject.to_owned()),
            detail,
        })?;
        Ok(Ok(rec.rules))
    }
}
