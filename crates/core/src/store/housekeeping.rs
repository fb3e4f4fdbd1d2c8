//! Bookkeeping of the daemon's housekeeping (see `crate::hygiene` and `crate::notice`), kept in
//! the meta tree so that a restart neither repeats nor forgets it.

use super::backend::{Tree, TxError};
use super::{keys, Tx};
use civicbridge_api::{LinkId, RoomRef};

impl Tx<'_> {
    /// Every held item of `link` whose reminder fell due at or before this time has been
    /// reminded about.
    pub fn reminded_until(&self, link: &LinkId) -> Result<Option<u64>, TxError> {
        self.get(
            Tree::Meta,
            &keys::housekeeping(&["reminded", link.as_str()]),
        )
    }

    pub fn set_reminded_until(&mut self, link: &LinkId, at_ms: u64) -> Result<(), TxError> {
        self.put(
            Tree::Meta,
            &keys::housekeeping(&["reminded", link.as_str()]),
            &at_ms,
        )
    }

    /// The digest of the public notice last queued for `room` on behalf of `link`.
    pub fn notice_posted(&self, link: &LinkId, room: &RoomRef) -> Result<Option<String>, TxError> {
        self.get(Tree::Meta, &notice_key(link, room))
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

fn notice_key(link: &LinkId, room: &RoomRef) -> Vec<u8> {
    keys::housekeeping(&[
        "notice",
        link.as_str(),
        room.platform.as_str(),
        room.room.as_str(),
    ])
}
