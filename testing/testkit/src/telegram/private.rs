//! Private chats between the bot and a resident, as Telegram keeps them.
//!
//! A bot cannot open a private chat: the resident does, by starting the bot (the app sends
//! `/start`, which reaches the bot as a `message` update whose chat is `type: "private"` with
//! the resident's id). Until then, and after the resident blocks the bot, the bot's sends there
//! are refused with the Bot API's own wording (tdlib/telegram-bot-api, `Client.cpp`: TDLib's
//! `Bot can't initiate conversation with a user` and `USER_IS_BLOCKED`, both 403, the latter
//! reworded to `bot was blocked by the user`):
//!
//! - a user the bot has never seen: 400 `Bad Request: chat not found`;
//! - a user it has seen (in a group) who never started it: 403 `Forbidden: bot can't initiate
//!   conversation with a user`;
//! - a user who blocked it: 403 `Forbidden: bot was blocked by the user`;
//! - another bot: 403 `Forbidden: bots can't send messages to bots`.
//!
//! Blocking and unblocking (starting again) send the bot a `my_chat_member` update, as the
//! reference says of private chats ("only when the bot is blocked or unblocked by the user"),
//! if the bot asked for that type.
//!
//! Control API (HTTP, beside `control.rs`'s):
//! - `POST /control/start` `{"user_id": 7, "first_name": "Ada"}` → `{"message_id": 1}`
//! - `POST /control/block` `{"user_id": 7, "first_name": "Ada"}` → `{}`
//! - `GET /control/private?user_id=7` → what the bot sent the user privately, as `Message`
//!   objects, oldest first.

use super::control::ControlError;
use super::entities;
use super::error::ApiError;
use super::server::Shared;
use super::world::{now_secs, StoredMessage, User, World};
use super::{ShownMessage, TelegramServer};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Why the bot cannot write to chat `id`, which has no chat (no group, and no private chat the
/// resident opened).
pub(crate) fn no_chat(w: &World, id: i64) -> ApiError {
    match w.user_by_id(id).filter(|_| id > 0) {
        Some(u) if u.is_bot => ApiError::forbidden("bots can't send messages to bots"),
        Some(_) => ApiError::forbidden("bot can't initiate conversation with a user"),
        None => ApiError::bad_request("chat not found"),
    }
}

/// The refusal for a private chat whose resident blocked the bot.
pub(crate) fn blocked() -> ApiError {
    ApiError::forbidden("bot was blocked by the user")
}

/// `getChat` of a user the bot knows but who never started it: reading is allowed (the Bot API
/// only refuses users it has never seen), writing is not.
pub(crate) fn known_user_chat(w: &World, id: i64) -> Option<Value> {
    let u = w.user_by_id(id).filter(|_| id > 0)?;
    let mut v = json!({ "id": u.id, "type": "private", "first_name": u.first_name });
    if let Some(l) = &u.last_name {
        v["last_name"] = json!(l);
    }
    if let Some(n) = &u.username {
        v["username"] = json!(n);
    }
    v["accent_color_id"] = json!(0);
    v["max_reaction_count"] = json!(11);
    v["accepted_gift_types"] = json!({
        "unlimited_gifts": false, "limited_gifts": false, "unique_gifts": false,
        "premium_subscription": false, "gifts_from_channels": false
    });
    Some(v)
}

/// The resident starts the bot (or restarts it after blocking it): the private chat opens and
/// the bot gets `/start` as a `message` update. Returns the message's id.
pub(crate) fn start(w: &mut World, user: (i64, &str)) -> Result<i32, ControlError> {
    if user.0 <= 0 || user.0 == w.bot.id {
        return Err(ControlError::NotAUser(user.0));
    }
    let u = w.user(user.0, user.1);
    let was_blocked = w
        .chats
        .get(&u.id)
        .and_then(|c| c.private.as_ref())
        .is_some_and(|p| p.blocked);
    if let Some(p) = w.open_private(&u).private.as_mut() {
        p.blocked = false;
    }
    if was_blocked {
        member_update(w, &u, "kicked", "member");
    }
    let (text, entities) = entities::finish("/start", Vec::new());
    let m = StoredMessage {
        id: 0,
        chat: u.id,
        from: u.id,
        date: now_secs(),
        edit_date: None,
        thread: None,
        reply_to: None,
        text,
        entities,
        media: None,
        service: None,
        deleted: false,
        history: Vec::new(),
        at: tokio::time::Instant::now(),
    };
    let id = w.store(m).ok_or(ControlError::NoChat(u.id))?;
    let json = w.message_json(&w.messages[&(u.id, id)], true);
    w.push_update("message", json);
    Ok(id)
}

/// The resident blocks the bot (from its profile, started or not): its sends to them are
/// refused until they start it again.
pub(crate) fn block(w: &mut World, user: (i64, &str)) -> Result<(), ControlError> {
    if user.0 <= 0 || user.0 == w.bot.id {
        return Err(ControlError::NotAUser(user.0));
    }
    let u = w.user(user.0, user.1);
    let chat = w.open_private(&u);
    let Some(p) = chat.private.as_mut() else {
        return Err(ControlError::NotAUser(user.0));
    };
    if !p.blocked {
        p.blocked = true;
        member_update(w, &u, "member", "kicked");
    }
    Ok(())
}

/// `my_chat_member`: the bot's status in the resident's private chat changed.
fn member_update(w: &mut World, user: &User, old: &str, new: &str) {
    let bot = w.bot.json();
    let member = |status: &str| {
        let mut m = json!({ "user": bot, "status": status });
        if status == "kicked" {
            m["until_date"] = json!(0);
        }
        m
    };
    let Some(chat) = w.chats.get(&user.id).map(|c| c.json()) else {
        return;
    };
    let body = json!({
        "chat": chat,
        "from": user.json(),
        "date": now_secs(),
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    });
    w.push_update("my_chat_member", body);
}

impl TelegramServer {
    /// A resident starts the bot (the app sends `/start` in the private chat): from now on the
    /// bot may write to them, and it gets the `/start` message as an update.
    pub fn start_bot(&self, user: (i64, &str)) -> Result<i32, ControlError> {
        self.act(|w| start(w, user))
    }

    /// A resident blocks the bot: its sends to them answer 403 until they start it again.
    pub fn block_bot(&self, user: (i64, &str)) -> Result<(), ControlError> {
        self.act(|w| block(w, user))
    }

    /// What the bot sent `user` privately, oldest first (deleted messages included).
    pub fn private_messages(&self, user: i64) -> Vec<ShownMessage> {
        if user <= 0 {
            return Vec::new();
        }
        self.bot_messages(user)
    }

    /// The file a private message carries, with the name it was uploaded under.
    pub fn private_file(&self, user: i64, id: i32) -> Option<(Option<String>, Vec<u8>)> {
        let w = self.shared.world();
        let m = w.messages.get(&(user, id))?;
        let file_id = match m.media.as_ref()? {
            super::Media::Photo { file_id }
            | super::Media::Document { file_id }
            | super::Media::Voice { file_id }
            | super::Media::Sticker { file_id } => file_id,
        };
        let f = w.files.get(file_id)?;
        Some((f.name.clone(), f.data.clone()))
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/control/start", post(http_start))
        .route("/control/block", post(http_block))
        .route("/control/private", get(http_private))
}

#[derive(Debug, Deserialize)]
struct HttpUser {
    user_id: i64,
    first_name: String,
}

async fn http_start(State(shared): State<Arc<Shared>>, Json(u): Json<HttpUser>) -> Response {
    let result = start(&mut shared.world(), (u.user_id, &u.first_name));
    shared.notify();
    match result {
        Ok(id) => Json(json!({ "message_id": id })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

async fn http_block(State(shared): State<Arc<Shared>>, Json(u): Json<HttpUser>) -> Response {
    let result = block(&mut shared.world(), (u.user_id, &u.first_name));
    shared.notify();
    match result {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct UserQuery {
    user_id: i64,
}

async fn http_private(State(shared): State<Arc<Shared>>, Query(q): Query<UserQuery>) -> Response {
    let w = shared.world();
    let bot = w.bot.id;
    let mut ms: Vec<&StoredMessage> = w
        .messages
        .values()
        .filter(|m| q.user_id > 0 && m.chat == q.user_id && m.from == bot)
        .collect();
    ms.sort_by_key(|m| m.id);
    let out: Vec<Value> = ms.into_iter().map(|m| w.message_json(m, true)).collect();
    Json(out).into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
