//! Bookkeeping of the daemon's housekeeping (see `crate::moderation::hygiene` and `crate::moderation::notice`), kept in
//! the meta tree so that a restart neither repeats nor forgets it.

use super::read::sealed::Access as _;
use super::read::{self, Read};
use super::{keys, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, RoomRef, UserKey};

/// Reads of the housekeeping marks.
pub trait HousekeepingReads: Read {
    /// Every held item of `link` whose reminder fell due at or before this time has been
    /// reminded about.
    fn reminded_until(&self, link: &LinkId) -> Result<Option<u64>, StoreError> {
        read::get(self, Tree::Meta, &reminded_key(link))
    }

    /// The names staff of `link` post under (its staff rooms and moderation room), for the
    /// look-alike check (`moderation::lookalike`).
    fn staff_names(&self, link: &LinkId) -> Result<Vec<String>, StoreError> {
        self.raw_scan(
            Tree::Meta,
            &keys::housekeeping(&["staff_name", link.as_str(), ""]),
        )?
        .iter()
        .map(|(_, v)| keys::decode(v))
        .collect()
    }

    /// Whether the moderation room of `link` was told about the look-alike name of the person
    /// with this keyed hash (`privacy::person_ref`: no id in the key).
    fn lookalike_told(&self, link: &LinkId, person: &str) -> Result<bool, StoreError> {
        Ok(self.raw_get(Tree::Meta, &told_key(link, person))?.is_some())
    }

    /// When the resident with this keyed hash was last told that a message was `told` (held,
    /// rejected) on `link` (`moderation::tell`).
    fn resident_told_at(
        &self,
        link: &LinkId,
        person: &str,
        told: &str,
    ) -> Result<Option<u64>, StoreError> {
        read::get(self, Tree::Meta, &resident_told_key(link, person, told))
    }

    /// The digest of the public notice last queued for `room` on behalf of `link`.
    fn notice_posted(&self, link: &LinkId, room: &RoomRef) -> Result<Option<String>, StoreError> {
        read::get(self, Tree::Meta, &notice_key(link, room))
    }
}

impl<R: Read + ?Sized> HousekeepingReads for R {}

impl Tx<'_> {
    /// Remembers the name a staff member posts under; true if it was new or changed.
    pub fn note_staff_name(
        &mut self,
        link: &LinkId,
        user: &UserKey,
        name: &str,
    ) -> Result<bool, TxError> {
        let key = staff_name_key(link, user);
        if read::get::<String>(self, Tree::Meta, &key)?.as_deref() == Some(name) {
            return Ok(false);
        }
        self.put(Tree::Meta, &key, &name)?;
        Ok(true)
    }

    /// Forgets `user`'s staff names on every link (erasure).
    pub fn forget_staff_name(&mut self, user: &UserKey) -> Result<usize, TxError> {
        let suffix = format!("\0{user}");
        let doomed: Vec<Vec<u8>> = self
            .raw_scan(Tree::Meta, &keys::housekeeping(&["staff_name", ""]))?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.ends_with(suffix.as_bytes()))
            .collect();
        for k in &doomed {
            self.remove(Tree::Meta, k)?;
        }
        Ok(doomed.len())
    }

    pub fn set_lookalike_told(&mut self, link: &LinkId, person: &str) -> Result<(), TxError> {
        self.put(Tree::Meta, &told_key(link, person), &true)
    }

    pub fn set_resident_told_at(
        &mut self,
        link: &LinkId,
        person: &str,
        told: &str,
        at_ms: u64,
    ) -> Result<(), TxError> {
        self.put(Tree::Meta, &resident_told_key(link, person, told), &at_ms)
    }

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

fn staff_name_key(link: &LinkId, user: &UserKey) -> Vec<u8> {
    keys::housekeeping(&["staff_name", link.as_str(), &user.to_string()])
}

fn told_key(link: &LinkId, person: &str) -> Vec<u8> {
    keys::housekeeping(&["lookalike_told", link.as_str(), person])
}

fn resident_told_key(link: &LinkId, person: &str, told: &str) -> Vec<u8> {
    keys::housekeeping(&["resident_told", link.as_str(), person, told])
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
