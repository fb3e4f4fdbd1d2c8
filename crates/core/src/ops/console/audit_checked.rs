//! How far the audit page has verified the chain, so each view checks only what was added since.
//!
//! Why this is sound: while the daemon runs it holds the store's directory lock, so nothing else
//! can write the log, and the daemon only appends to it. An entry checked once therefore stays as
//! it was until the next start, when the first view walks the whole chain again. Tampering with
//! the files while the bridge is stopped is found by that first walk, and by `civicbridge audit
//! verify`, which always walks everything. With 100,000 entries a full walk takes most of a
//! second; a view after it walks only the entries added since.

use crate::moderation::audit::{self, AuditEntry, VerifyError, GENESIS};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};
use civicbridge_api::LinkId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The verified prefix of the chain and what it holds.
#[derive(Debug)]
struct Prefix {
    /// The last verified entry's seq and hash (0 and [`GENESIS`] before any).
    seq: u64,
    hash: String,
    entries: usize,
    /// The actions that occur, per link (`None`: entries of no link), for the filter's choices.
    actions: BTreeMap<Option<LinkId>, BTreeSet<String>>,
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix {
            seq: 0,
            hash: GENESIS.to_owned(),
            entries: 0,
            actions: BTreeMap::new(),
        }
    }
}

/// The console's one record of the verified prefix.
#[derive(Debug, Default)]
pub struct Checked(Mutex<Prefix>);

/// What a view learns: whether the chain verifies (the entries in it), and the actions
/// occurring per link.
#[derive(Debug)]
pub struct Survey {
    pub verdict: Result<usize, VerifyError>,
    pub actions: BTreeMap<Option<LinkId>, BTreeSet<String>>,
}

impl Checked {
    /// Verifies the entries after the checked prefix and extends it when they hold. A broken
    /// chain is reported and the prefix stays where it was, so every view reports it again.
    pub fn survey(
        &self,
        store: &Store,
        name: impl Fn(&AuditEntry) -> String,
    ) -> Result<Survey, StoreError> {
        let mut prefix = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut scan = store.audit_forward(prefix.seq + 1)?;
        let mut actions = prefix.actions.clone();
        let mut last = None;
        let verdict = audit::verify(
            std::iter::from_fn(|| scan.next()?.ok()).inspect(|e| {
                actions.entry(e.link.clone()).or_default().insert(name(e));
                last = Some((e.seq, e.hash.clone()));
            }),
            Some(prefix.hash.as_str()),
        );
        if let Some(e) = scan.failed.take() {
            return Err(e);
        }
        let verdict = match verdict {
            Ok(n) => {
                if let Some((seq, hash)) = last {
                    (prefix.seq, prefix.hash) = (seq, hash);
                }
                prefix.entries += n;
                prefix.actions = actions.clone();
                Ok(prefix.entries)
            }
            Err(e) => Err(e),
        };
        Ok(Survey { verdict, actions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moderation::audit::{AuditAction, AuditDraft};

    fn append(store: &Store, link: &str, n: usize) {
        store
            .transact(|tx| {
                for i in 0..n {
                    tx.audit(AuditDraft {
                        actor: "cli".into(),
                        action: if i % 2 == 0 {
                            AuditAction::Approved
                        } else {
                            AuditAction::Rejected
                        },
                        link: Some(LinkId::new(link)),
                        subject: Some(format!("#{i}")),
                        detail: serde_json::json!({ "i": i }),
                    })?;
                }
                Ok(())
            })
            .unwrap();
    }

    fn name(e: &AuditEntry) -> String {
        format!("{:?}", e.action)
    }

    #[test]
    fn each_view_checks_what_was_added_and_counts_the_whole_chain() {
        let store = Store::memory();
        let checked = Checked::default();
        assert_eq!(checked.survey(&store, name).unwrap().verdict, Ok(0));
        append(&store, "planning", 300);
        assert_eq!(checked.survey(&store, name).unwrap().verdict, Ok(300));
        append(&store, "parks", 1);
        let s = checked.survey(&store, name).unwrap();
        assert_eq!(s.verdict, Ok(301));
        let planning = &s.actions[&Some(LinkId::new("planning"))];
        assert_eq!(planning.len(), 2, "{planning:?}");
        assert_eq!(s.actions[&Some(LinkId::new("parks"))].len(), 1);
        assert_eq!(checked.0.lock().unwrap().seq, 301);
    }

    #[test]
    fn a_forged_new_entry_is_reported_on_every_view_and_the_prefix_stays() {
        let store = Store::memory();
        let checked = Checked::default();
        append(&store, "planning", 10);
        assert_eq!(checked.survey(&store, name).unwrap().verdict, Ok(10));
        append(&store, "planning", 10);
        let mut forged = store.audit_log().unwrap()[14].clone();
        forged.detail = serde_json::json!({ "i": -1 });
        store.transact(|tx| tx.tamper_audit(&forged)).unwrap();
        for _ in 0..2 {
            assert_eq!(
                checked.survey(&store, name).unwrap().verdict,
                Err(VerifyError::Altered { seq: 15 })
            );
            assert_eq!(checked.0.lock().unwrap().seq, 10);
        }
    }
}
