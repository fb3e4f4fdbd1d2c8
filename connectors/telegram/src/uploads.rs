//! Posting one file: images up to 10 MB as photos, anything else as documents, with the caption
//! and its entities, in the send's topic and as its reply. An image Telegram refuses as a photo
//! (`IMAGE_PROCESS_FAILED`: a HEIC, a corrupt file; or `PHOTO_INVALID_DIMENSIONS`: a panorama
//! too narrow) is sent again as a document with the same bytes and caption, so it still crosses.

use crate::error::description;
use crate::format::to_telegram;
use crate::outbound::{reply_parameters, Placement};
use crate::TelegramConnector;
use civicbridge_api::{AttachmentKind, ConnectorError, OutgoingFile, RichText};
use teloxide::prelude::*;
use teloxide::types::{InputFile, MessageEntity, MessageId};
use teloxide::ApiError;

/// The largest photo a bot may send; bigger images go as documents.
const MAX_PHOTO: usize = 10 * 1024 * 1024;

impl TelegramConnector {
    pub(crate) async fn post_file(
        &self,
        chat: ChatId,
        f: &OutgoingFile,
        caption: Option<&RichText>,
        place: &Placement,
    ) -> Result<MessageId, ConnectorError> {
        let caption = caption.map(to_telegram).unwrap_or_default();
        let as_photo = f.kind == AttachmentKind::Image
            && f.data.len() <= MAX_PHOTO
            && f.mime.as_deref().is_none_or(|m| {
                matches!(m, "image/jpeg" | "image/png" | "image/webp" | "image/gif")
            });
        if as_photo {
            self.pacer.wait_turn(chat.0).await;
            match self.send_photo(chat, f, &caption, place).await {
                Ok(id) => return Ok(id),
                // Telegram could not read it as a picture (a HEIC, a corrupt file, a panorama
                // too narrow): it still crosses, as a file.
                Err(teloxide::RequestError::Api(e)) if not_a_photo(&e) => {
                    tracing::info!(
                        chat = chat.0,
                        name = %f.name,
                        why = %description(&e),
                        "telegram: not accepted as a photo; sending it as a document"
                    );
                }
                Err(e) => return Err(self.fail(&e)),
            }
        }
        self.pacer.wait_turn(chat.0).await;
        self.send_document(chat, f, &caption, place)
            .await
            .map_err(|e| self.fail(&e))
    }

    async fn send_photo(
        &self,
        chat: ChatId,
        f: &OutgoingFile,
        (caption, entities): &(String, Vec<MessageEntity>),
        place: &Placement,
    ) -> Result<MessageId, teloxide::RequestError> {
        let input = InputFile::memory(f.data.clone()).file_name(f.name.clone());
        let mut req = self.bot.send_photo(chat, input);
        if !caption.is_empty() {
            req = req
                .caption(caption.clone())
                .caption_entities(entities.clone());
        }
        if let Some(t) = place.thread {
            req = req.message_thread_id(t);
        }
        if let Some(r) = place.reply {
            req = req.reply_parameters(reply_parameters(r));
        }
        Ok(req.send().await?.id)
    }

    pub(crate) async fn send_document(
        &self,
        chat: ChatId,
        f: &OutgoingFile,
        (caption, entities): &(String, Vec<MessageEntity>),
        place: &Placement,
    ) -> Result<MessageId, teloxide::RequestError> {
        let input = InputFile::memory(f.data.clone()).file_name(f.name.clone());
        let mut req = self.bot.send_document(chat, input);
        if !caption.is_empty() {
            req = req
                .caption(caption.clone())
                .caption_entities(entities.clone());
        }
        if let Some(t) = place.thread {
            req = req.message_thread_id(t);
        }
        if let Some(r) = place.reply {
            req = req.reply_parameters(reply_parameters(r));
        }
        Ok(req.send().await?.id)
    }
}

/// Telegram refused the bytes as a photo, though they may well cross as a document.
fn not_a_photo(e: &ApiError) -> bool {
    matches!(e, ApiError::ImageProcessFailed) || description(e).contains("PHOTO_INVALID_DIMENSIONS")
}
