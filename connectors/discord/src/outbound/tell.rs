//! `tell`: a direct message to one person.
//!
//! A bot writes to a person in their DM channel, which `POST /users/@me/channels` opens (or
//! returns: Discord keeps one per pair); the connector asks once per person and keeps the
//! channel in memory. Then the text goes as `send` renders it (the same parts, markdown
//! escaped, `allowed_mentions` empty so nothing pings anyone), the first file with the first
//! part and each further file in a message of its own, each part with its own nonce, so a
//! retried tell does not post a part twice.
//!
//! Discord decides whether the bot may write to someone when it posts: 403 / 50007 "Cannot
//! send messages to this user" (they do not accept DMs from server members, or are a bot) or
//! 403 / 50278 (they share no server with the bot, which is why `Private::met_in` names one;
//! Discord itself checks it). Like every other 4xx, they become `Rejected`, the contract's
//! "cannot be reached privately now". An unknown user is 404 / 10013 on opening the channel,
//! `Rejected` too. A tell with neither text nor file is `Rejected` without asking Discord,
//! which refuses an empty message (50006).

use super::post::nonce_for;
use super::responses::RestChannel;
use super::send::parts;
use crate::error::DiscordError;
use crate::known::REMEMBER;
use crate::{ids, Inner};
use civicbridge_api::{Private, RemoteMsgId, RichText, SendReceipt};
use serde_json::json;
use serenity::all::{ChannelId, UserId};
use serenity::http::{LightMethod, Request, Route};

impl Inner {
    pub async fn tell(&self, private: &Private) -> Result<SendReceipt, DiscordError> {
        let user = ids::user(&private.to)?;
        // Only white space renders as an empty message: no text then.
        let text = if private.text.to_plain().trim().is_empty() {
            RichText::default()
        } else {
            private.text.clone()
        };
        if text.is_empty() && private.files.is_empty() {
            return Err(DiscordError::Refused(
                "nothing to tell: no text and no file".into(),
            ));
        }
        let channel = self.dm_channel(user).await?;
        let mut sent = Vec::new();
        for (i, (content, file)) in parts(&private.files, &text, String::new())
            .iter()
            .enumerate()
        {
            let nonce = nonce_for(&private.txn_id, i);
            match self
                .post_bot(channel, content, None, *file, &nonce, false)
                .await
            {
                Ok(m) => sent.push(RemoteMsgId::new(m.id)),
                Err(e) => {
                    if e.api_code() == Some(10_003) {
                        // The channel kept is gone: open it again next time.
                        self.known().dms.remove(&user.get());
                    }
                    return Err(e);
                }
            }
        }
        Ok(SendReceipt {
            ids: sent,
            thread: None,
        })
    }

    /// The DM channel with `user`: kept, or opened (`POST /users/@me/channels`) and kept.
    async fn dm_channel(&self, user: UserId) -> Result<ChannelId, DiscordError> {
        if let Some(c) = self.known().dms.get(&user.get()) {
            return Ok(ChannelId::new(*c));
        }
        let body = json!({ "recipient_id": user.get().to_string() });
        let req = Request::new(Route::UserMeDmChannels, LightMethod::Post)
            .body(Some(body.to_string().into_bytes()));
        let opened: RestChannel = self.rest.json(req).await?;
        let id = opened
            .id
            .parse::<u64>()
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        let mut known = self.known();
        if known.dms.len() >= REMEMBER {
            // Bounded: a forgotten channel is asked of Discord again.
            known.dms.clear();
        }
        known.dms.insert(user.get(), id);
        Ok(ChannelId::new(id))
    }
}
