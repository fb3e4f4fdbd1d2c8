//! civicbridge's Discord connector, on serenity 0.12.
//!
//! Construct with [`DiscordConnector::new`] from a [`DiscordConfig`], then hand it to the core as
//! an `Arc<dyn Connector>`.
//!
//! Codemap:
//! - [`config`]: `DiscordConfig` (serde), validation, the rate-limiter / `api_base` rule.
//! - `gateway`: the serenity client on its own thread; handlers forward dispatches in order.
//! - [`inbound`]: serenity models → `Event` (pure).
//! - `outbound`: send / edit / delete / react, webhooks and personas, replies, threads, splitting.
//! - [`format`]: `RichText` ⇄ Discord markdown, with escaping.
//! - `rest`: runs serenity-built requests, keeping 429 `retry_after`.
//! - [`ids`]: Discord snowflakes ⇄ the bridge's opaque ids.
//! - [`error`]: `DiscordError` → `ConnectorError`.

pub mod config;
pub mod error;
pub mod format;
mod gateway;
pub mod ids;
pub mod inbound;
mod outbound;
mod rest;

pub use config::DiscordConfig;
pub use error::DiscordError;
pub use gateway::intents;
pub use outbound::{parse_webhook_url, render_parts, webhook_username, DISCORD_MAX};

use async_trait::async_trait;
use civicbridge_api::{
    Ack, Attachment, Capabilities, Connector, ConnectorError, ConnectorState, EventSink, Outgoing,
    Platform, RemoteMsgId, RoomId, SendReceipt, SinkClosed,
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

/// Discord's default upload limit for bots (25 MiB).
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;

/// A webhook the bridge posts through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Hook {
    pub id: u64,
    pub token: String,
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Who posted a message the bridge sent, to edit or delete it the same way.
#[derive(Debug, Clone)]
pub(crate) struct PostedBy {
    pub channel: u64,
    pub hook: Option<Hook>,
    /// The thread channel, for webhook calls (`thread_id`).
    pub thread: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    pub guild: Option<u64>,
    /// Set when the channel is a thread.
    pub parent: Option<u64>,
    pub is_forum: bool,
}

#[derive(Debug, Clone)]
enum HookSlot {
    Ready(Hook),
    /// The bot may not manage webhooks here and none is configured; asked again after a while.
    Unavailable(Instant),
}

/// How long to wait before asking again for a webhook the bot may not create.
const HOOK_RETRY: Duration = Duration::from_secs(300);
/// Bound on the remembered sends and deletes (older ones are looked up on Discord instead).
const REMEMBER: usize = 20_000;

#[derive(Debug, Default)]
struct Known {
    bot_id: Option<u64>,
    channels: HashMap<u64, ChannelInfo>,
    hooks: HashMap<u64, HookSlot>,
    hooks_by_id: HashMap<u64, Hook>,
    /// Webhook ids known to be the bridge's own (created by the bot or configured) or not.
    own_hooks: HashSet<u64>,
    foreign_hooks: HashSet<u64>,
    posted: HashMap<u64, PostedBy>,
    deleted_by_us: HashSet<u64>,
}

pub(crate) struct Inner {
    cfg: DiscordConfig,
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

fn make_http(cfg: &DiscordConfig) -> Http {
    let mut b = HttpBuilder::new(cfg.token.trim());
    if let Some(base) = &cfg.api_base {
        b = b.proxy(base.trim_end_matches('/'));
    }
    b.ratelimiter_disabled(!cfg.ratelimiter).build()
}

impl DiscordConnector {
    /// Validates `config` and prepares the HTTP client. Nothing is sent until `run`/`send`.
    pub fn new(config: DiscordConfig) -> Result<DiscordConnector, DiscordError> {
        config.validate()?;
        let http = Arc::new(make_http(&config));
        let rest = rest::Rest::new(http, config.ratelimiter, config.api_base.clone())?;
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

impl Inner {
    fn known(&self) -> MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record_channel(&self, c: &GuildChannel) {
        let is_thread = matches!(
            c.kind,
            ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
        );
        let info = ChannelInfo {
            guild: Some(c.guild_id.get()),
            parent: c.parent_id.filter(|_| is_thread).map(ChannelId::get),
            is_forum: c.kind == ChannelType::Forum,
        };
        self.known().channels.insert(c.id.get(), info);
    }

    pub(crate) fn remember_thread(&self, thread: u64, parent: u64) {
        let mut k = self.known();
        let guild = k.channels.get(&parent).and_then(|c| c.guild);
        k.channels.insert(
            thread,
            ChannelInfo {
                guild,
                parent: Some(parent),
                is_forum: false,
            },
        );
    }

    /// What we know about `channel`, asking Discord once if we do not know it yet.
    pub(crate) async fn channel_info(&self, channel: ChannelId) -> Option<ChannelInfo> {
        if let Some(i) = self.known().channels.get(&channel.get()) {
            return Some(i.clone());
        }
        let req = Request::new(
            Route::Channel {
                channel_id: channel,
            },
            LightMethod::Get,
        );
        match self.rest.json::<RestChannel>(req).await {
            Ok(c) => {
                let is_thread = matches!(c.kind, 10..=12);
                let info = ChannelInfo {
                    guild: c.guild_id.and_then(|g| g.parse().ok()),
                    parent: c
                        .parent_id
                        .and_then(|p| p.parse().ok())
                        .filter(|_| is_thread),
                    is_forum: c.kind == 15,
                };
                self.known().channels.insert(channel.get(), info.clone());
                Some(info)
            }
            Err(e) => {
                tracing::warn!(%channel, "cannot look up Discord channel: {e}");
                None
            }
        }
    }

    async fn place(&self, channel: ChannelId, msg: Option<serenity::all::MessageId>) -> Place {
        let parent = self
            .channel_info(channel)
            .await
            .and_then(|i| i.parent)
            .map(ChannelId::new);
        Place::of(channel, parent, msg)
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, DiscordError> {
        if !self.is_cdn(url) {
            return Err(DiscordError::Unsupported(format!(
                "{url} is not a Discord attachment link"
            )));
        }
        let resp = self
            .rest
            .client()
            .get(url)
            .send()
            .await
            .map_err(|e| DiscordError::Network(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(rest::api_error(resp).await);
        }
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| DiscordError::Network(e.to_string()))
    }

    /// Only Discord's CDN (or the configured local Discord) is ever fetched from.
    fn is_cdn(&self, url: &str) -> bool {
        let local = self
            .cfg
            .api_base
            .as_deref()
            .map(|b| format!("{}/", b.trim_end_matches('/')));
        [
            "https://cdn.discordapp.com/",
            "https://media.discordapp.net/",
        ]
        .iter()
        .any(|p| url.starts_with(p))
            || local.is_some_and(|l| url.starts_with(&l))
    }

    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, DiscordError> {
        let Some((url, channel, id, msg)) = inbound::parse_attachment_ref(&attachment.url) else {
            return Err(DiscordError::Unsupported(format!(
                "{} is not a Discord attachment reference",
                attachment.url
            )));
        };
        match self.download(&url).await {
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                let Some(msg) = msg else { return Err(e) };
                // Expired: read the message again for a fresh link.
                let req = Request::new(
                    Route::ChannelMessage {
                        channel_id: ChannelId::new(channel),
                        message_id: serenity::all::MessageId::new(msg),
                    },
                    LightMethod::Get,
                );
                let fresh: DMessage = self.rest.json(req).await?;
                let a = fresh
                    .attachments
                    .iter()
                    .find(|a| a.id.get() == id)
                    .ok_or_else(|| DiscordError::Api {
                        status: 404,
                        code: 10_008,
                        message: "the attachment is no longer on its message".into(),
                        retry_after: None,
                        global: false,
                    })?;
                self.download(&a.url).await
            }
            other => other,
        }
    }

    /// Threads we know of whose parent is `room`.
    pub(crate) fn known_threads_of(&self, room: u64) -> Vec<u64> {
        self.known()
            .channels
            .iter()
            .filter(|(_, c)| c.parent == Some(room))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(crate) fn remember_post(&self, id: u64, by: PostedBy) {
        let mut k = self.known();
        if k.posted.len() >= REMEMBER {
            k.posted.clear();
        }
        k.posted.insert(id, by);
    }

    pub(crate) fn posted_by(&self, id: u64) -> Option<PostedBy> {
        self.known().posted.get(&id).cloned()
    }

    pub(crate) fn note_deleted(&self, id: u64) {
        let mut k = self.known();
        if k.deleted_by_us.len() >= REMEMBER {
            k.deleted_by_us.clear();
        }
        k.deleted_by_us.insert(id);
    }

    pub(crate) fn hook_by_id(&self, id: u64) -> Option<Hook> {
        self.known().hooks_by_id.get(&id).cloned()
    }

    pub(crate) fn forget_webhook(&self, channel: ChannelId, id: u64) {
        let mut k = self.known();
        k.hooks.remove(&channel.get());
        k.hooks_by_id.remove(&id);
    }

    fn adopt_hook(&self, channel: ChannelId, hook: Hook) -> Hook {
        let mut k = self.known();
        k.own_hooks.insert(hook.id);
        k.hooks_by_id.insert(hook.id, hook.clone());
        k.hooks.insert(channel.get(), HookSlot::Ready(hook.clone()));
        hook
    }

    /// The webhook to post personas through in `channel`: a configured one, else one the bot made
    /// earlier (same name), else a new one. `None` when the bot may not manage webhooks (403).
    pub(crate) async fn webhook_for(
        &self,
        channel: ChannelId,
    ) -> Result<Option<Hook>, DiscordError> {
        match self.known().hooks.get(&channel.get()) {
            Some(HookSlot::Ready(h)) => return Ok(Some(h.clone())),
            Some(HookSlot::Unavailable(at)) if at.elapsed() < HOOK_RETRY => return Ok(None),
            _ => {}
        }
        let bot = self.bot_id().await?;
        let list = Request::new(
            Route::ChannelWebhooks {
                channel_id: channel,
            },
            LightMethod::Get,
        );
        let existing = match self.rest.json::<Vec<RestWebhook>>(list).await {
            Ok(v) => v,
            Err(e) if e.status() == Some(403) => return Ok(self.no_webhook(channel)),
            Err(e) => return Err(e),
        };
        let mine = existing.into_iter().find(|w| {
            w.user.as_ref().map(|u| u.id.as_str()) == Some(bot.to_string().as_str())
                && w.name.as_deref() == Some(self.cfg.webhook_name.as_str())
                && w.token.is_some()
        });
        let hook = match mine {
            Some(w) => w,
            None => {
                let body = serde_json::json!({"name": self.cfg.webhook_name});
                let req = Request::new(
                    Route::ChannelWebhooks {
                        channel_id: channel,
                    },
                    LightMethod::Post,
                )
                .body(Some(body.to_string().into_bytes()));
                match self.rest.json::<RestWebhook>(req).await {
                    Ok(w) => w,
                    Err(e) if e.status() == Some(403) => return Ok(self.no_webhook(channel)),
                    Err(e) => return Err(e),
                }
            }
        };
        let id = hook
            .id
            .parse::<u64>()
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        let token = hook
            .token
            .ok_or_else(|| DiscordError::Decode("webhook without a token".into()))?;
        Ok(Some(self.adopt_hook(channel, Hook { id, token })))
    }

    fn no_webhook(&self, channel: ChannelId) -> Option<Hook> {
        tracing::warn!(%channel, "the bot may not manage webhooks here and none is configured: posting with name prefixes");
        self.known()
            .hooks
            .insert(channel.get(), HookSlot::Unavailable(Instant::now()));
        None
    }

    async fn bot_id(&self) -> Result<u64, DiscordError> {
        if let Some(id) = self.known().bot_id {
            return Ok(id);
        }
        let me: RestUser = self
            .rest
            .json(Request::new(Route::UserMe, LightMethod::Get))
            .await?;
        let id = me
            .id
            .parse::<u64>()
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        self.known().bot_id = Some(id);
        Ok(id)
    }

    /// Whether a message by `author` (and `webhook`) is the bridge's own: the bot user, or a
    /// webhook the bot created or was configured with.
    async fn is_bridge(&self, author: UserId, webhook: Option<WebhookId>) -> bool {
        let bot = self.known().bot_id;
        if bot == Some(author.get()) {
            return true;
        }
        let Some(w) = webhook.map(WebhookId::get) else {
            return false;
        };
        {
            let k = self.known();
            if k.own_hooks.contains(&w) {
                return true;
            }
            if k.foreign_hooks.contains(&w) {
                return false;
            }
        }
        let req = Request::new(
            Route::Webhook {
                webhook_id: WebhookId::new(w),
            },
            LightMethod::Get,
        );
        let own = match (self.rest.json::<RestWebhook>(req).await, bot) {
            (Ok(hook), Some(bot)) => hook.user.is_some_and(|u| u.id == bot.to_string()),
            (Ok(_), None) => return false,
            // Not ours to see (403) or gone (404): not one the bot made.
            (Err(e), _) if matches!(e.status(), Some(403 | 404)) => false,
            (Err(e), _) => {
                tracing::warn!(webhook = w, "cannot look up webhook: {e}");
                return false;
            }
        };
        let mut k = self.known();
        if own {
            k.own_hooks.insert(w);
        } else {
            k.foreign_hooks.insert(w);
        }
        own
    }

    /// Turns one dispatch into at most one event and submits it.
    async fn forward(&self, gw: Gw, pipe: &Pipe<'_>) -> Result<(), SinkClosed> {
        let event = match gw {
            Gw::Ready(r) => {
                self.known().bot_id = Some(r.user.id.get());
                None
            }
            Gw::Resumed => None,
            Gw::Guild(g) => {
                for c in g.channels.values().chain(g.threads.iter()) {
                    self.record_channel(c);
                }
                // A new session: catch up on what was posted while we were away.
                let readable = g
                    .channels
                    .values()
                    .filter(|c| matches!(c.kind, ChannelType::Text | ChannelType::News))
                    .chain(g.threads.iter())
                    .map(|c| c.id);
                for channel in readable.collect::<Vec<_>>() {
                    self.backfill(channel, pipe).await?;
                }
                None
            }
            Gw::Channel(c) => {
                self.record_channel(&c);
                None
            }
            Gw::Message(m) => return self.submit_message(&m, pipe).await,
            Gw::Update(e) => {
                let place = self.place(e.channel_id, Some(e.id)).await;
                let author = e.author.as_ref().map_or(UserId::new(1), |u| u.id);
                let bridge = self.is_bridge(author, e.webhook_id.flatten()).await;
                inbound::edit_event(&e, &place, bridge)
            }
            Gw::Delete { channel, message } => {
                let place = self.place(channel, Some(message)).await;
                let bridge = self.known().deleted_by_us.remove(&message.get());
                Some(inbound::delete_event(message, &place, bridge, now_ms()))
            }
            Gw::Reaction(r) => {
                let place = self.place(r.channel_id, Some(r.message_id)).await;
                let bridge =
                    r.user_id.is_some() && r.user_id.map(UserId::get) == self.known().bot_id;
                inbound::reaction_event(&r, &place, bridge, now_ms())
            }
        };
        if let Some(e) = event {
            // Only messages move a cursor; the other acks matter to the core alone.
            pipe.sink.submit(e).await?;
        }
        Ok(())
    }

    /// Submits a message and hands its ack to the cursor keeper. System messages (joins, pins,
    /// "thread created", boosts, …) are not messages anyone wrote: they are skipped.
    async fn submit_message(&self, m: &DMessage, pipe: &Pipe<'_>) -> Result<(), SinkClosed> {
        if !matches!(m.kind, MessageType::Regular | MessageType::InlineReply) {
            return Ok(());
        }
        let place = self.place(m.channel_id, Some(m.id)).await;
        let bridge = self.is_bridge(m.author.id, m.webhook_id).await;
        let ack = pipe
            .sink
            .submit(inbound::message_event(m, &place, bridge))
            .await?;
        let _ = pipe.cursors.send((m.channel_id.get(), m.id.get(), ack));
        Ok(())
    }

    /// Submits every message in `channel` after its stored cursor, oldest first. Channels without
    /// a cursor (never seen) are not backfilled. Replays of messages the core already has are
    /// dropped there by their ids.
    async fn backfill(&self, channel: ChannelId, pipe: &Pipe<'_>) -> Result<(), SinkClosed> {
        let Some(mut after) = pipe
            .state
            .get(&cursor_key(channel.get()))
            .and_then(|v| v.parse::<u64>().ok())
        else {
            return Ok(());
        };
        for _ in 0..BACKFILL_PAGES {
            let req = Request::new(
                Route::ChannelMessages {
                    channel_id: channel,
                },
                LightMethod::Get,
            )
            .params(Some(vec![
                ("after", after.to_string()),
                ("limit", "100".to_owned()),
            ]));
            let mut page: Vec<DMessage> = match self.rest.json(req).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%channel, "cannot backfill Discord channel: {e}");
                    return Ok(());
                }
            };
            page.sort_by_key(|m| m.id);
            let full = page.len() >= 100;
            for m in &page {
                after = after.max(m.id.get());
                self.submit_message(m, pipe).await?;
            }
            if !full {
                break;
            }
        }
        Ok(())
    }
}

/// At most this many pages of 100 messages are backfilled per channel and session.
const BACKFILL_PAGES: usize = 50;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The `ConnectorState` key holding the id of the newest acknowledged message in a channel.
pub fn cursor_key(channel: u64) -> String {
    format!("discord.cursor.{channel}")
}

type CursorItem = (u64, u64, Ack);

/// Where one `run` submits events, and where message acks go to advance cursors.
struct Pipe<'a> {
    sink: &'a EventSink,
    cursors: tokio::sync::mpsc::UnboundedSender<CursorItem>,
    state: &'a Arc<dyn ConnectorState>,
}

/// Advances each channel's cursor once a message's ack resolves, in submission order, so a
/// cursor never passes a message the core has not made durable.
async fn keep_cursors(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<CursorItem>,
    state: Arc<dyn ConnectorState>,
) {
    let mut last: HashMap<u64, u64> = HashMap::new();
    while let Some((channel, id, ack)) = rx.recv().await {
        if ack.wait().await.is_err() {
            return;
        }
        let key = cursor_key(channel);
        let prev = match last.get(&channel) {
            Some(p) => Some(*p),
            None => state.get(&key).and_then(|v| v.parse::<u64>().ok()),
        };
        if prev.is_none_or(|p| id > p) {
            match state.put(&key, &id.to_string()).await {
                Ok(()) => {
                    last.insert(channel, id);
                }
                Err(e) => tracing::warn!(channel, "cannot store the Discord cursor: {e}"),
            }
        }
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
                make_http(&inner.cfg),
                inner.cfg.api_base.is_some(),
                tx,
                inner.stats.clone(),
            )
            .await;
            let outcome = match started {
                Err(e) => GwEnd::Failed(e.to_string()),
                Ok(mut gw) => loop {
                    tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => {
                            gw.stop().await;
                            return Ok(());
                        }
                        ev = rx.recv() => match ev {
                            Some(ev) => {
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
                }
                GwEnd::Failed(why) => {
                    tracing::warn!("Discord gateway failed ({why}); reconnecting in {backoff:?}");
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
        Platform::Discord
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            deletes: true,
            threads: true,
            replies: true,
            reactions: true,
            personas: self.inner.cfg.use_webhooks,
            max_text_len: MAX_TEXT_LEN,
            attachments: true,
            max_attachment_bytes: Some(MAX_ATTACHMENT_BYTES),
        }
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

    /// Downloads an attachment this connector reported. Discord's CDN links expire; when one
    /// has, the message is read again for a fresh link.
    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        self.inner.fetch(attachment).await.map_err(Into::into)
    }
}
