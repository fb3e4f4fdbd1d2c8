//! Edit, delete and react to a message already posted: first finding who posted it and where
//! (`locate`: remembered from `send`, else asked of Discord), then asking the endpoint of the
//! bot or of the webhook that posted it.

use super::persona::attributed;
use super::responses::RestMessage;
use super::{allowed_mentions, render_parts};
use crate::error::DiscordError;
use crate::ids;
use crate::{Inner, PostedBy};
use civicbridge_api::{Outgoing, RemoteMsgId, RoomId, ThreadTarget};
use serde_json::json;
use serenity::all::{ChannelId, MessageId, WebhookId};
use serenity::http::{LightMethod, Request, Route};

/// How many of a room's threads `edit`/`delete` search for a message they do not remember.
const MAX_THREAD_LOOKUPS: usize = 25;

impl Inner {
    /// Webhook `id` of `room`, if it is the bot's: after a restart nothing is remembered, so
    /// the room's webhook is looked up again (a persona copy can only be edited or deleted
    /// through the webhook that posted it).
    async fn hook_of(&self, room: ChannelId, id: u64) -> Result<Option<crate::Hook>, DiscordError> {
        if let Some(h) = self.hook_by_id(id) {
            return Ok(Some(h));
        }
        self.webhook_for(room).await?;
        Ok(self.hook_by_id(id))
    }

    /// Who posted message `id` and where: remembered from `send`, else asked of Discord (the
    /// room, then the thread the edit names).
    async fn locate(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: Option<&Outgoing>,
    ) -> Result<Option<PostedBy>, DiscordError> {
        let mid = ids::message(id)?;
        if let Some(p) = self.posted_by(mid.get()) {
            return Ok(Some(p));
        }
        let room_id = ids::channel(room)?;
        let mut candidates = vec![room_id];
        if let Some(Some(ThreadTarget::Existing(t))) = out.map(|o| &o.thread) {
            candidates.push(ids::thread(t)?);
        }
        // Then the room's threads we know of (active ones from GUILD_CREATE, new ones since),
        // newest first: a message in a thread is not found through its parent.
        let mut threads = self.known_threads_of(room_id.get());
        threads.sort_unstable_by(|a, b| b.cmp(a));
        for t in threads
            .into_iter()
            .take(MAX_THREAD_LOOKUPS)
            .map(ChannelId::new)
        {
            if !candidates.contains(&t) {
                candidates.push(t);
            }
        }
        for channel in candidates {
            let req = Request::new(
                Route::ChannelMessage {
                    channel_id: channel,
                    message_id: mid,
                },
                LightMethod::Get,
            );
            match self.rest.json::<RestMessage>(req).await {
                Ok(m) => {
                    let hook = match m.webhook_id.as_deref().and_then(|w| w.parse::<u64>().ok()) {
                        Some(w) => self.hook_of(room_id, w).await?,
                        None => None,
                    };
                    let thread = self
                        .channel_info(channel)
                        .await
                        .filter(|i| i.parent.is_some())
                        .map(|_| channel.get());
                    return Ok(Some(PostedBy {
                        channel: channel.get(),
                        hook,
                        thread,
                    }));
                }
                Err(e) if e.is_gone() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    pub async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), DiscordError> {
        let mid = ids::message(id)?;
        let by = self
            .locate(room, id, Some(out))
            .await?
            .ok_or_else(|| DiscordError::Api {
                status: 404,
                code: 10_008,
                message: "Unknown Message".into(),
                retry_after: None,
                global: false,
            })?;
        let text = attributed(out, by.hook.is_some());
        // An edit cannot add messages: keep what fits.
        let content = render_parts(&text, "")
            .into_iter()
            .next()
            .unwrap_or_default();
        let body = json!({"content": content, "allowed_mentions": allowed_mentions()});
        let req = match &by.hook {
            Some(h) => {
                let mut req = Request::new(
                    Route::WebhookMessage {
                        webhook_id: WebhookId::new(h.id),
                        token: &h.token,
                        message_id: mid,
                    },
                    LightMethod::Patch,
                );
                if let Some(t) = by.thread {
                    req = req.params(Some(vec![("thread_id", t.to_string())]));
                }
                req
            }
            None => Request::new(
                Route::ChannelMessage {
                    channel_id: ChannelId::new(by.channel),
                    message_id: mid,
                },
                LightMethod::Patch,
            ),
        };
        self.rest
            .call(req.body(Some(body.to_string().into_bytes())))
            .await
            .map(|_| ())
    }

    pub(super) async fn delete_by(&self, by: &PostedBy, id: u64) -> Result<(), DiscordError> {
        let mid = MessageId::new(id);
        self.note_deleted(id);
        let req = match &by.hook {
            Some(h) => {
                let mut req = Request::new(
                    Route::WebhookMessage {
                        webhook_id: WebhookId::new(h.id),
                        token: &h.token,
                        message_id: mid,
                    },
                    LightMethod::Delete,
                );
                if let Some(t) = by.thread {
                    req = req.params(Some(vec![("thread_id", t.to_string())]));
                }
                req
            }
            None => Request::new(
                Route::ChannelMessage {
                    channel_id: ChannelId::new(by.channel),
                    message_id: mid,
                },
                LightMethod::Delete,
            ),
        };
        match self.rest.call(req).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_gone() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes a message; one that is already gone counts as deleted.
    pub async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), DiscordError> {
        match self.locate(room, id, None).await? {
            Some(by) => self.delete_by(&by, ids::message(id)?.get()).await,
            None => Ok(()),
        }
    }

    /// Adds the bot's reaction `key` (Create Reaction, `PUT …/reactions/{emoji}/@me`).
    pub async fn react(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), DiscordError> {
        let req = self.own_reaction(room, id, key, LightMethod::Put).await?;
        self.rest.call(req.request()).await.map(|_| ())
    }

    /// Removes the bot's reaction `key` (Delete Own Reaction, `DELETE …/reactions/{emoji}/@me`).
    /// Discord answers 204 whether or not the bot had reacted so. A message that is gone
    /// (10008 Unknown Message, or its channel: 10003) counts as done, as for `delete`: the
    /// reaction went with it, which is what the caller wants, and retrying cannot bring it
    /// back. An emoji Discord does not know (400 / 10014) is `Rejected` like `react`'s.
    pub async fn unreact(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), DiscordError> {
        let req = self
            .own_reaction(room, id, key, LightMethod::Delete)
            .await?;
        match self.rest.call(req.request()).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_gone() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Where the bot's reaction to `id` is: the channel (or thread) the message was posted in,
    /// else the room's channel.
    async fn own_reaction(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
        method: LightMethod,
    ) -> Result<OwnReaction, DiscordError> {
        let channel = match self.locate(room, id, None).await? {
            Some(by) => ChannelId::new(by.channel),
            None => ids::channel(room)?,
        };
        Ok(OwnReaction {
            channel,
            message: ids::message(id)?,
            emoji: encode_emoji(key),
            method,
        })
    }
}

/// The bot's reaction on one message, before it is made a request (which borrows the emoji).
struct OwnReaction {
    channel: ChannelId,
    message: MessageId,
    emoji: String,
    method: LightMethod,
}

impl OwnReaction {
    fn request(&self) -> Request<'_> {
        Request::new(
            Route::ChannelMessageReactionMe {
                channel_id: self.channel,
                message_id: self.message,
                reaction: &self.emoji,
            },
            self.method,
        )
    }
}

/// An emoji as a path segment: Discord wants it URL-encoded (else 10014 Unknown Emoji), and
/// serenity puts it in the path as given. Keycaps carry `#` and `*`, which would otherwise end
/// the path. `name:id` of a custom emoji keeps its colon.
pub(crate) fn encode_emoji(key: &str) -> String {
    let mut out = String::with_capacity(key.len() * 3);
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode_emoji;

    #[test]
    fn emoji_are_url_encoded() {
        assert_eq!(encode_emoji("👍"), "%F0%9F%91%8D");
        assert_eq!(encode_emoji("#\u{fe0f}\u{20e3}"), "%23%EF%B8%8F%E2%83%A3");
        assert_eq!(encode_emoji("party:123"), "party:123");
    }
}
