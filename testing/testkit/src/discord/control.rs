//! A small HTTP control API under `/_control`, for `civicbridge demo` and manual poking (tests use
//! the Rust handle). No auth: the server only listens on 127.0.0.1.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | POST | `/_control/guilds` | `{"name"}` | `{"id"}` |
//! | POST | `/_control/channels` | `{"guild", "name", "forum"?}` | `{"id"}` |
//! | POST | `/_control/users` | `{"username", "global_name"?}` | `{"id"}` |
//! | POST | `/_control/messages` | `{"channel", "user", "text", "reply_to"?}` | `{"id"}` |
//! | PATCH | `/_control/messages/{id}` | `{"text"}` | 204 |
//! | DELETE | `/_control/messages/{id}` | | 204 |
//! | GET | `/_control/channels/{id}/messages` | | `[MessageView]` |
//! | POST | `/_control/gateway/drop` | | 204 |
//! | POST | `/_control/users/{id}/dms` | `{"open": false}` | 204: the user closes (or opens) DMs |
//! | GET | `/_control/users/{id}/dms` | | `[MessageView]`: what the bot sent them privately |
//!
//! Ids are JSON strings, as in Discord's own API.

use super::state::{Author, GUILD_FORUM, GUILD_TEXT};
use super::{view, Shared};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type S = State<Arc<Shared>>;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_control/guilds", post(guild))
        .route("/_control/channels", post(channel))
        .route("/_control/users", post(user))
        .route("/_control/messages", post(message))
        .route("/_control/messages/{id}", patch(edit).delete(delete))
        .route("/_control/channels/{id}/messages", get(list))
        .route("/_control/gateway/drop", post(drop_gateway))
        .route("/_control/users/{id}/dms", post(set_dms).get(list_dms))
}

/// Accepts ids as strings or numbers.
fn num(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

fn created(id: u64) -> Response {
    (StatusCode::OK, Json(json!({"id": id.to_string()}))).into_response()
}

fn bad(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"message": what}))).into_response()
}

#[derive(Deserialize)]
struct NameBody {
    name: String,
}

async fn guild(s: S, Json(b): Json<NameBody>) -> Response {
    let id = s.lock().add_guild(&b.name);
    s.notify();
    created(id)
}

#[derive(Deserialize)]
struct ChannelBody {
    guild: serde_json::Value,
    name: String,
    #[serde(default)]
    forum: bool,
}

async fn channel(s: S, Json(b): Json<ChannelBody>) -> Response {
    let Some(guild) = num(&b.guild) else {
        return bad("guild must be an id");
    };
    let kind = if b.forum { GUILD_FORUM } else { GUILD_TEXT };
    let id = s.lock().add_channel(guild, &b.name, kind, None, None);
    s.notify();
    created(id)
}

#[derive(Deserialize)]
struct UserBody {
    username: String,
    #[serde(default)]
    global_name: Option<String>,
}

async fn user(s: S, Json(b): Json<UserBody>) -> Response {
    let id = s
        .lock()
        .add_user(&b.username, b.global_name.as_deref(), None);
    created(id)
}

#[derive(Deserialize)]
struct MessageBody {
    channel: serde_json::Value,
    user: serde_json::Value,
    text: String,
    #[serde(default)]
    reply_to: Option<serde_json::Value>,
}

async fn message(s: S, Json(b): Json<MessageBody>) -> Response {
    let (Some(channel), Some(user)) = (num(&b.channel), num(&b.user)) else {
        return bad("channel and user must be ids");
    };
    let reply = b.reply_to.as_ref().and_then(num);
    let id = {
        let mut st = s.lock();
        if !st.channels.contains_key(&channel) || !st.users.contains_key(&user) {
            return bad("unknown channel or user");
        }
        st.add_message(
            channel,
            Author::User(user),
            &b.text,
            reply,
            Vec::new(),
            None,
            None,
        )
    };
    s.notify();
    created(id)
}

#[derive(Deserialize)]
struct TextBody {
    text: String,
}

async fn edit(s: S, Path(id): Path<u64>, Json(b): Json<TextBody>) -> Response {
    let ok = s.lock().edit_message(id, &b.text, None);
    s.notify();
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        bad("unknown message")
    }
}

async fn delete(s: S, Path(id): Path<u64>) -> Response {
    let ok = s.lock().delete_message(id);
    s.notify();
    if ok {
        StatusCode::NO_CONTENT.into_response()
    } else {
        bad("unknown message")
    }
}

async fn list(s: S, Path(id): Path<u64>) -> Response {
    let st = s.lock();
    let ids: Vec<u64> = st
        .messages
        .values()
        .filter(|m| m.channel_id == id)
        .map(|m| m.id)
        .collect();
    let views: Vec<_> = ids.into_iter().filter_map(|m| view(&st, m)).collect();
    Json(views).into_response()
}

async fn drop_gateway(s: S) -> Response {
    s.kill.send_replace(super::Kill::Drop);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct DmsBody {
    open: bool,
}

async fn set_dms(s: S, Path(id): Path<u64>, Json(b): Json<DmsBody>) -> Response {
    {
        let mut st = s.lock();
        if b.open {
            st.dms_closed.remove(&id);
        } else {
            st.dms_closed.insert(id);
        }
    }
    s.notify();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_dms(s: S, Path(id): Path<u64>) -> Response {
    let st = s.lock();
    let bot = st.bot_id;
    let ids: Vec<u64> = match st.dm_channel(id) {
        Some(c) => st
            .messages
            .values()
            .filter(|m| m.channel_id == c && !m.deleted && m.author == Author::User(bot))
            .map(|m| m.id)
            .collect(),
        None => Vec::new(),
    };
    let views: Vec<_> = ids.into_iter().filter_map(|m| view(&st, m)).collect();
    Json(views).into_response()
}
