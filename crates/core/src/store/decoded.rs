//! Decoded copies of small, hot records that rarely change (links and their rules, read for
//! every send). A read still fetches the stored bytes and decodes them again only when they
//! differ from the bytes the copy was made from, so a copy is never stale.

use super::{keys, StoreError};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Mutex;

/// By key: the stored bytes a copy was decoded from, and the copy.
type Copies<T> = HashMap<Vec<u8>, (Vec<u8>, T)>;

#[derive(Debug)]
pub struct Decoded<T> {
    copies: Mutex<Copies<T>>,
}

impl<T> Default for Decoded<T> {
    fn default() -> Self {
        Decoded {
            copies: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone + DeserializeOwned> Decoded<T> {
    /// The record stored under `key` as `raw`.
    pub fn decode(&self, key: &[u8], raw: Vec<u8>) -> Result<T, StoreError> {
        let mut copies = self.copies.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((bytes, value)) = copies.get(key) {
            if *bytes == raw {
                return Ok(value.clone());
            }
        }
        let value: T = keys::decode(&raw)?;
        copies.insert(key.to_vec(), (raw, value.clone()));
        Ok(value)
    }
}

/// The decoded copies both views of the store share: links and their rules.
#[derive(Debug, Default)]
pub struct Caches {
    pub links: Decoded<super::LinkRecord>,
    pub rules: Decoded<super::RulesRecord>,
}
