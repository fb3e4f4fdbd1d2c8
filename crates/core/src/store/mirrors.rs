//! The mirrors, msg_index and threads trees: one record per bridged message (its source, its
//! copies, its held items), the index from every (room, platform message id) to what it is to
//! the bridge, and the map from platform threads to the bridged message at their root.

use super::read::sealed::Access as _;
use super::read::{self, Read};
use super::{keys, IndexEntry, MirrorRecord, Store, StoreError, Tree, Tx, TxError};
use civicbridge_api::{LinkId, MirrorId, RemoteMsgId, RoomRef, ThreadId, UserKey};

/// Reads of the mirror records, the message index and the thread map.
pub trait MirrorReads: Read {
    fn mirror(&self, id: MirrorId) -> Result<Option<MirrorRecord>, StoreError> {
        read::get(self, Tree::Mirrors, &keys::id(id.0))
    }

    fn mirror_required(&self, id: MirrorId) -> Result<MirrorRecord, StoreError> {
        self.mirror(id)?
            .ok_or_else(|| StoreError::NotFound(format!("mirror {id}")))
    }

    /// What a (room, message) pair is to the bridge, if anything.
    fn lookup_message(
        &self,
        room: &RoomRef,
        msg: &RemoteMsgId,
    ) -> Result<Option<IndexEntry>, StoreError> {
        read::get(self, Tree::MsgIndex, &keys::message(room, msg))
    }

    /// The bridged message a (room, message) pair is the source or a copy of.
    fn mirror_of(&self, room: &RoomRef, msg: &RemoteMsgId) -> Result<Option<MirrorId>, StoreError> {
        Ok(match self.lookup_message(room, msg)? {
            Some(IndexEntry::Mirror(m)) => Some(m),
            _ => None,
        })
    }

    /// The root of a platform thread: from the thread map, or (on platforms where a thread is
    /// named after its root message, like Matrix) from the message index.
    fn thread_root(
        &self,
        room: &RoomRef,
        thread: &ThreadId,
    ) -> Result<Option<MirrorId>, StoreError> {
        if let Some(root) = read::get(self, Tree::Threads, &keys::thread(room, thread))? {
            return Ok(Some(root));
        }
        self.mirror_of(room, &RemoteMsgId::new(thread.as_str()))
    }

    /// Every mirror record written by `user`, oldest first. A scan of the mirror
    /// tree: erasure is rare, and an author index would cost every message a write. A record
    /// that no longer decodes is skipped here (see [`Self::unreadable_mirrors_mentioning`]).
    fn mirrors_by(&self, user: &UserKey) -> Result<Vec<MirrorRecord>, StoreError> {
        Ok(decodable_mirrors(self)?
            .into_iter()
            .filter(|m| m.author.key() == *user)
            .collect())
    }

    /// The keys of mirror records that no longer decode and whose bytes contain `needle` (a
    /// person's id): nothing can read what they hold, so erasure removes them whole.
    fn unreadable_mirrors_mentioning(&self, needle: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let needle = needle.as_bytes();
        Ok(self
            .raw_scan(Tree::Mirrors, b"")?
            .into_iter()
            .filter(|(_, v)| keys::decode::<MirrorRecord>(v).is_err())
            .filter(|(_, v)| !needle.is_empty() && v.windows(needle.len()).any(|w| w == needle))
            .map(|(k, _)| k)
            .collect())
    }

    /// The ids of `link`'s mirror records whose message is older than `cutoff_ms`, oldest first.
    fn mirrors_older_than(
        &self,
        link: &LinkId,
        cutoff_ms: u64,
    ) -> Result<Vec<MirrorId>, StoreError> {
        Ok(decodable_mirrors(self)?
            .into_iter()
            .filter(|m| &m.link == link && m.at_ms < cutoff_ms)
            .map(|m| m.id)
            .collect())
    }
}

impl<R: Read + ?Sized> MirrorReads for R {}

/// Every mirror record that decodes, oldest first. One that does not (written too deep by an
/// old release, say) is skipped with a warning, so that erasure and retention still do their
/// work on the rest; where it is used, it is parked.
fn decodable_mirrors(r: &(impl Read + ?Sized)) -> Result<Vec<MirrorRecord>, StoreError> {
    let mut out = Vec::new();
    for (k, v) in r.raw_scan(Tree::Mirrors, b"")? {
        match keys::decode::<MirrorRecord>(&v) {
            Ok(m) => out.push(m),
            Err(e) => {
                tracing::warn!(key = %hex::encode(&k), error = %e, "mirror record skipped: undecodable")
            }
        }
    }
    Ok(out)
}

impl Store {
    /// The stored bytes of mirror `id` (tests only: to restore a record they corrupted).
    #[doc(hidden)]
    pub fn raw_mirror(&self, id: MirrorId) -> Result<Option<Vec<u8>>, StoreError> {
        self.raw_get(Tree::Mirrors, &keys::id(id.0))
    }
}

impl Tx<'_> {
    pub fn new_mirror_id(&mut self) -> Result<MirrorId, TxError> {
        self.fresh_id().map(MirrorId)
    }

    /// Creates a mirror record and indexes its source message.
    pub fn insert_mirror(&mut self, m: &MirrorRecord) -> Result<(), TxError> {
        self.put_mirror(m)?;
        self.index(&m.source, &m.source_msg, IndexEntry::Mirror(m.id))
    }

    /// Saves a mirror record. Index the ids of new copies with [`Tx::index`] as they appear.
    pub fn put_mirror(&mut self, m: &MirrorRecord) -> Result<(), TxError> {
        self.put(Tree::Mirrors, &keys::id(m.id.0), m)
    }

    pub fn index(
        &mut self,
        room: &RoomRef,
        msg: &RemoteMsgId,
        e: IndexEntry,
    ) -> Result<(), TxError> {
        self.put(Tree::MsgIndex, &keys::message(room, msg), &e)
    }

    /// Forgets what a (room, message) pair is to the bridge.
    pub fn unindex(&mut self, room: &RoomRef, msg: &RemoteMsgId) -> Result<(), TxError> {
        self.remove(Tree::MsgIndex, &keys::message(room, msg))
    }

    /// Maps a platform thread to the bridged message at its root.
    pub fn put_thread(
        &mut self,
        room: &RoomRef,
        thread: &ThreadId,
        root: MirrorId,
    ) -> Result<(), TxError> {
        self.put(Tree::Threads, &keys::thread(room, thread), &root)
    }

    /// Removes a thread-map entry if it still points at `root`.
    pub fn unmap_thread(
        &mut self,
        room: &RoomRef,
        thread: &ThreadId,
        root: MirrorId,
    ) -> Result<(), TxError> {
        let key = keys::thread(room, thread);
        if read::get::<MirrorId>(self, Tree::Threads, &key)? == Some(root) {
            self.remove(Tree::Threads, &key)?;
        }
        Ok(())
    }

    /// Removes a mirror record and every id mapping that leads to it (its source and copies in
    /// the message index, the threads it heads in the thread map), and its reactions.
    pub fn remove_mirror(&mut self, m: &MirrorRecord) -> Result<(), TxError> {
        if self.mirror_of(&m.source, &m.source_msg)? == Some(m.id) {
            self.unindex(&m.source, &m.source_msg)?;
        }
        if let Some(t) = &m.source_thread {
            self.unmap_thread(&m.source, t, m.id)?;
        }
        for c in &m.copies {
            for id in &c.ids {
                if self.mirror_of(&c.room, id)? == Some(m.id) {
                    self.unindex(&c.room, id)?;
                }
            }
            if let Some(t) = &c.thread {
                self.unmap_thread(&c.room, t, m.id)?;
            }
        }
        self.remove_reactions(m.id)?;
        self.remove_report(m.id)?;
        self.remove(Tree::Mirrors, &keys::id(m.id.0))
    }

    /// Removes a mirror record by its key, whatever it holds (erasure of one that no longer
    /// decodes).
    pub(crate) fn remove_mirror_key(&mut self, key: &[u8]) -> Result<(), TxError> {
        Ok(self.kv.remove(Tree::Mirrors.id(), key)?)
    }

    /// Writes `bytes` as the stored record of mirror `id`, bypassing encoding (tests only).
    #[doc(hidden)]
    pub fn put_raw_mirror(&mut self, id: MirrorId, bytes: Vec<u8>) -> Result<(), TxError> {
        self.put_raw(Tree::Mirrors, &keys::id(id.0), bytes)
    }
}
