//! The daemon watches its connectors: one supervisor task per platform.
//!
//! - A connector whose `run` returns (with `Ok` while the daemon is not stopping, or with any
//!   error but `Auth`) or panics is started again with capped exponential backoff. Its cursor is
//!   in the store, so nothing acknowledged is read twice and nothing unacknowledged is skipped.
//! - Connectors report whether they can read their platform through the sink
//!   ([`Health`]: `down` on every failed poll, sync or gateway attempt, `up` on success). An
//!   outage that lasts longer than `notice_after` gets **one** notice in every moderation room,
//!   and its end one "back" notice; shorter blips get none. A restart counts as down.
//! - Every report also sets the connector's state in [`Status`] (`/readyz`) and its
//!   `civicbridge_connector_up` gauge.
//! - `Auth` (revoked token, deactivated account) cannot pass by itself: the supervisor stops and
//!   reports it, and `civicbridge run` exits 1 with one line naming the platform.

use crate::ops::metrics::Instruments;
use crate::ops::status::Status;
use crate::pipeline::outbox::Outbox;
use crate::store::{JobKind, Store};
use civicbridge_api::{
    Connector, ConnectorError, ConnectorState, EventSink, Health, LinkId, Platform, RichText,
    RoomRef, Submission,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Tunables of the watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// How long a connector must stay down before the moderators are told.
    pub notice_after: Duration,
    /// The first restart delay; doubled on each quick failure up to `restart_max`.
    pub restart_base: Duration,
    pub restart_max: Duration,
    /// How soon a linked room the bot could not take part in is tried again (doubling, up to
    /// ten minutes; see `ops::links::rooms`).
    pub room_recheck: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            notice_after: Duration::from_secs(60),
            restart_base: Duration::from_secs(1),
            restart_max: Duration::from_secs(60),
            room_recheck: Duration::from_secs(30),
        }
    }
}

/// Everything a supervisor needs.
pub struct Watched {
    pub platform: Platform,
    /// Which connector to run, replaced when a reload changes the platform's account.
    pub slot: crate::ops::connectors::Slot,
    pub submissions: mpsc::Sender<Submission>,
    pub state: Arc<dyn ConnectorState>,
    pub store: Store,
    pub outbox: Outbox,
    pub options: WatchOptions,
    pub shutdown: CancellationToken,
    /// Told once if the connector fails for good (`Auth`).
    pub failed: mpsc::UnboundedSender<(Platform, ConnectorError)>,
    /// Where its state is shown (`/readyz`) and measured (`civicbridge_connector_up`).
    pub status: Status,
    pub instruments: Instruments,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

/// Runs and restarts one connector until shutdown or `Auth`.
pub async fn supervise(w: Watched) {
    let (health_tx, health_rx) = mpsc::unbounded_channel();
    let monitor = tokio::spawn(monitor(
        health_rx,
        Monitor {
            platform: w.platform,
            store: w.store.clone(),
            outbox: w.outbox.clone(),
            notice_after: w.options.notice_after,
            shutdown: w.shutdown.clone(),
            status: w.status.clone(),
            instruments: w.instruments.clone(),
        },
    ));
    let mut delay = w.options.restart_base;
    let mut wanted = w.slot.wanted.subscribe();
    loop {
        // While a replacement is being built, nothing runs.
        let c: Arc<dyn Connector> = tokio::select! {
            _ = w.shutdown.cancelled() => break,
            next = wanted.wait_for(|x| !x.suspended) => match next {
                Ok(x) => x.connector.clone(),
                Err(_) => break,
            },
        };
        let sink = EventSink::with_health(w.submissions.clone(), health_tx.clone());
        let started = tokio::time::Instant::now();
        let stop = w.shutdown.child_token();
        let state = w.state.clone();
        let run_stop = stop.clone();
        w.slot.running.send_replace(true);
        // In a task of its own, so a panic in the connector ends this run only.
        let mut run = tokio::spawn(async move { c.run(sink, state, run_stop).await });
        let ran = tokio::select! {
            ran = &mut run => Some(ran),
            _ = wanted.wait_for(|x| x.suspended) => None,
        };
        let Some(ran) = ran else {
            // A reload changed the account: stop this run, let the replacement be built.
            stop.cancel();
            let _ = run.await;
            w.slot.running.send_replace(false);
            let _ = health_tx.send(Health::Down("restarting with new settings".to_owned()));
            tracing::info!(platform = %w.platform, "connector stopped for its replacement");
            delay = w.options.restart_base;
            continue;
        };
        w.slot.running.send_replace(false);
        if w.shutdown.is_cancelled() {
            break;
        }
        let why = match ran {
            Ok(Err(ConnectorError::Auth(m))) => {
                tracing::error!(platform = %w.platform, error = %m, "connector refused its credentials");
                w.status
                    .failed(w.platform, &format!("credentials refused: {m}"));
                w.instruments.connector_up(w.platform, false);
                let _ = w.failed.send((w.platform, ConnectorError::Auth(m)));
                break;
            }
            Ok(Ok(())) => "the connector stopped".to_owned(),
            Ok(Err(e)) => format!("the connector failed: {e}"),
            Err(e) if e.is_panic() => {
                // The message stays in the log (it can quote what the connector was reading);
                // the outage notice goes to a Matrix room.
                let text = crate::pipeline::dead_letter::panic_text(&*e.into_panic());
                tracing::error!(platform = %w.platform, panic = %text, "the connector panicked");
                "the connector panicked (the log has the message)".to_owned()
            }
            Err(_) => "the connector's task was cancelled".to_owned(),
        };
        let _ = health_tx.send(Health::Down(why.clone()));
        // A run that lasted a while was healthy: start over with a short delay.
        if started.elapsed() > w.options.restart_max {
            delay = w.options.restart_base;
        }
        tracing::warn!(platform = %w.platform, reason = %why, retry_in = ?delay, "connector stopped; restarting it");
        tokio::select! {
            _ = w.shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(w.options.restart_max);
    }
    drop(health_tx);
    monitor.abort();
}

/// What the monitor of one connector's health needs.
struct Monitor {
    platform: Platform,
    store: Store,
    outbox: Outbox,
    notice_after: Duration,
    shutdown: CancellationToken,
    status: Status,
    instruments: Instruments,
}

/// Turns health reports into at most one "down" and one "back" notice per outage, and shows
/// each report in the status and the metrics.
async fn monitor(mut rx: mpsc::UnboundedReceiver<Health>, m: Monitor) {
    let Monitor {
        platform,
        store,
        outbox,
        notice_after,
        shutdown,
        status,
        instruments,
    } = m;
    // Since when it is down and why, and whether the moderators were told.
    let mut down: Option<(tokio::time::Instant, chrono::DateTime<chrono::Utc>, String)> = None;
    let mut told = false;
    loop {
        let deadline = down
            .as_ref()
            .filter(|_| !told)
            .map(|(since, _, _)| *since + notice_after);
        let report = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = rx.recv() => match r { Some(r) => Some(r), None => return },
            _ = sleep_until(deadline) => None,
        };
        if let Some(r) = &report {
            status.report(platform, r);
            instruments.connector_up(platform, *r == Health::Up);
        }
        match report {
            Some(Health::Down(why)) => match &mut down {
                Some((_, _, last)) => *last = why,
                None => down = Some((tokio::time::Instant::now(), chrono::Utc::now(), why)),
            },
            Some(Health::Up) => {
                if let (Some((_, at, _)), true) = (&down, told) {
                    let text = format!(
                        "✅ {} is reachable again (down since {}). What waited crosses now.",
                        platform.label(),
                        at.format("%H:%M:%S UTC")
                    );
                    tracing::info!(%platform, "connector back");
                    notify(&store, &outbox, &text);
                }
                down = None;
                told = false;
            }
            // Still down after `notice_after`: tell the moderators, once for this outage.
            None => {
                if let Some((_, at, why)) = &down {
                    let text = format!(
                        "⚠ {} cannot be reached since {} ({why}). The bridge keeps trying; messages wait and cross when it is back.",
                        platform.label(),
                        at.format("%H:%M:%S UTC")
                    );
                    tracing::warn!(%platform, reason = %why, "connector down; moderators told");
                    notify(&store, &outbox, &text);
                    told = true;
                }
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Queues `text` to each moderation room of the links running now, once per room (on behalf of
/// the first link, by id, that uses it).
fn notify(store: &Store, outbox: &Outbox, text: &str) {
    let mut rooms: Vec<(LinkId, RoomRef)> = outbox
        .moderation_rooms()
        .iter()
        .map(|(l, r)| (l.clone(), r.clone()))
        .collect();
    rooms.sort();
    let mut seen = std::collections::HashSet::new();
    rooms.retain(|(_, r)| seen.insert(r.clone()));
    let jobs = store.transact(|tx| {
        rooms
            .iter()
            .map(|(link, room)| tx.push_job(link, room, JobKind::notice(RichText::plain(text))))
            .collect::<Result<Vec<_>, _>>()
    });
    match jobs {
        Ok(jobs) => outbox.enqueue(&jobs),
        Err(e) => tracing::error!(error = %e, "cannot queue a connector notice"),
    }
}
