//! Flood control, off unless a test turns it on (`World::flood_interval`,
//! `World::flood_group_per_minute`, set through the control API).

use crate::telegram::error::ApiError;
use crate::telegram::world::World;

/// Flood control, when a test turns it on: bots may post about once a second per chat and 20
/// times a minute per group; faster posts get 429 with the seconds left to wait.
pub(super) fn flood_check(w: &mut World, chat: i64) -> Result<(), ApiError> {
    let now = tokio::time::Instant::now();
    let minute = std::time::Duration::from_secs(60);
    if let Some(min) = w.flood_interval {
        if let Some(last) = w.last_bot_send.get(&chat) {
            let since = now.duration_since(*last);
            if since < min {
                return Err(ApiError::too_many_requests(ceil_secs(min - since)));
            }
        }
    }
    if let (Some(limit), true) = (w.flood_group_per_minute, chat < 0) {
        let sends = w.group_sends.entry(chat).or_default();
        while sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            sends.pop_front();
        }
        if sends.len() >= limit {
            let oldest = sends.front().copied().unwrap_or(now);
            return Err(ApiError::too_many_requests(ceil_secs(
                minute - now.duration_since(oldest),
            )));
        }
        sends.push_back(now);
    }
    w.last_bot_send.insert(chat, now);
    Ok(())
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
}
