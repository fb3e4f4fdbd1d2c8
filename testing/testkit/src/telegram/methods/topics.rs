//! Forum topics: `createForumTopic` for the bot, and [`create_topic`] for every topic opened
//! (the control API's residents open theirs through it too).

use super::target_chat;
use crate::telegram::error::{ApiError, ApiResult};
use crate::telegram::params::Params;
use crate::telegram::world::{now_secs, StoredMessage, World};
use serde_json::{json, Value};

pub(super) fn create_forum_topic(w: &mut World, p: &Params) -> ApiResult {
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
