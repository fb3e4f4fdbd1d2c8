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
//! worker, before deciding an event that refers to another message, waits until that event's
//! room holds none ([`Unrecorded::settled`]). The wait is bounded ([`MAX_WAIT`]): a request
//! hanging on the network delays such events by at most that, and then they are decided as
//! before. Events that refer to nothing never wait.

use civicbridge_api::RoomRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest an event waits for its room's jobs to record their receipts.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// Shared between the outbox (which marks rooms) and the link workers (which wait on them).
#[derive(Clone, Debug, Default)]
pub struct Unrecorded(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    /// Jobs running per target room; rooms with none are absent.
    running: Mutex<HashMap<RoomRef, usize>>,
    /// Woken whenever a room's count falls to zero.
    settled: Notify,
}

/// A running job's hold on its room; dropping it (the job ended, however) releases it.
#[derive(Debug)]
pub struct Running {
    of: Unrecorded,
    room: RoomRef,
}

impl Unrecorded {
    /// Marks a job on `room` as running until the returned guard is dropped.
    pub fn begin(&self, room: &RoomRef) -> Running {
        *self.lock().entry(room.clone()).or_insert(0) += 1;
        Running {
            of: self.clone(),
            room: room.clone(),
        }
    }

    /// Waits until no job runs on `room`, or `limit` has passed. Whether it settled.
    pub async fn settled(&self, room: &RoomRef, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a release between the two still wakes us.
            let notified = self.0.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.lock().contains_key(room) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RoomRef, usize>> {
        self.0.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = self.of.lock();
        if let Some(n) = running.get_mut(&self.room) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.room);
                drop(running);
                self.of.0.settled.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::Platform;

    fn room(id: &str) -> RoomRef {
        RoomRef::new(Platform::new("matrix"), id)
    }

    #[tokio::test]
    async fn waits_for_the_last_job_of_its_room_only() {
        let u = Unrecorded::default();
        assert!(u.settled(&room("!a"), MAX_WAIT).await, "nothing runs");
        let first = u.begin(&room("!a"));
        let second = u.begin(&room("!a"));
        let other = u.begin(&room("!b"));
        let waiter = tokio::spawn({
            let u = u.clone();
            async move { u.settled(&room("!a"), MAX_WAIT).await }
        });
        drop(first);
        drop(other);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one job of !a still runs");
        drop(second);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn gives_up_after_the_limit_and_a_panicking_job_still_releases() {
        let u = Unrecorded::default();
        let stuck = u.begin(&room("!a"));
        assert!(!u.settled(&room("!a"), Duration::from_millis(50)).await);
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
        assert!(u.settled(&room("!a"), Duration::from_secs(1)).await);
    }
}
