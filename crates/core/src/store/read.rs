//! Reads written once: the committed state ([`Store`]) and a transaction in progress ([`Tx`])
//! are both a [`Read`], and every read verb is a default method of a per-tree read trait over
//! it (`MirrorReads::mirror`, `PendingReads::pending` …; bring them all into scope with
//! `use crate::store::prelude::*`). A verb called on a `Tx` sees the transaction's own writes,
//! in lookups and scans alike.

use super::decoded::Caches;
use super::{keys, Store, StoreError, Tree, Tx};
use civicbridge_kv::Entry;
use serde::de::DeserializeOwned;

pub(crate) mod sealed {
    use super::super::decoded::Caches;
    use super::super::{StoreError, Tree};
    use civicbridge_kv::Entry;

    /// Raw access to the trees, for the store's own read verbs only.
    pub trait Access {
        fn raw_get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
        /// Every entry of `tree` whose key starts with `prefix`, in key order.
        fn raw_scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError>;
        fn decoded(&self) -> &Caches;
    }
}

/// A view of the store to read from: [`Store`] (what is committed) or [`Tx`] (a transaction in
/// progress, with its own writes). Sealed: the store's read traits are its only methods.
pub trait Read: sealed::Access {}

impl<R: sealed::Access + ?Sized> Read for R {}

impl<R: sealed::Access + ?Sized> sealed::Access for &R {
    fn raw_get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).raw_get(tree, key)
    }
    fn raw_scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        (**self).raw_scan(tree, prefix)
    }
    fn decoded(&self) -> &Caches {
        (**self).decoded()
    }
}

impl sealed::Access for Store {
    fn raw_get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.backend.get(tree.id(), key)?)
    }
    fn raw_scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        Ok(self.backend.scan(tree.id(), prefix)?)
    }
    fn decoded(&self) -> &Caches {
        &self.decoded
    }
}

impl sealed::Access for Tx<'_> {
    fn raw_get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.kv.get(tree.id(), key)?)
    }
    fn raw_scan(&self, tree: Tree, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        Ok(self.kv.scan(tree.id(), prefix)?)
    }
    fn decoded(&self) -> &Caches {
        self.decoded
    }
}

/// The record stored under `key`, decoded.
pub(crate) fn get<T: DeserializeOwned>(
    r: &(impl Read + ?Sized),
    tree: Tree,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    r.raw_get(tree, key)?.map(|v| keys::decode(&v)).transpose()
}

/// Every record of `tree`, decoded, in key order.
pub(crate) fn all<T: DeserializeOwned>(
    r: &(impl Read + ?Sized),
    tree: Tree,
) -> Result<Vec<T>, StoreError> {
    r.raw_scan(tree, b"")?
        .iter()
        .map(|(_, v)| keys::decode(v))
        .collect()
}
