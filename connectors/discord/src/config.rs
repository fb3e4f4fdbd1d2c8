//! `DiscordConfig`: what the daemon's config file says about Discord.

use crate::error::DiscordError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The Discord connector's settings (`[discord]` in the daemon config).
///
/// ```toml
/// [discord]
/// token = "…"                # the bot token; never logged
/// # api_base = "http://127.0.0.1:8081"   # a local Discord (tests, `demo`); needs ratelimiter = false
/// # ratelimiter = true
/// # use_webhooks = true
/// # webhook_urls = { "123456789012345678" = "https://discord.com/api/webhooks/…/…" }
/// ```
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The bot token, without the `Bot ` prefix.
    pub token: String,
    /// Base URL of the Discord API, e.g. `http://127.0.0.1:8081` for a local server; the
    /// connector appends `/api/v10/…`. `None` means `https://discord.com`.
    #[serde(default)]
    pub api_base: Option<String>,
    /// serenity's built-in rate limiter, which queues requests per route bucket and waits out
    /// 429s itself. Keep it on in production. serenity ignores a custom `api_base` while its rate
    /// limiter is on, so a custom `api_base` requires `ratelimiter = false` (validated); then
    /// every 429 reaches the outbox as `RateLimited` with Discord's `retry_after`.
    #[serde(default = "yes")]
    pub ratelimiter: bool,
    /// Post relayed messages through a channel webhook under the original author's name and
    /// avatar. Without webhooks (or when the bot may not manage them and no URL is configured)
    /// the bot posts with a bold name prefix.
    #[serde(default = "yes")]
    pub use_webhooks: bool,
    /// Webhook URLs to use per channel id, for when the bot may not create webhooks.
    #[serde(default)]
    pub webhook_urls: BTreeMap<String, String>,
    /// Name given to webhooks the bot creates; webhooks by the bot with this name are reused.
    #[serde(default = "default_webhook_name")]
    pub webhook_name: String,
    /// A lower upload limit than Discord's (10 MiB, more in boosted servers), in bytes.
    #[serde(default)]
    pub max_attachment_bytes: Option<u64>,
}

fn yes() -> bool {
    true
}

fn default_webhook_name() -> String {
    "civicbridge".into()
}

impl std::fmt::Debug for DiscordConfig {
    /// Redacts the token (and webhook URLs, whose last segment is a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("ratelimiter", &self.ratelimiter)
            .field("use_webhooks", &self.use_webhooks)
            .field(
                "webhook_urls",
                &self.webhook_urls.keys().collect::<Vec<_>>(),
            )
            .field("webhook_name", &self.webhook_name)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .finish()
    }
}

impl DiscordConfig {
    /// A config for `token` with every default.
    pub fn new(token: impl Into<String>) -> Self {
        DiscordConfig {
            token: token.into(),
            api_base: None,
            ratelimiter: true,
            use_webhooks: true,
            webhook_urls: BTreeMap::new(),
            webhook_name: default_webhook_name(),
            max_attachment_bytes: None,
        }
    }

    /// A config for a local Discord at `api_base` (rate limiter off, as serenity requires).
    pub fn local(token: impl Into<String>, api_base: impl Into<String>) -> Self {
        DiscordConfig {
            api_base: Some(api_base.into()),
            ratelimiter: false,
            ..DiscordConfig::new(token)
        }
    }

    pub fn validate(&self) -> Result<(), DiscordError> {
        let token = self.token.trim();
        if token.is_empty() {
            return Err(DiscordError::Config("discord.token is empty".into()));
        }
        if token.starts_with("Bot ") {
            return Err(DiscordError::Config(
                "discord.token must not start with `Bot ` (the connector adds it)".into(),
            ));
        }
        if let Some(base) = &self.api_base {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(DiscordError::Config(format!(
                    "discord.api_base `{base}` must start with http:// or https://"
                )));
            }
            if self.ratelimiter {
                return Err(DiscordError::Config(
                    "discord.api_base is set but discord.ratelimiter is true: serenity ignores a \
                     custom API base while its rate limiter is on; set ratelimiter = false"
                        .into(),
                ));
            }
        }
        let name = self.webhook_name.to_lowercase();
        if name.trim().is_empty()
            || self.webhook_name.chars().count() > 80
            || name.contains("discord")
            || name.contains("clyde")
        {
            return Err(DiscordError::Config(format!(
                "discord.webhook_name `{}` is refused by Discord: 1 to 80 characters, without \
                 \"discord\" or \"clyde\"",
                self.webhook_name
            )));
        }
        for (channel, url) in &self.webhook_urls {
            if channel.parse::<u64>().is_err() {
                return Err(DiscordError::Config(format!(
                    "discord.webhook_urls: `{channel}` is not a channel id"
                )));
            }
            if crate::outbound::parse_webhook_url(url).is_none() {
                return Err(DiscordError::Config(format!(
                    "discord.webhook_urls.{channel} is not a webhook URL (…/webhooks/<id>/<token>)"
                )));
            }
        }
        Ok(())
    }

    /// The API base with no trailing slash.
    pub fn base(&self) -> String {
        self.api_base
            .as_deref()
            .unwrap_or("https://discord.com")
            .trim_end_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults_and_rejects_unknown_keys() {
        let c: DiscordConfig = serde_json::from_str(r#"{"token":"abc"}"#).expect("parses");
        assert!(c.ratelimiter && c.use_webhooks && c.api_base.is_none());
        assert!(c.validate().is_ok());
        assert!(serde_json::from_str::<DiscordConfig>(r#"{"token":"a","tokn":"b"}"#).is_err());
    }

    #[test]
    fn webhook_names_discord_refuses_are_refused() {
        for bad in ["", "Discord bridge", "cLyDe"] {
            let mut c = DiscordConfig::new("t");
            c.webhook_name = bad.into();
            let e = c.validate().unwrap_err();
            assert!(e.to_string().contains("webhook_name"), "{e}");
        }
    }

    #[test]
    fn custom_base_needs_the_ratelimiter_off() {
        let mut c = DiscordConfig::new("abc");
        c.api_base = Some("http://127.0.0.1:1".into());
        let e = c.validate().expect_err("must be rejected");
        assert!(e.to_string().contains("ratelimiter"), "{e}");
        c.ratelimiter = false;
        assert!(c.validate().is_ok());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = DiscordConfig::new("super-secret-token");
        assert!(!format!("{c:?}").contains("super-secret"));
    }
}
