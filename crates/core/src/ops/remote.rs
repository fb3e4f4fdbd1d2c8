//! Moderation commands from outside the rooms while the bridge runs (the admin API): the same
//! parser, code, permissions and audit entries as a command typed in a moderation room
//! ([`commands::run_as`]), in a transaction of its own that the store serialises with the link
//! workers'. What the command queued is flushed before the caller hears back, then handed to
//! the outbox at once (the command line, with the bridge stopped, leaves it for the next start).

use crate::moderation::commands::{self, permissions::Actor, Outcome};
use crate::pipeline::outbox::Outbox;
use crate::store::{Store, StoreError};
use civicbridge_api::{LinkId, PlatformFactory};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// Not a command (no leading `!`), or one that does not parse; the text is the usage.
    #[error("{0}")]
    NotACommand(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A handle on the running daemon for commands from outside the rooms; cheap to clone.
#[derive(Debug, Clone)]
pub struct RemoteCommands {
    pub(crate) store: Store,
    pub(crate) outbox: Outbox,
    pub(crate) platforms: Arc<[Arc<dyn PlatformFactory>]>,
}

impl RemoteCommands {
    /// Runs `text` (`!approve #3`, `!set planning links allow`) on `link` as `actor`.
    pub async fn run(
        &self,
        link: &LinkId,
        text: &str,
        actor: Actor,
    ) -> Result<Outcome, RemoteError> {
        let cmd = match commands::parse(text) {
            Some(Ok(cmd)) => cmd,
            Some(Err(usage)) => return Err(RemoteError::NotACommand(usage)),
            None => {
                return Err(RemoteError::NotACommand(
                    "a command starts with `!` (`!help` lists them)".into(),
                ))
            }
        };
        let outcome = commands::run_as(&self.store, link, cmd, actor, &self.platforms)?;
        self.store.flush().await?;
        self.outbox.enqueue(&outcome.jobs);
        Ok(outcome)
    }
}
