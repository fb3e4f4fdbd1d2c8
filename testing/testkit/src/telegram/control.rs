//! Acting as residents (posting, replying, editing, posting photos) and reading what the bot did,
//! for the Rust handle and for the small HTTP control API used by `civicbridge demo`:
//!
//! - `POST /control/post` `{"chat_id": -100…, "user_id": 7, "first_name": "Ada", "text": "hi",
//!   "message_thread_id": 3?, "reply_to": 5?}` → `{"message_id": 12}`
//! - `GET /control/messages?chat_id=-100…` → every message in the chat, as `Message` objects
//!   plus `"deleted"` and `"history"` (earlier texts).
//! - `POST /control/chat` `{"title": "Residents", "forum": false}` → `{"chat_id": -100…}`
//! - `POST /control/topic` `{"chat_id": -100…, "name": "Roads"}` → `{"message_thread_id": 2}`
//! - `POST /control/react` `{"chat_id": -100…, "message_id": 12, "user_id": 7, "first_name":
//!   "Ada", "emoji": ["👍"]}` → `{}`: the resident's reactions are now these (see
//!   `reactions.rs`).
//! - `GET /control/reactions?chat_id=-100…&message_id=12` → `{"<user id>": [ReactionType, …]}`:
//!   who shows which reactions on the message now (the bot's under its own id).

use super::entities;
use super::server::Shared;
use super::world::{now_secs, Media, StoredMessage, World};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// A file a resident posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentFile {
    pub kind: FileKind,
    pub name: Option<String>,
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Photo,
    Document,
    Voice,
    Sticker,
}

/// Everything a resident's message can carry. Build with `Post::text(..)` and the setters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Post {
    pub text: String,
    /// `MessageEntity` objects (offsets in UTF-16 code units).
    pub entities: Vec<Value>,
    pub thread: Option<i32>,
    pub reply_to: Option<i32>,
    pub file: Option<ResidentFile>,
}

impl Post {
    pub fn text(text: impl Into<String>) -> Self {
        Post {
            text: text.into(),
            ..Post::default()
        }
    }
    pub fn entities(mut self, entities: Vec<Value>) -> Self {
        self.entities = entities;
        self
    }
    pub fn in_topic(mut self, thread: i32) -> Self {
        self.thread = Some(thread);
        self
    }
    pub fn reply_to(mut self, id: i32) -> Self {
        self.reply_to = Some(id);
        self
    }
    pub fn file(mut self, file: ResidentFile) -> Self {
        self.file = Some(file);
        self
    }
}

/// Why a control action could not be done (a test bug, not a Telegram error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no chat {0}")]
    NoChat(i64),
    /// Only people start or block a bot: a positive id that is not the bot's.
    #[error("{0} is not a resident's user id")]
    NotAUser(i64),
    #[error("no message {1} in chat {0}")]
    NoMessage(i64, i32),
    #[error("chat {0} has no topic {1}")]
    NoTopic(i64, i32),
    /// Telegram's apps only send photos that are images; use `telegram::png` in tests.
    #[error("a resident's photo must be an image: {0}")]
    NotAnImage(String),
    /// Telegram's apps offer only the reaction set of the `ReactionTypeEmoji` docs.
    #[error("{0:?} is not one of Telegram's reaction emoji")]
    NotAReaction(String),
}

/// Stores a resident's message and queues its `message` update.
pub(crate) fn resident_post(
    w: &mut World,
    chat: i64,
    user: (i64, &str),
    post: Post,
) -> Result<i32, ControlError> {
    let c = w.chats.get(&chat).ok_or(ControlError::NoChat(chat))?;
    if let Some(t) = post.thread {
        if !c.topics.contains_key(&t) {
            return Err(ControlError::NoTopic(chat, t));
        }
    }
    let mut thread = post.thread;
    if let Some(r) = post.reply_to {
        let target = w
            .messages
            .get(&(chat, r))
            .ok_or(ControlError::NoMessage(chat, r))?;
        thread = thread.or(target.thread);
    }
    let from = w.user(user.0, user.1).id;
    // Telegram's apps send styles only; the server trims and detects links and the like.
    let (text, entities) = entities::finish(&post.text, entities::styles_only(post.entities));
    let media = match post.file {
        None => None,
        Some(f) if f.kind == FileKind::Photo => {
            let file_id = w
                .store_photo(f.data, f.name, f.mime)
                .map_err(|e| ControlError::NotAnImage(e.description))?;
            Some(Media::Photo { file_id })
        }
        Some(f) => {
            let folder = match f.kind {
                FileKind::Voice => "voice",
                FileKind::Sticker => "stickers",
                FileKind::Document | FileKind::Photo => "documents",
            };
            let file_id = w.store_file(f.data, f.name, f.mime, folder);
            Some(match f.kind {
                FileKind::Voice => Media::Voice { file_id },
                FileKind::Sticker => Media::Sticker { file_id },
                FileKind::Document | FileKind::Photo => Media::Document { file_id },
            })
        }
    };
    let m = StoredMessage {
        id: 0,
        chat,
        from,
        date: now_secs(),
        edit_date: None,
        thread,
        reply_to: post.reply_to,
        text,
        entities,
        media,
        service: None,
        deleted: false,
        history: Vec::new(),
        at: tokio::time::Instant::now(),
    };
    let id = w.store(m).ok_or(ControlError::NoChat(chat))?;
    let json = w.message_json(&w.messages[&(chat, id)], true);
    w.push_update("message", json);
    Ok(id)
}

/// A resident edits their message: queues an `edited_message` update.
pub(crate) fn resident_edit(
    w: &mut World,
    chat: i64,
    id: i32,
    text: &str,
) -> Result<(), ControlError> {
    let m = w
        .messages
        .get_mut(&(chat, id))
        .ok_or(ControlError::NoMessage(chat, id))?;
    let (text, entities) = entities::finish(text, Vec::new());
    let old = std::mem::replace(&mut m.text, text);
    m.history.push(old);
    m.entities = entities;
    m.edit_date = Some(now_secs());
    let json = w.message_json(&w.messages[&(chat, id)], true);
    w.push_update("edited_message", json);
    Ok(())
}

/// A service message (a join): bots receive these as ordinary `message` updates.
pub(crate) fn resident_joins(
    w: &mut World,
    chat: i64,
    user: (i64, &str),
) -> Result<i32, ControlError> {
    let u = w.user(user.0, user.1);
    let m = StoredMessage {
        id: 0,
        chat,
        from: u.id,
        date: now_secs(),
        edit_date: None,
        thread: None,
        reply_to: None,
        text: String::new(),
        entities: Vec::new(),
        media: None,
        service: Some(("new_chat_members".into(), json!([u.json()]))),
        deleted: false,
        history: Vec::new(),
        at: tokio::time::Instant::now(),
    };
    let id = w.store(m).ok_or(ControlError::NoChat(chat))?;
    let json = w.message_json(&w.messages[&(chat, id)], true);
    w.push_update("message", json);
    Ok(id)
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/control/post", post(http_post))
        .route("/control/messages", get(http_messages))
        .route("/control/chat", post(http_chat))
        .route("/control/topic", post(http_topic))
        .route("/control/react", post(http_react))
        .route("/control/reactions", get(http_reactions))
}

#[derive(Debug, Deserialize)]
struct MessageQuery {
    chat_id: i64,
    message_id: i32,
}

async fn http_reactions(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<MessageQuery>,
) -> Response {
    let w = shared.world();
    let by: serde_json::Map<String, Value> = w
        .reactions
        .get(&(q.chat_id, q.message_id))
        .into_iter()
        .flatten()
        .map(|(who, types)| (who.to_string(), Value::Array(types.clone())))
        .collect();
    Json(Value::Object(by)).into_response()
}

#[derive(Debug, Deserialize)]
struct HttpReact {
    chat_id: i64,
    message_id: i32,
    user_id: i64,
    first_name: String,
    emoji: Vec<String>,
}

async fn http_react(State(shared): State<Arc<Shared>>, Json(r): Json<HttpReact>) -> Response {
    let emoji: Vec<&str> = r.emoji.iter().map(String::as_str).collect();
    let result = super::reactions::emoji_types(&emoji).and_then(|types| {
        let who = super::reactions::Reactor::User(r.user_id, &r.first_name);
        let mut w = shared.world();
        super::reactions::set_reactions(&mut w, r.chat_id, r.message_id, who, types)
    });
    shared.notify();
    match result {
        Ok(()) => Json(json!({})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct HttpChat {
    title: String,
    #[serde(default)]
    forum: bool,
}

async fn http_chat(State(shared): State<Arc<Shared>>, Json(c): Json<HttpChat>) -> Response {
    let id = shared.world().add_chat(&c.title, c.forum);
    Json(json!({ "chat_id": id })).into_response()
}

#[derive(Debug, Deserialize)]
struct HttpTopic {
    chat_id: i64,
    name: String,
}

async fn http_topic(State(shared): State<Arc<Shared>>, Json(t): Json<HttpTopic>) -> Response {
    let created = {
        let mut w = shared.world();
        let forum = w.chats.get(&t.chat_id).is_some_and(|c| c.is_forum);
        let founder = w.user(1, "Forum Founder").id;
        forum
            .then(|| super::methods::create_topic(&mut w, t.chat_id, founder, &t.name))
            .flatten()
            .map(|(id, json)| {
                w.push_update("message", json);
                id
            })
    };
    shared.notify();
    match created {
        Some(id) => Json(json!({ "message_thread_id": id })).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            format!("chat {} is not a forum", t.chat_id),
        )
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct HttpPost {
    chat_id: i64,
    user_id: i64,
    first_name: String,
    text: String,
    message_thread_id: Option<i32>,
    reply_to: Option<i32>,
}

async fn http_post(State(shared): State<Arc<Shared>>, Json(p): Json<HttpPost>) -> Response {
    let mut post = Post::text(p.text);
    post.thread = p.message_thread_id;
    post.reply_to = p.reply_to;
    let result = {
        let mut w = shared.world();
        resident_post(&mut w, p.chat_id, (p.user_id, &p.first_name), post)
    };
    shared.notify();
    match result {
        Ok(id) => Json(json!({ "message_id": id })).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct ChatQuery {
    chat_id: i64,
}

async fn http_messages(State(shared): State<Arc<Shared>>, Query(q): Query<ChatQuery>) -> Response {
    let w = shared.world();
    let mut ms: Vec<&StoredMessage> = w
        .messages
        .values()
        .filter(|m| m.chat == q.chat_id)
        .collect();
    ms.sort_by_key(|m| m.id);
    let out: Vec<Value> = ms
        .into_iter()
        .map(|m| {
            let mut v = w.message_json(m, true);
            v["deleted"] = json!(m.deleted);
            v["history"] = json!(m.history);
            v
        })
        .collect();
    Json(out).into_response()
}
