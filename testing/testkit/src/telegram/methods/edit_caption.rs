//! `editMessageCaption`: replaces (or, with no `caption`, removes) the caption of the bot's own
//! photo or document, with `parse_mode` or `caption_entities` as when sending. Refused like
//! Telegram refuses: a message that is not there, not the bot's, or has text instead of media;
//! a caption that changes nothing.

use super::messages::{editable, formatted, message_id, utf16_len, MAX_CAPTION, NOT_MODIFIED};
use super::target_chat;
use crate::telegram::error::{ApiError, ApiResult};
use crate::telegram::params::Params;
use crate::telegram::world::{now_secs, World};

pub(super) fn edit_message_caption(w: &mut World, p: &Params) -> ApiResult {
    if p.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat = target_chat(w, p)?;
    let id = message_id(p)?;
    let (caption, entities) = formatted(p, "caption", "caption_entities")?;
    let m = editable(w, chat, id)?;
    if m.media.is_none() {
        return Err(ApiError::bad_request(
            "there is no caption in the message to edit",
        ));
    }
    if utf16_len(&caption) > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    if m.text == caption && m.entities == entities {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    let old = std::mem::replace(&mut m.text, caption);
    m.history.push(old);
    m.entities = entities;
    m.edit_date = Some(now_secs());
    Ok(w.message_json(&w.messages[&(chat, id)], true))
}
