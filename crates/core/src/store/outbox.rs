//! The outbox tree: jobs for the platforms (sends, edits, deletions, notices), oldest first,
//! each until the platform confirms it or refuses it for good (then parked, see `parked.rs`).

use super::read::{self, Read};
use super::{keys, Job, JobId, JobKind, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, RoomRef};

/// A job id whose record does not decode, and why.
pub type Unreadable = (JobId, StoreError);

/// Reads of the outbox.
pub trait OutboxReads: Read {
    /// Every unfinished job, oldest first.
    fn outbox(&self) -> Result<Vec<Job>, StoreError> {
        read::all(self, Tree::Outbox)
    }

    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        read::get(self, Tree::Outbox, &keys::id(id.0))
    }

    /// The unfinished jobs that decode, oldest first, and the ids of those that do not (with
    /// the decoding error), so one unreadable record cannot stop a re-drive.
    fn outbox_readable(&self) -> Result<(Vec<Job>, Vec<Unreadable>), StoreError> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (k, v) in self.raw_scan(Tree::Outbox, b"")? {
            let id = JobId(keys::parse_id(&k)?);
            match keys::decode::<Job>(&v) {
                Ok(j) => good.push(j),
                Err(e) => bad.push((id, e)),
            }
        }
        Ok((good, bad))
    }
}

impl<R: Read + ?Sized> OutboxReads for R {}

impl Tx<'_> {
    /// Adds a job to the outbox and returns it.
    pub fn push_job(
        &mut self,
        link: &LinkId,
        target: &RoomRef,
        kind: JobKind,
    ) -> Result<Job, TxError> {
        let job = Job {
            id: JobId(self.fresh_id()?),
            link: link.clone(),
            target: target.clone(),
            kind,
            created_ms: self.now_ms,
            parts_done: 0,
            attempts: 0,
        };
        self.put(Tree::Outbox, &keys::id(job.id.0), &job)?;
        Ok(job)
    }

    pub fn update_job(&mut self, job: &Job) -> Result<(), TxError> {
        self.put(Tree::Outbox, &keys::id(job.id.0), job)
    }

    pub fn finish_job(&mut self, id: JobId) -> Result<(), TxError> {
        self.remove(Tree::Outbox, &keys::id(id.0))
    }

    /// Writes `bytes` as the stored record of job `id` in the outbox, bypassing encoding. Only
    /// for tests that prove the daemon survives a record it cannot decode.
    #[doc(hidden)]
    pub fn put_raw_job(&mut self, id: JobId, bytes: Vec<u8>) -> Result<(), TxError> {
        self.put_raw(Tree::Outbox, &keys::id(id.0), bytes)
    }
}
