//! The bot's place in the rooms the links use. When a room comes into use (every room at start,
//! a link's new rooms at runtime) its connector is asked to join it or check that the bot is
//! there ([`Connector::join`]), and gives the room's name, kept for cards and notices; a room no
//! link uses any more is left ([`Connector::leave`]). What the bot cannot do is said in the
//! moderation room of each link that uses the room, so an admin who typed `!link` learns at
//! once that the bot was never invited, rather than from residents.
//!
//! Runs on a task of its own: a slow platform must not hold up the links or the reload.

use crate::pipeline::outbox::Outbox;
use crate::store::prelude::*;
use crate::store::{JobKind, LinkRecord, Store};
use civicbridge_api::{Connector, ConnectorError, LinkId, RichText, RoomRef};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The longest room name kept, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 100;

/// Tries before a platform that cannot be asked is given up on (its outage is reported on its
/// own, by the connector's supervisor).
const TRIES: u32 = 4;

/// One room that came into use, and the links (with their moderation rooms) that use it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub room: RoomRef,
    pub links: Vec<(LinkId, Option<RoomRef>)>,
}

/// What to do about the rooms after a change of links.
#[derive(Debug, Default)]
pub struct Moves {
    pub join: Vec<Arrival>,
    pub leave: Vec<RoomRef>,
}

/// What the task needs besides the moves.
#[derive(Debug, Clone)]
pub struct Env {
    pub connectors: crate::ops::connectors::Connectors,
    pub store: Store,
    pub outbox: Outbox,
    pub shutdown: CancellationToken,
    /// The links in force, to stop trying a room no link uses any more.
    pub in_force: watch::Receiver<Arc<Vec<LinkRecord>>>,
    /// How soon a room the bot could not take part in is tried again (doubling up to
    /// [`MAX_RECHECK`]).
    pub recheck: Duration,
}

/// The longest wait between two tries of a room the bot could not take part in.
pub const MAX_RECHECK: Duration = Duration::from_secs(600);

/// Joins and leaves as `moves` says; see the module doc. A room the bot could not take part in
/// is tried again, less and less often, for as long as a link uses it; when it works (someone
/// invited the bot, added it to the group, gave it the permission), the moderators hear so.
pub async fn run(moves: Moves, env: Env) {
    for room in &moves.leave {
        let Some(c) = env.connectors.get(room.platform) else {
            continue;
        };
        match c.leave(&room.room).await {
            Ok(()) => tracing::info!(%room, "left a room no link uses"),
            Err(e) => tracing::warn!(%room, error = %e, "could not leave a room no link uses"),
        }
    }
    let mut waiting = Vec::new();
    for a in moves.join {
        let Some(c) = env.connectors.get(a.room.platform) else {
            continue;
        };
        let joined = tokio::select! {
            _ = env.shutdown.cancelled() => return,
            r = join(c.as_ref(), &a.room) => r,
        };
        match joined {
            Ok(name) => remember(&env.store, &a.room, name),
            Err(e @ (ConnectorError::Transient(_) | ConnectorError::RateLimited { .. })) => {
                tracing::warn!(room = %a.room, error = %e, "could not ask the platform about a linked room");
                waiting.push(a);
            }
            Err(e) => {
                refused(&env.store, &env.outbox, &a, &e);
                waiting.push(a);
            }
        }
    }
    recheck(waiting, &env).await;
}

/// Tries `waiting` again until each works or no link uses it.
async fn recheck(mut waiting: Vec<Arrival>, env: &Env) {
    let mut wait = env.recheck;
    while !waiting.is_empty() {
        tokio::select! {
            _ = env.shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(MAX_RECHECK);
        let in_force = env.in_force.borrow().clone();
        let mut still = Vec::new();
        for a in waiting {
            if !in_force
                .iter()
                .any(|l| super::merge::rooms_of(l).any(|r| *r == a.room))
            {
                continue;
            }
            let Some(c) = env.connectors.get(a.room.platform) else {
                continue;
            };
            match c.join(&a.room.room).await {
                Ok(info) => {
                    remember(&env.store, &a.room, info.name);
                    let label = env.store.room_label(&a.room);
                    tell(&env.store, &env.outbox, &a, |link| {
                        format!("✓ Link {link}: the bot now takes part in {label}.")
                    });
                }
                Err(_) => still.push(a),
            }
        }
        waiting = still;
    }
}

/// Joins, trying again while the platform cannot be asked.
async fn join(c: &dyn Connector, room: &RoomRef) -> Result<Option<String>, ConnectorError> {
    let mut wait = Duration::from_secs(1);
    let mut tries = 0;
    loop {
        tries += 1;
        match c.join(&room.room).await {
            Ok(info) => return Ok(info.name),
            Err(ConnectorError::RateLimited { retry_after }) if tries < TRIES => {
                tokio::time::sleep(retry_after.max(wait)).await;
            }
            Err(ConnectorError::Transient(_)) if tries < TRIES => {
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
        wait = wait.saturating_mul(2);
    }
}

/// Keeps the room's name, cleaned and bounded (a name is whatever a room's owner typed).
fn remember(store: &Store, room: &RoomRef, name: Option<String>) {
    let Some(name) = name else { return };
    let name = civicbridge_api::names::normalize(&name, MAX_ROOM_NAME_CHARS);
    // A name of nothing visible comes back as the placeholder for a nameless person.
    if name == civicbridge_api::names::normalize("", MAX_ROOM_NAME_CHARS) {
        return;
    }
    if let Err(e) = store.transact(|tx| tx.set_room_name(room, &name)) {
        tracing::warn!(%room, error = %e, "cannot keep a room's name");
    }
}

/// Tells each link's moderation room that the bot cannot take part in `a.room`.
fn refused(store: &Store, outbox: &Outbox, a: &Arrival, e: &ConnectorError) {
    tracing::warn!(room = %a.room, error = %e, "the bot cannot take part in a linked room");
    let why = reason(e);
    tell(store, outbox, a, |link| {
        format!(
            "⚠ Link {link}: the bot cannot take part in {}: {why}. Messages from and to that room do not cross until this is fixed; the bot tries again by itself and says here when it works.",
            a.room
        )
    });
}

/// Queues `text(link)` to the moderation room of each link that uses `a.room`, once per room.
fn tell(store: &Store, outbox: &Outbox, a: &Arrival, text: impl Fn(&LinkId) -> String) {
    let jobs = store.transact(|tx| {
        let mut jobs = Vec::new();
        let mut told = Vec::new();
        for (link, moderation) in &a.links {
            let Some(moderation) = moderation else {
                continue;
            };
            if told.contains(moderation) {
                continue;
            }
            told.push(moderation.clone());
            let kind = JobKind::notice(RichText::plain(text(link)));
            jobs.push(tx.push_job(link, moderation, kind)?);
        }
        Ok(jobs)
    });
    match jobs {
        Ok(jobs) => outbox.enqueue(&jobs),
        Err(e) => tracing::error!(error = %e, "cannot queue a notice about a linked room"),
    }
}

/// The platform's refusal, as a moderator reads it.
fn reason(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Rejected(why) | ConnectorError::Unsupported(why) => why.clone(),
        ConnectorError::Auth(why) => format!("the bot's account was refused ({why})"),
        other => other.to_string(),
    }
}
