//! A fake Discord with a guild, a text channel, a forum and two residents, and the real
//! connector (serenity) running against it over loopback.
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_api::{Connector, Event, EventKind, EventSink, MemoryState, Submission};
use civicbridge_discord::{DiscordConfig, DiscordConnector};
use civicbridge_testkit::discord::{DiscordServer, ServerOptions};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(20);

pub struct World {
    pub server: DiscordServer,
    pub guild: u64,
    pub channel: u64,
    pub forum: u64,
    pub ada: u64,
    pub bob: u64,
    pub connector: Arc<DiscordConnector>,
    pub rx: mpsc::Receiver<Submission>,
    /// What the connector reported about reaching the gateway, in order.
    pub health: mpsc::UnboundedReceiver<civicbridge_api::Health>,
    pub shutdown: CancellationToken,
    pub run: tokio::task::JoinHandle<Result<(), civicbridge_api::ConnectorError>>,
    /// Handler firings of other connectors that ran against the same server.
    pub extra_fired: BTreeMap<String, u64>,
}

pub fn config(server: &DiscordServer) -> DiscordConfig {
    DiscordConfig::local(server.token(), server.api_base())
}

/// The world, with the connector not yet running.
pub async fn server_world(opts: ServerOptions) -> (DiscordServer, u64, u64, u64, u64, u64) {
    let server = DiscordServer::start_with(opts).await.unwrap();
    let guild = server.create_guild("Council");
    let channel = server.create_channel(guild, "general");
    let forum = server.create_forum(guild, "ideas");
    let ada = server.create_user("ada", Some("Ada Lovelace"));
    let bob = server.create_user("bob", None);
    server.set_nick(guild, bob, "Bobby");
    (server, guild, channel, forum, ada, bob)
}

pub async fn world() -> World {
    world_with(ServerOptions::default(), |_| {}).await
}

pub async fn world_with(opts: ServerOptions, tweak: impl FnOnce(&mut DiscordConfig)) -> World {
    let (server, guild, channel, forum, ada, bob) = server_world(opts).await;
    let mut cfg = config(&server);
    tweak(&mut cfg);
    let connector = Arc::new(DiscordConnector::new(cfg).unwrap());
    let (tx, rx) = mpsc::channel(256);
    let (health_tx, health) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let run = {
        let c = connector.clone();
        let s = shutdown.clone();
        tokio::spawn(async move {
            let sink = EventSink::with_health(tx, health_tx);
            c.run(sink, Arc::new(MemoryState::default()), s).await
        })
    };
    let w = World {
        server,
        guild,
        channel,
        forum,
        ada,
        bob,
        connector,
        rx,
        health,
        shutdown,
        run,
        extra_fired: BTreeMap::new(),
    };
    w.wait_ready().await;
    w
}

impl World {
    /// Waits until the gateway session is up and GUILD_CREATE was handled.
    pub async fn wait_ready(&self) {
        let c = self.connector.clone();
        civicbridge_api::testing::wait_until(WAIT, "READY and GUILD_CREATE handled", || {
            let n = c.handler_counts();
            n.get("READY").copied().unwrap_or(0) >= 1
                && n.get("GUILD_CREATE").copied().unwrap_or(0) >= 1
        })
        .await;
    }

    /// The next event, acknowledged.
    pub async fn next(&mut self) -> Event {
        let s = tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("an event within the timeout")
            .expect("the connector keeps its sink");
        let _ = s.ack.send(());
        s.event
    }

    /// Events until one matches `pred` (returned); the others are returned too, in order.
    pub async fn until(&mut self, mut pred: impl FnMut(&Event) -> bool) -> (Event, Vec<Event>) {
        let mut skipped = Vec::new();
        loop {
            let e = self.next().await;
            if pred(&e) {
                return (e, skipped);
            }
            skipped.push(e);
        }
    }

    pub async fn message(&mut self, id: u64) -> Event {
        let id = id.to_string();
        self.until(|e| matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == id))
            .await
            .0
    }

    /// Checks that every dispatch the server sent fired its handler, then stops the connector.
    pub async fn stop(self) {
        self.all_dispatches_handled().await;
        self.shutdown.cancel();
        let r = tokio::time::timeout(WAIT, self.run).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "run stops cleanly: {r:?}");
    }

    /// Handler firings versus dispatches the server sent, by event name.
    pub fn counts(&self) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let mut sent = BTreeMap::new();
        for t in self.server.dispatched() {
            *sent.entry(t).or_insert(0) += 1;
        }
        let mut fired = self.connector.handler_counts();
        for (k, v) in &self.extra_fired {
            *fired.entry(k.clone()).or_insert(0) += v;
        }
        (sent, fired)
    }

    /// Waits until every dispatch the server queued has fired its handler exactly once.
    pub async fn all_dispatches_handled(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (sent, fired) = self.counts();
            if sent == fired {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "handlers did not fire for every dispatch:\n sent  {sent:?}\n fired {fired:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
