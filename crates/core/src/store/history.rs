//! The history tree: each link's recent messages as moderation saw them (the message, its
//! sender, its thread state, and the verdict for each direction), so that a rule change can be
//! tried on them first (`!set --dry-run`, `moderation::dry_run`).
//!
//! Bounded twice: at most the link's `history_size` entries (the oldest go as new ones come,
//! one removal per write), and no older than its `retention_days` (pruned with the messages).
//! The entries hold people's words, so erasure removes a person's.

use super::read::sealed::Access as _;
use super::read::Read;
use super::{keys, StoreError, Tree, Tx, TxError};
use crate::moderation::rules::Side;
use crate::moderation::ThreadState;
use civicbridge_api::{LinkId, Message, UserKey};
use serde::{Deserialize, Serialize};

/// One message as moderation saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub seq: u64,
    pub at_ms: u64,
    pub from: Side,
    pub sender: UserKey,
    pub message: Message,
    pub thread: ThreadState,
    pub reply_to_unbridged: bool,
    pub since_last_ms: Option<u64>,
    /// The direction of each target room, in the link's order.
    pub to: Vec<Side>,
}

pub trait HistoryReads: Read {
    /// `link`'s history, oldest first.
    fn history(&self, link: &LinkId) -> Result<Vec<Seen>, StoreError> {
        self.raw_scan(Tree::History, &keys::history_prefix(link))?
            .iter()
            .map(|(_, v)| keys::decode(v))
            .collect()
    }
}

impl<R: Read + ?Sized> HistoryReads for R {}

impl Tx<'_> {
    /// Records a message in `link`'s history, keeping at most `keep` entries (0: none).
    pub fn remember_seen(
        &mut self,
        link: &LinkId,
        mut seen: Seen,
        keep: u64,
    ) -> Result<(), TxError> {
        if keep == 0 {
            return Ok(());
        }
        let seq = self.next_counter(&format!("history/{link}"))?;
        seen.seq = seq;
        self.put(Tree::History, &keys::history(link, seq), &seen)?;
        if seq > keep {
            self.remove(Tree::History, &keys::history(link, seq - keep))?;
        }
        Ok(())
    }

    /// Removes the entries of `link` older than `cutoff_ms`, or all by `user` on every link
    /// (erasure). Returns how many went.
    pub fn forget_seen(
        &mut self,
        link: Option<&LinkId>,
        cutoff_ms: u64,
        user: Option<&UserKey>,
    ) -> Result<usize, TxError> {
        let prefix = link.map(keys::history_prefix).unwrap_or_default();
        let mut doomed = Vec::new();
        for (k, v) in self.raw_scan(Tree::History, &prefix)? {
            let seen: Seen = keys::decode(&v)?;
            if seen.at_ms < cutoff_ms || user.is_some_and(|u| *u == seen.sender) {
                doomed.push(k);
            }
        }
        for k in &doomed {
            self.remove(Tree::History, k)?;
        }
        Ok(doomed.len())
    }
}
