//! Bookkeeping of the daemon's housekeeping (see `crate::moderation::hygiene` and `crate::moderation::notice`), kept in
//! the meta tree so that a restart neither repeats nor forgets it.

use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, RoomRef};

/// Reads of the housekeeping marks.
pub trait HousekeepingReads: Read {
    /// Every held item of `link` whose reminder fell due at or before this time has been
    /// reminded about.
    fn reminded_until(&self, link: &LinkId) -> Result<Option<u64>, StoreError> {
        read::get(self, Tree::Meta, &reminded_key(link))
    }

    /// The digest of the public notice last queued for `room` on behalf of `link`.
    fn notice_posted(&self, link: &LinkId, room: &RoomRef) -> Result<Option<String>, StoreError> {
        read::get(self, Tree::Meta, &notice_key(link, room))
    }
}

impl<R: Read + ?Sized> HousekeepingReads for R {}

impl Tx<'_> {
    pub fn set_reminded_until(&mut self, link: &LinkId, at_ms: u64) -> Result<(), TxError> {
        self.put(Tree::Meta, &reminded_key(link), &at_ms)
    }

    pub fn set_notice_posted(
        &mut self,
        link: &LinkId,
        room: &RoomRef,
        digest: &str,
    ) -> Result<(), TxError> {
        self.put(Tree::Meta, &notice_key(link, room), &digest)
    }
}

fn reminded_key(link: &LinkId) -> Vec<u8> {
    keys::housekeeping(&["reminded", link.as_str()])
}

fn notice_key(link: &LinkId, room: &RoomRef) -> Vec<u8> {
    keys::housekeeping(&[
        "notice",
        link.as_str(),
        room.platform.as_str(),
        room.room.as_str(),
    ])
}
