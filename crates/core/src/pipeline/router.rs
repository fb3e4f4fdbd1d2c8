//! The router: the single entry point for inbound events from every connector.
//!
//! It drops the bridge's own echoes (acknowledging them at once), hardens every other event's
//! names and texts (see [`harden`]: the one place every inbound text passes), and sends it to
//! the worker of the link that owns its room: a bridged room, or a moderation room. Events in
//! rooms no link uses are acknowledged and dropped. Dedupe happens in the link worker, inside the
//! same transaction that records the event's effects.

use crate::pipeline::link::Work;
use civicbridge_api::{LinkId, RoomRef, Submission};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct RouteTable {
    bridged: HashMap<RoomRef, LinkId>,
    moderation: HashMap<RoomRef, LinkId>,
    workers: HashMap<LinkId, mpsc::Sender<Work>>,
}

impl RouteTable {
    /// The table for `links`, each served by its worker in `workers` (a link without one is
    /// left out). A moderation room shared by several links routes to the first of them.
    pub fn build(
        links: &[crate::store::LinkRecord],
        workers: &HashMap<LinkId, mpsc::Sender<Work>>,
    ) -> RouteTable {
        let mut table = RouteTable::default();
        for link in links {
            if let Some(w) = workers.get(&link.id) {
                table.add_link(link, w.clone());
            }
        }
        table
    }

    fn add_link(&mut self, link: &crate::store::LinkRecord, worker: mpsc::Sender<Work>) {
        for r in &link.rooms {
            self.bridged.insert(r.room.clone(), link.id.clone());
        }
        if let Some(m) = &link.moderation_room {
            // Links may share a moderation room; its commands go to the first link's worker,
            // and decisions find the item's own link in the store.
            self.moderation
                .entry(m.clone())
                .or_insert_with(|| link.id.clone());
        }
        self.workers.insert(link.id.clone(), worker);
    }

    /// Where an event from `room` goes: as a bridged event or a moderation command, and the
    /// worker's queue (cloned, so the table is not held while the router waits on it).
    fn route(&self, room: &RoomRef) -> Option<(bool, mpsc::Sender<Work>)> {
        if let Some(w) = self.bridged.get(room).and_then(|l| self.workers.get(l)) {
            return Some((true, w.clone()));
        }
        let w = self
            .moderation
            .get(room)
            .and_then(|l| self.workers.get(l))?;
        Some((false, w.clone()))
    }
}

/// Makes an inbound event safe to store and relay, whichever connector made it: the sender's
/// display name normalised (`names`: one line, no invisible or bidi characters, at most
/// `MAX_NAME_CHARS`), a language tag kept only if it is one, and texts hardened (`RichText::hardened`: nesting and size bounded,
/// deceptive links showing their real target, unsafe code languages dropped).
fn harden(event: &mut civicbridge_api::Event) {
    use civicbridge_api::{names, EventKind};
    event.sender.display_name = names::normalize(&event.sender.display_name, names::MAX_NAME_CHARS);
    // Kept only as a tag the notices can be looked up by (`moderation::tell`): it is stored
    // with every message of the sender.
    event.sender.language = event
        .sender
        .language
        .take()
        .map(|l| l.trim().to_ascii_lowercase().replace('_', "-"))
        .filter(|l| crate::moderation::tell::valid_language(l));
    match &mut event.kind {
        EventKind::Message(m) | EventKind::Edit { new: m, .. } => {
            m.text = std::mem::take(&mut m.text).hardened();
        }
        EventKind::Reaction { key, .. } | EventKind::ReactionRemoved { key, .. } => {
            *key = crate::pipeline::reactions::clean_key(key);
        }
        EventKind::ReactionCounts { counts, .. } => {
            for c in counts.iter_mut() {
                c.key = crate::pipeline::reactions::clean_key(&c.key);
            }
        }
        EventKind::Delete { .. } => {}
    }
}

/// Routes until shutdown or until every connector has dropped its sink.
/// Routes submissions until shutdown. `table` is replaced when links change at runtime; each
/// event is routed by the table current when it arrives. An event from a room no link uses is
/// acknowledged and dropped: nothing is owed to it.
pub async fn run(
    table: tokio::sync::watch::Receiver<std::sync::Arc<RouteTable>>,
    mut rx: mpsc::Receiver<Submission>,
    shutdown: CancellationToken,
    beat: crate::ops::liveness::Beat,
) {
    // An idle router turns now and then, to show it is not stuck (see `ops::liveness`).
    let mut idle = tokio::time::interval(crate::ops::liveness::BEAT_EVERY);
    loop {
        beat.beat();
        let sub = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            s = rx.recv() => match s { Some(s) => s, None => return },
            _ = idle.tick() => continue,
        };
        if sub.event.sender.is_bridge {
            let _ = sub.ack.send(());
            continue;
        }
        let mut sub = sub;
        let hidden_in_name =
            civicbridge_api::names::has_control_or_bidi(&sub.event.sender.display_name);
        harden(&mut sub.event);
        let room = sub.event.room.clone();
        let route = table.borrow().route(&room);
        match route {
            Some((bridged, worker)) => {
                let work = if bridged {
                    Work::Bridged {
                        sub,
                        hidden_in_name,
                    }
                } else {
                    Work::Moderation(sub)
                };
                // Back-pressure: a slow link slows its connectors rather than growing a queue.
                // A worker drains its queue before it stops (a removed link's too), so a send
                // fails only at shutdown or after a worker died: then the event stays
                // unacknowledged, and its platform delivers it again after a restart.
                if worker.send(work).await.is_err() {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    tracing::error!(%room, "the link's worker has stopped; event left unacknowledged");
                }
            }
            None => {
                let _ = sub.ack.send(());
                tracing::debug!(%room, "event in a room no link uses");
            }
        }
    }
}
