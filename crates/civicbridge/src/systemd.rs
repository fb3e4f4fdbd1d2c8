//! Telling systemd how the bridge is doing (`Type=notify-reload` units; see README): `READY=1`
//! once it runs, `RELOADING=1` around a config reload, `STOPPING=1` at shutdown, and
//! `WATCHDOG=1` only while the pipeline's loops come round (`ops::liveness`), so a hung bridge
//! is restarted rather than left looking alive. Without `NOTIFY_SOCKET` (not under systemd)
//! every call does nothing.

use civicbridge_core::ops::liveness::{Liveness, BEAT_EVERY};
use sd_notify::NotifyState;
use std::sync::Arc;
use std::time::Duration;

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready() {
    notify(&[NotifyState::Ready]);
}

pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// A reload begins; [`ready`] ends it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(e) => tracing::warn!(error = %e, "cannot read the monotonic clock for systemd"),
    }
}

/// Feeds systemd's watchdog while it asks for one (`WATCHDOG_USEC`); stops when dropped.
#[derive(Debug)]
pub struct Watchdog(Option<tokio::task::JoinHandle<()>>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

pub fn watchdog(liveness: Arc<Liveness>) -> Watchdog {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return Watchdog(None);
    };
    // Pinged twice per period. A loop counts as stalled after half a period, but never
    // sooner than a few idle beats (a WatchdogSec= under 6 s would restart a healthy bridge).
    let every = period / 2;
    let stall = every.max(BEAT_EVERY * 3);
    tracing::info!(
        period_ms = period.as_millis() as u64,
        "feeding the systemd watchdog"
    );
    Watchdog(Some(tokio::spawn(feed(liveness, every, stall))))
}

async fn feed(liveness: Arc<Liveness>, every: Duration, stall: Duration) {
    let mut tick = tokio::time::interval(every);
    let mut was_stalled = false;
    loop {
        tick.tick().await;
        let stalled = liveness.stalled(stall);
        if stalled.is_empty() {
            notify(&[NotifyState::Watchdog]);
            was_stalled = false;
        } else if !was_stalled {
            tracing::error!(
                loops = stalled.join(", "),
                "the pipeline is stuck; not feeding the systemd watchdog"
            );
            was_stalled = true;
        }
    }
}
