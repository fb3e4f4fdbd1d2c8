//! The links while the bridge runs: one worker per link, the router's table, the outbox's
//! moderation rooms, the bot's place in the rooms. Built from the config at start, and changed
//! while running (a config reload, `!link`/`!unlink`) without dropping anything in flight:
//!
//! - the config's links are checked first (every room's platform has a connector, no link
//!   twice); a refused set changes nothing;
//! - they are merged with the links changed at runtime ([`merge`]: a runtime change stands
//!   until the config changes that same link), and what is in force goes through
//!   [`Store::sync_links`], as at start: stored, audited, and merged with what moderators set
//!   (the config seeds rules, it does not overwrite a moderator's `!set`);
//! - an added link gets a worker and routes; a removed link loses its routes and its worker
//!   drains what it was given, then stops (events from its rooms afterwards are acknowledged
//!   and dropped, as for any unlinked room); a changed link keeps its worker, which reads its
//!   record and rules from the store before each batch, so events keep their order;
//! - rooms that came into use are joined (or checked) and named, rooms no link uses are left
//!   ([`rooms`]); public notices are queued for rooms that joined a link.
//!
//! [`Store::sync_links`]: crate::store::Store::sync_links

pub mod merge;
pub mod rooms;
pub mod view;

use crate::ops::config::LinkSettings;
use crate::ops::daemon::DaemonError;
use crate::pipeline::link::{LinkWorker, Shared, Work, BATCH};
use crate::pipeline::router::RouteTable;
use crate::store::prelude::*;
use crate::store::{LinkRecord, Store, StoreError};
use civicbridge_api::{LinkId, Platform, RoomRef};
use merge::{merge, rooms_of, Merged};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
pub use view::{LinksView, Refreshes, ViewFeed};

/// What a change of links did, by link id (sorted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinkChanges {
    pub added: Vec<LinkId>,
    pub removed: Vec<LinkId>,
    /// Rooms or moderation settings changed.
    pub changed: Vec<LinkId>,
    /// The config's rules changed what is in force.
    pub rules: Vec<LinkId>,
    /// Links changed at runtime that cannot be in force now (a room the config gave another
    /// link, a platform without a connector); kept for when they can.
    pub left_out: Vec<LinkId>,
}

impl LinkChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rules.is_empty()
            && self.left_out.is_empty()
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
            ("left out", &self.left_out),
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
pub fn moderation_rooms(links: &[LinkRecord]) -> HashMap<LinkId, RoomRef> {
    links
        .iter()
        .filter_map(|l| Some((l.id.clone(), l.moderation_room.clone()?)))
        .collect()
}

/// Merges the config's links with the runtime changes in `store` (see [`merge`]), forgets the
/// runtime changes the config has overtaken, and stores what is in force with its rules
/// ([`Store::sync_links`]). The command line, with the bridge stopped, does the same before
/// it acts, so it sees the links the bridge would run.
pub fn sync(
    store: &Store,
    config: &[LinkSettings],
    platforms: &HashSet<Platform>,
) -> Result<(Merged, Vec<LinkId>), StoreError> {
    let merged = merge(config, &store.link_overrides()?, platforms);
    if !merged.overtaken.is_empty() {
        store.transact(|tx| {
            for o in &merged.overtaken {
                tx.drop_link_override(o)?;
            }
            Ok(())
        })?;
    }
    for (id, why) in &merged.left_out {
        tracing::warn!(link = %id, reason = %why, "a link changed at runtime is not in force");
    }
    let pairs: Vec<_> = merged
        .links
        .iter()
        .map(|l| (l.link.clone(), l.config_rules.clone()))
        .collect();
    let reseeded = store.sync_links(&pairs)?;
    Ok((merged, reseeded))
}

/// The running links (see the module doc).
pub struct RunningLinks {
    /// The config's links, as last applied.
    config: Vec<LinkSettings>,
    workers: HashMap<LinkId, mpsc::Sender<Work>>,
    routes: tokio::sync::watch::Sender<Arc<RouteTable>>,
    feed: ViewFeed,
    shared: Shared,
    tracker: TaskTracker,
    connectors: crate::ops::connectors::Connectors,
    /// How soon a room the bot could not take part in is tried again.
    recheck: std::time::Duration,
}

impl std::fmt::Debug for RunningLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningLinks")
            .field("in_force", &*self.feed.in_force.borrow())
            .finish_non_exhaustive()
    }
}

impl RunningLinks {
    /// No links yet; the receiver is the router's view of the table. `feed` is the other end
    /// of the [`LinksView`] in `shared`.
    pub fn new(
        shared: Shared,
        feed: ViewFeed,
        tracker: TaskTracker,
        connectors: crate::ops::connectors::Connectors,
        recheck: std::time::Duration,
    ) -> (RunningLinks, tokio::sync::watch::Receiver<Arc<RouteTable>>) {
        let (routes, table) = tokio::sync::watch::channel(Arc::new(RouteTable::default()));
        let links = RunningLinks {
            config: Vec::new(),
            workers: HashMap::new(),
            routes,
            feed,
            shared,
            tracker,
            connectors,
            recheck,
        };
        (links, table)
    }

    /// The links in force.
    pub fn current(&self) -> Arc<Vec<LinkRecord>> {
        self.feed.in_force.borrow().clone()
    }

    /// Refuses a set of config links this process cannot serve, naming the first problem.
    pub fn check(&self, links: &[LinkSettings]) -> Result<(), DaemonError> {
        let mut ids = HashSet::new();
        for l in links {
            if !ids.insert(&l.link.id) {
                return Err(DaemonError::DuplicateLink(l.link.id.to_string()));
            }
            if let Some(room) = rooms_of(&l.link).find(|r| !self.connectors.contains(r.platform)) {
                return Err(DaemonError::MissingConnector {
                    link: l.link.id.to_string(),
                    platform: room.platform,
                });
            }
        }
        Ok(())
    }

    /// Puts the config's `links`, merged with the runtime changes, in force (see the module
    /// doc); returns what changed.
    pub fn apply(&mut self, links: &[LinkSettings]) -> Result<LinkChanges, DaemonError> {
        self.check(links)?;
        let store = self.shared.store.clone();
        let platforms: HashSet<Platform> = self.connectors.platforms().collect();
        let (merged, reseeded) = sync(&store, links, &platforms)?;
        let mut changes = LinkChanges {
            rules: reseeded,
            left_out: merged.left_out.iter().map(|(id, _)| id.clone()).collect(),
            ..LinkChanges::default()
        };
        let after: Vec<LinkRecord> = merged.links.into_iter().map(|l| l.link).collect();
        let previous = self.current();
        let before: HashMap<LinkId, LinkRecord> =
            previous.iter().map(|l| (l.id.clone(), l.clone())).collect();
        let after_ids: HashSet<&LinkId> = after.iter().map(|l| &l.id).collect();
        let mut announce = Vec::new();
        for l in &after {
            match before.get(&l.id) {
                None => {
                    self.spawn(l)?;
                    changes.added.push(l.id.clone());
                    announce.push(l.clone());
                }
                Some(old) if old != l => {
                    changes.changed.push(l.id.clone());
                    announce.push(l.clone());
                }
                Some(_) => {}
            }
        }
        for id in before.keys().filter(|id| !after_ids.contains(id)) {
            store.retire_link(id)?;
            // Dropping the last sender lets the worker drain its queue and stop.
            self.workers.remove(id);
            changes.removed.push(id.clone());
        }
        let moves = moves(&previous, &after);
        self.config = links.to_vec();
        self.shared
            .outbox
            .set_moderation_rooms(moderation_rooms(&after));
        self.routes
            .send_replace(Arc::new(RouteTable::build(&after, &self.workers)));
        self.feed.in_force.send_replace(Arc::new(after));
        self.feed
            .config
            .send_replace(Arc::new(links.iter().map(|l| l.link.clone()).collect()));
        let notices = crate::moderation::notice::queue_public_notices(&store, &announce)?;
        if !notices.is_empty() {
            tracing::info!(rooms = notices.len(), "queued the public notice");
        }
        self.shared.outbox.enqueue(&notices);
        if !moves.join.is_empty() || !moves.leave.is_empty() {
            let env = rooms::Env {
                connectors: self.connectors.clone(),
                store,
                outbox: self.shared.outbox.clone(),
                shutdown: self.shared.shutdown.clone(),
                in_force: self.feed.in_force.subscribe(),
                recheck: self.recheck,
            };
            self.tracker.spawn(rooms::run(moves, env));
        }
        for list in [
            &mut changes.added,
            &mut changes.removed,
            &mut changes.changed,
            &mut changes.rules,
            &mut changes.left_out,
        ] {
            list.sort();
        }
        Ok(changes)
    }

    /// Puts in force what the store now says of the links changed at runtime, with the config
    /// as last applied.
    pub fn refresh(&mut self) -> Result<LinkChanges, DaemonError> {
        let config = self.config.clone();
        self.apply(&config)
    }

    /// Serves `refresh` requests (see [`LinksView::refresh`]) until the daemon stops; several
    /// waiting requests are served by one refresh.
    pub async fn serve(
        links: Arc<std::sync::Mutex<RunningLinks>>,
        mut requests: Refreshes,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                next = requests.recv() => if next.is_none() { return },
            }
            while requests.try_recv().is_ok() {}
            let result = match links.lock() {
                Ok(mut links) => links.refresh(),
                Err(_) => {
                    tracing::error!(
                        "the running links were poisoned by a panic; links stay as they are"
                    );
                    return;
                }
            };
            match result {
                Ok(changes) => tracing::info!(%changes, "links updated"),
                Err(e) => tracing::error!(error = %e, "links changed at runtime were not applied"),
            }
        }
    }

    fn spawn(&mut self, link: &LinkRecord) -> Result<(), DaemonError> {
        let (tx, rx) = mpsc::channel(BATCH * 2);
        let worker = LinkWorker::new(link.clone(), rx, &self.shared, &self.tracker)?;
        self.tracker.spawn(worker.run());
        self.workers.insert(link.id.clone(), tx);
        Ok(())
    }
}

/// The rooms that came into use between `before` and `after` (with the links that use them),
/// and those no link uses any more.
fn moves(before: &[LinkRecord], after: &[LinkRecord]) -> rooms::Moves {
    let used = |links: &[LinkRecord]| -> HashSet<RoomRef> {
        links.iter().flat_map(rooms_of).cloned().collect()
    };
    let (was, is) = (used(before), used(after));
    let mut join: Vec<rooms::Arrival> = Vec::new();
    for l in after {
        for r in rooms_of(l).filter(|r| !was.contains(r)) {
            let who = (l.id.clone(), l.moderation_room.clone());
            match join.iter_mut().find(|a| &a.room == r) {
                Some(a) => a.links.push(who),
                None => join.push(rooms::Arrival {
                    room: r.clone(),
                    links: vec![who],
                }),
            }
        }
    }
    let mut leave: Vec<RoomRef> = was.difference(&is).cloned().collect();
    leave.sort();
    rooms::Moves { join, leave }
}
