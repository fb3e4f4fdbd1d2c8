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

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn section(toml: &str) -> Section {
        Section::new(
            "discord",
            toml::from_str::<toml::Value>(toml).expect("toml"),
        )
    }

    #[test]
    fn the_section_is_checked_and_webhook_urls_are_secrets() {
        let f = DiscordFactory;
        let url = "https://discord.com/api/webhooks/123/wh-token_abcdefghijklmnop";
        let secrets = f
            .check(&section(&format!(
                "token = \"t0ken.abc\"\n[webhook_urls]\n\"200\" = \"{url}\"\n"
            )))
            .expect("valid");
        assert_eq!(secrets, vec!["t0ken.abc".to_owned(), url.to_owned()]);
        let e = f.check(&section(r#"token = "Bot x""#)).unwrap_err();
        assert!(
            e.to_string().starts_with("discord.token must not start"),
            "{e}"
        );
    }

    #[test]
    fn message_links() {
        let at = |room: &str, msg: &str| {
            Some(MessageLink {
                room: Some(RoomId::new(room)),
                msg: RemoteMsgId::new(msg),
            })
        };
        let link = |t: &str| DiscordFactory.message_link(t);
        assert_eq!(
            link("https://discord.com/channels/1/200/300"),
            at("200", "300")
        );
        assert_eq!(
            link("https://ptb.discord.com/channels/1/200/300"),
            at("200", "300")
        );
        assert_eq!(
            link("https://discordapp.com/channels/1/200/300?x"),
            at("200", "300")
        );
        assert_eq!(link("https://evil-discord.com/channels/1/200/300"), None);
        assert_eq!(link("https://discord.com/channels/1/200"), None);
    }

    proptest! {
        #![proptest_config(fuzz_config(512))]

        /// Any text: no panic.
        #[test]
        fn fuzz_discord_message_link_anything(s in "(https?://|discord\\.com/|channels/|[/?#]|[0-9]{1,20}|[a-z]{1,5}|\\PC){0,12}") {
            let _ = DiscordFactory.message_link(&s);
        }

        /// Real links give the message they name.
        #[test]
        fn fuzz_discord_message_links(guild in 1u64..u64::MAX, channel in 1u64..u64::MAX, msg in 1u64..u64::MAX) {
            let d = format!("https://discord.com/channels/{guild}/{channel}/{msg}");
            prop_assert_eq!(DiscordFactory.message_link(&d), Some(MessageLink {
                room: Some(RoomId::new(channel.to_string())),
                msg: RemoteMsgId::new(msg.to_string()),
            }));
        }
    }
}
