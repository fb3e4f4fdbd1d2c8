//! The store's privacy key (in the meta tree), for `crate::privacy`: pseudonyms and the keyed
//! hashes the audit log carries. How people are named is decided there, not here.

use super::read::Read;
use super::{Store, StoreError, Tree, Tx, TxError};
use crate::privacy::PrivacyKey;

/// Where the key lives in the meta tree (32 raw bytes).
const PRIVACY_KEY: &[u8] = b"privacy/key";

fn decode_key(bytes: &[u8]) -> Result<PrivacyKey, StoreError> {
    PrivacyKey::from_bytes(bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("privacy key of {} bytes", bytes.len())))
}

/// Reads of the privacy key.
pub trait PrivacyKeyReads: Read {
    /// The key, if one was created.
    fn stored_privacy_key(&self) -> Result<Option<PrivacyKey>, StoreError> {
        self.raw_get(Tree::Meta, PRIVACY_KEY)?
            .map(|v| decode_key(&v))
            .transpose()
    }
}

impl<R: Read + ?Sized> PrivacyKeyReads for R {}

impl Store {
    /// The store's privacy key, created on first use. Call [`Store::flush`] before showing
    /// anything derived from a newly created key (the daemon does this at start).
    pub fn privacy_key(&self) -> Result<PrivacyKey, StoreError> {
        if let Some(key) = self.stored_privacy_key()? {
            return Ok(key);
        }
        self.transact(|tx| tx.privacy_key())
    }
}

impl Tx<'_> {
    /// The store's privacy key, created (in this transaction) if there is none yet.
    pub fn privacy_key(&mut self) -> Result<PrivacyKey, TxError> {
        if let Some(key) = self.stored_privacy_key()? {
            return Ok(key);
        }
        let key = PrivacyKey::generate();
        self.put_raw(Tree::Meta, PRIVACY_KEY, key.as_bytes().to_vec())?;
        Ok(key)
    }
}
