//! Posting, editing and deleting, with Telegram's limits applied.
//!
//! - Text goes as plain text plus entities (see `format`), never with a `parse_mode`.
//! - Parts: the core sends text that fits 4,096 characters; if it is longer in UTF-16 units
//!   (emoji count double) it is split again on word boundaries, and the receipt lists every part.
//! - Replies use `reply_parameters` with `allow_sending_without_reply`, so a reply to a message
//!   deleted meanwhile still arrives (as a plain message) instead of failing for good.
//! - Threads: `ThreadTarget::Existing(topic)` posts into that forum topic. For
//!   `ThreadTarget::StartFrom(root)`: in a forum supergroup a new topic is opened (named after
//!   the first line of the text) and the message posted in it, and the receipt names the topic;
//!   in any other chat, or when the bot lacks the right to manage topics, the message replies to
//!   `root` and the receipt has `thread: None`, because Telegram has no threads outside forums.
//! - Attachments (posted by `uploads`): images up to 10 MB go as photos, anything else as
//!   documents, and an image Telegram refuses as a photo goes again as a document. When the text
//!   fits a caption (1,024 UTF-16 units) it becomes the first file's caption; otherwise the text
//!   goes first and the files follow without captions.
//! - Every post waits for its turn with the `Pacer`.
//!
//! A topic is opened once per send: it is kept under the send's transaction id (in memory and in
//! `ConnectorState`) before the message is posted into it, so the outbox's retry of a send whose
//! post failed reuses the topic. Only a `createForumTopic` whose answer was lost can still leave
//! an extra, empty topic: the Bot API has no way to list topics or make the call idempotent.
//!
//! A multi-part send that fails half way reports the error; a retry by the outbox then posts the
//! earlier parts again (Telegram has no idempotency key for bots).

use crate::error::{classify, description};
use crate::format::{split_to_fit, to_telegram, utf16_len};
use crate::ids;
use crate::TelegramConnector;
use civicbridge_api::{
    ConnectorError, Outgoing, OutgoingFile, RemoteMsgId, RichText, RoomId, SendReceipt,
    ThreadTarget,
};
use teloxide::prelude::*;
use teloxide::types::{
    ChatFullInfoKind, ChatFullInfoPublicKind, MessageId, ReplyParameters, ThreadId,
};
use teloxide::ApiError;

pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;

/// Where one send goes inside its chat.
pub(crate) struct Placement {
    pub(crate) thread: Option<ThreadId>,
    pub(crate) reply: Option<MessageId>,
}

impl TelegramConnector {
    pub(crate) fn fail(&self, e: &teloxide::RequestError) -> ConnectorError {
        classify(e, &self.config.token)
    }

    pub(crate) async fn send_impl(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        let chat = ids::chat_id(&out.room)?;
        let mut place = Placement {
            thread: None,
            reply: out.reply_to.as_ref().map(ids::message_id).transpose()?,
        };
        let mut receipt_thread = None;
        match &out.thread {
            Some(ThreadTarget::Existing(t)) => {
                let t = ids::thread_id(t)?;
                place.thread = Some(t);
                receipt_thread = Some(ids::thread(t));
            }
            Some(ThreadTarget::StartFrom(root)) => {
                let topic = if self.is_forum(chat).await? {
                    match self.opened_topic(chat, &out.txn_id) {
                        Some(t) => Some(t),
                        None => {
                            let t = self.open_topic(chat, &out.text).await?;
                            if let Some(t) = t {
                                self.remember_topic(chat, &out.txn_id, t).await;
                            }
                            t
                        }
                    }
                } else {
                    None
                };
                match topic {
                    Some(t) => {
                        place.thread = Some(t);
                        receipt_thread = Some(ids::thread(t));
                    }
                    None => place.reply = place.reply.or(Some(ids::message_id(root)?)),
                }
            }
            None => {}
        }
        self.check_sizes(&out.attachments)?;
        let parts = text_parts(&out.text);
        let caption_fits = parts.len() == 1 && utf16_len(&parts[0].to_plain()) <= MAX_CAPTION;
        let mut ids_out = Vec::new();
        if out.attachments.is_empty() || !caption_fits {
            for part in &parts {
                let id = self.post_text(chat, part, &place).await?;
                ids_out.push(ids::remote_msg_id(id));
                place.reply = None;
            }
        }
        for (i, f) in out.attachments.iter().enumerate() {
            let caption = (i == 0 && caption_fits).then(|| &parts[0]);
            let id = self.post_file(chat, f, caption, &place).await?;
            ids_out.push(ids::remote_msg_id(id));
            place.reply = None;
        }
        if ids_out.is_empty() {
            return Err(ConnectorError::Rejected(
                "nothing to send: no text and no attachment".into(),
            ));
        }
        Ok(SendReceipt {
            ids: ids_out,
            thread: receipt_thread,
        })
    }

    /// Refuses files over the configured upload limit before anything is posted.
    pub(crate) fn check_sizes(&self, files: &[OutgoingFile]) -> Result<(), ConnectorError> {
        match files
            .iter()
            .find(|f| f.data.len() as u64 > self.config.max_attachment_bytes)
        {
            Some(f) => Err(ConnectorError::Rejected(format!(
                "{} is {} bytes; the bot may upload at most {}",
                f.name,
                f.data.len(),
                self.config.max_attachment_bytes
            ))),
            None => Ok(()),
        }
    }

    /// The topic an earlier attempt of this very send opened. A send is retried with the same
    /// transaction id when a later step failed (the message into the new topic, a lost answer),
    /// and must not open a second topic.
    fn opened_topic(&self, chat: ChatId, txn: &str) -> Option<ThreadId> {
        let key = topic_key(chat, txn);
        let known = self
            .topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        let stored = || {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
            state.and_then(|s| s.get(&key))
        };
        let raw = known.or_else(stored)?;
        ids::thread_id(&civicbridge_api::ThreadId::new(raw)).ok()
    }

    /// Keeps the topic opened for `txn`, in memory and in the connector's durable state (so a
    /// crash between opening it and posting into it does not open another after the restart),
    /// before anything is posted into it.
    async fn remember_topic(&self, chat: ChatId, txn: &str, topic: ThreadId) {
        let key = topic_key(chat, txn);
        let value = ids::thread(topic).as_str().to_owned();
        self.topics
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), value.clone());
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(s) = state {
            if let Err(e) = s.put(&key, &value).await {
                tracing::warn!(error = %e, "telegram: could not store an opened topic");
            }
        }
    }

    /// Opens a forum topic named after the text. `None` when the bot may not (it is no topic
    /// admin): the caller then falls back to a reply, as outside forums.
    async fn open_topic(
        &self,
        chat: ChatId,
        text: &RichText,
    ) -> Result<Option<ThreadId>, ConnectorError> {
        self.pacer.wait_turn(chat.0).await;
        match self
            .bot
            .create_forum_topic(chat, topic_name(text))
            .send()
            .await
        {
            Ok(topic) => Ok(Some(topic.thread_id)),
            Err(e) => match self.fail(&e) {
                ConnectorError::Rejected(why) => {
                    tracing::warn!(chat = chat.0, %why, "telegram: cannot open a topic; replying instead");
                    Ok(None)
                }
                other => Err(other),
            },
        }
    }

    pub(crate) async fn post_text(
        &self,
        chat: ChatId,
        text: &RichText,
        place: &Placement,
    ) -> Result<MessageId, ConnectorError> {
        let (text, entities) = to_telegram(text);
        let mut req = self.bot.send_message(chat, text);
        if !entities.is_empty() {
            req = req.entities(entities);
        }
        if let Some(t) = place.thread {
            req = req.message_thread_id(t);
        }
        if let Some(r) = place.reply {
            req = req.reply_parameters(reply_parameters(r));
        }
        self.pacer.wait_turn(chat.0).await;
        let m = req.send().await.map_err(|e| self.fail(&e))?;
        Ok(m.id)
    }

    /// Whether `chat` is a forum supergroup (asked once per chat, then remembered).
    async fn is_forum(&self, chat: ChatId) -> Result<bool, ConnectorError> {
        if let Some(known) = self
            .forums
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&chat.0)
        {
            return Ok(*known);
        }
        let info = self
            .bot
            .get_chat(chat)
            .send()
            .await
            .map_err(|e| self.fail(&e))?;
        let forum = match &info.kind {
            ChatFullInfoKind::Public(p) => {
                matches!(&p.kind, ChatFullInfoPublicKind::Supergroup(s) if s.is_forum)
            }
            ChatFullInfoKind::Private(_) => false,
        };
        self.forums
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(chat.0, forum);
        Ok(forum)
    }

    pub(crate) async fn edit_impl(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        let chat = ids::chat_id(room)?;
        let msg = ids::message_id(id)?;
        let first = split_to_fit(&out.text, MAX_TEXT)
            .into_iter()
            .next()
            .unwrap_or_default();
        let (text, entities) = to_telegram(&first);
        if text.trim().is_empty() {
            // Telegram refuses an empty text outright; only a caption can be emptied.
            return self.edit_caption(chat, msg, &first).await;
        }
        self.pacer.wait_turn(chat.0).await;
        let mut req = self.bot.edit_message_text(chat, msg, text);
        if !entities.is_empty() {
            req = req.entities(entities);
        }
        match req.send().await {
            Ok(_) => Ok(()),
            // The retry of an edit that already landed.
            Err(teloxide::RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(teloxide::RequestError::Api(e))
                if description(&e).contains("there is no text in the message to edit") =>
            {
                self.edit_caption(chat, msg, &first).await
            }
            Err(e) => Err(self.fail(&e)),
        }
    }

    async fn edit_caption(
        &self,
        chat: ChatId,
        msg: MessageId,
        text: &RichText,
    ) -> Result<(), ConnectorError> {
        let first = split_to_fit(text, MAX_CAPTION)
            .into_iter()
            .next()
            .unwrap_or_default();
        let (caption, entities) = to_telegram(&first);
        self.pacer.wait_turn(chat.0).await;
        match self
            .bot
            .edit_message_caption(chat, msg)
            .caption(caption)
            .caption_entities(entities)
            .send()
            .await
        {
            Ok(_) | Err(teloxide::RequestError::Api(ApiError::MessageNotModified)) => Ok(()),
            Err(e) => Err(self.fail(&e)),
        }
    }

    pub(crate) async fn delete_impl(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
    ) -> Result<(), ConnectorError> {
        let chat = ids::chat_id(room)?;
        let msg = ids::message_id(id)?;
        match self.bot.delete_message(chat, msg).send().await {
            // Already gone: the contract makes a repeated delete a success.
            Ok(_) | Err(teloxide::RequestError::Api(ApiError::MessageToDeleteNotFound)) => Ok(()),
            Err(e) => Err(self.fail(&e)),
        }
    }
}

/// The text as the messages that carry it, each within Telegram's limit. A part that is only
/// white space is left out: Telegram trims texts and refuses an empty one.
pub(crate) fn text_parts(text: &RichText) -> Vec<RichText> {
    if text.is_empty() {
        return Vec::new();
    }
    split_to_fit(text, MAX_TEXT)
        .into_iter()
        .filter(|part| !to_telegram(part).0.trim().is_empty())
        .collect()
}

pub(crate) fn reply_parameters(id: MessageId) -> ReplyParameters {
    ReplyParameters {
        allow_sending_without_reply: Some(true),
        ..ReplyParameters::new(id)
    }
}

/// A forum topic name (1–128 characters) from the first line of the text.
fn topic_name(text: &RichText) -> String {
    let plain = text.to_plain();
    let line = plain
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let name: String = line.chars().take(128).collect();
    if name.is_empty() {
        "Thread".into()
    } else {
        name
    }
}

/// Where an opened topic is kept, per chat and send.
fn topic_key(chat: ChatId, txn: &str) -> String {
    format!("topic:{}:{txn}", chat.0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_fit_telegram() {
        assert_eq!(
            topic_name(&RichText::plain("\n  Ada (Matrix): roads\nmore")),
            "Ada (Matrix): roads"
        );
        assert_eq!(
            topic_name(&RichText::plain("x".repeat(300)))
                .chars()
                .count(),
            128
        );
        assert_eq!(topic_name(&RichText::default()), "Thread");
    }
}
