//! `sendMessage`, `sendPhoto`, `sendDocument`, `editMessageText` and `deleteMessage`: the text
//! and its entities (`parse_mode` or an explicit list, checked against the text), where the
//! message goes (a topic, a reply), and the limits Telegram applies.

use super::flood::flood_check;
use super::target_chat;
use crate::telegram::entities;
use crate::telegram::error::{ApiError, ApiResult};
use crate::telegram::markup::{parse_html, parse_markdown_v2};
use crate::telegram::params::{FileArg, Params};
use crate::telegram::world::{now_secs, Media, StoredMessage, World};
use serde_json::{json, Value};

/// Text limits, in UTF-16 code units as Telegram counts them.
pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
/// The description of an edit that changes nothing.
pub(super) const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";
/// Bots may delete their own messages for 48 hours.
const DELETE_WINDOW_SECS: i64 = 48 * 3600;

pub(super) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Text and entities from `text_key` with `parse_mode` or an explicit entity list, as Telegram
/// stores them: trimmed, with the entities it detects itself (see `entities`).
pub(super) fn formatted(
    p: &Params,
    text_key: &str,
    entities_key: &str,
) -> Result<(String, Vec<Value>), ApiError> {
    let raw = p.string(text_key).unwrap_or_default();
    let mode = p.string("parse_mode").unwrap_or_default();
    let (text, entities) = match mode.to_ascii_lowercase().as_str() {
        "" => {
            let entities = match p.json(entities_key) {
                Ok(Some(list)) => entities::read_list(&list)?,
                Ok(None) => Vec::new(),
                Err(_) => return Err(ApiError::bad_request("can't parse entities JSON object")),
            };
            (raw, entities)
        }
        "html" => parse_html(&raw).map_err(ApiError::cant_parse_entities)?,
        "markdownv2" => parse_markdown_v2(&raw).map_err(ApiError::cant_parse_entities)?,
        "markdown" => (raw, Vec::new()),
        other => {
            return Err(ApiError::bad_request(format!(
                "unsupported parse_mode \"{other}\""
            )))
        }
    };
    Ok(entities::finish(&text, entities))
}

/// `message_thread_id` and `reply_parameters` (or the older `reply_to_message_id`), checked
/// against the chat. A reply without a thread lands in the replied message's topic.
fn placement(w: &World, chat: i64, p: &Params) -> Result<(Option<i32>, Option<i32>), ApiError> {
    let mut thread = match p.int("message_thread_id")? {
        Some(t) => {
            let c = &w.chats[&chat];
            let t =
                i32::try_from(t).map_err(|_| ApiError::bad_request("message thread not found"))?;
            if !c.is_forum || !c.topics.contains_key(&t) {
                return Err(ApiError::bad_request("message thread not found"));
            }
            Some(t)
        }
        None => None,
    };
    let (reply_id, allow_missing) = match p.json("reply_parameters")? {
        Some(rp) => (
            rp["message_id"].as_i64(),
            rp["allow_sending_without_reply"].as_bool().unwrap_or(false),
        ),
        None => (
            p.int("reply_to_message_id")?,
            p.bool("allow_sending_without_reply"),
        ),
    };
    let mut reply = None;
    if let Some(r) = reply_id {
        let target = i32::try_from(r)
            .ok()
            .and_then(|r| w.messages.get(&(chat, r)))
            .filter(|m| !m.deleted);
        match target {
            Some(m) => {
                reply = Some(m.id);
                if thread.is_none() {
                    thread = m.thread;
                }
            }
            None if allow_missing => {}
            None => return Err(ApiError::bad_request("message to be replied not found")),
        }
    }
    Ok((thread, reply))
}

fn bot_message(w: &World, chat: i64, thread: Option<i32>, reply: Option<i32>) -> StoredMessage {
    StoredMessage {
        id: 0,
        chat,
        from: w.bot.id,
        date: now_secs(),
        edit_date: None,
        thread,
        reply_to: reply,
        text: String::new(),
        entities: Vec::new(),
        media: None,
        service: None,
        deleted: false,
        history: Vec::new(),
        at: tokio::time::Instant::now(),
    }
}

fn finish(w: &mut World, m: StoredMessage) -> ApiResult {
    let chat = m.chat;
    let id = w
        .store(m)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    Ok(w.message_json(&w.messages[&(chat, id)], true))
}

pub(super) fn send_message(w: &mut World, p: &Params) -> ApiResult {
    let chat = target_chat(w, p)?;
    if p.string("text").is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let (text, entities) = formatted(p, "text", "entities")?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if utf16_len(&text) > MAX_TEXT {
        return Err(ApiError::bad_request("message is too long"));
    }
    let (thread, reply) = placement(w, chat, p)?;
    flood_check(w, chat)?;
    let mut m = bot_message(w, chat, thread, reply);
    m.text = text;
    m.entities = entities;
    finish(w, m)
}

pub(super) fn send_media(w: &mut World, p: &Params, field: &str) -> ApiResult {
    let chat = target_chat(w, p)?;
    let file_id = match p.file(field) {
        None => {
            return Err(ApiError::bad_request(format!(
                "there is no {field} in the request"
            )))
        }
        Some(FileArg::Id(id)) if w.files.contains_key(&id) => id,
        Some(FileArg::Id(_)) => {
            return Err(ApiError::bad_request(
                "wrong file identifier/HTTP URL specified",
            ))
        }
        Some(FileArg::Upload(u)) => {
            if u.data.is_empty() {
                return Err(ApiError::bad_request("file must be non-empty"));
            }
            if field == "photo" {
                w.store_photo(u.data, u.name, u.mime)?
            } else {
                w.store_file(u.data, u.name, u.mime, "documents")
            }
        }
    };
    // A document's file_id sent as a photo (or the reverse) is refused.
    let is_photo = w
        .files
        .get(&file_id)
        .is_some_and(|f| !f.photo_sizes.is_empty());
    if is_photo != (field == "photo") {
        return Err(ApiError::bad_request("type of file mismatch"));
    }
    let (caption, entities) = formatted(p, "caption", "caption_entities")?;
    if utf16_len(&caption) > MAX_CAPTION {
        return Err(ApiError::bad_request("message caption is too long"));
    }
    let (thread, reply) = placement(w, chat, p)?;
    flood_check(w, chat)?;
    let mut m = bot_message(w, chat, thread, reply);
    m.text = caption;
    m.entities = entities;
    m.media = Some(if field == "photo" {
        Media::Photo { file_id }
    } else {
        Media::Document { file_id }
    });
    finish(w, m)
}

pub(super) fn message_id(p: &Params) -> Result<i32, ApiError> {
    p.int("message_id")?
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

pub(super) fn edit_message_text(w: &mut World, p: &Params) -> ApiResult {
    if p.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat = target_chat(w, p)?;
    let id = message_id(p)?;
    if p.string("text").is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let (text, entities) = formatted(p, "text", "entities")?;
    let m = editable(w, chat, id)?;
    if m.media.is_some() {
        return Err(ApiError::bad_request(
            "there is no text in the message to edit",
        ));
    }
    if utf16_len(&text) > MAX_TEXT {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    if m.text == text && m.entities == entities {
        return Err(ApiError::bad_request(NOT_MODIFIED));
    }
    let old = std::mem::replace(&mut m.text, text);
    m.history.push(old);
    m.entities = entities;
    m.edit_date = Some(now_secs());
    Ok(w.message_json(&w.messages[&(chat, id)], true))
}

/// The bot's own message `id` in `chat`, for an edit.
pub(super) fn editable(w: &mut World, chat: i64, id: i32) -> Result<&mut StoredMessage, ApiError> {
    let bot = w.bot.id;
    let m = w
        .messages
        .get_mut(&(chat, id))
        .filter(|m| !m.deleted && m.service.is_none())
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if m.from != bot {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    Ok(m)
}

pub(super) fn delete_message(w: &mut World, p: &Params) -> ApiResult {
    let chat = target_chat(w, p)?;
    let id = message_id(p)?;
    let bot = w.bot.id;
    let m = w
        .messages
        .get_mut(&(chat, id))
        .filter(|m| !m.deleted)
        .ok_or_else(|| ApiError::bad_request("message to delete not found"))?;
    if m.from == bot && now_secs() - m.date > DELETE_WINDOW_SECS {
        return Err(ApiError::bad_request("message can't be deleted"));
    }
    m.deleted = true;
    Ok(json!(true))
}
