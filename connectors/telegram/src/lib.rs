//! civicbridge's Telegram connector, on teloxide (long polling).
//!
//! The daemon builds it through [`TelegramFactory`] from the `[telegram]` section (or a test with
//! [`TelegramConnector::new`] from a [`TelegramConfig`]); the core calls `Connector::run` once and
//! `send`/`edit`/`delete`/`react`/`unreact`/`fetch`/`tell` from the outbox.
//!
//! Codemap:
//! - `factory`: `TelegramFactory`, the daemon's entry point (section, build, `t.me` links).
//! - [`config`]: `TelegramConfig`, `PacingConfig` (serde, `deny_unknown_fields`).
//! - [`inbound`]: updates → `Event`s (pure): messages, edits, reactions (`message_reaction`
//!   diffed into `Reaction`/`ReactionRemoved`, `message_reaction_count` into `ReactionCounts`);
//!   [`inbound::parse_update`] reads one update without trusting its shape.
//! - `poll`: the `getUpdates` loop and its offset (updates read as JSON, one at a time).
//! - `reactions`: `react`/`unreact` (`setMessageReaction`, one reaction per message for a bot).
//! - [`reaction_set`]: `TELEGRAM_REACTIONS`, the fixed set of emoji a bot may react with.
//! - `outbound`: send, edit, delete; splitting, replies, topics, attachments.
//! - `uploads`: one file as a photo or a document (a refused photo goes again as a document).
//! - `tell`: `tell`, to one person in their private chat (text, then files as documents); a
//!   person who never started the bot or blocked it is `Rejected`.
//! - `rooms`: `join` (`getChat`: is the bot in the chat, and its title).
//! - `files`: `fetch` (getFile and the download, with the 20 MB limit).
//! - [`format`](mod@format): `RichText` ⇄ text + entities (and HTML with escaping): `parse`
//!   reads entities, `render` writes them, `html` escapes, `split` cuts to the UTF-16 limit.
//! - [`ids`]: Telegram ids inside civicbridge's opaque ids.
//! - [`pacing`]: Telegram's per-chat and per-group send limits.
//! - `webhook`: webhook mode (`telegram.webhook` set): an HTTP endpoint checked by secret token.
//! - [`error`]: `TelegramError` and the mapping of teloxide errors to `ConnectorError`.
//!
//! Polling: `run` calls `getUpdates` itself rather than using teloxide's dispatcher, because the
//! offset may only move once the core has acknowledged every event of a batch (a dispatcher
//! confirms updates as soon as it has read them). The offset is kept in `ConnectorState` under
//! [`OFFSET_KEY`], so a restart resumes exactly after the last durable update: nothing lost, and
//! anything replayed carries the same `InboundId` for the core to drop.
//!
//! Reactions: the connector asks for `message_reaction` and `message_reaction_count` updates
//! (Telegram sends them only to a bot that administers the chat, and none for the bot's own
//! reactions); one `message_reaction` update may become several events, and the offset moves
//! past it only once all of them are acknowledged.
//!
//! Private chats: people write to the bot privately only to start it (`/start`) or to talk to
//! it; nothing there is bridged. `inbound` maps updates from private chats to no event, so they
//! are confirmed with their batch like any update that means nothing.
//!
//! Telegram never tells bots about deletions: takedown from the moderation side is the only
//! removal path for messages mirrored *from* Telegram.
//!
//! Known behaviour of the client underneath: teloxide waits 10 s before reading any 5xx answer,
//! so a send that meets a Telegram outage returns `Transient` after about 10 s. Webhook mode
//! (`telegram.webhook`) replaces polling; see `webhook.rs`.

pub mod config;
pub mod error;
mod factory;
mod files;
pub mod format;
pub mod ids;
pub mod inbound;
mod outbound;
pub mod pacing;
mod poll;
pub mod reaction_set;
mod reactions;
mod rooms;
mod tell;
mod uploads;
mod webhook;

pub use config::{PacingConfig, TelegramConfig, WebhookConfig};
pub use error::TelegramError;
pub use factory::TelegramFactory;
pub use reaction_set::TELEGRAM_REACTIONS;

/// The platform this connector serves: its rooms are `telegram:…` in the config and the store.
pub const PLATFORM: civicbridge_api::Platform = civicbridge_api::Platform::new("telegram");

use async_trait::async_trait;
use civicbridge_api::{
    Attachment, Capabilities, Connector, ConnectorError, ConnectorState, EventSink, Outgoing,
    Platform, Private, RemoteMsgId, RoomId, RoomInfo, SendReceipt,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teloxide::prelude::*;
use tokio_util::sync::CancellationToken;

/// The `ConnectorState` key holding the next `getUpdates` offset.
pub const OFFSET_KEY: &str = "offset";
/// The largest file a bot may download through the Bot API.
pub const MAX_DOWNLOAD_BYTES: u64 = 20 * 1024 * 1024;

/// The Telegram connector. Cheap to share behind an `Arc`.
pub struct TelegramConnector {
    bot: Bot,
    config: TelegramConfig,
    bot_id: UserId,
    pacer: pacing::Pacer,
    /// Whether each chat is a forum, from `getChat`.
    forums: Mutex<HashMap<i64, bool>>,
    /// Forum topics this connector opened, by the send's transaction id (see `outbound.rs`).
    topics: Mutex<HashMap<String, String>>,
    /// The durable state `run` was given; topics opened are kept there too.
    state: Mutex<Option<Arc<dyn ConnectorState>>>,
    /// The reaction the bot set on each message lately, by (chat, message) (see `reactions.rs`).
    reactions_shown: Mutex<HashMap<(i64, i32), String>>,
}

impl std::fmt::Debug for TelegramConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConnector")
            .field("config", &self.config)
            .field("bot_id", &self.bot_id)
            .finish_non_exhaustive()
    }
}

impl TelegramConnector {
    /// Checks the config and builds the client. No network call: a wrong token shows up as
    /// `ConnectorError::Auth` from `run`.
    pub fn new(config: TelegramConfig) -> Result<TelegramConnector, TelegramError> {
        let bot_id = validate_token(&config.token)?;
        if config.poll_timeout_secs == 0 || config.poll_timeout_secs >= config::CLIENT_TIMEOUT_SECS
        {
            return Err(TelegramError::PollTimeout(config.poll_timeout_secs));
        }
        let mut bot = Bot::new(config.token.clone());
        if let Some(url) = &config.api_url {
            let parsed: url::Url =
                url.parse()
                    .map_err(|e: url::ParseError| TelegramError::BadApiUrl {
                        url: url.clone(),
                        reason: e.to_string(),
                    })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(TelegramError::BadApiUrl {
                    url: url.clone(),
                    reason: "the scheme must be http or https".into(),
                });
            }
            bot = bot.set_api_url(parsed);
        }
        if let Some(hook) = &config.webhook {
            let parsed: Result<url::Url, _> = hook.url.parse();
            match parsed {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(_) => {
                    return Err(TelegramError::BadWebhookUrl {
                        url: hook.url.clone(),
                        reason: "the scheme must be https (or http for a local Bot API server)"
                            .into(),
                    })
                }
                Err(e) => {
                    return Err(TelegramError::BadWebhookUrl {
                        url: hook.url.clone(),
                        reason: e.to_string(),
                    })
                }
            }
            let s = &hook.secret_token;
            if s.is_empty()
                || s.len() > 256
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(TelegramError::BadSecretToken);
            }
        }
        Ok(TelegramConnector {
            bot,
            pacer: pacing::Pacer::new(config.pacing),
            config,
            bot_id,
            forums: Mutex::new(HashMap::new()),
            topics: Mutex::new(HashMap::new()),
            state: Mutex::new(None),
            reactions_shown: Mutex::new(HashMap::new()),
        })
    }

    /// The bot's own user id (the number before the `:` in its token).
    pub fn bot_id(&self) -> UserId {
        self.bot_id
    }
}

/// `<digits>:<30+ of [A-Za-z0-9_-]>`, naming what is wrong without echoing the token.
fn validate_token(token: &str) -> Result<UserId, TelegramError> {
    let token = token.trim();
    if token.is_empty() {
        return Err(TelegramError::EmptyToken);
    }
    let (id, secret) = token
        .split_once(':')
        .ok_or(TelegramError::MalformedToken("it has no `:`"))?;
    let id: u64 = id
        .parse()
        .map_err(|_| TelegramError::MalformedToken("the part before `:` is not a number"))?;
    if secret.len() < 30 {
        return Err(TelegramError::MalformedToken(
            "the part after `:` is too short",
        ));
    }
    if !secret
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(TelegramError::MalformedToken(
            "the part after `:` has characters a token never has",
        ));
    }
    Ok(UserId(id))
}

/// Waits `d`, or less if shutdown comes first. Returns false on shutdown.
pub(crate) async fn pause(d: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

#[async_trait]
impl Connector for TelegramConnector {
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
            reaction_keys: civicbridge_api::ReactionKeys::Only(TELEGRAM_REACTIONS),
            // A bot is not premium: one reaction per message.
            max_bot_reactions: Some(1),
            personas: false,
            max_text_len: outbound::MAX_TEXT,
            attachments: true,
            max_attachment_bytes: Some(self.config.max_attachment_bytes),
            // To those who started the bot; `tell` is `Rejected` for the others.
            private_messages: true,
        }
    }

    async fn run(
        &self,
        sink: EventSink,
        state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        self.run_impl(sink, state, shutdown).await
    }

    /// Only people can add a bot to a Telegram group: this checks it is there (`getChat`) and
    /// returns the chat's title. `leave` keeps the default: the group's admins remove bots.
    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        self.join_impl(room).await
    }

    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        self.send_impl(out).await
    }

    /// The topic is not needed: `t.me/c/CHAT/MSG` opens the message in its topic.
    fn message_url(
        &self,
        room: &RoomId,
        _thread: Option<&civicbridge_api::ThreadId>,
        id: &RemoteMsgId,
    ) -> Option<String> {
        ids::message_url(room, id)
    }

    async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        self.edit_impl(room, id, out).await
    }

    async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError> {
        self.delete_impl(room, id).await
    }

    /// Shows `key` as the bot's one reaction on the message, replacing the one it had.
    async fn react(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.react_impl(room, id, key).await
    }

    /// Clears the bot's reaction `key` from the message (nothing to do if it shows another).
    async fn unreact(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        self.unreact_impl(room, id, key).await
    }

    /// Writes in the person's private chat with the bot (see `tell.rs`): `Rejected` when they
    /// never started the bot or blocked it.
    async fn tell(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        self.tell_impl(private).await
    }

    /// `getFile`, then the download. Files over 20 MB cannot be downloaded by bots: `Rejected`
    /// with a notice saying so.
    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        self.fetch_impl(attachment).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn token_shape_is_checked_with_a_clear_message() {
        let good = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
        assert_eq!(validate_token(good).expect("valid").0, 123_456_789);
        let err = |t: &str| validate_token(t).expect_err("invalid").to_string();
        assert!(err("").contains("empty"));
        assert!(err("abc").contains("no `:`"));
        assert!(err("x:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw").contains("not a number"));
        assert!(err("1:short").contains("too short"));
        assert!(
            !err("1:short").contains("short\""),
            "the token itself is never echoed"
        );
    }

    #[test]
    fn config_is_checked() {
        let mut c = TelegramConfig::new("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw");
        c.poll_timeout_secs = 17;
        assert!(matches!(
            TelegramConnector::new(c.clone()),
            Err(TelegramError::PollTimeout(17))
        ));
        c.poll_timeout_secs = 10;
        c.api_url = Some("not a url".into());
        assert!(matches!(
            TelegramConnector::new(c.clone()),
            Err(TelegramError::BadApiUrl { .. })
        ));
        c.api_url = Some("http://127.0.0.1:8081".into());
        c.webhook = Some(WebhookConfig {
            url: "https://bridge.example.org/tg".into(),
            listen: "127.0.0.1:8443".parse().expect("addr"),
            secret_token: "has spaces".into(),
        });
        assert!(matches!(
            TelegramConnector::new(c.clone()),
            Err(TelegramError::BadSecretToken)
        ));
        if let Some(h) = c.webhook.as_mut() {
            h.secret_token = "ok_secret-1".into();
            h.url = "ftp://x".into();
        }
        assert!(matches!(
            TelegramConnector::new(c.clone()),
            Err(TelegramError::BadWebhookUrl { .. })
        ));
        if let Some(h) = c.webhook.as_mut() {
            h.url = "https://bridge.example.org/tg".into();
        }
        let conn = TelegramConnector::new(c).expect("valid");
        assert!(
            !format!("{conn:?}").contains("ok_secret"),
            "Debug never shows the secret"
        );
        assert!(
            !format!("{conn:?}").contains("AAHdq"),
            "Debug never shows the token"
        );
    }
}
