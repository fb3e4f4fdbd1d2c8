//! The meta tree's bookkeeping: the schema version and its migrations, the store's instance
//! name, the id counters, and one-off upgrade steps. (The meta tree also holds the audit head,
//! see `audit.rs`, the housekeeping marks, `housekeeping.rs`, and the privacy key,
//! `privacy_key.rs`.)

use super::read::sealed::Access as _;
use super::read::Read;
use super::{
    keys, MirrorRecord, PendingItem, Store, StoreError, Tree, Tx, TxError, SCHEMA_VERSION,
};

/// The one id sequence kept in the meta tree and advanced inside transactions: pending ids are
/// read and typed by moderators, so they count 1, 2, 3 without gaps. Mirror and job ids come
/// from the `IdAllocator`, which costs a write only once per block.
pub(super) const PENDING_COUNTER: &str = "pending";
const ID_MARK: &str = "ids";
const INSTANCE: &[u8] = b"instance";
const HELD_BACKFILL: &[u8] = b"backfill/mirror_held";

/// Reads of the meta tree's bookkeeping.
pub trait MetaReads: Read {
    /// The schema the store is at (0 for a store with none written yet).
    fn schema_version(&self) -> Result<u64, StoreError> {
        match self.raw_get(Tree::Meta, keys::SCHEMA_VERSION)? {
            Some(v) => keys::decode_u64(&v),
            None => Ok(0),
        }
    }
}

impl<R: Read + ?Sized> MetaReads for R {}

impl Store {
    /// The store's name, written by [`migrate`].
    pub(super) fn instance_name(&self) -> Result<String, StoreError> {
        let v = self
            .raw_get(Tree::Meta, INSTANCE)?
            .ok_or_else(|| StoreError::Corrupt("the store has no instance name".into()))?;
        String::from_utf8(v).map_err(|_| StoreError::Corrupt("store instance name".into()))
    }

    /// The persisted high-water mark of mirror and job ids (0 for a new store).
    pub(super) fn id_mark(&self) -> Result<u64, StoreError> {
        match self.raw_get(Tree::Meta, &keys::counter(ID_MARK))? {
            Some(v) => keys::decode_u64(&v),
            None => Ok(0),
        }
    }
}

/// Brings an older store up to [`SCHEMA_VERSION`]. Version 0 is a store with no version
/// written (a fresh one); later versions add steps here, each in its own transaction.
pub(super) fn migrate(store: &Store) -> Result<(), StoreError> {
    let found = store.schema_version()?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        tracing::info!(from = found, to = SCHEMA_VERSION, "migrating store");
        store.transact(|tx| {
            if found < 2 {
                // 2: stores have an instance name; a new store gets a random one, an
                // existing one the empty name (its queued jobs keep their transaction ids).
                let name = match found {
                    0 => hex::encode(rand::random::<[u8; 6]>()),
                    _ => String::new(),
                };
                tx.put_raw(Tree::Meta, INSTANCE, name.into_bytes())?;
            }
            if (1..3).contains(&found) {
                // 3: people in links and rules are typed `UserKey`s, which refuse text that
                // names no one. Older builds stored such text (a `trusted` entry without a
                // platform, an id of spaces): written as the key it reads as, or dropped.
                typed_user_keys(tx)?;
            }
            // 4: two new trees, `link_overrides` and `room_names`, which start empty. Nothing
            // to rewrite; the version is raised so that an older build, which would not know
            // the links changed at runtime, refuses the store instead of dropping them.
            // 5 (the `Reactions` job) and 6 (the `Tell`, `Unsay` and `Export` jobs and the
            // `expiring` tree) are the same: new records an older build would misread.
            tx.put_raw(
                Tree::Meta,
                keys::SCHEMA_VERSION,
                keys::encode_u64(SCHEMA_VERSION),
            )?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Schema 3's step: every person listed in a link (`moderators`, `admins`) or its rules
/// (`trusted`, `blocked`, in the stored rules and the config's as last seeded) rewritten as the
/// `UserKey` it reads as (`Telegram: 42` becomes `telegram:42`), and text that names no one
/// dropped with a warning: one such entry must not keep a link, or the store, from opening.
fn typed_user_keys(tx: &mut Tx<'_>) -> Result<(), TxError> {
    use serde_json::Value;
    fn retype(list: Option<&mut Value>) -> usize {
        let Some(Value::Array(items)) = list else {
            return 0;
        };
        let before = items.len();
        items.retain_mut(
            |item| match item.as_str().map(str::parse::<civicbridge_api::UserKey>) {
                Some(Ok(key)) => {
                    *item = Value::String(key.to_string());
                    true
                }
                _ => false,
            },
        );
        before - items.len()
    }
    for (tree, lists) in [
        (Tree::Links, &[&["moderators"][..], &["admins"]][..]),
        (
            Tree::Rules,
            &[
                &["rules", "trusted"][..],
                &["rules", "blocked"],
                &["config", "trusted"],
                &["config", "blocked"],
            ],
        ),
    ] {
        for (k, v) in tx.raw_scan(tree, b"")? {
            let Ok(mut record) = keys::decode::<Value>(&v) else {
                continue;
            };
            let mut dropped = 0;
            for path in lists {
                let field = path
                    .iter()
                    .try_fold(&mut record, |at, name| at.get_mut(*name));
                dropped += retype(field);
            }
            if dropped > 0 {
                tracing::warn!(
                    key = %String::from_utf8_lossy(&k),
                    dropped,
                    "entries naming no one dropped from a link's lists"
                );
            }
            tx.put(tree, &k, &record)?;
        }
    }
    Ok(())
}

/// Links every held item from its message (`MirrorRecord::held`), once per store: items
/// held before that link existed are otherwise invisible to an edit or a deletion at the
/// source. A one-off step with a mark of its own in the meta tree, not a schema version:
/// it reads and writes only fields old releases ignore.
pub(super) fn backfill_held(store: &Store) -> Result<(), StoreError> {
    if store.raw_get(Tree::Meta, HELD_BACKFILL)?.is_some() {
        return Ok(());
    }
    store.transact(|tx| {
        // One record an older release wrote too deep to read back (issue 13, defect 11) must
        // not keep the store from opening: it is skipped here, and parked where it is used.
        for (k, v) in tx.raw_scan(Tree::Pending, b"")? {
            let item = match keys::decode::<PendingItem>(&v) {
                Ok(item) => item,
                Err(e) => {
                    tracing::warn!(key = %hex::encode(&k), error = %e, "held item skipped by the backfill");
                    continue;
                }
            };
            let k = keys::id(item.mirror.0);
            let Some(raw) = tx.raw_get(Tree::Mirrors, &k)? else {
                continue;
            };
            let Ok(mut m) = keys::decode::<MirrorRecord>(&raw) else {
                tracing::warn!(
                    mirror = item.mirror.0,
                    "message skipped by the backfill: undecodable"
                );
                continue;
            };
            if !m.held.contains(&item.id) {
                m.held.push(item.id);
                tx.put(Tree::Mirrors, &k, &m)?;
            }
        }
        tx.put_raw(Tree::Meta, HELD_BACKFILL, vec![1])?;
        Ok(())
    })
}

impl Tx<'_> {
    /// The next number of the counter `name` in the meta tree (1 first), advanced in this
    /// transaction.
    pub(super) fn next_counter(&mut self, name: &str) -> Result<u64, TxError> {
        let key = keys::counter(name);
        let n = match self.raw_get(Tree::Meta, &key)? {
            Some(v) => keys::decode_u64(&v)? + 1,
            None => 1,
        };
        self.put_raw(Tree::Meta, &key, keys::encode_u64(n))?;
        Ok(n)
    }

    /// A fresh mirror or job id, writing a new high-water mark in this transaction when the
    /// allocator asks for one.
    pub(super) fn fresh_id(&mut self) -> Result<u64, TxError> {
        let (id, mark) = self.ids.take();
        if let Some(m) = mark {
            if self.mark.is_none_or(|old| m > old) {
                self.put_raw(Tree::Meta, &keys::counter(ID_MARK), keys::encode_u64(m))?;
                self.mark = Some(m);
            }
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::mirrors::MirrorReads;
    use super::super::{Author, PendingKind};
    use super::*;
    use civicbridge_api::{LinkId, MirrorId, PendingId, Platform, RemoteMsgId, RichText, RoomRef};
    use civicbridge_kv::memory::MemoryBackend;
    use civicbridge_kv::{transaction, Backend, KvError};
    use std::sync::Arc;

    fn engine() -> Arc<dyn Backend> {
        Arc::new(MemoryBackend::new(&keys::TREE_NAMES))
    }

    fn message_and_item() -> (MirrorRecord, PendingItem) {
        let m = MirrorRecord::new(
            MirrorId(9),
            LinkId::new("l"),
            RoomRef::new(Platform::new("telegram"), "-1"),
            RemoteMsgId::new("7"),
            Author::new(Platform::new("telegram"), "42", "Ada"),
            RichText::plain("hi"),
        );
        let mut item = PendingItem::new(
            LinkId::new("l"),
            m.id,
            PendingKind::Message,
            Vec::new(),
            crate::moderation::HoldReasons::Written("r".into()),
            0,
        );
        item.id = PendingId(3);
        (m, item)
    }

    #[test]
    fn held_items_from_before_are_linked_from_their_messages_once() {
        let backend = engine();
        let (m, item) = message_and_item();
        transaction(&*backend, |tx| {
            tx.insert(Tree::Mirrors.id(), &keys::id(9), keys::encode(&m))?;
            tx.insert(Tree::Pending.id(), &keys::id(3), keys::encode(&item))
        })
        .expect("seed an old store");
        let store = Store::with_backend(backend.clone()).expect("opens");
        let held = store
            .mirror(MirrorId(9))
            .expect("reads")
            .expect("exists")
            .held;
        assert_eq!(held, vec![PendingId(3)]);
        drop(store);
        let store = Store::with_backend(backend).expect("opens again");
        assert_eq!(
            store
                .mirror(MirrorId(9))
                .expect("reads")
                .expect("exists")
                .held,
            vec![PendingId(3)],
            "once"
        );
    }

    /// An older release could write a held message too deep for serde_json to read back
    /// (issue 13, defect 11). Such records must not keep the store from opening after the
    /// upgrade: the backfill skips them, and the readable ones are still linked.
    #[test]
    fn undecodable_old_records_do_not_keep_the_store_from_opening() {
        let backend = engine();
        let (m, item) = message_and_item();
        let deep = format!(r#"{{"v":1,"d":{}1{}}}"#, "[".repeat(300), "]".repeat(300));
        transaction(&*backend, |tx| {
            tx.insert(Tree::Mirrors.id(), &keys::id(9), keys::encode(&m))?;
            tx.insert(Tree::Pending.id(), &keys::id(3), keys::encode(&item))?;
            // A held item and a message whose records serde_json refuses for their depth.
            tx.insert(Tree::Pending.id(), &keys::id(4), deep.clone().into_bytes())?;
            tx.insert(Tree::Mirrors.id(), &keys::id(10), deep.clone().into_bytes())?;
            let mut other = item.clone();
            other.id = PendingId(5);
            other.mirror = MirrorId(10);
            tx.insert(Tree::Pending.id(), &keys::id(5), keys::encode(&other))
        })
        .expect("seed an old store");
        let store = Store::with_backend(backend).expect("opens despite the undecodable records");
        let held = store
            .mirror(MirrorId(9))
            .expect("reads")
            .expect("exists")
            .held;
        assert_eq!(held, vec![PendingId(3)]);
    }

    #[test]
    fn a_store_from_before_instance_names_migrates_to_the_empty_name() {
        let backend = engine();
        transaction(&*backend, |tx| {
            tx.insert(Tree::Meta.id(), keys::SCHEMA_VERSION, keys::encode_u64(1))?;
            Ok::<_, KvError>(())
        })
        .expect("seed a version 1 store");
        let store = Store::with_backend(backend).expect("migrates");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert_eq!(
            store.instance(),
            "",
            "queued jobs keep their transaction ids"
        );
        assert_eq!(
            Store::memory().instance().len(),
            12,
            "a new store gets a name"
        );
    }

    /// An older build stored people as text, some naming no one; the store still opens, the
    /// link and its rules read back, and each entry is the key it reads as, or gone.
    #[test]
    fn people_stored_as_text_by_older_builds_are_typed_or_dropped() {
        use super::super::links_rules::LinkReads;
        let backend = engine();
        let link = LinkId::new("planning");
        let rules = serde_json::json!({
            "rules": {"trusted": ["Telegram: 42", "@ada:example.org"], "blocked": ["matrix: "]},
            "seeded_from": "",
            "config": {"trusted": ["telegram:42", 7]},
        });
        let record = serde_json::json!({
            "id": "planning",
            "rooms": [],
            "moderation_room": null,
            "moderators": ["matrix:@mod:x", "mod"],
            "admins": ["MATRIX:@boss:x"],
        });
        transaction(&*backend, |tx| {
            tx.insert(Tree::Meta.id(), keys::SCHEMA_VERSION, keys::encode_u64(2))?;
            tx.insert(Tree::Meta.id(), INSTANCE, b"old".to_vec())?;
            tx.insert(Tree::Links.id(), &keys::link(&link), keys::encode(&record))?;
            tx.insert(Tree::Rules.id(), &keys::link(&link), keys::encode(&rules))?;
            Ok::<_, KvError>(())
        })
        .expect("seed a version 2 store");
        let store = Store::with_backend(backend).expect("migrates");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        let l = store.link(&link).expect("reads").expect("exists");
        assert_eq!(l.moderators, vec!["matrix:@mod:x"]);
        assert_eq!(l.admins, vec!["matrix:@boss:x"]);
        let r = store.rules(&link).expect("reads").expect("exists");
        assert_eq!(r.trusted, vec!["telegram:42"]);
        assert!(r.blocked.is_empty());
    }
}
