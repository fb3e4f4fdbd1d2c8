//! A local Discord: REST API v10 and the gateway, faithful to the official reference for
//! everything civicbridge's connector uses, with a control API for tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), civicbridge_testkit::discord::ServerError> {
//! use civicbridge_testkit::discord::DiscordServer;
//! let server = DiscordServer::start().await?;
//! let guild = server.create_guild("Council");
//! let general = server.create_channel(guild, "general");
//! let ada = server.create_user("ada", Some("Ada Lovelace"));
//! server.post_as_user(general, ada, "hello");
//! // point serenity at server.api_base() with the ratelimiter disabled …
//! # Ok(()) }
//! ```
//!
//! Codemap: [`state`] (the world), [`payloads`] (JSON shapes), `rest` (HTTP routes;
//! `rest/recorder.rs` keeps every answer for the shape test), `gateway` (websocket),
//! [`ratelimit`] (per-route buckets behind the `X-RateLimit-*` headers and, with
//! `enforce_rate_limits`, 429s), [`faults`] (injection), [`markdown`] (what a reader sees),
//! [`control`] (a small HTTP control API for the demo), `util` (snowflakes), `dms` (direct
//! messages: opening them, who refuses them, what the bot sent each person).

pub mod control;
mod dms;
pub mod faults;
mod gateway;
pub mod markdown;
pub mod payloads;
pub mod proxy;
pub mod ratelimit;
mod rest;
pub mod state;
pub mod util;
mod view;

pub use faults::{Fault, FaultRoute};
pub use gateway::Kill;
pub use rest::recorder::RecordedResponse;
pub use state::RecordedRequest;
pub use view::MessageView;

use state::{Author, State, GUILD_FORUM, GUILD_TEXT, PUBLIC_THREAD};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use view::view;

/// The fake could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot bind 127.0.0.1: {0}")]
    Bind(#[from] std::io::Error),
    #[error("the test TLS certificate is unusable: {0}")]
    Tls(String),
}

/// State shared by the HTTP routes, gateway connections and the control handle.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    /// Bumped after every change, so gateway connections flush new frames.
    events: watch::Sender<u64>,
    kill: watch::Sender<Kill>,
    /// While true, new gateway connections wait before HELLO (the network is "down").
    hold: watch::Sender<bool>,
    heartbeat_ms: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        self.events.send_modify(|n| *n += 1);
    }
}

/// Options for [`DiscordServer`].
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub token: String,
    /// HELLO's `heartbeat_interval` (Discord sends ~41 s; tests use less to test timeouts).
    pub heartbeat_ms: u64,
    /// The port on 127.0.0.1; 0 (the default, and what tests use) picks a free one.
    pub port: u16,
    /// Answer 429 when a route's bucket is exhausted, as Discord does. Off by default: the
    /// connector's tests talk to the fake with serenity's rate limiter off (serenity ignores a
    /// custom API base with it on), so they would test Discord's pacing instead of the bridge;
    /// the headers count down either way.
    pub enforce_rate_limits: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            token: "fake-bot-token".into(),
            heartbeat_ms: 41_250,
            port: 0,
            enforce_rate_limits: false,
        }
    }
}

/// A running fake Discord on 127.0.0.1. Dropping the handle stops it.
#[derive(Debug)]
pub struct DiscordServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for DiscordServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl DiscordServer {
    pub async fn start() -> Result<DiscordServer, ServerError> {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(opts: ServerOptions) -> Result<DiscordServer, ServerError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new({
                let mut st = State::new(opts.token, format!("http://{addr}"));
                st.enforce_rate_limits = opts.enforce_rate_limits;
                st
            }),
            events: watch::channel(0).0,
            kill: watch::channel(Kill::None).0,
            hold: watch::channel(false).0,
            heartbeat_ms: opts.heartbeat_ms,
        });
        let app = rest::router()
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                rest::recorder::record,
            ))
            .merge(control::router())
            .route("/gateway", axum::routing::get(gateway::upgrade))
            .with_state(shared.clone());
        let stop = CancellationToken::new();
        let graceful = stop.clone();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app)
                .with_graceful_shutdown(async move { graceful.cancelled().await });
            if let Err(e) = serve.await {
                tracing::warn!("fake discord stopped: {e}");
            }
        });
        Ok(DiscordServer { shared, addr, stop })
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.shared.lock());
        self.shared.notify();
        r
    }

    /// An HTTPS proxy that plays discord.com for this server (see [`proxy`]), for clients that
    /// cannot be given another API base (serenity with its rate limiter on).
    pub async fn start_proxy(&self) -> Result<proxy::DiscordProxy, ServerError> {
        proxy::DiscordProxy::start(self.addr).await
    }

    /// `http://127.0.0.1:PORT`: the base to give serenity (it appends `/api/v10/...`).
    pub fn api_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> String {
        self.shared.lock().token.clone()
    }

    pub fn bot_id(&self) -> u64 {
        self.shared.lock().bot_id
    }

    // ---- world ---------------------------------------------------------------------------------

    /// Creates a guild the bot is in (announced with GUILD_CREATE to live sessions).
    pub fn create_guild(&self, name: &str) -> u64 {
        self.with(|st| st.add_guild(name))
    }

    /// Sets a guild's boost level (0–3), which raises its upload limit as on Discord (level 2:
    /// 50 MiB, level 3: 100 MiB); live sessions get GUILD_UPDATE.
    pub fn set_premium_tier(&self, guild: u64, tier: u8) {
        self.with(|st| {
            let Some(g) = st.guilds.get_mut(&guild) else {
                return;
            };
            g.premium_tier = tier.min(3);
            let mut d = payloads::guild_create(st, guild);
            if let serde_json::Value::Object(o) = &mut d {
                for k in [
                    "joined_at",
                    "large",
                    "unavailable",
                    "member_count",
                    "voice_states",
                    "members",
                    "channels",
                    "threads",
                    "presences",
                    "stage_instances",
                    "guild_scheduled_events",
                    "soundboard_sounds",
                ] {
                    o.remove(k);
                }
            }
            st.dispatch_if(state::INTENT_GUILDS, "GUILD_UPDATE", d);
        });
    }

    /// A custom emoji of `guild` (reactions name it `name:id`); returns its id.
    pub fn create_emoji(&self, guild: u64, name: &str) -> u64 {
        self.with(|st| {
            let id = st.next_id();
            st.emojis.insert(id, (guild, name.to_owned()));
            id
        })
    }

    pub fn create_channel(&self, guild: u64, name: &str) -> u64 {
        self.with(|st| st.add_channel(guild, name, GUILD_TEXT, None, None))
    }

    pub fn create_forum(&self, guild: u64, name: &str) -> u64 {
        self.with(|st| st.add_channel(guild, name, GUILD_FORUM, None, None))
    }

    /// A person. `global_name` is the display name Discord shows over the username.
    pub fn create_user(&self, username: &str, global_name: Option<&str>) -> u64 {
        self.with(|st| st.add_user(username, global_name, None))
    }

    pub fn set_avatar(&self, user: u64, hash: &str) {
        self.with(|st| {
            if let Some(u) = st.users.get_mut(&user) {
                u.avatar = Some(hash.into());
            }
        });
    }

    pub fn set_nick(&self, guild: u64, user: u64, nick: &str) {
        self.with(|st| {
            if let Some(g) = st.guilds.get_mut(&guild) {
                g.nicks.insert(user, nick.into());
            }
        });
    }

    /// Whether the bot holds MANAGE_MESSAGES (default true). Without it, removing someone else's
    /// reaction gets 403 / 50013 "Missing Permissions".
    pub fn set_can_manage_messages(&self, can: bool) {
        self.with(|st| st.can_manage_messages = can);
    }

    /// Whether the bot holds MANAGE_WEBHOOKS (default true). Without it webhook calls get 403.
    pub fn set_can_manage_webhooks(&self, can: bool) {
        self.with(|st| st.can_manage_webhooks = can);
    }

    /// The privileged intents the application was granted in the Developer Portal (bits of
    /// GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT; all by default). IDENTIFY asking for
    /// one it lacks is closed with 4014 "Disallowed intent(s).", as on Discord.
    pub fn set_privileged_intents(&self, granted: u64) {
        self.with(|st| st.privileged_intents = granted & state::PRIVILEGED_INTENTS);
    }

    /// Takes away (`false`: gives back) the bot's VIEW_CHANNEL in `channel` and its threads:
    /// its calls about them then answer 403 / 50001 "Missing Access", and their messages are no
    /// longer dispatched to it.
    pub fn set_bot_can_see(&self, channel: u64, can: bool) {
        self.with(|st| {
            if can {
                st.hidden.remove(&channel);
            } else {
                st.hidden.insert(channel);
            }
        });
    }

    /// A webhook some person made (a partner's integration), with its execute URL.
    pub fn create_foreign_webhook(&self, channel: u64, name: &str, creator: u64) -> (u64, String) {
        self.with(|st| {
            let guild = st.channels.get(&channel).map_or(0, |c| c.guild_id);
            let id = st.add_webhook(channel, guild, name, creator);
            let token = st
                .webhooks
                .get(&id)
                .map(|w| w.token.clone())
                .unwrap_or_default();
            (id, format!("{}/api/webhooks/{id}/{token}", st.base_url))
        })
    }

    // ---- acting as people ----------------------------------------------------------------------

    pub fn post_as_user(&self, channel: u64, user: u64, text: &str) -> u64 {
        self.with(|st| {
            st.add_message(
                channel,
                Author::User(user),
                text,
                None,
                Vec::new(),
                None,
                None,
            )
        })
    }

    pub fn reply_as_user(&self, channel: u64, user: u64, reply_to: u64, text: &str) -> u64 {
        self.with(|st| {
            st.add_message(
                channel,
                Author::User(user),
                text,
                Some(reply_to),
                Vec::new(),
                None,
                None,
            )
        })
    }

    pub fn upload_as_user(
        &self,
        channel: u64,
        user: u64,
        text: &str,
        filename: &str,
        mime: &str,
        data: &[u8],
    ) -> u64 {
        self.with(|st| {
            let files = vec![(filename.to_owned(), Some(mime.to_owned()), data.to_vec())];
            st.add_message(channel, Author::User(user), text, None, files, None, None)
        })
    }

    /// A system message of Discord type `kind` "by" `user` (7: member joined, 6: pin notice,
    /// 18: thread created), with empty content as Discord sends them.
    pub fn post_system(&self, channel: u64, user: u64, kind: u8) -> u64 {
        self.with(|st| {
            st.next_kind = Some(kind);
            st.add_message(
                channel,
                Author::User(user),
                "",
                None,
                Vec::new(),
                None,
                None,
            )
        })
    }

    /// Posts as a webhook (e.g. one from [`Self::create_foreign_webhook`]).
    pub fn post_as_webhook(&self, channel: u64, webhook: u64, username: &str, text: &str) -> u64 {
        self.with(|st| {
            let author = Author::Webhook {
                webhook_id: webhook,
                username: username.into(),
                avatar_url: None,
            };
            st.add_message(channel, author, text, None, Vec::new(), None, None)
        })
    }

    /// Edits any message (as its author would). Returns false if it does not exist.
    pub fn edit_as_user(&self, message: u64, text: &str) -> bool {
        self.with(|st| st.edit_message(message, text, None))
    }

    pub fn delete_as_user(&self, message: u64) -> bool {
        self.with(|st| st.delete_message(message))
    }

    /// `user` reacts with `emoji` (Unicode, or `name:id` of a custom emoji), announced with
    /// MESSAGE_REACTION_ADD; again with the same emoji changes nothing, as on Discord.
    pub fn react_as_user(&self, message: u64, user: u64, emoji: &str) {
        self.with(|st| st.add_reaction(message, emoji, user));
    }

    /// `user` takes back their reaction `emoji`, announced with MESSAGE_REACTION_REMOVE (nothing
    /// when they had none). Returns whether there was one.
    pub fn unreact_as_user(&self, message: u64, user: u64, emoji: &str) -> bool {
        self.with(|st| st.remove_reaction(message, emoji, user))
    }

    /// Who reacted to `message` with what, in the order the reactions were made: (emoji, user).
    pub fn reactions(&self, message: u64) -> Vec<(String, u64)> {
        let st = self.shared.lock();
        st.messages
            .get(&message)
            .map(|m| m.reactions.clone())
            .unwrap_or_default()
    }

    /// Starts a thread from `root` (thread id = root id), as a person would.
    pub fn start_thread_as_user(&self, channel: u64, root: u64, user: u64, name: &str) -> u64 {
        self.with(|st| {
            let guild = st.channels.get(&channel).map_or(0, |c| c.guild_id);
            st.insert_channel(root, guild, name, PUBLIC_THREAD, Some(channel), Some(user));
            root
        })
    }

    /// Opens a forum post: a thread in `forum` whose starter message has the thread's id.
    pub fn forum_post_as_user(&self, forum: u64, user: u64, title: &str, text: &str) -> u64 {
        self.with(|st| {
            let guild = st.channels.get(&forum).map_or(0, |c| c.guild_id);
            let tid = st.next_id();
            st.insert_channel(tid, guild, title, PUBLIC_THREAD, Some(forum), Some(user));
            st.add_message(
                tid,
                Author::User(user),
                text,
                None,
                Vec::new(),
                None,
                Some(tid),
            );
            tid
        })
    }

    // ---- reading what happened -----------------------------------------------------------------

    pub fn message(&self, id: u64) -> Option<MessageView> {
        let st = self.shared.lock();
        view(&st, id)
    }

    /// Every message in `channel` (a channel or a thread), oldest first, including deleted ones.
    pub fn messages_in(&self, channel: u64) -> Vec<MessageView> {
        let st = self.shared.lock();
        let ids: Vec<u64> = st
            .messages
            .values()
            .filter(|m| m.channel_id == channel)
            .map(|m| m.id)
            .collect();
        ids.into_iter().filter_map(|id| view(&st, id)).collect()
    }

    /// Live messages the bot user posted in `channel`.
    pub fn bot_messages(&self, channel: u64) -> Vec<MessageView> {
        let bot = self.bot_id();
        self.messages_in(channel)
            .into_iter()
            .filter(|m| !m.deleted && m.webhook_id.is_none() && m.author_id == bot)
            .collect()
    }

    /// Live messages any webhook posted in `channel`.
    pub fn webhook_messages(&self, channel: u64) -> Vec<MessageView> {
        self.messages_in(channel)
            .into_iter()
            .filter(|m| !m.deleted && m.webhook_id.is_some())
            .collect()
    }

    /// Makes every attachment URL handed out so far expire (Discord's CDN links are signed for
    /// about a day); fetching the message again gives fresh ones.
    pub fn expire_attachment_urls(&self) {
        self.with(|st| st.cdn_generation += 1);
    }

    /// Deletes a webhook (as a server admin would).
    pub fn delete_webhook(&self, id: u64) {
        self.with(|st| st.webhooks.remove(&id));
    }

    /// Webhooks in `channel`: (id, name, creator).
    pub fn webhooks_in(&self, channel: u64) -> Vec<(u64, String, u64)> {
        let st = self.shared.lock();
        st.webhooks
            .values()
            .filter(|w| w.channel_id == channel)
            .map(|w| (w.id, w.name.clone(), w.creator))
            .collect()
    }

    /// The parent channel of a thread, if `id` is one.
    pub fn thread_parent(&self, id: u64) -> Option<u64> {
        let st = self.shared.lock();
        st.channels
            .get(&id)
            .filter(|c| c.kind == PUBLIC_THREAD)
            .and_then(|c| c.parent_id)
    }

    /// Every REST call so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every REST answer so far (API routes, not file downloads), in order: what the REST
    /// shape test checks against the official typings.
    pub fn responses(&self) -> Vec<RecordedResponse> {
        self.shared.lock().responses.clone()
    }

    /// Gateway counters: (connections, identifies, resumes, heartbeats).
    pub fn gateway_counts(&self) -> (u32, u32, u32, u32) {
        let st = self.shared.lock();
        (st.connections, st.identifies, st.resumes, st.heartbeats)
    }

    /// Gateway connections open now.
    pub fn live_connections(&self) -> u32 {
        self.shared.lock().live_connections
    }

    /// How many dispatches were replayed to clients that resumed.
    pub fn replayed(&self) -> u32 {
        self.shared.lock().replayed
    }

    /// The intents of the most recent IDENTIFY.
    pub fn last_intents(&self) -> Option<u64> {
        let st = self.shared.lock();
        st.sessions
            .values()
            .filter(|s| !s.invalid)
            .max_by_key(|s| {
                s.id.trim_start_matches("session-")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .map(|s| s.intents)
    }

    /// Every dispatch frame (`{"op": 0, "t": …, "s": …, "d": …}`) queued on every session, in
    /// order per session: what the shape test checks against the official typings.
    pub fn dispatch_frames(&self) -> Vec<serde_json::Value> {
        let st = self.shared.lock();
        st.sessions
            .values()
            .flat_map(|s| s.log.iter())
            .filter_map(|f| serde_json::from_str(f).ok())
            .collect()
    }

    /// Event names (`t`) of every dispatch queued on every session, in order per session.
    pub fn dispatched(&self) -> Vec<String> {
        let st = self.shared.lock();
        let mut sessions: Vec<_> = st.sessions.values().collect();
        sessions.sort_by_key(|s| {
            s.id.trim_start_matches("session-")
                .parse::<u64>()
                .unwrap_or(0)
        });
        sessions
            .iter()
            .flat_map(|s| s.log.iter())
            .filter_map(|f| {
                serde_json::from_str::<serde_json::Value>(f)
                    .ok()
                    .and_then(|v| v.get("t").and_then(|t| t.as_str()).map(str::to_owned))
            })
            .collect()
    }

    // ---- faults --------------------------------------------------------------------------------

    /// The next call to `route` answers with `fault` instead of doing its work.
    pub fn fail_next(&self, route: FaultRoute, fault: Fault) {
        self.fail_after(route, 0, fault);
    }

    /// Lets `skip` calls to `route` through, then answers the next one with `fault`.
    pub fn fail_after(&self, route: FaultRoute, skip: u32, fault: Fault) {
        self.with(|st| st.faults.push((route, skip, fault)));
    }

    /// Drops every gateway connection without a close frame; sessions stay resumable.
    pub fn drop_gateway(&self) {
        self.shared.kill.send_replace(Kill::Drop);
    }

    /// While `held`, new gateway connections are accepted but get no HELLO: with
    /// [`Self::drop_gateway`] this makes an outage of known extent.
    pub fn hold_gateway(&self, held: bool) {
        self.shared.hold.send_replace(held);
    }

    /// Closes every gateway connection with `code`.
    pub fn close_gateway(&self, code: u16) {
        self.shared.kill.send_replace(Kill::Close(code));
    }

    /// Invalidates every session and tells connected clients (op 9, `d: false`).
    pub fn invalid_session(&self) {
        self.with(|st| {
            for s in st.sessions.values_mut() {
                s.invalid = true;
            }
        });
        self.shared.kill.send_replace(Kill::InvalidSession);
    }
}
