//! Rooms with a job between "asked the platform" and "recorded what it answered".
//!
//! Why this exists: a copy is on its platform, for everyone to see and answer, as soon as the
//! platform takes the request, but the core learns the copy's id only when the job records its
//! receipt, a moment later. An answer, edit, deletion or reaction to that copy arriving in that
//! moment found no mirror for it and was decided as if it referred to nothing: a staff answer in
//! the thread of a resident's question became a new message outside the question's topic. On
//! Matrix, whose connector now reads most sync responses in well under a millisecond, the moment
//! was wide enough for a quick colleague (or the demo) to fall into.
//!
//! So every job holds its target room here while it runs ([`Unrecorded::begin`]), and a link
//! worker, before deciding an event that refers to another message, waits until the jobs that
//! were running in that event's room when it looked have ended ([`Unrecorded::settled`]). Jobs
//! that start later do not count: what they post was not there to be answered yet, and a busy
//! room (a lane sending copy after copy) would otherwise keep the event waiting. The wait is
//! bounded by a deadline the caller gives: a request hanging on the network delays such events
//! by at most that, and then they are decided as before. Events that refer to nothing never
//! wait.

use civicbridge_api::RoomRef;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest a batch of events waits for their rooms' jobs to record their receipts.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Shared between the outbox (which marks rooms) and the link workers (which wait on them).
#[derive(Clone, Debug, Default)]
pub struct Unrecorded(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    running: Mutex<Running>,
    /// Woken whenever a job ends.
    ended: Notify,
}

/// The tickets of the jobs running per target room (rooms with none are absent), and the next
/// ticket. Tickets only grow, so "every job running at some moment has ended" is "the room's
/// smallest ticket is past the largest it had then".
#[derive(Debug, Default)]
struct Running {
    rooms: HashMap<RoomRef, BTreeSet<u64>>,
    next: u64,
}

/// A running job's hold on its room; dropping it (the job ended, however) releases it.
#[derive(Debug)]
pub struct Hold {
    of: Unrecorded,
    room: RoomRef,
    ticket: u64,
}

impl Unrecorded {
    /// Marks a job on `room` as running until the returned guard is dropped.
    pub fn begin(&self, room: &RoomRef) -> Hold {
        let mut running = self.lock();
        let ticket = running.next;
        running.next += 1;
        running
            .rooms
            .entry(room.clone())
            .or_default()
            .insert(ticket);
        Hold {
            of: self.clone(),
            room: room.clone(),
            ticket,
        }
    }

    /// Waits until every job running on `room` now has ended, or until `deadline`. Whether
    /// they all ended.
    pub async fn settled(&self, room: &RoomRef, deadline: tokio::time::Instant) -> bool {
        let Some(newest) = self.lock().rooms.get(room).and_then(|t| t.last().copied()) else {
            return true;
        };
        loop {
            // Registered before the check, so a job ending between the two still wakes us.
            let notified = self.0.ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let oldest = self.lock().rooms.get(room).and_then(|t| t.first().copied());
            if oldest.is_none_or(|t| t > newest) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.0.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut running = self.of.lock();
        if let Some(tickets) = running.rooms.get_mut(&self.room) {
            tickets.remove(&self.ticket);
            if tickets.is_empty() {
                running.rooms.remove(&self.room);
            }
        }
        drop(running);
        self.of.0.ended.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::Platform;

    fn room(id: &str) -> RoomRef {
        RoomRef::new(Platform::new("matrix"), id)
    }

    fn soon(ms: u64) -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_millis(ms)
    }

    #[tokio::test]
    async fn waits_for_the_jobs_running_in_its_room_when_it_looked_only() {
        let u = Unrecorded::default();
        let later = soon(60_000);
        assert!(u.settled(&room("!a"), later).await, "nothing runs");
        let first = u.begin(&room("!a"));
        let second = u.begin(&room("!a"));
        let other = u.begin(&room("!b"));
        let waiter = tokio::spawn({
            let u = u.clone();
            async move { u.settled(&room("!a"), later).await }
        });
        tokio::task::yield_now().await;
        // A job that starts after the waiter looked does not hold it: a busy lane cannot keep
        // an answer waiting.
        let newer = u.begin(&room("!a"));
        drop(first);
        drop(other);
        tokio::task::yield_now().await;
        assert!(
            !waiter.is_finished(),
            "one job of !a from before still runs"
        );
        drop(second);
        assert!(waiter.await.unwrap());
        drop(newer);
    }

    #[tokio::test]
    async fn gives_up_at_the_deadline_and_a_panicking_job_still_releases() {
        let u = Unrecorded::default();
        let stuck = u.begin(&room("!a"));
        assert!(!u.settled(&room("!a"), soon(50)).await);
        drop(stuck);
        let panicked = tokio::spawn({
            let u = u.clone();
            async move {
                let _held = u.begin(&room("!a"));
                panic!("a job panicked");
            }
        })
        .await;
        assert!(panicked.is_err());
        assert!(u.settled(&room("!a"), soon(50)).await);
    }
}
