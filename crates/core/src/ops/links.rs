//! The links while the bridge runs: one worker per link, the router's table, the outbox's
//! moderation rooms. Built from the config at start, and changed while running (a config
//! reload) without dropping anything in flight:
//!
//! - the new links are checked first (every room's platform has a connector); a refused set
//!   changes nothing;
//! - links and rules go through [`Store::sync_config`], as at start: stored, audited, and merged
//!   with what moderators set (the config seeds, it does not overwrite a moderator's `!set`);
//! - an added link gets a worker and routes; a removed link loses its routes and its worker
//!   drains what it was given, then stops (events from its rooms afterwards are acknowledged
//!   and dropped, as for any unlinked room); a changed link keeps its worker, which reads its
//!   record and rules from the store before each batch, so events keep their order;
//! - public notices are queued for rooms that joined a link.

use crate::ops::config::LinkSettings;
use crate::ops::daemon::DaemonError;
use crate::pipeline::link::{LinkWorker, Shared, Work, BATCH};
use crate::pipeline::router::RouteTable;
use crate::store::LinkRecord;
use civicbridge_api::{LinkId, Platform};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_util::task::TaskTracker;

/// What a change of links did, by link id (sorted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkChanges {
    pub added: Vec<LinkId>,
    pub removed: Vec<LinkId>,
    /// Rooms or moderation settings changed.
    pub changed: Vec<LinkId>,
    /// The config's rules changed what is in force.
    pub rules: Vec<LinkId>,
}

impl LinkChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rules.is_empty()
    }
}

impl std::fmt::Display for LinkChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return f.write_str("no change");
        }
        let mut parts = Vec::new();
        for (what, ids) in [
            ("added", &self.added),
            ("removed", &self.removed),
            ("changed", &self.changed),
            ("rules changed", &self.rules),
        ] {
            if !ids.is_empty() {
                let ids: Vec<_> = ids.iter().map(LinkId::as_str).collect();
                parts.push(format!("{what}: {}", ids.join(", ")));
            }
        }
        f.write_str(&parts.join("; "))
    }
}

/// Each link's moderation room, where the outbox reports what it parks or gives up on.
pub fn moderation_rooms(links: &[LinkSettings]) -> HashMap<LinkId, civicbridge_api::RoomRef> {
    links
        .iter()
        .filter_map(|l| {
            let room = l.link.moderation_room.clone()?;
            Some((l.link.id.clone(), room))
        })
        .collect()
}

/// The running links (see the module doc).
#[derive(Debug)]
pub struct RunningLinks {
    current: Vec<LinkSettings>,
    workers: HashMap<LinkId, mpsc::Sender<Work>>,
    routes: watch::Sender<Arc<RouteTable>>,
    /// The link records in force, for readers outside the pipeline (the admin API).
    published: watch::Sender<Arc<Vec<LinkRecord>>>,
    shared: Shared,
    tracker: TaskTracker,
    /// The platforms with a connector in this process.
    platforms: HashSet<Platform>,
}

impl RunningLinks {
    /// No links yet; the receiver is the router's view of the table.
    pub fn new(
        shared: Shared,
        tracker: TaskTracker,
        platforms: HashSet<Platform>,
    ) -> (RunningLinks, watch::Receiver<Arc<RouteTable>>) {
        let (routes, table) = watch::channel(Arc::new(RouteTable::default()));
        let links = RunningLinks {
            current: Vec::new(),
            workers: HashMap::new(),
            routes,
            published: watch::Sender::new(Arc::new(Vec::new())),
            shared,
            tracker,
            platforms,
        };
        (links, table)
    }

    /// The links in force.
    pub fn current(&self) -> &[LinkSettings] {
        &self.current
    }

    /// The link records in force, kept current.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Vec<LinkRecord>>> {
        self.published.subscribe()
    }

    /// Refuses a set of links this process cannot serve, naming the first problem.
    pub fn check(&self, links: &[LinkSettings]) -> Result<(), DaemonError> {
        let mut ids = HashSet::new();
        for l in links {
            if !ids.insert(&l.link.id) {
                return Err(DaemonError::DuplicateLink(l.link.id.to_string()));
            }
            let rooms = l.link.rooms.iter().map(|r| &r.room);
            for room in rooms.chain(&l.link.moderation_room) {
                if !self.platforms.contains(&room.platform) {
                    return Err(DaemonError::MissingConnector {
                        link: l.link.id.to_string(),
                        platform: room.platform,
                    });
                }
            }
        }
        Ok(())
    }

    /// Puts `links` in force (see the module doc); returns what changed.
    pub fn apply(&mut self, links: &[LinkSettings]) -> Result<LinkChanges, DaemonError> {
        self.check(links)?;
        let store = self.shared.store.clone();
        let pairs: Vec<_> = links
            .iter()
            .map(|l| (l.link.clone(), l.rules.clone()))
            .collect();
        let mut changes = LinkChanges {
            rules: store.sync_config(&pairs)?,
            ..LinkChanges::default()
        };
        let before: HashMap<LinkId, LinkRecord> = self
            .current
            .iter()
            .map(|l| (l.link.id.clone(), l.link.clone()))
            .collect();
        let after: HashSet<&LinkId> = links.iter().map(|l| &l.link.id).collect();
        let mut announce = Vec::new();
        for l in links {
            match before.get(&l.link.id) {
                None => {
                    self.spawn(&l.link)?;
                    changes.added.push(l.link.id.clone());
                    announce.push(l.link.clone());
                }
                Some(old) if *old != l.link => {
                    changes.changed.push(l.link.id.clone());
                    announce.push(l.link.clone());
                }
                Some(_) => {}
            }
        }
        for id in before.keys().filter(|id| !after.contains(id)) {
            store.retire_link(id)?;
            // Dropping the last sender lets the worker drain its queue and stop.
            self.workers.remove(id);
            changes.removed.push(id.clone());
        }
        self.current = links.to_vec();
        let records: Vec<LinkRecord> = links.iter().map(|l| l.link.clone()).collect();
        self.shared
            .outbox
            .set_moderation_rooms(moderation_rooms(links));
        self.routes
            .send_replace(Arc::new(RouteTable::build(&records, &self.workers)));
        self.published.send_replace(Arc::new(records));
        let notices = crate::moderation::notice::queue_public_notices(&store, &announce)?;
        if !notices.is_empty() {
            tracing::info!(rooms = notices.len(), "queued the public notice");
        }
        self.shared.outbox.enqueue(&notices);
        for list in [
            &mut changes.added,
            &mut changes.removed,
            &mut changes.changed,
            &mut changes.rules,
        ] {
            list.sort();
        }
        Ok(changes)
    }

    fn spawn(&mut self, link: &LinkRecord) -> Result<(), DaemonError> {
        let (tx, rx) = mpsc::channel(BATCH * 2);
        let worker = LinkWorker::new(link.clone(), rx, &self.shared, &self.tracker)?;
        self.tracker.spawn(worker.run());
        self.workers.insert(link.id.clone(), tx);
        Ok(())
    }
}
