//! Whether the pipeline still comes round: each of its loops (the router, every link worker)
//! beats on every turn, busy or idle (an idle loop turns every [`BEAT_EVERY`]). A loop stuck on
//! something (a worker that never takes its queue, a transaction that never ends) stops beating,
//! and [`Liveness::stalled`] names it. The systemd watchdog is fed only while nothing is
//! stalled, so the service manager restarts a bridge that hangs, not just one that exits.
//!
//! The outbox's lanes are not watched: a lane may rightly wait minutes on a platform's rate
//! limit or outage, which is not a hang (parked jobs and outage notices cover those).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How often an idle loop turns, to show it is alive.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);

/// The loops being watched.
#[derive(Debug)]
pub struct Liveness {
    start: Instant,
    loops: Mutex<Vec<(String, Arc<AtomicU64>)>>,
}

/// One loop's heartbeat. Dropping it (the loop ended) stops watching that loop.
#[derive(Debug)]
pub struct Beat {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Beat {
    /// The loop came round.
    pub fn beat(&self) {
        self.beat_at(self.start.elapsed());
    }

    fn beat_at(&self, at: Duration) {
        self.last.store(millis(at), Ordering::Relaxed);
    }
}

impl Drop for Beat {
    fn drop(&mut self) {
        // A loop that ended on purpose (shutdown, a removed link) is not stalled.
        self.last.store(u64::MAX, Ordering::Relaxed);
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            start: Instant::now(),
            loops: Mutex::new(Vec::new()),
        }
    }
}

impl Liveness {
    /// Watches a loop called `name`, as of now.
    pub fn register(&self, name: impl Into<String>) -> Beat {
        let last = Arc::new(AtomicU64::new(millis(self.start.elapsed())));
        let mut loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        loops.retain(|(_, l)| l.load(Ordering::Relaxed) != u64::MAX);
        loops.push((name.into(), last.clone()));
        Beat {
            start: self.start,
            last,
        }
    }

    /// The loops that have not come round for longer than `max`, by name.
    pub fn stalled(&self, max: Duration) -> Vec<String> {
        self.stalled_at(max, self.start.elapsed())
    }

    fn stalled_at(&self, max: Duration, now: Duration) -> Vec<String> {
        let (now, max) = (millis(now), millis(max));
        self.loops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, l)| {
                let last = l.load(Ordering::Relaxed);
                last != u64::MAX && now.saturating_sub(last) > max
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// How many loops are watched (ended ones excluded).
    pub fn watched(&self) -> usize {
        self.loops
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, l)| l.load(Ordering::Relaxed) != u64::MAX)
            .count()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_that_stops_beating_is_named_and_one_that_ended_is_not() {
        let live = Liveness::default();
        let router = live.register("router");
        let worker = live.register("link planning");
        router.beat_at(Duration::from_secs(100));
        worker.beat_at(Duration::from_secs(10));
        let at = Duration::from_secs(101);
        assert_eq!(
            live.stalled_at(Duration::from_secs(30), at),
            vec!["link planning"]
        );
        assert!(live.stalled_at(Duration::from_secs(120), at).is_empty());
        drop(worker);
        assert!(live.stalled_at(Duration::from_secs(30), at).is_empty());
        assert_eq!(live.watched(), 1);
    }
}
