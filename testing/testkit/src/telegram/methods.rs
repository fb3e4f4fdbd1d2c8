//! The Bot API methods the fake implements (all but `getUpdates`, which waits and lives in
//! `server.rs`). Each validates its parameters in the order Telegram does and answers with
//! Telegram's own error wording.
//!
//! [`call`] dispatches by name; the methods live by what they act on: `messages` (send, edit,
//! delete, with `parse_mode` and placement in topics and replies), `edit_caption`
//! (`editMessageCaption`), `flood` (the optional 429s), `reactions` (`setMessageReaction`),
//! `topics` (`createForumTopic`, and the
//! topics residents open), `webhook` (setting and reading the webhook; delivery is
//! `super::webhook`). `getMe`, `getFile` and the chat checks are here.

mod edit_caption;
mod flood;
mod messages;
mod reactions;
mod topics;
mod webhook;

pub(crate) use reactions::REACTION_EMOJI;
pub(crate) use topics::create_topic;

use super::error::{ApiError, ApiResult};
use super::params::Params;
use super::private;
use super::world::World;
use serde_json::{json, Value};

/// The largest file a bot may download with `getFile`.
pub const MAX_DOWNLOAD: usize = 20 * 1024 * 1024;

/// Runs `method` (lower case). `None` when the method does not exist (the caller answers 404).
pub(crate) fn call(w: &mut World, method: &str, p: &Params) -> Option<ApiResult> {
    Some(match method {
        "getme" => Ok(get_me(w)),
        "sendmessage" => messages::send_message(w, p),
        "editmessagetext" => messages::edit_message_text(w, p),
        "editmessagecaption" => edit_caption::edit_message_caption(w, p),
        "deletemessage" => messages::delete_message(w, p),
        "sendphoto" => messages::send_media(w, p, "photo"),
        "senddocument" => messages::send_media(w, p, "document"),
        "getfile" => get_file(w, p),
        "getchat" => get_chat(w, p),
        "createforumtopic" => topics::create_forum_topic(w, p),
        "setmessagereaction" => reactions::set_message_reaction(w, p),
        "sendchataction" => target_chat(w, p).map(|_| json!(true)),
        "setwebhook" => webhook::set_webhook(w, p),
        "deletewebhook" => Ok(webhook::delete_webhook(w, p)),
        "getwebhookinfo" => Ok(webhook::get_webhook_info(w)),
        _ => return None,
    })
}

/// `getMe`: a `UserFromGetMe`, with every field the typings (`@grammyjs/types` 5.0) mark as
/// always present. (`supports_guest_queries` is optional and, being false, left out.)
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
        ("can_manage_bots", false),
        ("supports_join_request_queries", false),
    ] {
        v[k] = json!(val);
    }
    v
}

/// `chat_id` names a chat the bot is in and may write to: a group, or the private chat of a
/// resident who started the bot and has not blocked it (see `private.rs` for the refusals).
pub(super) fn target_chat(w: &World, p: &Params) -> Result<i64, ApiError> {
    let id = p.chat_id()?;
    let chat = w.chats.get(&id).ok_or_else(|| private::no_chat(w, id))?;
    if chat.bot_kicked {
        return Err(ApiError::forbidden(
            "bot was kicked from the supergroup chat",
        ));
    }
    if chat.private.as_ref().is_some_and(|c| c.blocked) {
        return Err(private::blocked());
    }
    Ok(id)
}

/// `getChat`: reading needs less than writing. A blocked bot still reads the private chat, and
/// a user it has seen reads as a private chat even before they start it.
fn get_chat(w: &World, p: &Params) -> ApiResult {
    let id = p.chat_id()?;
    match w.chats.get(&id) {
        Some(c) if c.bot_kicked => Err(ApiError::forbidden(
            "bot was kicked from the supergroup chat",
        )),
        Some(c) => Ok(c.full_info_json()),
        None => {
            private::known_user_chat(w, id).ok_or_else(|| ApiError::bad_request("chat not found"))
        }
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
