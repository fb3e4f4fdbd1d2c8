//! The audit tree: the hash-chained log (see `crate::moderation::audit` for sealing and verifying), its
//! head kept in the meta tree so an append reads one record.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use crate::moderation::audit::{self, AuditDraft, AuditEntry, Verified, VerifyError, GENESIS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AuditHead {
    seq: u64,
    hash: String,
}

/// Reads of the audit log.
///
/// The log grows without end (a council's runs to hundreds of thousands of entries), so readers
/// walk it with [`AuditReads::audit_forward`] / [`AuditReads::audit_backward`], which hold one
/// block of [`BLOCK`] entries at a time, and stop as soon as they have what they need.
pub trait AuditReads: Read {
    /// Every entry, oldest first, in memory at once: for small logs (tests) only.
    fn audit_log(&self) -> Result<Vec<AuditEntry>, StoreError> {
        read::all(self, Tree::Audit)
    }

    /// The entries from seq `from` on, oldest first, up to the last one committed when called.
    fn audit_forward(&self, from: u64) -> Result<AuditScan<'_, Self>, StoreError> {
        let head = head_seq(self)?;
        Ok(AuditScan::new(self, from.max(1), head, true))
    }

    /// The entries before seq `before` (all of them for `None`), newest first.
    fn audit_backward(&self, before: Option<u64>) -> Result<AuditScan<'_, Self>, StoreError> {
        let head = head_seq(self)?;
        let last = before.map_or(head, |b| b.saturating_sub(1).min(head));
        Ok(AuditScan::new(self, 1, last, false))
    }

    /// Checks the whole chain from [`GENESIS`], a block at a time. The outer error is the
    /// store's; the inner one names the first bad entry.
    fn audit_verify(&self) -> Result<Result<Verified, VerifyError>, StoreError> {
        let mut scan = self.audit_forward(1)?;
        let (mut first, mut last) = (None, None);
        let result = audit::verify(
            std::iter::from_fn(|| scan.next()?.ok()).inspect(|e| {
                first.get_or_insert(e.seq);
                last = Some(e.seq);
            }),
            Some(GENESIS),
        );
        if let Some(e) = scan.failed.take() {
            return Err(e);
        }
        Ok(result.map(|entries| Verified {
            entries,
            first_seq: first,
            last_seq: last,
        }))
    }
}

/// Entries per block: keys are big-endian seqs, so the 256 seqs that share their first seven
/// bytes are one prefix scan.
pub const BLOCK: u64 = 256;

/// A walk over the audit log, one block in memory at a time (see [`AuditReads`]). Yields each
/// entry or the store's error, after which it ends; the error is also kept in `failed`.
pub struct AuditScan<'a, R: ?Sized> {
    r: &'a R,
    /// The seqs still to yield, inclusive.
    low: u64,
    high: u64,
    forward: bool,
    block: std::collections::VecDeque<AuditEntry>,
    pub failed: Option<StoreError>,
}

impl<R: ?Sized> std::fmt::Debug for AuditScan<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditScan")
            .field("low", &self.low)
            .field("high", &self.high)
            .field("forward", &self.forward)
            .finish_non_exhaustive()
    }
}

impl<'a, R: Read + ?Sized> AuditScan<'a, R> {
    fn new(r: &'a R, low: u64, high: u64, forward: bool) -> Self {
        AuditScan {
            r,
            low,
            high,
            forward,
            block: Default::default(),
            failed: None,
        }
    }

    /// Reads the next block in the walk's direction into `block`; false at the end.
    fn refill(&mut self) -> Result<bool, StoreError> {
        while self.block.is_empty() && self.low <= self.high {
            let at = if self.forward { self.low } else { self.high };
            let start = at - at % BLOCK;
            let end = start + (BLOCK - 1);
            for (_, v) in self.r.raw_scan(Tree::Audit, &keys::id(start)[..7])? {
                let e: AuditEntry = keys::decode(&v)?;
                if (self.low..=self.high).contains(&e.seq) {
                    self.block.push_back(e);
                }
            }
            // On past this block; the range is empty once the walk leaves either end.
            let next = match self.forward {
                true => end.checked_add(1).map(|low| (low, self.high)),
                false => start.checked_sub(1).map(|high| (self.low, high)),
            };
            (self.low, self.high) = next.unwrap_or((1, 0));
        }
        Ok(!self.block.is_empty())
    }
}

impl<R: Read + ?Sized> Iterator for AuditScan<'_, R> {
    type Item = Result<AuditEntry, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed.is_some() {
            return None;
        }
        match self.refill() {
            Ok(true) => {
                let e = if self.forward {
                    self.block.pop_front()
                } else {
                    self.block.pop_back()
                };
                e.map(Ok)
            }
            Ok(false) => None,
            Err(e) => {
                self.failed = Some(e.clone());
                Some(Err(e))
            }
        }
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
