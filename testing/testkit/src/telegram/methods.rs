//! The Bot API methods the fake implements (all but `getUpdates`, which waits and lives in
//! `server.rs`). Each validates its parameters in the order Telegram does and answers with
//! Telegram's own error wording.

use super::error::{ApiError, ApiResult};
use super::markup::{parse_html, parse_markdown_v2};
use super::params::{FileArg, Params};
use super::world::{now_secs, Media, StoredMessage, Webhook, World};
use serde_json::{json, Value};

/// Text limits, in UTF-16 code units as Telegram counts them.
pub const MAX_TEXT: usize = 4096;
pub const MAX_CAPTION: usize = 1024;
/// The largest file a bot may download with `getFile`.
pub const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;
/// Bots may delete their own messages for 48 hours.
const DELETE_WINDOW_SECS: i64 = 48 * 3600;

/// Runs `method` (lower case). `None` when the method does not exist (the caller answers 404).
pub(crate) fn call(w: &mut World, method: &str, p: &Params) -> Option<ApiResult> {
    Some(match method {
        "getme" => Ok(get_me(w)),
        "sendmessage" => send_message(w, p),
        "editmessagetext" => edit_message_text(w, p),
        "deletemessage" => delete_message(w, p),
        "sendphoto" => send_media(w, p, "photo"),
        "senddocument" => send_media(w, p, "document"),
        "getfile" => get_file(w, p),
        "getchat" => target_chat(w, p).map(|c| w.chats[&c].full_info_json()),
        "createforumtopic" => create_forum_topic(w, p),
        "sendchataction" => target_chat(w, p).map(|_| json!(true)),
        "setwebhook" => set_webhook(w, p),
        "deletewebhook" => {
            if p.bool("drop_pending_updates") {
                w.updates.clear();
            }
            w.webhook = None;
            Ok(json!(true))
        }
        "getwebhookinfo" => {
            let mut info = json!({
                "url": w.webhook.as_ref().map(|h| h.url.clone()).unwrap_or_default(),
                "has_custom_certificate": false,
                "pending_update_count": w.updates.len(),
            });
            if let (Some(_), Some((at, why))) = (&w.webhook, &w.webhook_error) {
                info["last_error_date"] = json!(at);
                info["last_error_message"] = json!(why);
            }
            Ok(info)
        }
        _ => return None,
    })
}

pub(crate) fn get_me(w: &World) -> Value {
    let mut v = w.bot.json();
    for (k, val) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", true),
        ("supports_inline_queries", false),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
        ("has_topics_enabled", false),
        ("allows_users_to_create_topics", false),
    ] {
        v[k] = json!(val);
    }
    v
}

/// `chat_id` names a chat the bot is in and may write to.
fn target_chat(w: &World, p: &Params) -> Result<i64, ApiError> {
    let id = p.chat_id()?;
    let chat = w
        .chats
        .get(&id)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    if chat.bot_kicked {
        return Err(ApiError::forbidden(
            "bot was kicked from the supergroup chat",
        ));
    }
    Ok(id)
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Text and entities from `text_key` with `parse_mode` or an explicit entity list.
fn formatted(
    p: &Params,
    text_key: &str,
    entities_key: &str,
) -> Result<(String, Vec<Value>), ApiError> {
    let raw = p.string(text_key).unwrap_or_default();
    let mode = p.string("parse_mode").unwrap_or_default();
    let (text, entities) = match mode.to_ascii_lowercase().as_str() {
        "" => {
            let entities = match p.json(entities_key)? {
                Some(Value::Array(a)) => a,
                Some(_) => return Err(ApiError::bad_request("can't parse entities JSON object")),
                None => Vec::new(),
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
    let len = utf16_len(&text) as u64;
    for e in &entities {
        let off = e["offset"].as_u64();
        let l = e["length"].as_u64();
        match (off, l, e["type"].as_str()) {
            (Some(o), Some(l), Some(_)) if o + l <= len => {}
            _ => {
                return Err(ApiError::cant_parse_entities(format!(
                    "entity {e} is outside the text or malformed"
                )))
            }
        }
    }
    Ok((text, entities))
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

/// Flood control, when a test turns it on: bots may post about once a second per chat and 20
/// times a minute per group; faster posts get 429 with the seconds left to wait.
fn flood_check(w: &mut World, chat: i64) -> Result<(), ApiError> {
    let now = tokio::time::Instant::now();
    let minute = std::time::Duration::from_secs(60);
    if let Some(min) = w.flood_interval {
        if let Some(last) = w.last_bot_send.get(&chat) {
            let since = now.duration_since(*last);
            if since < min {
                return Err(ApiError::too_many_requests(ceil_secs(min - since)));
            }
        }
    }
    if let (Some(limit), true) = (w.flood_group_per_minute, chat < 0) {
        let sends = w.group_sends.entry(chat).or_default();
        while sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            sends.pop_front();
        }
        if sends.len() >= limit {
            let oldest = sends.front().copied().unwrap_or(now);
            return Err(ApiError::too_many_requests(ceil_secs(
                minute - now.duration_since(oldest),
            )));
        }
        sends.push_back(now);
    }
    w.last_bot_send.insert(chat, now);
    Ok(())
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    (d.as_secs_f64().ceil() as u64).max(1)
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

fn send_message(w: &mut World, p: &Params) -> ApiResult {
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

fn send_media(w: &mut World, p: &Params, field: &str) -> ApiResult {
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
            let folder = if field == "photo" {
                "photos"
            } else {
                "documents"
            };
            w.store_file(u.data, u.name, u.mime, folder)
        }
    };
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

fn message_id(p: &Params) -> Result<i32, ApiError> {
    p.int("message_id")?
        .and_then(|i| i32::try_from(i).ok())
        .ok_or_else(|| ApiError::bad_request("message identifier is not specified"))
}

fn edit_message_text(w: &mut World, p: &Params) -> ApiResult {
    if p.has("inline_message_id") {
        return Err(ApiError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat = target_chat(w, p)?;
    let id = message_id(p)?;
    if p.string("text").is_none_or(|t| t.trim().is_empty()) {
        return Err(ApiError::bad_request("message text is empty"));
    }
    let (text, entities) = formatted(p, "text", "entities")?;
    let bot = w.bot.id;
    let m = w
        .messages
        .get_mut(&(chat, id))
        .filter(|m| !m.deleted)
        .ok_or_else(|| ApiError::bad_request("message to edit not found"))?;
    if m.from != bot {
        return Err(ApiError::bad_request("message can't be edited"));
    }
    if m.media.is_some() {
        return Err(ApiError::bad_request(
            "there is no text in the message to edit",
        ));
    }
    if utf16_len(&text) > MAX_TEXT {
        return Err(ApiError::bad_request("MESSAGE_TOO_LONG"));
    }
    if m.text == text && m.entities == entities {
        return Err(ApiError::bad_request(
            "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
        ));
    }
    let old = std::mem::replace(&mut m.text, text);
    m.history.push(old);
    m.entities = entities;
    m.edit_date = Some(now_secs());
    Ok(w.message_json(&w.messages[&(chat, id)], true))
}

fn delete_message(w: &mut World, p: &Params) -> ApiResult {
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

fn get_file(w: &mut World, p: &Params) -> ApiResult {
    let id = p
        .string("file_id")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("file_id is empty"))?;
    let f = w
        .files
        .get(&id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))?;
    if f.data.len() > MAX_DOWNLOAD {
        return Err(ApiError::bad_request("file is too big"));
    }
    w.file_json(&id)
        .ok_or_else(|| ApiError::bad_request("invalid file_id"))
}

fn create_forum_topic(w: &mut World, p: &Params) -> ApiResult {
    let chat = target_chat(w, p)?;
    if !w.chats[&chat].is_forum {
        return Err(ApiError::bad_request("the chat is not a forum"));
    }
    if !w.chats[&chat].bot_can_manage_topics {
        return Err(ApiError::bad_request("not enough rights to create a topic"));
    }
    let name = p.string("name").unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("TOPIC_TITLE_EMPTY"));
    }
    if name.chars().count() > 128 {
        return Err(ApiError::bad_request("TOPIC_TITLE_INVALID"));
    }
    let (thread, _) = create_topic(w, chat, w.bot.id, &name)
        .ok_or_else(|| ApiError::bad_request("chat not found"))?;
    Ok(json!({ "message_thread_id": thread, "name": name, "icon_color": TOPIC_COLOR }))
}

/// The default icon colour Telegram gives a topic (0x6FB9F0).
const TOPIC_COLOR: i64 = 7_322_096;

/// Opens a topic: its id is the id of its `forum_topic_created` service message.
pub(crate) fn create_topic(
    w: &mut World,
    chat: i64,
    from: i64,
    name: &str,
) -> Option<(i32, Value)> {
    let id = w.next_message_id(chat)?;
    let m = StoredMessage {
        id,
        chat,
        from,
        date: now_secs(),
        edit_date: None,
        thread: Some(id),
        reply_to: None,
        text: String::new(),
        entities: Vec::new(),
        media: None,
        service: Some((
            "forum_topic_created".into(),
            json!({ "name": name, "icon_color": TOPIC_COLOR }),
        )),
        deleted: false,
        history: Vec::new(),
        at: tokio::time::Instant::now(),
    };
    let json = w.message_json(&m, false);
    w.messages.insert((chat, id), m);
    if let Some(c) = w.chats.get_mut(&chat) {
        c.topics.insert(id, name.to_owned());
    }
    Some((id, json))
}

fn set_webhook(w: &mut World, p: &Params) -> ApiResult {
    let url = p.string("url").unwrap_or_default();
    if url.is_empty() {
        w.webhook = None;
        return Ok(json!(true));
    }
    // The local Bot API server (which this stands in for) accepts plain http and any port.
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    if let Some(s) = p.string("secret_token") {
        let ok = s.len() <= 256
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if p.bool("drop_pending_updates") {
        w.updates.clear();
    }
    w.webhook_error = None;
    w.webhook = Some(Webhook {
        url,
        secret_token: p.string("secret_token"),
    });
    Ok(json!(true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::telegram::world::User;

    fn world() -> (World, i64) {
        let mut w = World::new(User {
            id: 1,
            is_bot: true,
            first_name: "Bot".into(),
            last_name: None,
            username: Some("bot".into()),
        });
        let chat = w.add_chat("Group", false);
        (w, chat)
    }

    fn err(w: &mut World, method: &str, p: Value) -> String {
        call(w, method, &Params::from_json(p))
            .expect("known method")
            .expect_err("must fail")
            .description
    }

    #[test]
    fn send_message_errors_match_telegram() {
        let (mut w, chat) = world();
        assert_eq!(
            err(&mut w, "sendmessage", json!({"text": "x"})),
            "Bad Request: chat_id is empty"
        );
        assert_eq!(
            err(&mut w, "sendmessage", json!({"chat_id": 5, "text": "x"})),
            "Bad Request: chat not found"
        );
        assert_eq!(
            err(&mut w, "sendmessage", json!({"chat_id": chat})),
            "Bad Request: message text is empty"
        );
        assert_eq!(
            err(
                &mut w,
                "sendmessage",
                json!({"chat_id": chat, "text": "x".repeat(4097)})
            ),
            "Bad Request: message is too long"
        );
        assert_eq!(
            err(&mut w, "sendmessage", json!({"chat_id": chat, "text": "<b>x", "parse_mode": "HTML"})),
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
        );
        assert_eq!(
            err(
                &mut w,
                "sendmessage",
                json!({"chat_id": chat, "text": "x", "message_thread_id": 3})
            ),
            "Bad Request: message thread not found"
        );
        assert_eq!(
            err(
                &mut w,
                "sendmessage",
                json!({"chat_id": chat, "text": "x", "reply_parameters": {"message_id": 99}})
            ),
            "Bad Request: message to be replied not found"
        );
        assert_eq!(
            err(
                &mut w,
                "createforumtopic",
                json!({"chat_id": chat, "name": "t"})
            ),
            "Bad Request: the chat is not a forum"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn flood_control_limits_groups_per_minute() {
        let (mut w, chat) = world();
        w.flood_group_per_minute = Some(3);
        let send = |w: &mut World| {
            call(
                w,
                "sendmessage",
                &Params::from_json(json!({"chat_id": chat, "text": "x"})),
            )
            .expect("known method")
        };
        for _ in 0..3 {
            send(&mut w).expect("within the limit");
        }
        let e = send(&mut w).expect_err("the 4th in a minute is refused");
        assert_eq!((e.code, e.retry_after), (429, Some(60)));
        tokio::time::advance(std::time::Duration::from_secs(45)).await;
        assert_eq!(
            send(&mut w).expect_err("still limited").retry_after,
            Some(15)
        );
        tokio::time::advance(std::time::Duration::from_secs(15)).await;
        send(&mut w).expect("a minute later it passes");
    }

    #[test]
    fn edit_and_delete_errors_match_telegram() {
        let (mut w, chat) = world();
        let sent = call(
            &mut w,
            "sendmessage",
            &Params::from_json(json!({"chat_id": chat, "text": "a"})),
        )
        .expect("known")
        .expect("sent");
        let id = sent["message_id"].clone();
        assert_eq!(
            err(&mut w, "editmessagetext", json!({"chat_id": chat, "message_id": id, "text": "a"})),
            "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
        );
        assert_eq!(
            err(
                &mut w,
                "editmessagetext",
                json!({"chat_id": chat, "message_id": 99, "text": "b"})
            ),
            "Bad Request: message to edit not found"
        );
        assert_eq!(
            err(
                &mut w,
                "editmessagetext",
                json!({"chat_id": chat, "text": "b"})
            ),
            "Bad Request: message identifier is not specified"
        );
        let ok = call(
            &mut w,
            "deletemessage",
            &Params::from_json(json!({"chat_id": chat, "message_id": id})),
        )
        .expect("known");
        assert_eq!(ok, Ok(json!(true)));
        assert_eq!(
            err(
                &mut w,
                "deletemessage",
                json!({"chat_id": chat, "message_id": id})
            ),
            "Bad Request: message to delete not found"
        );
        assert_eq!(
            err(&mut w, "getfile", json!({"file_id": "nope"})),
            "Bad Request: invalid file_id"
        );
    }
}
