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

#[cfg(test)]
mod tests {
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn section(toml: &str) -> Section {
        Section::new(
            "telegram",
            toml::from_str::<toml::Value>(toml).expect("toml"),
        )
    }

    #[test]
    fn the_section_is_checked_with_errors_that_name_the_key() {
        let f = TelegramFactory;
        let secrets = f
            .check(&section(
                r#"token = "123456:ABCdefghijklmnopqrstuvwxyz0123456789""#,
            ))
            .expect("valid");
        assert!(secrets.contains(&"ABCdefghijklmnopqrstuvwxyz0123456789".to_owned()));
        let e = f.check(&section(r#"token = "oops""#)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("telegram.token is not a bot token"),
            "{e}"
        );
        let e = f.check(&section("")).unwrap_err();
        assert!(e.to_string().contains("token"), "{e}");
    }

    #[test]
    fn message_links() {
        let link = |t: &str| TelegramFactory.message_link(t);
        let at = |room: Option<&str>, msg: &str| {
            Some(MessageLink {
                room: room.map(RoomId::new),
                msg: RemoteMsgId::new(msg),
            })
        };
        assert_eq!(
            link("https://t.me/c/1234567890/45"),
            at(Some("-1001234567890"), "45")
        );
        assert_eq!(
            link("https://t.me/c/1234567890/7/45"),
            at(Some("-1001234567890"), "45")
        );
        assert_eq!(link("https://t.me/council/45?single"), at(None, "45"));
        assert_eq!(link("https://discord.com/channels/1/2/3"), None);
        assert_eq!(
            link("https://t.me/c/x/45"),
            at(None, "45"),
            "read as a public group"
        );
        assert_eq!(link("t.me/c/1/2"), None);
    }

    proptest! {
        #![proptest_config(fuzz_config(512))]

        /// Any text: no panic.
        #[test]
        fn fuzz_telegram_message_link_anything(s in "(https?://|t\\.me/|c/|[/?#]|[0-9]{1,12}|[a-z]{1,5}|\\PC){0,12}") {
            let _ = TelegramFactory.message_link(&s);
        }

        /// Real links give the message they name.
        #[test]
        fn fuzz_telegram_message_links(chat in 1u64..u64::MAX / 2, topic in proptest::option::of(1u32..10_000), msg in 1u64..10_000_000) {
            let t = match topic {
                Some(t) => format!("https://t.me/c/{chat}/{t}/{msg}"),
                None => format!("https://t.me/c/{chat}/{msg}"),
            };
            prop_assert_eq!(TelegramFactory.message_link(&t), Some(MessageLink {
                room: Some(RoomId::new(format!("-100{chat}"))),
                msg: RemoteMsgId::new(msg.to_string()),
            }));
        }
    }
}
