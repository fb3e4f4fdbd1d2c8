//! What the commands that change links (`!link`, `!unlink`) need of the running links: the
//! links in force, the config's links (a runtime change records the config's version of the
//! link it changes), the platforms with a connector, and a way to ask for the change to be put
//! in force once it is stored. Cheap to clone; every link worker and the admin API hold one.

use crate::store::LinkRecord;
use civicbridge_api::{LinkId, Platform};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

#[derive(Debug, Clone)]
pub struct LinksView {
    pub(super) in_force: watch::Receiver<Arc<Vec<LinkRecord>>>,
    pub(super) config: watch::Receiver<Arc<Vec<LinkRecord>>>,
    pub(super) platforms: Arc<HashSet<Platform>>,
    pub(super) refresh: mpsc::UnboundedSender<()>,
}

/// The other ends of a [`LinksView`]'s watches, kept by [`super::RunningLinks`].
#[derive(Debug)]
pub struct ViewFeed {
    pub(super) in_force: watch::Sender<Arc<Vec<LinkRecord>>>,
    pub(super) config: watch::Sender<Arc<Vec<LinkRecord>>>,
}

/// Requests to put the stored runtime changes in force ([`super::RunningLinks::refresh`]).
pub type Refreshes = mpsc::UnboundedReceiver<()>;

impl LinksView {
    /// A view of no links yet, for a process with connectors for `platforms`.
    pub fn new(platforms: HashSet<Platform>) -> (LinksView, ViewFeed, Refreshes) {
        let (in_force_tx, in_force) = watch::channel(Arc::new(Vec::new()));
        let (config_tx, config) = watch::channel(Arc::new(Vec::new()));
        let (refresh, refreshes) = mpsc::unbounded_channel();
        (
            LinksView {
                in_force,
                config,
                platforms: Arc::new(platforms),
                refresh,
            },
            ViewFeed {
                in_force: in_force_tx,
                config: config_tx,
            },
            refreshes,
        )
    }

    /// The links in force now.
    pub fn in_force(&self) -> Arc<Vec<LinkRecord>> {
        self.in_force.borrow().clone()
    }

    /// The link `id` if it is in force.
    pub fn get(&self, id: &LinkId) -> Option<LinkRecord> {
        self.in_force.borrow().iter().find(|l| &l.id == id).cloned()
    }

    /// The config's record of link `id`, if the config has one.
    pub fn in_config(&self, id: &LinkId) -> Option<LinkRecord> {
        self.config.borrow().iter().find(|l| &l.id == id).cloned()
    }

    /// Whether this process has a connector for `p`.
    pub fn serves(&self, p: Platform) -> bool {
        self.platforms.contains(&p)
    }

    /// Asks for what the store now says of the links to be put in force. Call it after the
    /// transaction that stored a change has returned, so the change is there to be read.
    pub fn refresh(&self) {
        // Closed only when the daemon is shutting down, when nothing is put in force any more.
        let _ = self.refresh.send(());
    }

    /// The watch of the links in force (the admin API lists them).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<LinkRecord>>> {
        self.in_force.clone()
    }
}
