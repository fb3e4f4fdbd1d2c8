//! `tell`: writing to one person in their private chat with the bot.
//!
//! Telegram gives the private chat with a user the user's id, so `Private::to` is the chat.
//! A bot can only write there once the person has started it (sent `/start`), and not while
//! they block it; the Bot API then answers 403 (`Forbidden: bot can't initiate conversation
//! with a user`, `Forbidden: bot was blocked by the user`), and a user it has never seen 400
//! `Bad Request: chat not found`. The classification in `error.rs` makes all of these
//! `Rejected`, which is the contract's "cannot be reached privately now": the core then replies
//! in the room instead. 429 and 5xx are classified as for any send.
//!
//! The text goes as `send` renders it (plain text and entities, split at Telegram's limit, a
//! part of only white space left out), then each file as a document with its name (a photo
//! would lose the name and be recompressed; an export must arrive byte for byte). A tell with
//! neither text nor file is `Rejected`, as `send` refuses one: Telegram has no empty message.
//! Like `send`, a tell that fails half way posts its earlier parts again when retried.

use crate::outbound::{text_parts, Placement};
use crate::{ids, TelegramConnector};
use civicbridge_api::{ConnectorError, Private, SendReceipt};

impl TelegramConnector {
    pub(crate) async fn tell_impl(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        let chat = ids::user_chat(&private.to)?;
        self.check_sizes(&private.files)?;
        let parts = text_parts(&private.text);
        if parts.is_empty() && private.files.is_empty() {
            return Err(ConnectorError::Rejected(
                "nothing to tell: no text and no file".into(),
            ));
        }
        let place = Placement {
            thread: None,
            reply: None,
        };
        let mut sent = Vec::with_capacity(parts.len() + private.files.len());
        for part in &parts {
            let id = self.post_text(chat, part, &place).await?;
            sent.push(ids::remote_msg_id(id));
        }
        let no_caption = (String::new(), Vec::new());
        for f in &private.files {
            self.pacer.wait_turn(chat.0).await;
            let id = self
                .send_document(chat, f, &no_caption, &place)
                .await
                .map_err(|e| self.fail(&e))?;
            sent.push(ids::remote_msg_id(id));
        }
        Ok(SendReceipt {
            ids: sent,
            thread: None,
        })
    }
}
