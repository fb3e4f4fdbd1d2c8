//! `[telegram]` in the daemon's config: the bot token, where the Bot API is, how to poll, how
//! fast to send.

use serde::Deserialize;
use std::time::Duration;

/// teloxide's HTTP client gives up on a request after 17 s; a long poll must end before that.
pub const CLIENT_TIMEOUT_SECS: u32 = 17;

/// The Telegram connector's settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot token from @BotFather, `<bot id>:<secret>`. Never logged.
    pub token: String,
    /// The Bot API base URL, e.g. a local Bot API server (`http://127.0.0.1:8081`). Default:
    /// `https://api.telegram.org`.
    #[serde(default)]
    pub api_url: Option<String>,
    /// How long one `getUpdates` long poll waits, in seconds. Must stay below 17.
    #[serde(default = "default_poll_timeout")]
    pub poll_timeout_secs: u32,
    /// Sending pace (Telegram's published limits by default).
    #[serde(default)]
    pub pacing: PacingConfig,
    /// The largest file the bot uploads (Telegram: 50 MB for bots on the public Bot API).
    #[serde(default = "default_max_upload")]
    pub max_attachment_bytes: u64,
    /// Receive updates by webhook instead of long polling (needs a public HTTPS URL).
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
}

/// Webhook mode: Telegram POSTs each update to `url`, which a reverse proxy forwards to `listen`.
/// Each request must carry `secret_token` in `X-Telegram-Bot-Api-Secret-Token`; others get 401.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The public URL registered with `setWebhook`, e.g. `https://bridge.example.org/telegram`.
    pub url: String,
    /// Where the connector listens, e.g. `127.0.0.1:8443`.
    pub listen: std::net::SocketAddr,
    /// 1–256 characters of `A-Z a-z 0-9 _ -`. Never logged.
    pub secret_token: String,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("listen", &self.listen)
            .field("secret_token", &"<redacted>")
            .finish()
    }
}

/// How fast the bot posts, so a burst queues instead of drawing 429s. Telegram asks bots to keep
/// to about one message per second per chat and 20 per minute per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PacingConfig {
    /// Least time between two posts in one chat, in milliseconds.
    #[serde(default = "default_per_chat_ms")]
    pub per_chat_interval_ms: u64,
    /// Most posts per rolling minute in one group (chats with negative ids). 0 turns it off.
    #[serde(default = "default_group_per_minute")]
    pub group_per_minute: u32,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            per_chat_interval_ms: default_per_chat_ms(),
            group_per_minute: default_group_per_minute(),
        }
    }
}

impl PacingConfig {
    /// No pacing at all (tests that are not about pacing).
    pub fn off() -> Self {
        PacingConfig {
            per_chat_interval_ms: 0,
            group_per_minute: 0,
        }
    }

    pub fn per_chat_interval(&self) -> Duration {
        Duration::from_millis(self.per_chat_interval_ms)
    }
}

fn default_poll_timeout() -> u32 {
    10
}
fn default_per_chat_ms() -> u64 {
    1000
}
fn default_group_per_minute() -> u32 {
    20
}
fn default_max_upload() -> u64 {
    50 * 1024 * 1024
}

impl TelegramConfig {
    /// A config with defaults for everything but the token.
    pub fn new(token: impl Into<String>) -> Self {
        TelegramConfig {
            token: token.into(),
            api_url: None,
            poll_timeout_secs: default_poll_timeout(),
            pacing: PacingConfig::default(),
            max_attachment_bytes: default_max_upload(),
            webhook: None,
        }
    }
}

impl std::fmt::Debug for TelegramConfig {
    /// The token is a credential: it is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("poll_timeout_secs", &self.poll_timeout_secs)
            .field("pacing", &self.pacing)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("webhook", &self.webhook)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let c: TelegramConfig = serde_json::from_str(r#"{"token": "1:x"}"#).expect("parses");
        assert_eq!(c.poll_timeout_secs, 10);
        assert_eq!(c.pacing, PacingConfig::default());
        assert!(serde_json::from_str::<TelegramConfig>(r#"{"token": "1:x", "tokn": 1}"#).is_err());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = TelegramConfig::new("123456:SECRET-secret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
