//! Store verbs for `crate::privacy`: the per-store privacy key, the scans erasure and retention
//! need, and removal of a mirror's id mappings. Built only on the typed verbs and key functions
//! of the store, so the layout stays in `keys.rs`.

use super::{keys, MirrorRecord, Store, StoreError, Tree, Tx, TxError};
use crate::privacy::{self, PrivacyKey, Shown};
use crate::rules::Side;
use civicbridge_api::{LinkId, MirrorId, RemoteMsgId, RoomRef, ThreadId};

/// Where the key lives in the meta tree (32 raw bytes).
const PRIVACY_KEY: &[u8] = b"privacy/key";

fn decode_key(bytes: &[u8]) -> Result<PrivacyKey, StoreError> {
    PrivacyKey::from_bytes(bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("privacy key of {} bytes", bytes.len())))
}

/// The side a room is on for a link: moderation rooms and rooms no longer in the link count as
/// staff (the cautious reading when a resident's name is at stake).
fn side_in(link: &super::LinkRecord, room: &RoomRef) -> Side {
    link.side_of(room).unwrap_or(Side::Staff)
}

/// The side an author wrote on; a source room no longer in the link counts as public.
fn author_side(link: &super::LinkRecord, m: &MirrorRecord) -> Side {
    link.side_of(&m.source).unwrap_or(Side::Public)
}

impl Store {
    /// The store's privacy key, created on first use. Call [`Store::flush`] before showing
    /// anything derived from a newly created key (the daemon does this at start).
    pub fn privacy_key(&self) -> Result<PrivacyKey, StoreError> {
        if let Some(v) = self.backend.get(Tree::Meta, PRIVACY_KEY)? {
            return decode_key(&v);
        }
        self.transact(|tx| tx.privacy_key())
    }

    /// How `m`'s author appears in `target` (see [`privacy::display_name_for`]).
    pub fn shown_author(&self, m: &MirrorRecord, target: &RoomRef) -> Result<Shown, StoreError> {
        let (Some(link), Some(rules)) = (self.link(&m.link)?, self.rules(&m.link)?) else {
            return Ok(Shown::named(&m.author));
        };
        if rules.resident_names == crate::rules::ResidentNames::Name {
            return Ok(Shown::named(&m.author));
        }
        let key = self.privacy_key()?;
        Ok(privacy::display_name_for(
            &rules,
            &m.link,
            &m.author,
            author_side(&link, m),
            side_in(&link, target),
            &key,
        ))
    }

    /// Every mirror record written by `user` (`platform:id`), oldest first. A scan of the mirror
    /// tree: erasure is rare, and an author index would cost every message a write.
    pub fn mirrors_by(&self, user: &str) -> Result<Vec<MirrorRecord>, StoreError> {
        let mut out = Vec::new();
        for (_, v) in self.backend.scan(Tree::Mirrors, b"")? {
            let m: MirrorRecord = keys::decode(&v)?;
            if m.author.key() == user {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The ids of `link`'s mirror records whose message is older than `cutoff_ms`, oldest first.
    pub fn mirrors_older_than(
        &self,
        link: &LinkId,
        cutoff_ms: u64,
    ) -> Result<Vec<MirrorId>, StoreError> {
        let mut out = Vec::new();
        for (_, v) in self.backend.scan(Tree::Mirrors, b"")? {
            let m: MirrorRecord = keys::decode(&v)?;
            if &m.link == link && m.at_ms < cutoff_ms {
                out.push(m.id);
            }
        }
        Ok(out)
    }
}

impl Tx<'_> {
    /// The store's privacy key, created (in this transaction) if there is none yet.
    pub fn privacy_key(&mut self) -> Result<PrivacyKey, TxError> {
        if let Some(v) = self.kv.get(Tree::Meta, PRIVACY_KEY)? {
            return Ok(decode_key(&v)?);
        }
        let key = PrivacyKey::generate();
        self.kv
            .insert(Tree::Meta, PRIVACY_KEY, key.as_bytes().to_vec())?;
        Ok(key)
    }

    /// How the audit log names `user` (`platform:id`): see [`privacy::person_ref`].
    pub fn person_ref(&mut self, user: &str) -> Result<String, TxError> {
        Ok(privacy::person_ref(&self.privacy_key()?, user))
    }

    /// A link's rules as the audit log shows them: see [`privacy::audit_rules`].
    pub fn audit_rules(
        &mut self,
        rules: &crate::rules::Rules,
    ) -> Result<serde_json::Value, TxError> {
        Ok(privacy::audit_rules(&self.privacy_key()?, rules))
    }

    /// One rule's value as the audit log shows it: see [`privacy::audit_rule_value`].
    pub fn audit_rule_value(
        &mut self,
        rule: &str,
        value: &serde_json::Value,
    ) -> Result<serde_json::Value, TxError> {
        Ok(privacy::audit_rule_value(&self.privacy_key()?, rule, value))
    }

    /// How `m`'s author appears in `target`, inside a transaction (for approval cards).
    pub fn shown_author(&mut self, m: &MirrorRecord, target: &RoomRef) -> Result<Shown, TxError> {
        let (Some(link), Some(rules)) = (self.link(&m.link)?, self.rules(&m.link)?) else {
            return Ok(Shown::named(&m.author));
        };
        if rules.resident_names == crate::rules::ResidentNames::Name {
            return Ok(Shown::named(&m.author));
        }
        let key = self.privacy_key()?;
        Ok(privacy::display_name_for(
            &rules,
            &m.link,
            &m.author,
            author_side(&link, m),
            side_in(&link, target),
            &key,
        ))
    }

    /// Forgets what a (room, message) pair is to the bridge.
    pub fn unindex(&mut self, room: &RoomRef, msg: &RemoteMsgId) -> Result<(), TxError> {
        self.kv.remove(Tree::MsgIndex, &keys::message(room, msg))
    }

    /// Removes a thread-map entry if it still points at `root`.
    pub fn unmap_thread(
        &mut self,
        room: &RoomRef,
        thread: &ThreadId,
        root: MirrorId,
    ) -> Result<(), TxError> {
        let key = keys::thread(room, thread);
        if self.get::<MirrorId>(Tree::Threads, &key)? == Some(root) {
            self.kv.remove(Tree::Threads, &key)?;
        }
        Ok(())
    }

    /// Removes a mirror record and every id mapping that leads to it (its source and copies in
    /// the message index, the threads it heads in the thread map).
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
        self.kv.remove(Tree::Mirrors, &keys::id(m.id.0))
    }
}
