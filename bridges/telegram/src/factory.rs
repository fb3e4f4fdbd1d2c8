//! Telegram's entry point for the daemon: the `[telegram]` section, the connector's build, and
//! links to Telegram messages (`https://t.me/c/CHAT/MSG`).

use crate::{TelegramConfig, TelegramConnector, PLATFORM};
use async_trait::async_trait;
use civicbridge_api::{
    BuildContext, BuildError, Built, MessageLink, Platform, PlatformFactory, RemoteMsgId, RoomId,
    Section, SectionError,
};
use std::sync::Arc;

/// Builds the Telegram connector from `[telegram]`.
#[derive(Debug, Default)]
pub struct TelegramFactory;

/// The section read and checked: building the connector validates it and makes no network call.
fn connector(section: &Section) -> Result<(TelegramConnector, Vec<String>), SectionError> {
    let config: TelegramConfig = section.parse()?;
    let mut secrets = vec![config.token.clone()];
    // The part after `<bot id>:` is the secret half; URLs and errors may show it alone.
    if let Some((_, half)) = config.token.split_once(':') {
        secrets.push(half.to_owned());
    }
    if let Some(w) = &config.webhook {
        secrets.push(w.secret_token.clone());
    }
    let c = TelegramConnector::new(config).map_err(|e| SectionError::said(e.to_string()))?;
    Ok((c, secrets))
}

#[async_trait]
impl PlatformFactory for TelegramFactory {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Telegram"
    }

    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
        connector(section).map(|(_, secrets)| secrets)
    }

    async fn build(&self, section: &Section, _ctx: BuildContext) -> Result<Built, BuildError> {
        let (c, secrets) = connector(section)?;
        Ok(Built {
            connector: Arc::new(c),
            secrets,
        })
    }

    /// `https://t.me/c/CHAT/MSG` or `…/c/CHAT/TOPIC/MSG` (a private supergroup: the chat id is
    /// `-100CHAT`), or `https://t.me/USERNAME/MSG` (a public group: the chat is not in the link).
    fn message_link(&self, text: &str) -> Option<MessageLink> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let (host, path) = rest.split_once('/')?;
        if !matches!(host, "t.me" | "telegram.me") {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            ["c", chat, .., msg] if chat.parse::<u64>().is_ok() && msg.parse::<u64>().is_ok() => {
                Some(MessageLink {
                    room: Some(RoomId::new(format!("-100{chat}"))),
                    msg: RemoteMsgId::new(*msg),
                })
            }
            [_, .., msg] if msg.parse::<u64>().is_ok() => Some(MessageLink {
                room: None,
                msg: RemoteMsgId::new(*msg),
            }),
            _ => None,
        }
    }
}
