//! The audit tree: the hash-chained log (see `crate::moderation::audit` for sealing and verifying), its
//! head kept in the meta tree so an append reads one record.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use crate::moderation::audit::{AuditDraft, AuditEntry, GENESIS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditHead {
    seq: u64,
    hash: String,
}

/// Reads of the audit log.
pub trait AuditReads: Read {
    /// Every entry, oldest first.
    fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        read::all(self, Tree::Audit)
    }
}

impl<R: Read + ?Sized> AuditReads for R {}

/// The seq of the last audit entry (0 before the first).
pub(super) fn head_seq(r: &(impl Read + ?Sized)) -> Result<u64, StoreError> {
    let head: Option<AuditHead> = read::get(r, Tree::Meta, keys::AUDIT_HEAD)?;
    Ok(head.map_or(0, |h| h.seq))
}

impl Tx<'_> {
    /// Appends a sealed entry to the audit chain.
    pub fn audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, TxError> {
        let head: AuditHead = read::get(self, Tree::Meta, keys::AUDIT_HEAD)?.unwrap_or(AuditHead {
            seq: 0,
            hash: GENESIS.to_owned(),
        });
        let entry = AuditEntry::seal(draft, head.seq + 1, self.now_ms, head.hash);
        self.put(Tree::Audit, &keys::id(entry.seq), &entry)?;
        self.put(
            Tree::Meta,
            keys::AUDIT_HEAD,
            &AuditHead {
                seq: entry.seq,
                hash: entry.hash.clone(),
            },
        )?;
        Ok(entry)
    }

    /// Replaces an audit entry in place. Only for tests that prove tampering is detected.
    #[doc(hidden)]
    pub fn tamper_audit(&mut self, entry: &AuditEntry) -> Result<(), TxError> {
        self.put(Tree::Audit, &keys::id(entry.seq), entry)
    }
}
