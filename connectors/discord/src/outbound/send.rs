//! `send`: one `Outgoing` posted as one or more messages, in order.
//!
//! The steps: where it goes (`target`: the room, a thread, or a thread started from a message),
//! who speaks (a persona webhook, or the attribution in the text), the parts (`parts`: the
//! rendered text, a reply's quote line in front for a webhook, one message per further file),
//! posting them (`post_parts`; the first part opens a forum post in a forum), and remembering who
//! posted each and where (`remember_sent`), for edits and deletes. If a part fails, the parts
//! already posted are deleted again (`take_back`), so the outbox's retry cannot duplicate them.

use super::persona::attributed;
use super::post::{nonce_for, thread_name};
use super::render_parts;
use super::responses::RestMessage;
use crate::error::DiscordError;
use crate::ids;
use crate::{Hook, Inner, PostedBy};
use civicbridge_api::{Outgoing, OutgoingFile, RemoteMsgId, RichText, SendReceipt, ThreadTarget};
use serenity::all::{ChannelId, MessageId};

/// Where a message goes: the channel (or thread channel) and, for webhooks, the thread id param.
struct Target {
    channel: ChannelId,
    thread: Option<ChannelId>,
}

/// What every part of one send shares.
struct Plan<'a> {
    out: &'a Outgoing,
    /// The room: a text channel or a forum.
    room: ChannelId,
    /// The persona's webhook, when the message speaks through one.
    hook: Option<&'a Hook>,
    /// The message the first part answers natively (bot messages only).
    reply: Option<MessageId>,
    /// Whether the first part opens a forum post.
    opens_post: bool,
}

/// One message of a send: its content, and the file it carries.
pub(super) type Part<'a> = (String, Option<&'a OutgoingFile>);

impl Inner {
    /// Posts `out`. See the module docs for replies, threads, splitting and attachments.
    pub async fn send(&self, out: &Outgoing) -> Result<SendReceipt, DiscordError> {
        let room = ids::channel(&out.room)?;
        let info = self.channel_info(room).await;
        let is_forum = info.as_ref().is_some_and(|i| i.is_forum);
        let guild = info.as_ref().and_then(|i| i.guild);
        let target = self.target(room, out).await?;
        let hook = match (&out.persona, self.cfg.use_webhooks) {
            (Some(_), true) => self.webhook_for(room).await?,
            _ => None,
        };
        let reply = out.reply_to.as_ref().map(ids::message).transpose()?;
        let prefix = match (&hook, &out.reply_to) {
            (Some(_), Some(r)) => format!(
                "> ↪ [reply]({})\n",
                self.jump_link(guild, target.channel, r)
            ),
            _ => String::new(),
        };
        let parts = parts(&out.attachments, &attributed(out, hook.is_some()), prefix);
        let plan = Plan {
            out,
            room,
            hook: hook.as_ref(),
            reply,
            opens_post: is_forum && target.thread.is_none(),
        };
        let (posted, thread) = self.post_parts(&plan, &parts, target.thread).await?;
        Ok(SendReceipt {
            ids: self.remember_sent(&posted, plan.hook, thread)?,
            thread: thread.map(ids::thread_id),
        })
    }

    /// Where `out` goes in `room`: the room itself, a thread it names, or the thread started
    /// from the message it names.
    async fn target(&self, room: ChannelId, out: &Outgoing) -> Result<Target, DiscordError> {
        Ok(match &out.thread {
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
        })
    }

    fn jump_link(&self, guild: Option<u64>, channel: ChannelId, msg: &RemoteMsgId) -> String {
        let guild = guild.map_or_else(|| "@me".to_owned(), |g| g.to_string());
        format!("https://discord.com/channels/{guild}/{channel}/{msg}")
    }

    /// Posts the parts in order, into `thread` if there is one, else into the room or the forum
    /// post the first part opens. Returns the messages and the thread they are in.
    async fn post_parts(
        &self,
        plan: &Plan<'_>,
        parts: &[Part<'_>],
        mut thread: Option<ChannelId>,
    ) -> Result<(Vec<RestMessage>, Option<ChannelId>), DiscordError> {
        let mut posted: Vec<RestMessage> = Vec::new();
        for (i, (content, file)) in parts.iter().enumerate() {
            let first_of_post = plan.opens_post && i == 0;
            let result = self
                .post_part(plan, i, content, *file, first_of_post, thread)
                .await;
            if let (true, Ok(m)) = (first_of_post, &result) {
                // A forum post's thread has its starter message's id.
                let t = m
                    .channel_id
                    .parse::<u64>()
                    .map_err(|e| DiscordError::Decode(e.to_string()))?;
                self.remember_thread(t, plan.room.get());
                thread = Some(ChannelId::new(t));
            }
            match result {
                Ok(m) => posted.push(m),
                Err(e) => return Err(self.take_back(plan, &posted, e).await),
            }
        }
        Ok((posted, thread))
    }

    /// Posts part `i`: as the starter of a forum post (`first_of_post`), through the webhook, or
    /// as the bot (the first part replying natively, each part with its own nonce).
    async fn post_part(
        &self,
        plan: &Plan<'_>,
        i: usize,
        content: &str,
        file: Option<&OutgoingFile>,
        first_of_post: bool,
        thread: Option<ChannelId>,
    ) -> Result<RestMessage, DiscordError> {
        let out = plan.out;
        match (plan.hook, first_of_post) {
            (None, true) => self
                .forum_post(plan.room, out, content, file)
                .await
                .map(|c| RestMessage {
                    id: c.id.clone(),
                    channel_id: c.id,
                    webhook_id: None,
                }),
            (Some(h), true) => {
                let name = Some(thread_name(&out.text));
                self.post_webhook(h, None, name, content, out, file).await
            }
            (Some(h), false) => self.post_webhook(h, thread, None, content, out, file).await,
            (None, false) => {
                let r = if i == 0 { plan.reply } else { None };
                let nonce = nonce_for(&out.txn_id, i);
                let at = thread.unwrap_or(plan.room);
                self.post_bot(at, content, r, file, &nonce, out.notice)
                    .await
            }
        }
    }

    /// A part failed with `e`: takes back the parts already posted, so the outbox's retry cannot
    /// duplicate them, and returns the error to report.
    async fn take_back(
        &self,
        plan: &Plan<'_>,
        posted: &[RestMessage],
        e: DiscordError,
    ) -> DiscordError {
        for m in posted.iter().rev() {
            let _ = self.delete_posted(m, plan.hook).await;
        }
        if let (Some(h), Some(10_015)) = (plan.hook, e.api_code()) {
            // Someone deleted the webhook: forget it, and let the retry make a new one.
            self.forget_webhook(plan.room, h.id);
            return DiscordError::Network(format!("webhook vanished: {e}"));
        }
        e
    }

    /// Remembers who posted each message and where, for edits and deletes; returns their ids.
    fn remember_sent(
        &self,
        posted: &[RestMessage],
        hook: Option<&Hook>,
        thread: Option<ChannelId>,
    ) -> Result<Vec<RemoteMsgId>, DiscordError> {
        let mut ids_out = Vec::new();
        for m in posted {
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
                    hook: hook.cloned().filter(|_| m.webhook_id.is_some()),
                    thread: thread.map(ChannelId::get).filter(|t| *t == channel),
                },
            );
            ids_out.push(RemoteMsgId::new(m.id.clone()));
        }
        Ok(ids_out)
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
}

/// The messages one send (or tell) posts: the rendered parts of `text` (`prefix` before the
/// first; just the prefix when there is no text but a file), then one message for each further
/// file. The first message carries the first file.
pub(super) fn parts<'a>(
    files: &'a [OutgoingFile],
    text: &RichText,
    prefix: String,
) -> Vec<Part<'a>> {
    let mut contents = if text.is_empty() && !files.is_empty() {
        vec![prefix]
    } else {
        render_parts(text, &prefix)
    };
    // Further files each get a message of their own.
    for _ in files.iter().skip(1) {
        contents.push(String::new());
    }
    let mut attached: Vec<Option<&OutgoingFile>> = vec![None; contents.len()];
    let text_parts = contents.len() - files.len().saturating_sub(1);
    if let Some(first) = files.first() {
        attached[0] = Some(first);
    }
    for (i, a) in files.iter().skip(1).enumerate() {
        attached[text_parts + i] = Some(a);
    }
    contents.into_iter().zip(attached).collect()
}
