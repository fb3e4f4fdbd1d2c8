//! The public notice: when a link starts, each of its public rooms gets one message saying that
//! the room is moderated and that messages may be shared with council staff (the link's
//! `public_notice` rule). It is posted once per room, and again only when its text changes; the
//! store remembers a digest of what each room was sent.

use crate::moderation::rules::Side;
use crate::store::prelude::*;
use crate::store::{Job, JobKind, LinkRecord, Store, StoreError};
use civicbridge_api::RichText;
use sha2::{Digest, Sha256};

/// Queues the notice for every public room of `links` that has not been sent its current text.
/// Call before the outbox re-drives at start, which then sends them. Returns how many were queued.
pub fn queue_public_notices(store: &Store, links: &[LinkRecord]) -> Result<Vec<Job>, StoreError> {
    let mut queued = Vec::new();
    for link in links {
        let Some(text) = store
            .rules(&link.id)?
            .and_then(|r| r.public_notice)
            .filter(|t| !t.trim().is_empty())
        else {
            continue;
        };
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        for room in link.rooms.iter().filter(|r| r.side == Side::Public) {
            let job = store.transact(|tx| {
                if tx.notice_posted(&link.id, &room.room)?.as_deref() == Some(digest.as_str()) {
                    return Ok(None);
                }
                let job = tx.push_job(
                    &link.id,
                    &room.room,
                    JobKind::notice(RichText::plain(text.clone())),
                )?;
                tx.set_notice_posted(&link.id, &room.room, &digest)?;
                Ok(Some(job))
            })?;
            queued.extend(job);
        }
    }
    Ok(queued)
}
