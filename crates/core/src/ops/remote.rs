//! Moderation commands from outside the rooms while the bridge runs (the admin API): the same
//! parser, code, permissions and audit entries as a command typed in a moderation room
//! ([`commands::run_as`]), in a transaction of its own that the store serialises with the link
//! workers'. What the command queued is flushed before the caller hears back, then handed to
//! the outbox at once (the command line, with the bridge stopped, leaves it for the next start).

use crate::moderation::audit::{AuditAction, AuditDraft};
use crate::moderation::commands::permissions::{Actor, Role};
use crate::moderation::commands::{self, Outcome};
use crate::pipeline::outbox::Outbox;
use crate::store::prelude::*;
use crate::store::{Store, StoreError};
use civicbridge_api::{LinkId, PlatformFactory, UserKey};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// Not a command (no leading `!`), or one that does not parse; the text is the usage.
    #[error("{0}")]
    NotACommand(String),
    /// The caller's role does not allow it (audited).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A handle on the running daemon for commands from outside the rooms; cheap to clone.
#[derive(Debug, Clone)]
pub struct RemoteCommands {
    pub(crate) store: Store,
    pub(crate) outbox: Outbox,
    pub(crate) platforms: Arc<[Arc<dyn PlatformFactory>]>,
    /// The links in force, for `!link` and `!unlink`.
    pub(crate) links: Option<crate::ops::links::LinksView>,
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
        self.run_command(link, cmd, actor).await
    }

    /// Runs `cmd` on `link` as `actor` (the console builds its commands rather than typing
    /// them): the same code, permissions and audit entries as in the room.
    pub async fn run_command(
        &self,
        link: &LinkId,
        cmd: commands::Command,
        actor: Actor,
    ) -> Result<Outcome, RemoteError> {
        let env = crate::moderation::room::Env {
            platforms: &self.platforms,
            links: self.links.as_ref(),
        };
        let outcome = commands::run_as(&self.store, link, cmd, actor, &env)?;
        self.store.flush().await?;
        self.outbox.enqueue(&outcome.jobs);
        if let (true, Some(links)) = (outcome.links_changed, &self.links) {
            links.refresh();
        }
        Ok(outcome)
    }

    /// Everything the bridge holds about `user` (as `civicbridge export`); admins only, audited.
    pub async fn export(
        &self,
        user: &UserKey,
        actor: &Actor,
    ) -> Result<crate::privacy::export::SubjectExport, RemoteError> {
        self.admin_only(actor, "export")?;
        let done = crate::privacy::export::export_audited(&self.store, user, &actor.audit())?;
        self.store.flush().await?;
        Ok(done)
    }

    /// The transparency report from `from_ms` to `to_ms` (as `civicbridge report`).
    pub fn report(
        &self,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<Vec<crate::moderation::audit::report::Row>, RemoteError> {
        let log = self.store.audit_log()?;
        let links = self.store.links()?;
        Ok(crate::moderation::audit::report::report(
            &log, &links, from_ms, to_ms,
        ))
    }

    /// Erases everything the bridge holds of `user` (as `civicbridge erase`); admins only. The
    /// delete jobs go to the outbox at once.
    pub async fn erase(
        &self,
        user: &UserKey,
        actor: &Actor,
    ) -> Result<crate::privacy::erase::Erased, RemoteError> {
        self.admin_only(actor, "erase")?;
        let done = crate::privacy::erase::erase(&self.store, user, &actor.audit())?;
        self.store.flush().await?;
        self.outbox.enqueue(&done.deletes);
        self.outbox.enqueue(&done.reaction_jobs);
        Ok(done)
    }

    /// Prunes what is older than each link's retention (as `civicbridge prune`); admins only.
    pub async fn prune(
        &self,
        actor: &Actor,
    ) -> Result<Vec<crate::privacy::retention::Pruned>, RemoteError> {
        self.admin_only(actor, "prune")?;
        let done =
            crate::privacy::retention::prune(&self.store, crate::store::now_ms(), &actor.audit())?;
        self.store.flush().await?;
        Ok(done)
    }

    /// Whether the stored chain is intact, checked a block at a time (see `AuditReads`).
    pub fn audit_verify(
        &self,
    ) -> Result<
        Result<crate::moderation::audit::Verified, crate::moderation::audit::VerifyError>,
        RemoteError,
    > {
        Ok(self.store.audit_verify()?)
    }

    /// The audit log from `since_ms` on.
    pub fn audit_log(
        &self,
        since_ms: u64,
    ) -> Result<Vec<crate::moderation::audit::AuditEntry>, RemoteError> {
        let log = self.store.audit_log()?;
        Ok(crate::moderation::audit::since(&log, since_ms).to_vec())
    }

    /// Refuses (and audits) an actor without the admin role for `what`, which acts on every
    /// link at once.
    fn admin_only(&self, actor: &Actor, what: &str) -> Result<(), RemoteError> {
        let is_admin = match actor {
            Actor::Cli => true,
            Actor::Token { role, .. } => *role == Role::Admin,
            Actor::Person { .. } => false,
        };
        if is_admin {
            return Ok(());
        }
        self.store.transact(|tx| {
            tx.audit(AuditDraft {
                actor: actor.audit(),
                action: AuditAction::Refused,
                link: None,
                subject: None,
                detail: serde_json::json!({ "attempted": what, "needed": Role::Admin.name() }),
            })?;
            Ok(())
        })?;
        Err(RemoteError::Refused(format!("only an admin may {what}")))
    }
}
