//! The bot's place in the rooms the links use. When a room comes into use (every room at start,
//! a link's new rooms at runtime) its connector is asked to join it or check that the bot is
//! there ([`Connector::join`]), and gives the room's name, kept for cards and notices; a room no
//! link uses any more is left ([`Connector::leave`]). What the bot cannot do is said in the
//! moderation room of each link that uses the room, so an admin who typed `!link` learns at
//! once that the bot was never invited, rather than from residents.
//!
//! Runs on a task of its own: a slow platform must not hold up the links or the reload.

use crate::pipeline::outbox::Outbox;
use crate::store::{JobKind, Store};
use civicbridge_api::{Connector, ConnectorError, LinkId, RichText, RoomRef};
use std::time::Duration;
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

/// Joins and leaves as `moves` says; see the module doc.
pub async fn run(
    moves: Moves,
    connectors: crate::ops::connectors::Connectors,
    store: Store,
    outbox: Outbox,
    shutdown: CancellationToken,
) {
    for room in &moves.leave {
        let Some(c) = connectors.get(room.platform) else {
            continue;
        };
        match c.leave(&room.room).await {
            Ok(()) => tracing::info!(%room, "left a room no link uses"),
            Err(e) => tracing::warn!(%room, error = %e, "could not leave a room no link uses"),
        }
    }
    for a in &moves.join {
        let Some(c) = connectors.get(a.room.platform) else {
            continue;
        };
        let joined = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = join(c.as_ref(), &a.room) => r,
        };
        match joined {
            Ok(name) => remember(&store, &a.room, name),
            Err(e @ (ConnectorError::Transient(_) | ConnectorError::RateLimited { .. })) => {
                tracing::warn!(room = %a.room, error = %e, "could not ask the platform about a linked room");
            }
            Err(e) => refused(&store, &outbox, a, &e),
        }
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
    let jobs = store.transact(|tx| {
        let mut jobs = Vec::new();
        let mut told = Vec::new();
        for (link, moderation) in &a.links {
            let Some(moderation) = moderation else {
                continue;
            };
            let text = format!(
                "⚠ Link {link}: the bot cannot take part in {}: {}. Messages from and to that room do not cross until this is fixed (then `!link` the room again, or reload).",
                a.room,
                reason(e)
            );
            if told.contains(moderation) {
                continue;
            }
            told.push(moderation.clone());
            jobs.push(tx.push_job(link, moderation, JobKind::notice(RichText::plain(text)))?);
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
