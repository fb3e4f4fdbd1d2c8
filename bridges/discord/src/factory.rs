//! Discord's entry point for the daemon: the `[discord]` section, the connector's build, and
//! links to Discord messages (`https://discord.com/channels/GUILD/CHANNEL/MESSAGE`).

use crate::{DiscordConfig, DiscordConnector, DiscordError, PLATFORM};
use async_trait::async_trait;
use civicbridge_api::{
    BuildContext, BuildError, Built, MessageLink, Platform, PlatformFactory, RemoteMsgId, RoomId,
    Section, SectionError,
};
use std::sync::Arc;

/// Builds the Discord connector from `[discord]`.
#[derive(Debug, Default)]
pub struct DiscordFactory;

fn said(e: DiscordError) -> SectionError {
    match e {
        // Config errors name their key (`discord.token is empty`).
        DiscordError::Config(m) => SectionError::said(m),
        other => SectionError::said(format!("discord: {other}")),
    }
}

/// The section read and checked, and the secrets in it: the bot token, and each configured
/// webhook URL (it carries the webhook's own token).
fn read(section: &Section) -> Result<(DiscordConfig, Vec<String>), SectionError> {
    let config: DiscordConfig = section.parse()?;
    config.validate().map_err(said)?;
    let mut secrets = vec![config.token.clone()];
    secrets.extend(config.webhook_urls.values().cloned());
    Ok((config, secrets))
}

#[async_trait]
impl PlatformFactory for DiscordFactory {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Discord"
    }

    fn check(&self, section: &Section) -> Result<Vec<String>, SectionError> {
        read(section).map(|(_, secrets)| secrets)
    }

    async fn build(&self, section: &Section, _ctx: BuildContext) -> Result<Built, BuildError> {
        let (config, secrets) = read(section)?;
        let c = DiscordConnector::new(config).map_err(said)?;
        Ok(Built {
            connector: Arc::new(c),
            secrets,
        })
    }

    /// `https://discord.com/channels/GUILD/CHANNEL/MESSAGE` (also `discordapp.com` and the
    /// `canary.`/`ptb.` hosts).
    fn message_link(&self, text: &str) -> Option<MessageLink> {
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))?;
        let (host, path) = rest.split_once('/')?;
        if !(host == "discord.com" || host.ends_with(".discord.com") || host == "discordapp.com") {
            return None;
        }
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        match parts.as_slice() {
            ["channels", _guild, channel, msg] => Some(MessageLink {
                room: Some(RoomId::new(*channel)),
                msg: RemoteMsgId::new(*msg),
            }),
            _ => None,
        }
    }
}
