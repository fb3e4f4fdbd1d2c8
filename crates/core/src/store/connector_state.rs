//! The connector_state tree: each connector's durable key/value space (its cursors), as the
//! contract's [`ConnectorState`].

use super::read::sealed::Access as _;
use super::{keys, Store, Tree};
use civicbridge_api::{ConnectorError, ConnectorState, Platform};
use std::sync::Arc;

impl Store {
    /// The durable key/value space of one connector.
    pub fn connector_state(&self, platform: Platform) -> Arc<dyn ConnectorState> {
        Arc::new(StoreConnectorState {
            store: self.clone(),
            platform,
        })
    }
}

#[derive(Debug)]
struct StoreConnectorState {
    store: Store,
    platform: Platform,
}

#[async_trait::async_trait]
impl ConnectorState for StoreConnectorState {
    fn get(&self, key: &str) -> Option<String> {
        let raw = self
            .store
            .raw_get(
                Tree::ConnectorState,
                &keys::connector_state(self.platform, key),
            )
            .ok()??;
        String::from_utf8(raw).ok()
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), ConnectorError> {
        self.remember(key, value).await?;
        self.store
            .flush()
            .await
            .map_err(|e| ConnectorError::Transient(e.to_string()))
    }

    /// Written to the journal like every write, so the next flush (anyone's) makes it durable.
    async fn remember(&self, key: &str, value: &str) -> Result<(), ConnectorError> {
        let k = keys::connector_state(self.platform, key);
        self.store
            .transact(|tx| {
                tx.put_raw(Tree::ConnectorState, &k, value.as_bytes().to_vec())?;
                Ok(())
            })
            .map_err(|e| ConnectorError::Transient(e.to_string()))
    }
}
