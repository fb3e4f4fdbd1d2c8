//! The audit log: append-only and hash-chained, so a removed or altered entry is detectable.
//!
//! Each entry carries the hash of the entry before it and its own hash over
//! `prev_hash + canonical JSON of the entry without its hash`. `verify` walks a sequence of
//! entries (from the store or from an exported JSON Lines file) and names the first bad one.

use civicbridge_api::LinkId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first entry points back to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Closed, so that exports can be filtered and counted reliably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Held,
    Approved,
    Rejected,
    EditApproved,
    Takedown,
    RulesSeeded,
    RulesChanged,
    LinkChanged,
    SendRejected,
    Refused,
    Erased,
    /// Approved with a moderator's text (`!edit`); the entry keeps the original.
    EditedAndApproved,
    /// Someone asked for a thread to be published (`!publish`); a card follows.
    PublishRequested,
    /// A thread stopped crossing (`!unpublish`).
    Unpublished,
    /// A held item nobody decided within the link's `expire_after_secs`.
    Expired,
}

/// An entry before it is sealed into the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// Who acted: `platform:user`, `cli`, or `bridge`.
    pub actor: String,
    pub action: AuditAction,
    pub link: Option<LinkId>,
    /// What it was about: a pending id, a mirror id, a rule key.
    pub subject: Option<String>,
    /// Free-form details (old and new values, reasons, content).
    pub detail: serde_json::Value,
}

/// A sealed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_ms: u64,
    pub actor: String,
    pub action: AuditAction,
    pub link: Option<LinkId>,
    pub subject: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Seals `draft` as entry `seq`, chained to `prev_hash`.
    pub fn seal(draft: AuditDraft, seq: u64, at_ms: u64, prev_hash: String) -> AuditEntry {
        let mut e = AuditEntry {
            seq,
            at_ms,
            actor: draft.actor,
            action: draft.action,
            link: draft.link,
            subject: draft.subject,
            detail: draft.detail,
            prev_hash,
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// The hash this entry should carry, recomputed from its fields.
    pub fn compute_hash(&self) -> String {
        let mut unsealed = self.clone();
        unsealed.hash = String::new();
        // serde_json writes struct fields in declaration order and `detail` maps sorted (no
        // `preserve_order` feature), so this is canonical.
        let body = serde_json::to_vec(&unsealed).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(self.prev_hash.as_bytes());
        h.update(&body);
        hex::encode(h.finalize())
    }
}

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("entry {seq}: its hash does not match its content (altered)")]
    Altered { seq: u64 },
    #[error(
        "entry {seq}: it does not follow entry {prev_seq} (an entry was removed or reordered)"
    )]
    Broken { seq: u64, prev_seq: u64 },
    #[error("line {line}: not an audit entry: {problem}")]
    Unreadable { line: usize, problem: String },
}

/// Checks a chain. `start_hash` is the hash the first entry must point to ([`GENESIS`] for a
/// whole log; an export that starts later carries its own first `prev_hash`, so pass `None` to
/// trust it). Returns how many entries were checked.
pub fn verify<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
    start_hash: Option<&str>,
) -> Result<usize, VerifyError> {
    let mut prev: Option<&AuditEntry> = None;
    let mut n = 0;
    for e in entries {
        if e.compute_hash() != e.hash {
            return Err(VerifyError::Altered { seq: e.seq });
        }
        let expected = match prev {
            Some(p) => Some(p.hash.as_str()),
            None => start_hash,
        };
        if let Some(expected) = expected {
            if e.prev_hash != expected {
                return Err(VerifyError::Broken {
                    seq: e.seq,
                    prev_seq: prev.map_or(0, |p| p.seq),
                });
            }
        }
        prev = Some(e);
        n += 1;
    }
    Ok(n)
}

/// Parses JSON Lines as written by `audit export`.
pub fn parse_jsonl(text: &str) -> Result<Vec<AuditEntry>, VerifyError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| VerifyError::Unreadable {
                line: i + 1,
                problem: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditEntry::seal(
                    AuditDraft {
                        actor: "matrix:@mod:x".into(),
                        action: AuditAction::Approved,
                        link: Some(LinkId::new("l")),
                        subject: Some(format!("#{seq}")),
                        detail: serde_json::json!({"text": "hello", "n": seq}),
                    },
                    seq,
                    1000 + seq,
                    prev.clone(),
                );
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5), Some(GENESIS)), Ok(5));
    }

    #[test]
    fn an_altered_entry_is_named() {
        let mut c = chain(5);
        c[2].detail = serde_json::json!({"text": "goodbye", "n": 3});
        assert_eq!(
            verify(&c, Some(GENESIS)),
            Err(VerifyError::Altered { seq: 3 })
        );
    }

    #[test]
    fn a_removed_entry_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c, Some(GENESIS)),
            Err(VerifyError::Broken {
                seq: 3,
                prev_seq: 1
            })
        );
    }

    #[test]
    fn a_resealed_forgery_breaks_the_link_to_the_next_entry() {
        let mut c = chain(5);
        c[2].actor = "matrix:@intruder:x".into();
        c[2].hash = c[2].compute_hash();
        assert_eq!(
            verify(&c, Some(GENESIS)),
            Err(VerifyError::Broken {
                seq: 4,
                prev_seq: 3
            })
        );
    }

    #[test]
    fn jsonl_round_trip() {
        let c = chain(3);
        let text: String = c
            .iter()
            .map(|e| serde_json::to_string(e).expect("json") + "\n")
            .collect();
        assert_eq!(parse_jsonl(&text).expect("parses"), c);
        assert!(matches!(
            parse_jsonl("{nope\n"),
            Err(VerifyError::Unreadable { line: 1, .. })
        ));
    }
}
