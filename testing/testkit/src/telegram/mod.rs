//! A local Telegram Bot API server, faithful to the official reference for everything the
//! connector uses, for tests and `civicbridge demo`.
//!
//! What it serves on `127.0.0.1:<port 0>`:
//! - `/bot<token>/<method>` (method names case-insensitive; JSON, form and multipart bodies, and
//!   query strings), answering `{"ok":true,"result":…}` with complete `Message`/`User`/`Chat`
//!   objects (dates in seconds), or `{"ok":false,"error_code":…,"description":…}` with the same
//!   HTTP status and Telegram's wording.
//! - Methods: `getMe`, `getUpdates` (real long polling, `offset` confirmation, `limit`,
//!   `timeout`, 409 when superseded or while a webhook is set), `sendMessage`, `editMessageText`,
//!   `editMessageCaption`, `deleteMessage`, `sendPhoto`, `sendDocument`, `getFile`, `getChat`,
//!   `createForumTopic`, `sendChatAction`, `setMessageReaction`, `setWebhook`, `deleteWebhook`,
//!   `getWebhookInfo`.
//!   `parse_mode` HTML and MarkdownV2 are parsed into entities and fail like Telegram on
//!   malformed input.
//! - Texts as Telegram stores them (`entities.rs`): explicit entity lists are checked, the text
//!   is trimmed, and links, e-mail addresses, mentions, hashtags, cashtags and commands are
//!   detected in every message, the bot's and residents'.
//! - Photos as Telegram stores them (`photo.rs`): bytes that are no image are refused with
//!   `IMAGE_PROCESS_FAILED`, and a photo has one size per thumbnail box. [`png`] makes test
//!   images.
//! - Reactions (`reactions.rs`, `methods/reactions.rs`): `setMessageReaction` checked as
//!   Telegram checks a bot's (one emoji of the fixed set; no paid reaction; a custom emoji only
//!   where already on the message), replacing the bot's reaction; residents' reactions
//!   ([`TelegramServer::react`], replace semantics) become `message_reaction` updates and
//!   anonymous ones ([`TelegramServer::set_anonymous_reactions`]) `message_reaction_count`
//!   updates with totals that include the bot's. Both only reach a bot that administers the
//!   chat (it does in every chat unless [`TelegramServer::set_bot_admin`] says otherwise) and
//!   asked for them; the bot's own reactions never come back as updates.
//! - `allowed_updates` as Telegram keeps it: the last list given to `getUpdates` or
//!   `setWebhook` that names a type, by default everything but `chat_member`,
//!   `message_reaction` and `message_reaction_count`; an update of a type not asked for is
//!   dropped when it happens, never delivered later.
//! - `/file/bot<token>/<file_path>` downloads (20 MB limit, as for bots).
//! - Private chats (`private.rs`): a resident starts the bot ([`TelegramServer::start_bot`]:
//!   `/start` arrives as a `message` update in a `private` chat with the resident's id) or
//!   blocks it ([`TelegramServer::block_bot`]); the bot's sends to a user who never started it
//!   or blocked it are refused with the Bot API's 403s; [`TelegramServer::private_messages`]
//!   reads what it sent them.
//! - A control API: Rust methods on [`TelegramServer`], and `POST /control/post`,
//!   `GET /control/messages`, `POST /control/react`, `GET /control/reactions`,
//!   `POST /control/start`, `POST /control/block`, `GET /control/private` over HTTP (see
//!   `control.rs` and `private.rs`).
//!
//! - Webhooks: after `setWebhook`, updates are POSTed to the URL in order with the
//!   `X-Telegram-Bot-Api-Secret-Token` header, retried until answered 2xx (see `webhook.rs`).
//!
//! Like Telegram, it never delivers the bot's own messages back to it as updates, and it never
//! reports deletions. Not modelled: albums, inline mode, payments, channels.

mod control;
mod entities;
mod error;
mod faults;
mod images;
mod markup;
mod methods;
mod params;
mod photo;
mod private;
mod reactions;
mod server;
mod webhook;
mod world;

pub use control::{ControlError, FileKind, Post, ResidentFile};
pub use error::ApiError;
pub use faults::Fault;
pub use images::png;
pub use markup::{parse_html, parse_markdown_v2};
pub use world::{Media, User};

use serde_json::Value;
use server::Shared;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The default token: the shape Telegram issues (`<bot id>:<35 characters>`).
pub const DEFAULT_TOKEN: &str = "5000000001:AAHfakeTokenForTheLocalBotApiServer0";

/// A message as the server shows it now, for assertions.
#[derive(Debug, Clone, PartialEq)]
pub struct ShownMessage {
    pub id: i32,
    pub chat: i64,
    pub from: i64,
    /// Text, or caption for a photo or document.
    pub text: String,
    pub entities: Vec<Value>,
    pub thread: Option<i32>,
    pub reply_to: Option<i32>,
    pub media: Option<Media>,
    /// Bytes of the attached file, if any.
    pub file: Option<Vec<u8>>,
    pub deleted: bool,
    /// Earlier texts, oldest first.
    pub history: Vec<String>,
    /// When the server stored it, on tokio's clock.
    pub at: tokio::time::Instant,
}

/// A running server. Dropping it stops it.
#[derive(Debug)]
pub struct TelegramServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for TelegramServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TelegramServer {
    /// Starts a server with the bot `@civicbridge_test_bot` and [`DEFAULT_TOKEN`].
    pub async fn start() -> TelegramServer {
        Self::start_with_token(DEFAULT_TOKEN).await
    }

    /// # Panics
    /// If 127.0.0.1 cannot be bound (a broken test machine).
    pub async fn start_with_token(token: &str) -> TelegramServer {
        #[allow(clippy::expect_used)]
        Self::bind("127.0.0.1:0", token)
            .await
            .expect("bind 127.0.0.1:0")
    }

    /// Starts a server on a chosen address (`civicbridge demo` uses a fixed port so people can
    /// point tools at it).
    pub async fn bind(addr: &str, token: &str) -> std::io::Result<TelegramServer> {
        let bot_id = token
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(5_000_000_001);
        let bot = User {
            id: bot_id,
            is_bot: true,
            first_name: "Civic Bridge".into(),
            last_name: None,
            username: Some("civicbridge_test_bot".into()),
        };
        let shared = Arc::new(Shared::new(token.to_owned(), world::World::new(bot)));
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let accepted = shared.connections.clone();
        let listener = axum::serve::ListenerExt::tap_io(listener, move |_| {
            accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let stop = CancellationToken::new();
        let app = server::router(shared.clone());
        tokio::spawn(webhook::deliver(shared.clone(), stop.clone()));
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        });
        Ok(TelegramServer { shared, addr, stop })
    }

    /// `http://127.0.0.1:<port>`: what `Bot::set_api_url` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The bot account.
    pub fn bot(&self) -> User {
        self.shared.world().bot.clone()
    }

    /// Creates a supergroup the bot is in; returns its chat id (`-100…`).
    pub fn create_group(&self, title: &str) -> i64 {
        self.shared.world().add_chat(title, false)
    }

    /// Creates a forum supergroup (topics enabled) the bot administers.
    pub fn create_forum(&self, title: &str) -> i64 {
        self.shared.world().add_chat(title, true)
    }

    /// A resident opens a topic; returns its `message_thread_id`.
    pub fn create_topic(&self, chat: i64, name: &str) -> Result<i32, ControlError> {
        let mut w = self.shared.world();
        if !w.chats.get(&chat).is_some_and(|c| c.is_forum) {
            return Err(ControlError::NoChat(chat));
        }
        let founder = w.user(1, "Forum Founder").id;
        let (id, json) =
            methods::create_topic(&mut w, chat, founder, name).ok_or(ControlError::NoChat(chat))?;
        w.push_update("message", json);
        drop(w);
        self.shared.notify();
        Ok(id)
    }

    fn act<T>(&self, f: impl FnOnce(&mut world::World) -> T) -> T {
        let r = f(&mut self.shared.world());
        self.shared.notify();
        r
    }

    /// A resident (`user` id and first name) posts anything a [`Post`] describes.
    pub fn post(&self, chat: i64, user: (i64, &str), post: Post) -> Result<i32, ControlError> {
        self.act(|w| control::resident_post(w, chat, user, post))
    }

    /// A resident posts plain text.
    pub fn post_as_user(
        &self,
        chat: i64,
        user: (i64, &str),
        text: &str,
    ) -> Result<i32, ControlError> {
        self.post(chat, user, Post::text(text))
    }

    /// A resident posts in a forum topic.
    pub fn post_in_topic(
        &self,
        chat: i64,
        topic: i32,
        user: (i64, &str),
        text: &str,
    ) -> Result<i32, ControlError> {
        self.post(chat, user, Post::text(text).in_topic(topic))
    }

    /// A resident replies to a message.
    pub fn reply(
        &self,
        chat: i64,
        user: (i64, &str),
        to: i32,
        text: &str,
    ) -> Result<i32, ControlError> {
        self.post(chat, user, Post::text(text).reply_to(to))
    }

    /// A resident edits their message (an `edited_message` update).
    pub fn edit(&self, chat: i64, id: i32, text: &str) -> Result<(), ControlError> {
        self.act(|w| control::resident_edit(w, chat, id, text))
    }

    /// A resident posts a photo with a caption.
    pub fn send_photo(
        &self,
        chat: i64,
        user: (i64, &str),
        data: Vec<u8>,
        caption: &str,
    ) -> Result<i32, ControlError> {
        let file = ResidentFile {
            kind: FileKind::Photo,
            name: None,
            mime: Some("image/jpeg".into()),
            data,
        };
        self.post(chat, user, Post::text(caption).file(file))
    }

    /// A resident joins (a `new_chat_members` service message).
    pub fn join(&self, chat: i64, user: (i64, &str)) -> Result<i32, ControlError> {
        self.act(|w| control::resident_joins(w, chat, user))
    }

    /// Removes the bot from a chat: every later call for it answers 403.
    pub fn kick_bot(&self, chat: i64) {
        self.act(|w| {
            if let Some(c) = w.chats.get_mut(&chat) {
                c.bot_kicked = true;
            }
        })
    }

    /// Takes away the bot's right to manage topics: `createForumTopic` then fails.
    pub fn deny_topic_rights(&self, chat: i64) {
        self.act(|w| {
            if let Some(c) = w.chats.get_mut(&chat) {
                c.bot_can_manage_topics = false;
            }
        })
    }

    /// Makes the bot an administrator of `chat` or not (it is one in every chat to begin with).
    /// Only administrators get `message_reaction` and `message_reaction_count` updates.
    pub fn set_bot_admin(&self, chat: i64, admin: bool) {
        self.act(|w| {
            if let Some(c) = w.chats.get_mut(&chat) {
                c.bot_is_admin = admin;
            }
        })
    }

    /// A resident sets their reactions on a message to `emoji` (replacing theirs, as the apps
    /// do; empty removes them): a `message_reaction` update when something changed.
    pub fn react(
        &self,
        chat: i64,
        user: (i64, &str),
        id: i32,
        emoji: &[&str],
    ) -> Result<(), ControlError> {
        let types = reactions::emoji_types(emoji)?;
        self.react_types(chat, user, id, types)
    }

    /// [`Self::react`] with any `ReactionType` objects (custom emoji, paid), unchecked.
    pub fn react_types(
        &self,
        chat: i64,
        user: (i64, &str),
        id: i32,
        types: Vec<Value>,
    ) -> Result<(), ControlError> {
        let who = reactions::Reactor::User(user.0, user.1);
        self.act(|w| reactions::set_reactions(w, chat, id, who, types))
    }

    /// An anonymous admin reacts on behalf of the chat (the update names it as `actor_chat`).
    pub fn react_as_anonymous_admin(
        &self,
        chat: i64,
        id: i32,
        emoji: &[&str],
    ) -> Result<(), ControlError> {
        let types = reactions::emoji_types(emoji)?;
        let who = reactions::Reactor::AnonymousAdmin;
        self.act(|w| reactions::set_reactions(w, chat, id, who, types))
    }

    /// The anonymous reactions on a message are now `counts` (emoji, how many): a
    /// `message_reaction_count` update with the totals, the bot's own reaction included.
    pub fn set_anonymous_reactions(
        &self,
        chat: i64,
        id: i32,
        counts: &[(&str, u64)],
    ) -> Result<(), ControlError> {
        let emoji: Vec<&str> = counts.iter().map(|(e, _)| *e).collect();
        let types = reactions::emoji_types(&emoji)?;
        let counts = types
            .into_iter()
            .zip(counts.iter().map(|(_, n)| *n))
            .collect();
        self.act(|w| reactions::set_anonymous(w, chat, id, counts))
    }

    /// Each reactor's reactions on a message (`ReactionType` objects), keyed by user id (the
    /// bot's id for the bot, the chat's for an anonymous admin).
    pub fn reactions(&self, chat: i64, id: i32) -> BTreeMap<i64, Vec<Value>> {
        self.shared
            .world()
            .reactions
            .get(&(chat, id))
            .cloned()
            .unwrap_or_default()
    }

    /// The bot's own reactions on a message: each emoji, or `custom:<id>` for a custom emoji.
    pub fn bot_reactions(&self, chat: i64, id: i32) -> Vec<String> {
        let bot = self.bot().id;
        self.reactions(chat, id)
            .get(&bot)
            .into_iter()
            .flatten()
            .map(
                |t| match (t["emoji"].as_str(), t["custom_emoji_id"].as_str()) {
                    (Some(e), _) => e.to_owned(),
                    (None, Some(c)) => format!("custom:{c}"),
                    (None, None) => t.to_string(),
                },
            )
            .collect()
    }

    /// Queues an update of `kind` with any body at all, as Telegram never would (hostile-input
    /// tests). It still goes only to a bot that asked for `kind`.
    pub fn inject_update(&self, kind: &str, body: Value) {
        self.act(|w| w.push_update(kind, body))
    }

    /// The update types the bot asked for with `allowed_updates` (`None`: the default).
    pub fn allowed_updates(&self) -> Option<Vec<String>> {
        let w = self.shared.world();
        w.allowed_updates
            .as_ref()
            .map(|k| k.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Makes a message look `secs` seconds older (bots cannot delete their posts after 48 h).
    pub fn age_message(&self, chat: i64, id: i32, secs: i64) {
        self.act(|w| {
            if let Some(m) = w.messages.get_mut(&(chat, id)) {
                m.date -= secs;
            }
        })
    }

    /// Turns on flood control: a bot post sooner than `interval` after the previous one in the
    /// same chat is answered with 429 and `retry_after`.
    pub fn set_flood_interval(&self, interval: Option<Duration>) {
        self.act(|w| w.flood_interval = interval)
    }

    /// Turns on Telegram's per-group limit: more than `per_minute` bot posts in one group within
    /// a rolling minute are answered with 429 and `retry_after`.
    pub fn set_group_flood_limit(&self, per_minute: Option<usize>) {
        self.act(|w| w.flood_group_per_minute = per_minute)
    }

    /// Revokes the bot's token, as @BotFather's /revoke does: every call answers 401 from now
    /// on, and long polls waiting now end with it.
    pub fn revoke_token(&self) {
        self.shared
            .revoked
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.shared.notify();
    }

    /// The next `n` calls of any method except `getUpdates` fail with `fault`.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.shared.faults().push(None, n, fault);
    }

    /// The next `n` calls of `method` (any case) fail with `fault`.
    pub fn fail_method(&self, method: &str, n: usize, fault: Fault) {
        self.shared.faults().push(Some(method), n, fault);
    }

    fn shown(&self, w: &world::World, m: &world::StoredMessage) -> ShownMessage {
        let file_id = match &m.media {
            Some(
                Media::Photo { file_id }
                | Media::Document { file_id }
                | Media::Voice { file_id }
                | Media::Sticker { file_id },
            ) => Some(file_id.clone()),
            None => None,
        };
        ShownMessage {
            id: m.id,
            chat: m.chat,
            from: m.from,
            text: m.text.clone(),
            entities: m.entities.clone(),
            thread: m.thread,
            reply_to: m.reply_to,
            media: m.media.clone(),
            file: file_id.and_then(|f| w.files.get(&f).map(|f| f.data.clone())),
            deleted: m.deleted,
            history: m.history.clone(),
            at: m.at,
        }
    }

    /// Every message the bot posted in `chat`, oldest first, deleted ones included.
    pub fn bot_messages(&self, chat: i64) -> Vec<ShownMessage> {
        let w = self.shared.world();
        let mut out: Vec<ShownMessage> = w
            .messages
            .values()
            .filter(|m| m.chat == chat && m.from == w.bot.id && m.service.is_none())
            .map(|m| self.shown(&w, m))
            .collect();
        out.sort_by_key(|m| m.id);
        out
    }

    /// One message, by anyone.
    pub fn message(&self, chat: i64, id: i32) -> Option<ShownMessage> {
        let w = self.shared.world();
        w.messages.get(&(chat, id)).map(|m| self.shown(&w, m))
    }

    /// The message as the Bot API renders it (for shape comparisons).
    pub fn message_json(&self, chat: i64, id: i32) -> Option<Value> {
        let w = self.shared.world();
        w.messages.get(&(chat, id)).map(|m| w.message_json(m, true))
    }

    /// Topics of a forum chat: `(message_thread_id, name)`.
    pub fn topics(&self, chat: i64) -> Vec<(i32, String)> {
        let w = self.shared.world();
        w.chats
            .get(&chat)
            .map(|c| c.topics.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }

    /// From now on, keeps every Bot API answer (method, lower-cased, and JSON body) for
    /// [`Self::recorded`]: the shape test checks them against the official typings.
    pub fn record_answers(&self) {
        *self
            .shared
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }

    /// The answers kept since [`Self::record_answers`].
    pub fn recorded(&self) -> Vec<(String, serde_json::Value)> {
        self.shared
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default()
    }

    /// `getUpdates` calls being answered right now (long polls waiting for an update).
    pub fn polls_in_progress(&self) -> usize {
        self.shared
            .polls_waiting
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// TCP connections accepted so far: a client that keeps its connection alive opens one.
    pub fn connections_accepted(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Updates not yet confirmed by a `getUpdates` offset.
    pub fn pending_updates(&self) -> usize {
        self.shared.world().updates.len()
    }

    /// The webhook URL and secret token set with `setWebhook`.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        let w = self.shared.world();
        w.webhook
            .as_ref()
            .map(|h| (h.url.clone(), h.secret_token.clone()))
    }
}
