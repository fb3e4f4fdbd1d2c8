//! Unique, increasing ids for mirrors and outbox jobs without a write per id.
//!
//! Ids are handed out from memory. Whenever a transaction takes an id beyond the persisted
//! high-water mark, it also writes a new mark (the id plus a block) in the same transaction, so
//! every committed id is below a committed mark and a restart (which starts above the mark) never
//! reuses one. Ids taken by aborted transactions are simply never seen. sled's own `generate_id`
//! cannot be used here: it takes a lock that a running transaction already holds.

use std::sync::atomic::{AtomicU64, Ordering};

/// How far ahead of the ids in use the persisted mark is set.
pub const BLOCK: u64 = 10_000;

#[derive(Debug)]
pub struct IdAllocator {
    next: AtomicU64,
    persisted: AtomicU64,
}

impl IdAllocator {
    /// Starts above `mark`, the high-water mark read from the store (0 for a new store).
    pub fn starting_above(mark: u64) -> Self {
        IdAllocator {
            next: AtomicU64::new(mark + 1),
            persisted: AtomicU64::new(mark),
        }
    }

    /// A fresh id, and the mark to write in the same transaction if one is needed.
    pub fn take(&self) -> (u64, Option<u64>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mark = (id > self.persisted.load(Ordering::Acquire)).then_some(id + BLOCK);
        (id, mark)
    }

    /// Records that a transaction writing `mark` committed.
    pub fn committed(&self, mark: u64) {
        self.persisted.fetch_max(mark, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_written_once_per_block() {
        let ids = IdAllocator::starting_above(0);
        let (a, mark) = ids.take();
        assert_eq!((a, mark), (1, Some(1 + BLOCK)));
        ids.committed(1 + BLOCK);
        assert!((0..BLOCK - 1).all(|_| ids.take().1.is_none()));
        assert_eq!(ids.take(), (BLOCK + 1, None));
        assert_eq!(ids.take(), (BLOCK + 2, Some(2 * BLOCK + 2)));
    }

    #[test]
    fn an_uncommitted_mark_is_asked_for_again() {
        let ids = IdAllocator::starting_above(50);
        assert_eq!(ids.take(), (51, Some(51 + BLOCK)));
        // That transaction aborted: the next one must write a mark too.
        assert_eq!(ids.take(), (52, Some(52 + BLOCK)));
    }
}
