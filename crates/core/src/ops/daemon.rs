//! Wires the parts together and owns their lifetime.
//!
//! Start order matters: the links are checked against the connectors, unfinished outbox jobs are
//! re-driven (so they go before anything new), the links are put in force (config synced into
//! the store, a worker each: see [`crate::ops::links`]), the router starts, and only then do the
//! connectors begin reading. [`Daemon::apply_links`] changes the links while it runs. Shutdown is one `CancellationToken` and a `TaskTracker`: connectors
//! stop reading, workers finish the batch in hand, unsent jobs stay in the outbox, the store is
//! flushed, all within a grace period.
//!
//! Before all that, the admin listener is bound (if `[admin] listen` is set; see
//! [`crate::ops::admin`]), so `/readyz` answers 503 while the rest starts; the store's
//! observer is set to the metrics, the status learns that the store is open once the outbox is
//! re-driven, and each connector's supervisor keeps its state current.

use crate::ops::admin::{AdminError, AdminSettings, AdminState};
use crate::ops::config::LinkSettings;
use crate::ops::connectors::Connectors;
use crate::ops::links::{LinkChanges, RunningLinks};
use crate::ops::metrics::Metrics;
use crate::ops::status::Status;
use crate::pipeline::link::{LinkError, BATCH};
use crate::pipeline::outbox::{Outbox, RetryPolicy};
use crate::pipeline::router;
use crate::store::{Store, StoreError};
use civicbridge_api::{Connector, ConnectorError, Platform};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error("link {link} uses {platform}, but no {platform} connector was given")]
    MissingConnector { link: String, platform: Platform },
    #[error("link {0} is configured twice")]
    DuplicateLink(String),
    #[error("shutdown did not finish within {0:?}; some tasks were abandoned")]
    ShutdownTimeout(Duration),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Console(#[from] crate::ops::console::ConsoleError),
    /// A panic while the links were being changed left them in an unknown state.
    #[error("the running links were left in an unknown state by a panic")]
    Poisoned,
}

/// Tunables; the defaults are for production.
#[derive(Debug, Clone)]
pub struct Options {
    pub retry: RetryPolicy,
    /// How long shutdown waits for tasks before giving up on them.
    pub grace: Duration,
    /// How long replay protection remembers an event.
    pub seen_retention: Duration,
    /// How often held items are checked for reminders and expiry.
    pub sweep_every: Duration,
    /// How connectors are restarted and their outages reported.
    pub watch: crate::ops::watch::WatchOptions,
    /// The platforms' factories, for what only a platform knows while the bridge runs (links
    /// to its messages in `!takedown`). Empty in tests that need none.
    pub platforms: Vec<Arc<dyn civicbridge_api::PlatformFactory>>,
    /// The admin listener (`/livez`, `/readyz`, `/metrics`), if on.
    pub admin: Option<AdminSettings>,
    /// How long a console sign-in link is valid (`!weblogin`); five minutes but in tests.
    pub sign_in_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retry: RetryPolicy::default(),
            grace: Duration::from_secs(10),
            seen_retention: Duration::from_secs(7 * 24 * 3600),
            sweep_every: Duration::from_secs(60),
            watch: crate::ops::watch::WatchOptions::default(),
            platforms: Vec::new(),
            admin: None,
            sign_in_lifetime: crate::ops::console::signin::LIFETIME,
        }
    }
}

/// A running bridge.
#[derive(Debug)]
pub struct Daemon {
    store: Store,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
    failures: mpsc::UnboundedReceiver<(Platform, ConnectorError)>,
    links: Arc<std::sync::Mutex<RunningLinks>>,
    liveness: Arc<crate::ops::liveness::Liveness>,
    remote: crate::ops::remote::RemoteCommands,
    api: crate::ops::admin::api::ApiSlot,
    status: Status,
    metrics: Metrics,
    admin: Option<SocketAddr>,
    connectors: Connectors,
    console: crate::ops::console::ConsoleSlot,
}

impl Daemon {
    /// Starts the bridge on `store` with these links and connectors (one per platform).
    pub async fn start(
        store: Store,
        links: &[LinkSettings],
        connectors: Vec<Arc<dyn Connector>>,
        options: Options,
    ) -> Result<Daemon, DaemonError> {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        // Until the start succeeds, a failure stops whatever was started (the admin listener).
        let started = shutdown.clone().drop_guard();
        let status = Status::default();
        let mut platforms: Vec<Platform> = connectors.iter().map(|c| c.platform()).collect();
        platforms.sort_by_key(|p| p.as_str());
        for p in &platforms {
            status.connecting(*p);
        }
        let metrics = Metrics::new(&store, platforms);
        let api_slot = crate::ops::admin::api::ApiSlot::default();
        let metrics_observer: Arc<dyn crate::store::observe::Observer> =
            Arc::new(metrics.instruments().clone());
        let console = crate::ops::console::ConsoleSlot::new(
            options.admin.as_ref().and_then(|a| a.console.clone()),
            Some(metrics_observer.clone()),
        );
        // First, so that `/readyz` answers (503) while the rest starts.
        let admin = match &options.admin {
            Some(settings) => {
                let state = AdminState {
                    status: status.clone(),
                    metrics: metrics.clone(),
                    api: api_slot.clone(),
                    console: console.clone(),
                };
                Some(crate::ops::admin::start(settings, state, shutdown.clone(), &tracker).await?)
            }
            None => None,
        };
        // With the console on, its change bell observes the store and tells the metrics.
        store.set_observer(Some(console.observer().unwrap_or(metrics_observer)));

        // Pseudonyms shown from here on must survive a crash: create the key durably first.
        crate::privacy::prepare(&store).await?;

        let connectors = Connectors::new(connectors);
        let (view, feed, refreshes) =
            crate::ops::links::LinksView::new(connectors.platforms().collect());
        let liveness = Arc::new(crate::ops::liveness::Liveness::default());
        let outbox = Outbox::new(
            store.clone(),
            connectors.clone(),
            HashMap::new(),
            options.retry.clone(),
            shutdown.clone(),
            tracker.clone(),
            metrics.instruments().clone(),
        );
        // `!retry` of a parked event reaches whichever worker serves the moderation room;
        // the event's own link worker replays it. Each retry wakes every worker.
        let shared = crate::pipeline::link::Shared {
            store: store.clone(),
            outbox: outbox.clone(),
            retries: Arc::new(tokio::sync::watch::Sender::new(0u64)),
            platforms: options.platforms.clone().into(),
            shutdown: shutdown.clone(),
            liveness: liveness.clone(),
            links: view.clone(),
            console: console.clone(),
        };
        let (mut running, table) = RunningLinks::new(
            shared,
            feed,
            tracker.clone(),
            connectors.clone(),
            options.watch.room_recheck,
        );
        // Before anything is spawned, so a refused config leaves nothing running.
        running.check(links)?;
        // Re-driving can park unreadable jobs, whose notices go to the links' moderation rooms.
        let records: Vec<_> = links.iter().map(|l| l.link.clone()).collect();
        outbox.set_moderation_rooms(crate::ops::links::moderation_rooms(&records));
        let redriven = outbox.redrive()?;
        outbox.start_expiry();
        if redriven > 0 {
            tracing::info!(jobs = redriven, "re-driving unfinished outbox jobs");
        }
        status.store_open();
        running.apply(links)?;
        let running = Arc::new(std::sync::Mutex::new(running));
        tracker.spawn(RunningLinks::serve(
            running.clone(),
            refreshes,
            shutdown.clone(),
        ));
        let (sink_tx, sink_rx) = mpsc::channel(BATCH * 4);
        tracker.spawn(router::run(
            table,
            sink_rx,
            shutdown.clone(),
            liveness.register("router"),
        ));

        let (failed, failures) = mpsc::unbounded_channel();
        for platform in connectors.platforms() {
            let Some(slot) = connectors.slot(platform) else {
                continue;
            };
            tracker.spawn(crate::ops::watch::supervise(crate::ops::watch::Watched {
                platform,
                slot: slot.clone(),
                submissions: sink_tx.clone(),
                state: store.connector_state(platform),
                store: store.clone(),
                outbox: outbox.clone(),
                options: options.watch.clone(),
                shutdown: shutdown.clone(),
                failed: failed.clone(),
                status: status.clone(),
                instruments: metrics.instruments().clone(),
            }));
        }
        tracker.spawn(crate::moderation::hygiene::run(
            store.clone(),
            outbox.clone(),
            options.sweep_every,
            shutdown.clone(),
        ));
        tracker.spawn(prune_seen(
            store.clone(),
            options.seen_retention,
            shutdown.clone(),
        ));
        tracker.spawn(crate::privacy::retention::run(
            store.clone(),
            crate::privacy::retention::EVERY,
            shutdown.clone(),
        ));
        tracing::info!(links = links.len(), "civicbridge running");
        let remote = crate::ops::remote::RemoteCommands {
            store: store.clone(),
            outbox,
            platforms: options.platforms.into(),
            links: Some(view.clone()),
        };
        console.start(crate::ops::console::Parts {
            remote: remote.clone(),
            connectors: connectors.clone(),
            links: view.subscribe(),
            shutdown: shutdown.clone(),
            sign_in_lifetime: options.sign_in_lifetime,
        })?;
        if let Some(settings) = &options.admin {
            api_slot.set(crate::ops::admin::api::Api {
                tokens: Arc::new(std::sync::RwLock::new(settings.tokens.clone())),
                commands: remote.clone(),
                links: view.subscribe(),
            });
        }
        started.disarm();
        Ok(Daemon {
            store,
            shutdown,
            tracker,
            grace: options.grace,
            failures,
            links: running,
            liveness,
            remote,
            api: api_slot,
            status,
            metrics,
            admin,
            connectors,
            console,
        })
    }

    /// Puts a new set of links (and their config rules) in force without a restart; nothing in
    /// flight is dropped (see [`crate::ops::links`]). A set this process cannot serve (a room on
    /// a platform without a connector, a link twice) is refused whole and changes nothing.
    pub fn apply_links(&mut self, links: &[LinkSettings]) -> Result<LinkChanges, DaemonError> {
        let changes = self.running()?.apply(links)?;
        tracing::info!(%changes, "links updated");
        Ok(changes)
    }

    /// Restarts `platform`'s connector with the one `build` makes (a reload changed the
    /// platform's section: a token, a homeserver), leaving the other platforms alone. The
    /// running connector is stopped first, so the two never read at once or share session
    /// files; if `build` fails (or makes a connector for another platform), the old one starts
    /// again and the error is returned. Nothing is lost either way: the outbox's jobs are in the
    /// store and go out through whichever connector is current, and the new connector reads
    /// from the cursor the old one left. `Ok(false)`: this daemon has no such platform.
    pub async fn replace_connector<E: From<String>>(
        &self,
        platform: Platform,
        build: impl std::future::Future<Output = Result<Arc<dyn Connector>, E>>,
    ) -> Result<bool, E> {
        let Some(slot) = self.connectors.slot(platform) else {
            return Ok(false);
        };
        slot.suspend().await;
        let built = match build.await {
            Ok(c) if c.platform() == platform => Ok(c),
            Ok(c) => Err(E::from(format!(
                "a {} connector cannot replace the {platform} one",
                c.platform()
            ))),
            Err(e) => Err(e),
        };
        match built {
            Ok(c) => {
                slot.resume(Some(c));
                tracing::info!(%platform, "connector restarted with its new settings");
                Ok(true)
            }
            Err(e) => {
                slot.resume(None);
                Err(e)
            }
        }
    }

    /// Puts new admin API tokens in force (a config reload); false when the listener is off.
    pub fn set_admin_tokens(&self, tokens: crate::ops::admin::tokens::Tokens) -> bool {
        self.api.set_tokens(tokens)
    }

    /// How many rooms' outbox lanes wait for a paused link right now.
    pub fn lanes_paused(&self) -> usize {
        self.remote.outbox.lanes_paused()
    }

    /// Runs moderation commands from outside the rooms (the admin API).
    pub fn remote_commands(&self) -> crate::ops::remote::RemoteCommands {
        self.remote.clone()
    }

    /// Whether the pipeline's loops still come round (for the systemd watchdog).
    pub fn liveness(&self) -> Arc<crate::ops::liveness::Liveness> {
        self.liveness.clone()
    }

    /// The links in force.
    pub fn links(&self) -> Vec<crate::store::LinkRecord> {
        self.running()
            .map(|r| r.current().to_vec())
            .unwrap_or_default()
    }

    fn running(&self) -> Result<std::sync::MutexGuard<'_, RunningLinks>, DaemonError> {
        self.links.lock().map_err(|_| DaemonError::Poisoned)
    }

    /// Resolves when a connector stops for good (`Connector::run` returned `Auth`: a revoked
    /// token, a deactivated account): the bridge can no longer read that platform, so the caller
    /// should stop and say so. Every other stop is restarted by [`crate::ops::watch`].
    pub async fn connector_failed(&mut self) -> (Platform, ConnectorError) {
        match self.failures.recv().await {
            Some(f) => f,
            // Every connector task has ended without failing: nothing will ever fail now.
            None => std::future::pending().await,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether it is ready, and each connector's state (what `/readyz` shows).
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Its metrics (what `/metrics` shows).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// A console sign-in link for `person`, as `!weblogin` would send them (`None`: the
    /// console is off). For whoever runs the bridge (`civicbridge demo` prints one): it
    /// signs in as `person` with their config-list role, and is a secret like theirs.
    pub fn console_sign_in(&self, person: crate::ops::console::who::Person) -> Option<String> {
        let console = self.console.get()?;
        Some(console.issue_sign_in(person, std::time::Instant::now()))
    }

    /// Where the admin listener listens, if it is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// A token that is cancelled when the daemon shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops everything gracefully and flushes the store.
    pub async fn shutdown(self) -> Result<(), DaemonError> {
        self.shutdown.cancel();
        self.tracker.close();
        let finished = tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_ok();
        self.store.set_observer(None);
        self.store.flush().await?;
        if finished {
            tracing::info!("civicbridge stopped");
            Ok(())
        } else {
            Err(DaemonError::ShutdownTimeout(self.grace))
        }
    }
}

async fn prune_seen(store: Store, retention: Duration, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let cutoff = crate::store::now_ms().saturating_sub(retention.as_millis() as u64);
        match store.prune_seen(cutoff) {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "forgot old replay-protection marks"),
            Err(e) => tracing::warn!(error = %e, "pruning seen events failed"),
        }
    }
}

/// SIGHUP, the conventional "reload your config" (on other systems, never). Registered once at
/// start: from then on a SIGHUP no longer ends the process.
#[derive(Debug)]
pub struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    pub fn new() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP"))
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Resolves at the next SIGHUP.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
}

impl Default for Hangups {
    fn default() -> Self {
        Self::new()
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
