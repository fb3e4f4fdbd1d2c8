//! Posting, editing and deleting: bot messages and webhook messages (personas), replies, threads,
//! splitting, attachments. Every request carries `allowed_mentions: {"parse": []}` so nothing the
//! bridge posts can ping anyone.
//!
//! Replies: a bot message replies natively (`message_reference`). Webhooks cannot reply, so a
//! webhook message that answers another starts with a quote line holding a jump link to the
//! message it answers (`> ↪ [reply](https://discord.com/channels/g/c/m)`). That is the one rule,
//! applied to every webhook reply.
//!
//! Long text: the core already cut the text to `max_text_len` (1,700) characters of plain text,
//! which with worst-case escaping fits Discord's 2,000. If a rendered part still exceeds 2,000,
//! it is split further here and every message id is listed in the receipt. Attachments: the first
//! message carries the first file; further files follow as their own messages.

use crate::error::DiscordError;
use crate::format;
use crate::ids;
use crate::{Hook, Inner, PostedBy};
use civicbridge_api::names;
use civicbridge_api::{
    Outgoing, OutgoingFile, RemoteMsgId, RichText, RoomId, SendReceipt, Span, ThreadTarget,
};
use serde::Deserialize;
use serde_json::{json, Value};
use serenity::all::{ChannelId, MessageId, WebhookId};
use serenity::builder::CreateAttachment;
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};

/// Discord's limit on a message's `content`.
pub const DISCORD_MAX: usize = 2000;

/// Message flag: do not send push or desktop notifications.
const SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;

/// How many of a room's threads `edit`/`delete` search for a message they do not remember.
const MAX_THREAD_LOOKUPS: usize = 25;

#[derive(Debug, Deserialize)]
pub struct RestMessage {
    pub id: String,
    pub channel_id: String,
    #[serde(default)]
    pub webhook_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RestUser {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct RestWebhook {
    pub id: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub user: Option<RestUser>,
}

#[derive(Debug, Deserialize)]
pub struct RestChannel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    #[serde(default)]
    pub guild_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// `(id, token)` from `https://discord.com/api/webhooks/<id>/<token>` (any host, any version).
pub fn parse_webhook_url(url: &str) -> Option<(u64, String)> {
    let rest = url.split("/webhooks/").nth(1)?;
    let mut parts = rest.split('/');
    let id = parts.next()?.parse::<u64>().ok()?;
    let token = parts.next()?.split('?').next()?.to_owned();
    (!token.is_empty()).then_some((id, token))
}

/// A webhook username Discord accepts, that shows who is speaking and from where:
/// `Name (Platform)` in 1–80 characters. The name is normalised (`civicbridge_api::names`: no
/// invisible, bidi or control characters, one line) and cut *before* the label is added, so the
/// label always shows in full. Discord refuses names containing "discord" or "clyde" in any case
/// (400, code 50035): a visible `·` breaks them up. Matching is done per character, so a name
/// whose case mapping changes its length (İ, ẞ, ﬁ) cannot shift an index.
pub fn webhook_username(name: &str, platform: &str) -> String {
    const MAX: usize = 80;
    let label = if platform.is_empty() {
        String::new()
    } else {
        format!(" ({})", break_reserved(&names::normalize(platform, 20)))
    };
    let room = MAX - label.chars().count();
    let name = break_reserved(&names::normalize(name, room.min(names::MAX_NAME_CHARS)));
    // Breaking a word up adds characters: cut again (never inside a grapheme).
    let name = names::truncate(&name, room);
    let mut out = format!("{}{label}", name.trim_end());
    if label.is_empty() && ["everyone", "here"].contains(&out.to_lowercase().as_str()) {
        out.push_str(" (bridged)");
    }
    out
}

/// `Name (Platform):`, for messages posted without a webhook: the same normalised name.
fn attribution(p: &civicbridge_api::Persona) -> String {
    names::attribution(&p.display_name, &p.platform_label)
}

/// Words Discord refuses in webhook usernames.
const RESERVED: [&str; 2] = ["discord", "clyde"];

/// `name` with a `·` after the first three letters of every reserved word, matched per character
/// case-insensitively (a character whose lower case is not one ASCII letter never matches).
fn break_reserved(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let folded: Vec<Option<char>> = chars
        .iter()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.is_ascii() => Some(l),
                _ => None,
            }
        })
        .collect();
    let mut out = String::with_capacity(name.len() + 4);
    let mut i = 0;
    while i < chars.len() {
        let hit = RESERVED.iter().find(|w| {
            w.chars()
                .enumerate()
                .all(|(k, wc)| folded.get(i + k).copied().flatten() == Some(wc))
        });
        match hit {
            Some(w) => {
                let n = w.chars().count();
                out.extend(&chars[i..i + 3]);
                out.push('·');
                out.extend(&chars[i + 3..i + n]);
                i += n;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}

/// A nonce for part `part` of the send `txn_id`: at most 25 characters, equal on every retry.
pub fn nonce_for(txn_id: &str, part: usize) -> String {
    // FNV-1a, 64 bits: short, stable, and spread enough for a few minutes of sends.
    let h = txn_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("cb{h:016x}{part}").chars().take(25).collect()
}

/// A thread name from the first line of `text`: 1–100 characters.
fn thread_name(text: &RichText) -> String {
    let plain = text.to_plain();
    let first = plain
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let name: String = first.chars().take(90).collect();
    if name.is_empty() {
        "Thread".into()
    } else {
        name
    }
}

/// Renders `text` into contents of at most 2,000 characters, splitting further when escaping made
/// a part too long. `prefix` (already markdown) goes before the first part.
pub fn render_parts(text: &RichText, prefix: &str) -> Vec<String> {
    let budget = DISCORD_MAX.saturating_sub(prefix.chars().count()).max(1);
    let mut limit = text.char_len().max(1);
    loop {
        let parts = text.split(limit);
        let rendered: Vec<String> = parts.iter().map(format::render).collect();
        let fits = rendered.iter().all(|r| r.chars().count() <= budget);
        if fits || limit <= 1 {
            let mut rendered = rendered;
            if let Some(first) = rendered.first_mut() {
                first.insert_str(0, prefix);
            }
            return rendered;
        }
        limit = (limit * 3 / 4).max(1);
    }
}

fn allowed_mentions() -> Value {
    json!({"parse": []})
}

/// Where a message goes: the channel (or thread channel) and, for webhooks, the thread id param.
struct Target {
    channel: ChannelId,
    thread: Option<ChannelId>,
}

impl Inner {
    fn with_body<'a>(req: Request<'a>, body: &Value, file: Option<&OutgoingFile>) -> Request<'a> {
        match file {
            None => req.body(Some(body.to_string().into_bytes())),
            Some(f) => {
                let mut body = body.clone();
                body["attachments"] = json!([{"id": 0, "filename": f.name}]);
                req.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        f.data.clone(),
                        f.name.clone(),
                    )]),
                    fields: Vec::new(),
                    payload_json: Some(body.to_string()),
                }))
            }
        }
    }

    async fn post_bot(
        &self,
        channel: ChannelId,
        content: &str,
        reply: Option<MessageId>,
        file: Option<&OutgoingFile>,
        nonce: &str,
        notice: bool,
    ) -> Result<RestMessage, DiscordError> {
        // `enforce_nonce`: if a retry repeats a create that did land (a timeout after Discord
        // posted), Discord returns the first message instead of posting twice.
        let mut body = json!({
            "content": content,
            "allowed_mentions": allowed_mentions(),
            "nonce": nonce,
            "enforce_nonce": true,
        });
        if notice {
            // A notice from the bridge itself: no push notification (SUPPRESS_NOTIFICATIONS).
            body["flags"] = json!(SUPPRESS_NOTIFICATIONS);
        }
        if let Some(r) = reply {
            body["message_reference"] =
                json!({"message_id": r.get().to_string(), "fail_if_not_exists": false});
        }
        let req = Request::new(
            Route::ChannelMessages {
                channel_id: channel,
            },
            LightMethod::Post,
        );
        self.rest.json(Self::with_body(req, &body, file)).await
    }

    async fn post_webhook(
        &self,
        hook: &Hook,
        thread: Option<ChannelId>,
        thread_name: Option<String>,
        content: &str,
        out: &Outgoing,
        file: Option<&OutgoingFile>,
    ) -> Result<RestMessage, DiscordError> {
        let mut body = json!({"content": content, "allowed_mentions": allowed_mentions()});
        if let Some(p) = &out.persona {
            body["username"] = json!(webhook_username(&p.display_name, &p.platform_label));
            if let Some(a) = &p.avatar_url {
                body["avatar_url"] = json!(a);
            }
        }
        if let Some(name) = thread_name {
            // In a forum: open a post with this title.
            body["thread_name"] = json!(name);
        }
        let mut params = vec![("wait", "true".to_owned())];
        if let Some(t) = thread {
            params.push(("thread_id", t.get().to_string()));
        }
        let req = Request::new(
            Route::WebhookWithToken {
                webhook_id: WebhookId::new(hook.id),
                token: &hook.token,
            },
            LightMethod::Post,
        )
        .params(Some(params));
        self.rest.json(Self::with_body(req, &body, file)).await
    }

    /// Starts (or finds) the thread rooted at `root` in `channel`. Discord gives a thread started
    /// from a message the message's id; a forum post's thread has its starter message's id.
    async fn start_thread(
        &self,
        channel: ChannelId,
        root: MessageId,
        text: &RichText,
    ) -> Result<ChannelId, DiscordError> {
        let body = json!({"name": thread_name(text), "auto_archive_duration": 10080});
        let req = Request::new(
            Route::ChannelMessageThreads {
                channel_id: channel,
                message_id: root,
            },
            LightMethod::Post,
        )
        .body(Some(body.to_string().into_bytes()));
        match self.rest.json::<RestChannel>(req).await {
            Ok(c) => {
                let id =
                    c.id.parse::<u64>()
                        .map_err(|e| DiscordError::Decode(e.to_string()))?;
                self.remember_thread(id, channel.get());
                Ok(ChannelId::new(id))
            }
            // 160004: a thread already exists for this message; 50024: the root is itself a
            // forum post (or in a thread). Either way the thread has the root's id.
            Err(e) if matches!(e.api_code(), Some(160_004 | 50_024)) => {
                Ok(ChannelId::new(root.get()))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens a forum post whose starter message is the whole (first part of the) message.
    async fn forum_post(
        &self,
        forum: ChannelId,
        out: &Outgoing,
        content: &str,
        file: Option<&OutgoingFile>,
    ) -> Result<RestChannel, DiscordError> {
        let body = json!({
            "name": thread_name(&out.text),
            "message": {"content": content, "allowed_mentions": allowed_mentions()},
        });
        let req = Request::new(
            Route::ChannelThreads { channel_id: forum },
            LightMethod::Post,
        );
        let req = match file {
            None => req.body(Some(body.to_string().into_bytes())),
            Some(f) => {
                let mut body = body;
                body["message"]["attachments"] = json!([{"id": 0, "filename": f.name}]);
                req.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![CreateAttachment::bytes(
                        f.data.clone(),
                        f.name.clone(),
                    )]),
                    fields: Vec::new(),
                    payload_json: Some(body.to_string()),
                }))
            }
        };
        self.rest.json(req).await
    }

    fn jump_link(&self, guild: Option<u64>, channel: ChannelId, msg: &RemoteMsgId) -> String {
        let guild = guild.map_or_else(|| "@me".to_owned(), |g| g.to_string());
        format!("https://discord.com/channels/{guild}/{channel}/{msg}")
    }

    /// Posts `out`. See the module docs for replies, threads, splitting and attachments.
    pub async fn send(&self, out: &Outgoing) -> Result<SendReceipt, DiscordError> {
        let room = ids::channel(&out.room)?;
        let info = self.channel_info(room).await;
        let is_forum = info.as_ref().is_some_and(|i| i.is_forum);
        let guild = info.as_ref().and_then(|i| i.guild);
        let target = match &out.thread {
            None => Target {
                channel: room,
                thread: None,
            },
            Some(ThreadTarget::Existing(t)) => {
                let t = ids::thread(t)?;
                Target {
                    channel: t,
                    thread: Some(t),
                }
            }
            Some(ThreadTarget::StartFrom(root)) => {
                let t = self
                    .start_thread(room, ids::message(root)?, &out.text)
                    .await?;
                Target {
                    channel: t,
                    thread: Some(t),
                }
            }
        };

        let hook = match (&out.persona, self.cfg.use_webhooks) {
            (Some(_), true) => self.webhook_for(room).await?,
            _ => None,
        };
        let mut text = out.text.clone();
        if let (Some(p), None) = (&out.persona, &hook) {
            // No webhook: attribute in the text, as the core does for platforms without personas.
            text.prepend([
                Span::Bold(vec![Span::Text(attribution(p))]),
                Span::Text(" ".into()),
            ]);
        }
        let reply = out.reply_to.as_ref().map(ids::message).transpose()?;
        let prefix = match (&hook, &out.reply_to) {
            (Some(_), Some(r)) => format!(
                "> ↪ [reply]({})\n",
                self.jump_link(guild, target.channel, r)
            ),
            _ => String::new(),
        };
        let mut contents = if text.is_empty() && !out.attachments.is_empty() {
            vec![prefix]
        } else {
            render_parts(&text, &prefix)
        };
        // Further files each get a message of their own.
        for _ in out.attachments.iter().skip(1) {
            contents.push(String::new());
        }
        let files: Vec<Option<&OutgoingFile>> = {
            let mut f: Vec<Option<&OutgoingFile>> = vec![None; contents.len()];
            let text_parts = contents.len() - out.attachments.len().saturating_sub(1);
            if let Some(first) = out.attachments.first() {
                f[0] = Some(first);
            }
            for (i, a) in out.attachments.iter().skip(1).enumerate() {
                f[text_parts + i] = Some(a);
            }
            f
        };

        let mut posted: Vec<RestMessage> = Vec::new();
        // Where the parts go: the target thread, or the forum post the first part opens.
        let mut thread_now = target.thread;
        let opens_post = is_forum && target.thread.is_none();
        for (i, (content, file)) in contents.iter().zip(files).enumerate() {
            let first_of_post = opens_post && i == 0;
            let result = match (&hook, first_of_post) {
                (None, true) => {
                    self.forum_post(room, out, content, file)
                        .await
                        .map(|c| RestMessage {
                            id: c.id.clone(),
                            channel_id: c.id,
                            webhook_id: None,
                        })
                }
                (Some(h), true) => {
                    let name = Some(thread_name(&out.text));
                    self.post_webhook(h, None, name, content, out, file).await
                }
                (Some(h), false) => {
                    self.post_webhook(h, thread_now, None, content, out, file)
                        .await
                }
                (None, false) => {
                    let r = if i == 0 { reply } else { None };
                    let nonce = nonce_for(&out.txn_id, i);
                    let at = thread_now.unwrap_or(room);
                    self.post_bot(at, content, r, file, &nonce, out.notice)
                        .await
                }
            };
            if let (true, Ok(m)) = (first_of_post, &result) {
                // A forum post's thread has its starter message's id.
                let t = m
                    .channel_id
                    .parse::<u64>()
                    .map_err(|e| DiscordError::Decode(e.to_string()))?;
                self.remember_thread(t, room.get());
                thread_now = Some(ChannelId::new(t));
            }
            match result {
                Ok(m) => posted.push(m),
                Err(e) => {
                    // Take back the parts already posted, so the outbox's retry cannot duplicate.
                    for m in posted.iter().rev() {
                        let _ = self.delete_posted(m, hook.as_ref()).await;
                    }
                    if let (Some(h), Some(10_015)) = (&hook, e.api_code()) {
                        // Someone deleted the webhook: forget it, and let the retry make a new one.
                        self.forget_webhook(room, h.id);
                        return Err(DiscordError::Network(format!("webhook vanished: {e}")));
                    }
                    return Err(e);
                }
            }
        }
        let mut ids_out = Vec::new();
        for m in &posted {
            let id =
                m.id.parse::<u64>()
                    .map_err(|e| DiscordError::Decode(e.to_string()))?;
            let channel = m
                .channel_id
                .parse::<u64>()
                .map_err(|e| DiscordError::Decode(e.to_string()))?;
            self.remember_post(
                id,
                PostedBy {
                    channel,
                    hook: hook.clone().filter(|_| m.webhook_id.is_some()),
                    thread: thread_now.map(ChannelId::get).filter(|t| *t == channel),
                },
            );
            ids_out.push(RemoteMsgId::new(m.id.clone()));
        }
        Ok(SendReceipt {
            ids: ids_out,
            thread: thread_now.map(ids::thread_id),
        })
    }

    async fn delete_posted(
        &self,
        m: &RestMessage,
        hook: Option<&Hook>,
    ) -> Result<(), DiscordError> {
        let id: u64 =
            m.id.parse()
                .map_err(|_| DiscordError::Decode(m.id.clone()))?;
        let channel: u64 = m
            .channel_id
            .parse()
            .map_err(|_| DiscordError::Decode(m.channel_id.clone()))?;
        let by = PostedBy {
            channel,
            hook: hook.cloned().filter(|_| m.webhook_id.is_some()),
            thread: None,
        };
        self.delete_by(&by, id).await
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
                        Some(w) => self.hook_by_id(w),
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
        let mut text = out.text.clone();
        if let (Some(p), None) = (&out.persona, &by.hook) {
            text.prepend([
                Span::Bold(vec![Span::Text(attribution(p))]),
                Span::Text(" ".into()),
            ]);
        }
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

    async fn delete_by(&self, by: &PostedBy, id: u64) -> Result<(), DiscordError> {
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

    pub async fn react(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), DiscordError> {
        let channel = match self.locate(room, id, None).await? {
            Some(by) => ChannelId::new(by.channel),
            None => ids::channel(room)?,
        };
        let req = Request::new(
            Route::ChannelMessageReactionMe {
                channel_id: channel,
                message_id: ids::message(id)?,
                reaction: key,
            },
            LightMethod::Put,
        );
        self.rest.call(req).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_survives_any_name() {
        let filler = format!("Staff (Matrix){}", "\u{3164}".repeat(100));
        assert_eq!(
            webhook_username(&filler, "Telegram"),
            "Staff [Matrix] (Telegram)"
        );
        let long = "x".repeat(200);
        let u = webhook_username(&long, "Telegram");
        assert!(u.ends_with(" (Telegram)") && u.chars().count() <= 80, "{u}");
        assert_eq!(webhook_username("\u{202E}\n", "Matrix"), "Unnamed (Matrix)");
    }

    #[test]
    fn names_whose_case_changes_length_never_panic() {
        assert_eq!(webhook_username("İlknur", "Matrix"), "İlknur (Matrix)");
        assert_eq!(
            webhook_username("STRAẞE ﬁx", "Matrix"),
            "STRAẞE ﬁx (Matrix)"
        );
        assert_eq!(webhook_username("İDiscord", "Matrix"), "İDis·cord (Matrix)");
        assert_eq!(webhook_username("KCLYDE", "Matrix"), "KCLY·DE (Matrix)");
        assert_eq!(webhook_username("everyone", ""), "everyone (bridged)");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use civicbridge_api::testing::fuzz_config;
    use proptest::prelude::*;

    fn hostile() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            Just("İ".to_owned()),
            Just("ẞ".to_owned()),
            Just("ﬁ".to_owned()),
            Just("Discord".to_owned()),
            Just("cLyDe".to_owned()),
            Just("\u{3164}".to_owned()),
            Just("\u{202E}".to_owned()),
            Just("\n".to_owned()),
            Just("(Matrix)".to_owned()),
            "[a-zA-Z ]{1,6}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(atom, 0..60).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(fuzz_config(256))]

        /// What Discord accepts, with the label whole, for any name.
        #[test]
        fn fuzz_webhook_username(name in hostile(), label in "(Matrix|Telegram)") {
            let u = webhook_username(&name, &label);
            let suffix = format!(" ({label})");
            prop_assert!(u.ends_with(&suffix), "{:?}", u);
            prop_assert!((1..=80).contains(&u.chars().count()), "{:?}", u);
            let lower = u.to_lowercase();
            prop_assert!(!lower.contains("discord") && !lower.contains("clyde"), "{:?}", u);
            prop_assert!(!u.chars().any(civicbridge_api::names::is_hidden), "{:?}", u);
        }
    }
}
