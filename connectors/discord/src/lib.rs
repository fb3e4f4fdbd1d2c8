//! civicbridge's Discord connector, on serenity 0.12.
//!
//! The daemon builds it through [`DiscordFactory`] from the `[discord]` section (a test with
//! [`DiscordConnector::new`] from a [`DiscordConfig`]) and holds it as an `Arc<dyn Connector>`.
//!
//! Codemap:
//! - `factory`: `DiscordFactory`, the daemon's entry point (section, build, message links).
//! - [`config`]: `DiscordConfig` (serde), validation, the rate-limiter / `api_base` rule.
//! - `gateway`: the serenity client on its own thread; handlers forward dispatches in order.
//! - [`inbound`]: serenity models → `Event` (pure).
//! - `outbound`: send / edit / delete / react / unreact, webhooks and personas, replies, threads, splitting;
//!   `tell` (a DM to one person, the DM channel kept per person).
//! - [`format`]: `RichText` ⇄ Discord markdown, with escaping.
//! - `pipeline`: dispatch → event → sink, cursors and backfill; `known`: channels, threads and
//!   posts learnt; `webhooks`: the persona webhook and echo detection; `attachments`: `fetch`.
//! - `rooms`: `join` (`GET /channels/{id}`: can the bot see the channel, and its name).
//! - `rest`: runs serenity-built requests, keeping 429 `retry_after`.
//! - [`ids`]: Discord snowflakes ⇄ the bridge's opaque ids.
//! - [`error`]: `DiscordError` → `ConnectorError`.

mod attachments;
pub mod config;
pub mod error;
mod factory;
pub mod format;
mod gateway;
pub mod ids;
pub mod inbound;
mod known;
mod outbound;
mod pipeline;
mod rest;
mod rooms;
mod webhooks;

pub use config::DiscordConfig;
pub use error::DiscordError;
pub use factory::DiscordFactory;
pub use gateway::intents;
pub use outbound::{parse_webhook_url, render_parts, webhook_username, DISCORD_MAX};
pub use pipeline::cursor_key;

/// The platform this connector serves: its rooms are `discord:…` in the config and the store.
pub const PLATFORM: civicbridge_api::Platform = civicbridge_api::Platform::new("discord");

use known::{Hook, HookSlot, Known, PostedBy, HOOK_RETRY};
use pipeline::{keep_cursors, Pipe};

use async_trait::async_trait;
use civicbridge_api::{
    Ack, Attachment, Capabilities, Connector, ConnectorError, ConnectorState, EventSink, Outgoing,
    Platform, Private, RemoteMsgId, RoomId, RoomInfo, SendReceipt, SinkClosed,
};
use gateway::{Gateway, Gw, GwEnd, HandlerStats};
use inbound::Place;
use outbound::{RestChannel, RestUser, RestWebhook};
use serenity::all::Message as DMessage;
use serenity::all::{ChannelId, ChannelType, GuildChannel, MessageType, UserId, WebhookId};
use serenity::http::{Http, HttpBuilder, LightMethod, Request, Route};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The longest plain text the core may hand us per message: with every character escaped
/// (`\*`) text doubles in the worst case, but real text escapes a few characters; 1,700 leaves
/// room for markup and escaping of typical text below Discord's 2,000, and `send` splits further
/// when a rendered part still does not fit.
pub const MAX_TEXT_LEN: usize = 1700;

/// Discord's default upload limit for bots (10 MiB); boosted servers allow more
/// ([`upload_limit`]).
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

/// The upload limit of a server at boost level `tier`, as Discord documents it: 10 MiB, 50 MiB
/// at level 2, 100 MiB at level 3.
pub fn upload_limit(tier: u8) -> u64 {
    const MIB: u64 = 1024 * 1024;
    match tier {
        3.. => 100 * MIB,
        2 => 50 * MIB,
        _ => MAX_ATTACHMENT_BYTES,
    }
}

pub(crate) struct Inner {
    cfg: DiscordConfig,
    /// The caller's HTTP client ([`DiscordConnector::with_client`]), for the gateway's too.
    client: Option<reqwest::Client>,
    rest: rest::Rest,
    known: Mutex<Known>,
    stats: Arc<HandlerStats>,
    /// Only one `run` at a time (a gateway session is one connection).
    running: tokio::sync::Mutex<()>,
}

/// The Discord connector. Cheap to share behind an `Arc`.
pub struct DiscordConnector {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DiscordConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConnector")
            .field("config", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

fn make_http(cfg: &DiscordConfig, client: Option<reqwest::Client>) -> Http {
    let mut b = HttpBuilder::new(cfg.token.trim());
    if let Some(c) = client {
        b = b.client(c);
    }
    if let Some(base) = &cfg.api_base {
        b = b.proxy(base.trim_end_matches('/'));
    }
    b.ratelimiter_disabled(!cfg.ratelimiter).build()
}

impl DiscordConnector {
    /// Validates `config` and prepares the HTTP client. Nothing is sent until `run`/`send`.
    pub fn new(config: DiscordConfig) -> Result<DiscordConnector, DiscordError> {
        Self::build(config, None)
    }

    /// Like [`Self::new`], with an HTTP client of the caller's for every call to Discord and
    /// every download: one that goes through a proxy, or trusts another root certificate (a
    /// TLS-inspecting egress proxy; tests use it to put a local Discord behind discord.com).
    pub fn with_client(
        config: DiscordConfig,
        client: reqwest::Client,
    ) -> Result<DiscordConnector, DiscordError> {
        Self::build(config, Some(client))
    }

    fn build(
        config: DiscordConfig,
        client: Option<reqwest::Client>,
    ) -> Result<DiscordConnector, DiscordError> {
        config.validate()?;
        let http = Arc::new(make_http(&config, client.clone()));
        let rest = rest::Rest::new(
            http,
            config.ratelimiter,
            config.api_base.clone(),
            client.clone(),
        )?;
        let mut known = Known::default();
        for (channel, url) in &config.webhook_urls {
            if let (Ok(c), Some((id, token))) = (channel.parse::<u64>(), parse_webhook_url(url)) {
                let hook = Hook { id, token };
                known.own_hooks.insert(id);
                known.hooks_by_id.insert(id, hook.clone());
                known.hooks.insert(c, HookSlot::Ready(hook));
            }
        }
        Ok(DiscordConnector {
            inner: Arc::new(Inner {
                cfg: config,
                client,
                rest,
                known: Mutex::new(known),
                stats: Arc::new(HandlerStats::default()),
                running: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// How many times each gateway handler fired, by Discord event name (`MESSAGE_CREATE`, …).
    pub fn handler_counts(&self) -> BTreeMap<String, u64> {
        self.inner.stats.snapshot()
    }

    /// The bot's user id, once known (after `run` starts).
    pub fn bot_id(&self) -> Option<u64> {
        self.inner.known().bot_id
    }
}

impl DiscordConnector {
    /// The gateway loop of `run`: (re)starts the serenity client and forwards its events.
    async fn run_gateway(
        &self,
        pipe: &Pipe<'_>,
        shutdown: &CancellationToken,
    ) -> Result<(), ConnectorError> {
        let inner = &self.inner;
        let mut backoff = Duration::from_secs(1);
        loop {
            match inner.bot_id().await {
                Ok(_) => {}
                Err(e) if e.status() == Some(401) => return Err(e.into()),
                Err(e) => tracing::warn!("cannot read the bot user yet: {e}"),
            }
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let started = Gateway::start(
                make_http(&inner.cfg, inner.client.clone()),
                inner.cfg.api_base.is_some(),
                tx,
                inner.stats.clone(),
            )
            .await;
            let mut link = gateway::Liveness::new();
            let outcome = match started {
                Err(e) => GwEnd::Failed(e.to_string()),
                Ok(mut gw) => loop {
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => {
                            gw.stop().await;
                            return Ok(());
                        }
                        // serenity resumes a dropped connection by itself and dispatches
                        // nothing meanwhile: its shard manager's record is how we know.
                        _ = link.tick() => link.check(&gw, pipe.sink).await,
                        ev = rx.recv() => match ev {
                            Some(ev) => {
                                pipe.sink.up();
                                // The core may push back (a full sink); shutdown still wins. An
                                // event dropped here was never acknowledged, so its channel's
                                // cursor has not passed it and the next start backfills it.
                                let forwarded = tokio::select! {
                                    biased;
                                    _ = shutdown.cancelled() => Err(SinkClosed),
                                    r = inner.forward(ev, pipe) => r,
                                };
                                if forwarded.is_err() {
                                    gw.stop().await;
                                    return Ok(());
                                }
                            }
                            None => break GwEnd::Failed("gateway handler stopped".into()),
                        },
                        end = &mut gw.done => {
                            // Forward what arrived before the client stopped.
                            while let Ok(ev) = rx.try_recv() {
                                if inner.forward(ev, pipe).await.is_err() {
                                    return Ok(());
                                }
                            }
                            break end.unwrap_or(GwEnd::Failed("gateway thread ended".into()));
                        }
                    }
                },
            };
            match outcome {
                GwEnd::Auth(m) => return Err(ConnectorError::Auth(m)),
                GwEnd::Stopped => {
                    tracing::warn!("Discord gateway stopped; reconnecting in {backoff:?}");
                    pipe.sink.down("the gateway connection stopped");
                }
                GwEnd::Failed(why) => {
                    tracing::warn!("Discord gateway failed ({why}); reconnecting in {backoff:?}");
                    pipe.sink.down(format!("the gateway failed: {why}"));
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(60));
        }
    }
}

#[async_trait]
impl Connector for DiscordConnector {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            deletes: true,
            threads: true,
            replies: true,
            reactions: true,
            reaction_keys: civicbridge_api::ReactionKeys::Emoji,
            max_bot_reactions: None,
            personas: self.inner.cfg.use_webhooks,
            max_text_len: MAX_TEXT_LEN,
            attachments: true,
            max_attachment_bytes: Some(self.inner.max_attachment_bytes()),
            // To people who share a server with the bot and accept DMs from its members;
            // `tell` is `Rejected` for the others.
            private_messages: true,
        }
    }

    /// `https://discord.com/channels/GUILD/CHANNEL/MSG`, the channel being the thread when the
    /// message is in one. The server comes from what the gateway told us about the channel:
    /// a channel not seen yet has no link rather than a request to find out.
    fn message_url(
        &self,
        room: &RoomId,
        thread: Option<&civicbridge_api::ThreadId>,
        id: &RemoteMsgId,
    ) -> Option<String> {
        let channel = ids::channel(room).ok()?.get();
        let guild = self.inner.known().channels.get(&channel)?.guild?;
        let shown = match thread {
            Some(t) => ids::thread(t).ok()?.get(),
            None => channel,
        };
        let msg = ids::message(id).ok()?.get();
        Some(format!(
            "https://discord.com/channels/{guild}/{shown}/{msg}"
        ))
    }

    /// Connects to the gateway and forwards every message, edit, delete and reaction. serenity
    /// heartbeats, resumes after a dropped connection (Discord replays what was missed) and
    /// re-identifies after an invalid session. If the client stops for another reason it is
    /// restarted with capped backoff; a refused token ends `run` with `Auth`.
    async fn run(
        &self,
        sink: EventSink,
        state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let inner = &self.inner;
        let _only_one = inner.running.lock().await;
        let (cursor_tx, cursor_rx) = tokio::sync::mpsc::unbounded_channel();
        let keeper = tokio::spawn(keep_cursors(cursor_rx, state.clone()));
        let pipe = Pipe {
            sink: &sink,
            cursors: cursor_tx,
            state: &state,
        };
        let result = self.run_gateway(&pipe, &shutdown).await;
        // Let the cursor keeper store what was acknowledged before we stop.
        drop(pipe);
        let _ = tokio::time::timeout(Duration::from_millis(500), keeper).await;
        result
    }

    /// Only a server's admins can put the bot in a server and let it see a channel: this checks
    /// that it can (`GET /channels/{id}`) and returns the channel's name. `leave` keeps the
    /// default: where the bot is, is the admins' business.
    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        self.inner.join(room).await
    }

    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        self.inner.send(out).await.map_err(Into::into)
    }

    async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        self.inner.edit(room, id, out).await.map_err(Into::into)
    }

    async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError> {
        self.inner.delete(room, id).await.map_err(Into::into)
    }

    async fn react(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.inner.react(room, id, key).await.map_err(Into::into)
    }

    /// Delete Own Reaction; removing one the bot never made, or from a message that is gone,
    /// succeeds (see `outbound::modify`).
    async fn unreact(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.inner.unreact(room, id, key).await.map_err(Into::into)
    }

    /// A DM to one person (see `outbound/tell.rs`): `Rejected` when they do not accept DMs
    /// from the bot (closed, or no server in common).
    async fn tell(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        self.inner.tell(private).await.map_err(Into::into)
    }

    /// Downloads an attachment this connector reported. Discord's CDN links expire; when one
    /// has, the message is read again for a fresh link.
    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        self.inner.fetch(attachment).await.map_err(Into::into)
    }
}
