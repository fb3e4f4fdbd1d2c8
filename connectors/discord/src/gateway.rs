//! The serenity client: gateway connection, heartbeats, resume and reconnect (all serenity's), and
//! an event handler that only forwards what arrives, in order, to the connector.
//!
//! Ordering: serenity spawns one task per event handler call. On a multi-threaded runtime two
//! dispatches of a burst can then run in either order (tokio's LIFO slot makes the later one run
//! first). The client therefore runs on its own current-thread runtime, where spawned tasks first
//! run in spawn order, and each handler sends to an unbounded channel before its first `.await`:
//! the channel sees events in gateway order.

use crate::error::DiscordError;
use serenity::all::{
    ChannelId, Context, EventHandler, GatewayIntents, Guild, GuildChannel, GuildId, Message,
    MessageId, MessageUpdateEvent, PartialGuild, Reaction, Ready, ResumedEvent,
};
use serenity::async_trait;
use serenity::gateway::{ConnectionStage, GatewayError, ShardManager};
use serenity::http::Http;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// The intents the bridge needs: guilds (channels, threads), guild messages, their content, and
/// reactions (moderator decisions).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_MESSAGE_REACTIONS
}

/// One dispatch, as serenity parsed it.
#[derive(Debug)]
pub enum Gw {
    Ready(Box<Ready>),
    Resumed,
    Guild(Box<Guild>),
    /// A server's boost level changed (GUILD_UPDATE).
    GuildTier {
        guild: u64,
        tier: u8,
    },
    Channel(Box<GuildChannel>),
    Message(Box<Message>),
    Update(Box<MessageUpdateEvent>),
    Delete {
        channel: ChannelId,
        message: MessageId,
    },
    Reaction(Box<Reaction>),
    ReactionRemoved(Box<Reaction>),
}

/// How often each handler fired, by Discord event name: tests compare this with what the server
/// dispatched, because serenity silently drops a dispatch it cannot parse.
#[derive(Debug, Default)]
pub struct HandlerStats(Mutex<BTreeMap<&'static str, u64>>);

impl HandlerStats {
    fn bump(&self, name: &'static str) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }
}

struct Handler {
    tx: mpsc::UnboundedSender<Gw>,
    stats: Arc<HandlerStats>,
}

impl Handler {
    fn fire(&self, name: &'static str, gw: Gw) {
        self.stats.bump(name);
        // The receiver lives as long as the connector's run loop; after that nothing listens.
        let _ = self.tx.send(gw);
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        self.fire("READY", Gw::Ready(Box::new(ready)));
    }
    async fn resume(&self, _: Context, _: ResumedEvent) {
        self.fire("RESUMED", Gw::Resumed);
    }
    async fn guild_create(&self, _: Context, guild: Guild, _: Option<bool>) {
        self.fire("GUILD_CREATE", Gw::Guild(Box::new(guild)));
    }
    async fn guild_update(&self, _: Context, _: Option<Guild>, new: PartialGuild) {
        let tier = u8::from(new.premium_tier);
        self.fire(
            "GUILD_UPDATE",
            Gw::GuildTier {
                guild: new.id.get(),
                tier,
            },
        );
    }
    async fn channel_create(&self, _: Context, channel: GuildChannel) {
        self.fire("CHANNEL_CREATE", Gw::Channel(Box::new(channel)));
    }
    async fn thread_create(&self, _: Context, thread: GuildChannel) {
        self.fire("THREAD_CREATE", Gw::Channel(Box::new(thread)));
    }
    async fn message(&self, _: Context, msg: Message) {
        self.fire("MESSAGE_CREATE", Gw::Message(Box::new(msg)));
    }
    async fn message_update(
        &self,
        _: Context,
        _: Option<Message>,
        _: Option<Message>,
        event: MessageUpdateEvent,
    ) {
        self.fire("MESSAGE_UPDATE", Gw::Update(Box::new(event)));
    }
    async fn message_delete(
        &self,
        _: Context,
        channel: ChannelId,
        message: MessageId,
        _: Option<GuildId>,
    ) {
        self.fire("MESSAGE_DELETE", Gw::Delete { channel, message });
    }
    async fn reaction_add(&self, _: Context, reaction: Reaction) {
        self.fire("MESSAGE_REACTION_ADD", Gw::Reaction(Box::new(reaction)));
    }
    async fn reaction_remove(&self, _: Context, reaction: Reaction) {
        self.fire(
            "MESSAGE_REACTION_REMOVE",
            Gw::ReactionRemoved(Box::new(reaction)),
        );
    }
    // A moderator clearing all reactions, or one emoji's, names nobody whose reaction went:
    // counted (so tests see the dispatch was read) but not forwarded (see
    // `inbound::reaction_event`).
    async fn reaction_remove_all(&self, _: Context, _: ChannelId, _: MessageId) {
        self.stats.bump("MESSAGE_REACTION_REMOVE_ALL");
    }
    async fn reaction_remove_emoji(&self, _: Context, _: Reaction) {
        self.stats.bump("MESSAGE_REACTION_REMOVE_EMOJI");
    }
}

/// Why the client stopped.
#[derive(Debug)]
pub enum GwEnd {
    /// Shut down on request.
    Stopped,
    /// The token was refused (close code 4004): retrying cannot help.
    Auth(String),
    Failed(String),
}

/// A running serenity client on its own thread.
#[derive(Debug)]
pub struct Gateway {
    manager: Arc<ShardManager>,
    pub done: oneshot::Receiver<GwEnd>,
}

impl Gateway {
    /// Builds the client (it fetches `GET /gateway` for the websocket URL) and starts it.
    /// With `local`, a client whose `GET /gateway` failed is not started: serenity would fall
    /// back to the real `wss://gateway.discord.gg`, with a token meant for a local Discord.
    pub async fn start(
        http: Http,
        local: bool,
        tx: mpsc::UnboundedSender<Gw>,
        stats: Arc<HandlerStats>,
    ) -> Result<Gateway, DiscordError> {
        let (mgr_tx, mgr_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("discord-gateway".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = mgr_tx.send(Err(DiscordError::Gateway(e.to_string())));
                        return;
                    }
                };
                rt.block_on(async move {
                    let built = serenity::all::ClientBuilder::new_with_http(http, intents())
                        .event_handler(Handler { tx, stats })
                        .await;
                    let mut client = match built {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = mgr_tx.send(Err(DiscordError::Gateway(e.to_string())));
                            return;
                        }
                    };
                    let url = client.ws_url.lock().await.clone();
                    if local && url.contains("gateway.discord.gg") {
                        let _ = mgr_tx.send(Err(DiscordError::Gateway(
                            "GET /gateway failed on the local Discord; not falling back to discord.gg"
                                .into(),
                        )));
                        return;
                    }
                    let _ = mgr_tx.send(Ok(client.shard_manager.clone()));
                    let end = match client.start().await {
                        Ok(()) => GwEnd::Stopped,
                        Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication)) => {
                            GwEnd::Auth("Discord refused the bot token".into())
                        }
                        // 4014: retrying cannot help until an admin enables the intent.
                        Err(serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents)) => {
                            GwEnd::Auth(
                                "Discord refused the gateway intents (4014): enable Message \
                                 Content Intent for the application (Developer Portal, Bot, \
                                 Privileged Gateway Intents)"
                                    .into(),
                            )
                        }
                        Err(serenity::Error::Gateway(GatewayError::InvalidGatewayIntents)) => {
                            GwEnd::Auth("Discord refused the gateway intents as invalid (4013)".into())
                        }
                        Err(e) => GwEnd::Failed(e.to_string()),
                    };
                    let _ = done_tx.send(end);
                });
            })
            .map_err(|e| DiscordError::Gateway(e.to_string()))?;
        let manager = mgr_rx
            .await
            .map_err(|_| DiscordError::Gateway("gateway thread ended early".into()))??;
        Ok(Gateway { manager, done })
    }

    /// The shard's connection stage as serenity's manager records it (`None` while its runner
    /// is being restarted).
    pub async fn stage(&self) -> Option<ConnectionStage> {
        self.manager
            .runners
            .lock()
            .await
            .values()
            .next()
            .map(|r| r.stage)
    }

    /// Closes the connection and waits for the client to stop.
    pub async fn stop(self) {
        self.manager.shutdown_all().await;
        let _ = self.done.await;
    }
}

/// How often the connection stage is read: an outage is reported within this.
const LIVENESS_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether the gateway connection is up, read from serenity's shard manager: a connection that
/// was up and no longer is (dropped, being resumed, its runner restarting) is reported down
/// through the sink, and up again once connected. A first connection is not an outage.
#[derive(Debug)]
pub struct Liveness {
    every: tokio::time::Interval,
    was_connected: bool,
    reported_down: bool,
}

impl Liveness {
    pub fn new() -> Self {
        let mut every = tokio::time::interval(LIVENESS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Liveness {
            every,
            was_connected: false,
            reported_down: false,
        }
    }

    pub async fn tick(&mut self) {
        self.every.tick().await;
    }

    pub async fn check(&mut self, gw: &Gateway, sink: &civicbridge_api::EventSink) {
        let stage = gw.stage().await;
        if stage == Some(ConnectionStage::Connected) {
            if self.reported_down {
                sink.up();
                self.reported_down = false;
            }
            self.was_connected = true;
        } else if self.was_connected && !self.reported_down {
            let stage = stage.map_or_else(|| "restarting".to_owned(), |s| format!("{s:?}"));
            sink.down(format!(
                "the gateway connection dropped ({})",
                stage.to_lowercase()
            ));
            self.reported_down = true;
        }
    }
}
