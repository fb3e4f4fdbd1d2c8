//! Fetching attachments this connector reported, from Discord's CDN only.

use super::*;

impl Inner {
    pub(crate) async fn download(&self, url: &str) -> Result<Vec<u8>, DiscordError> {
        if !self.is_cdn(url) {
            return Err(DiscordError::Unsupported(format!(
                "{url} is not a Discord attachment link"
            )));
        }
        let resp = self
            .rest
            .client()
            .get(url)
            .send()
            .await
            .map_err(crate::rest::network)?;
        if !resp.status().is_success() {
            return Err(rest::api_error(resp).await);
        }
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(crate::rest::network)
    }

    /// Only Discord's CDN (or the configured local Discord) is ever fetched from.
    pub(crate) fn is_cdn(&self, url: &str) -> bool {
        let local = self
            .cfg
            .api_base
            .as_deref()
            .map(|b| format!("{}/", b.trim_end_matches('/')));
        [
            "https://cdn.discordapp.com/",
            "https://media.discordapp.net/",
        ]
        .iter()
        .any(|p| url.starts_with(p))
            || local.is_some_and(|l| url.starts_with(&l))
    }

    pub(crate) async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, DiscordError> {
        let Some((url, channel, id, msg)) = inbound::parse_attachment_ref(&attachment.url) else {
            return Err(DiscordError::Unsupported(format!(
                "{} is not a Discord attachment reference",
                attachment.url
            )));
        };
        match self.download(&url).await {
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                let Some(msg) = msg else { return Err(e) };
                // Expired: read the message again for a fresh link.
                let req = Request::new(
                    Route::ChannelMessage {
                        channel_id: ChannelId::new(channel),
                        message_id: serenity::all::MessageId::new(msg),
                    },
                    LightMethod::Get,
                );
                let fresh: DMessage = self.rest.json(req).await?;
                let a = fresh
                    .attachments
                    .iter()
                    .find(|a| a.id.get() == id)
                    .ok_or_else(|| DiscordError::Api {
                        status: 404,
                        code: 10_008,
                        message: "the attachment is no longer on its message".into(),
                        retry_after: None,
                        global: false,
                    })?;
                self.download(&a.url).await
            }
            other => other,
        }
    }
}
