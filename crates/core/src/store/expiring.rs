//! The expiring tree: messages the bridge posted that it deletes at a set time (a notice to a
//! resident posted as a reply in the room, `moderation::tell`). Kept in the store so a restart
//! still deletes them; `pipeline::outbox::expiry` turns each due entry into an `Unsay` job.
//! An entry names a room and a message id, never a person.

use super::read::{self, Read};
use super::{keys, JobKind, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, RemoteMsgId, RoomRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiring {
    pub link: LinkId,
    pub room: RoomRef,
    pub message: RemoteMsgId,
    pub due_ms: u64,
}

pub trait ExpiringReads: Read {
    /// Every entry, the earliest first.
    fn expiring(&self) -> Result<Vec<Expiring>, StoreError> {
        read::all::<Expiring>(self, Tree::Expiring)
    }
}

impl<R: Read + ?Sized> ExpiringReads for R {}

impl Tx<'_> {
    pub fn expire_later(&mut self, e: &Expiring) -> Result<(), TxError> {
        self.put(
            Tree::Expiring,
            &keys::expiring(e.due_ms, &e.room, &e.message),
            e,
        )
    }

    /// Turns every entry due at `now_ms` into an `Unsay` job for its room; returns the jobs.
    pub fn take_due(&mut self, now_ms: u64) -> Result<Vec<super::Job>, TxError> {
        let mut jobs = Vec::new();
        for e in self.expiring()? {
            if e.due_ms > now_ms {
                break;
            }
            self.remove(
                Tree::Expiring,
                &keys::expiring(e.due_ms, &e.room, &e.message),
            )?;
            let kind = JobKind::Unsay {
                message: e.message.clone(),
            };
            jobs.push(self.push_job(&e.link, &e.room, kind)?);
        }
        Ok(jobs)
    }
}
