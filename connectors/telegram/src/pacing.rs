//! Sending pace: Telegram asks bots to post about once per second per chat and at most 20 times
//! a minute per group, and answers faster bots with 429. Each send first reserves the next free
//! slot for its chat and sleeps until it (tokio time, so paused-clock tests stay fast); a burst
//! therefore queues instead of failing.

use crate::config::PacingConfig;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
struct ChatPace {
    /// Earliest instant the next post may go out.
    next_free: Option<Instant>,
    /// Reserved slots within the last minute, oldest first (groups only).
    window: VecDeque<Instant>,
}

#[derive(Debug)]
pub struct Pacer {
    config: PacingConfig,
    chats: Mutex<HashMap<i64, ChatPace>>,
}

impl Pacer {
    pub fn new(config: PacingConfig) -> Self {
        Pacer {
            config,
            chats: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves the next slot for `chat` and returns when it has come.
    pub async fn wait_turn(&self, chat: i64) {
        let slot = self.reserve(chat, Instant::now());
        tokio::time::sleep_until(slot).await;
    }

    /// The instant the next post to `chat` may go out, reserved.
    pub fn reserve(&self, chat: i64, now: Instant) -> Instant {
        let mut chats = self.chats.lock().unwrap_or_else(|p| p.into_inner());
        let pace = chats.entry(chat).or_default();
        let mut slot = pace.next_free.map_or(now, |n| n.max(now));
        let limit = self.config.group_per_minute as usize;
        if chat < 0 && limit > 0 {
            if pace.window.len() >= limit {
                let nth = pace.window[pace.window.len() - limit];
                slot = slot.max(nth + MINUTE);
            }
            while pace.window.front().is_some_and(|t| *t + MINUTE <= slot) {
                pace.window.pop_front();
            }
            pace.window.push_back(slot);
        }
        pace.next_free = Some(slot + self.config.per_chat_interval());
        slot
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pacer(ms: u64, per_minute: u32) -> Pacer {
        Pacer::new(PacingConfig {
            per_chat_interval_ms: ms,
            group_per_minute: per_minute,
        })
    }

    #[test]
    fn one_per_interval_per_chat_and_chats_are_independent() {
        let p = pacer(1000, 0);
        let t0 = Instant::now();
        assert_eq!(p.reserve(-1, t0), t0);
        assert_eq!(p.reserve(-1, t0), t0 + Duration::from_secs(1));
        assert_eq!(p.reserve(-1, t0), t0 + Duration::from_secs(2));
        assert_eq!(p.reserve(-2, t0), t0, "another chat has its own pace");
        // After a quiet spell, no wait.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(p.reserve(-1, later), later);
    }

    #[test]
    fn groups_are_held_to_n_per_minute() {
        let p = pacer(0, 20);
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(p.reserve(-5, t0), t0);
        }
        assert_eq!(p.reserve(-5, t0), t0 + MINUTE, "the 21st waits a minute");
        // Private chats (positive ids) have no per-minute group limit.
        for _ in 0..30 {
            assert_eq!(p.reserve(7, t0), t0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_queues_under_paused_time() {
        let p = pacer(1000, 20);
        let t0 = Instant::now();
        for _ in 0..3 {
            p.wait_turn(-9).await;
        }
        assert_eq!(Instant::now() - t0, Duration::from_secs(2));
    }
}
