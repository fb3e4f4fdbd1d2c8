//! `setMessageReaction`, as the Bot API server and Telegram answer a bot:
//!
//! - The `reaction` list is read first (tdlib/telegram-bot-api, `Client::get_reaction_types`):
//!   only `emoji` and `custom_emoji` types parse; anything else, `paid` included, is
//!   `Can't parse ReactionType: invalid reaction type specified`.
//! - Then the chat and the message (`check_message`): `chat not found`, `message to react not
//!   found`.
//! - Then Telegram itself (`messages.sendReaction`): an emoji outside the fixed reaction set
//!   (the `ReactionTypeEmoji` docs) is `REACTION_INVALID`; a bot, not being premium, may set at
//!   most one reaction (`REACTIONS_TOO_MANY`); a custom emoji only where it is already on the
//!   message (chat-allowed custom emoji are not modelled) and `REACTION_INVALID` otherwise.
//! - The list replaces the bot's reactions on the message; an empty or absent list removes them.
//!   Telegram sends no `message_reaction` update for reactions set by bots.

use super::messages::message_id;
use super::target_chat;
use crate::telegram::error::{ApiError, ApiResult};
use crate::telegram::params::Params;
use crate::telegram::world::World;
use serde_json::{json, Value};

/// The emoji a `ReactionTypeEmoji` may carry, as the Bot API reference lists them.
pub const REACTION_EMOJI: &[&str] = &[
    "👍",
    "👎",
    "❤",
    "🔥",
    "🥰",
    "👏",
    "😁",
    "🤔",
    "🤯",
    "😱",
    "🤬",
    "😢",
    "🎉",
    "🤩",
    "🤮",
    "💩",
    "🙏",
    "👌",
    "🕊",
    "🤡",
    "🥱",
    "🥴",
    "😍",
    "🐳",
    "❤‍🔥",
    "🌚",
    "🌭",
    "💯",
    "🤣",
    "⚡",
    "🍌",
    "🏆",
    "💔",
    "🤨",
    "😐",
    "🍓",
    "🍾",
    "💋",
    "🖕",
    "😈",
    "😴",
    "😭",
    "🤓",
    "👻",
    "👨‍💻",
    "👀",
    "🎃",
    "🙈",
    "😇",
    "😨",
    "🤝",
    "✍",
    "🤗",
    "🫡",
    "🎅",
    "🎄",
    "☃",
    "💅",
    "🤪",
    "🗿",
    "🆒",
    "💘",
    "🙉",
    "🦄",
    "😘",
    "💊",
    "🙊",
    "😎",
    "👾",
    "🤷‍♂",
    "🤷",
    "🤷‍♀",
    "😡",
];

/// A bot is not premium: one reaction per message.
const MAX_BOT_REACTIONS: usize = 1;

fn parse_error(why: &str) -> ApiError {
    ApiError::bad_request(format!("Can't parse ReactionType: {why}"))
}

/// One `ReactionType` as the Bot API server reads it, rendered back as Telegram shows it.
fn reaction_type(v: &Value) -> Result<Value, ApiError> {
    let Value::Object(o) = v else {
        return Err(parse_error("expected an Object"));
    };
    let field = |k: &str| -> Result<&Value, ApiError> {
        o.get(k)
            .ok_or_else(|| parse_error(&format!("Can't find field \"{k}\"")))
    };
    let Some(kind) = field("type")?.as_str() else {
        return Err(parse_error("Field \"type\" must be of type String"));
    };
    match kind {
        "emoji" => match field("emoji")?.as_str() {
            Some(e) => Ok(json!({"type": "emoji", "emoji": e})),
            None => Err(parse_error("Field \"emoji\" must be of type String")),
        },
        "custom_emoji" => {
            let id = match field("custom_emoji_id")? {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| parse_error("Field \"custom_emoji_id\" must be a valid Number"))?;
            Ok(json!({"type": "custom_emoji", "custom_emoji_id": id.to_string()}))
        }
        _ => Err(parse_error("invalid reaction type specified")),
    }
}

/// The `reaction` parameter: absent or empty is no reaction.
fn reaction_list(p: &Params) -> Result<Vec<Value>, ApiError> {
    let list = p
        .json("reaction")
        .map_err(|_| ApiError::bad_request("Can't parse reaction types JSON object"))?;
    match list {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(reaction_type).collect(),
        Some(_) => Err(ApiError::bad_request("Expected an Array of ReactionType")),
    }
}

pub(super) fn set_message_reaction(w: &mut World, p: &Params) -> ApiResult {
    let wanted = reaction_list(p)?;
    let chat = target_chat(w, p)?;
    let id = message_id(p).map_err(|_| ApiError::bad_request("message to react not found"))?;
    if w.messages.get(&(chat, id)).is_none_or(|m| m.deleted) {
        return Err(ApiError::bad_request("message to react not found"));
    }
    let on_message = w.reactions.get(&(chat, id));
    for r in &wanted {
        let valid = match r["type"].as_str() {
            Some("emoji") => r["emoji"]
                .as_str()
                .is_some_and(|e| REACTION_EMOJI.contains(&e)),
            // A custom emoji someone already reacted with may be repeated by the bot.
            _ => on_message.is_some_and(|by| by.values().flatten().any(|o| o == r)),
        };
        if !valid {
            return Err(ApiError::bad_request("REACTION_INVALID"));
        }
    }
    if wanted.len() > MAX_BOT_REACTIONS {
        return Err(ApiError::bad_request("REACTIONS_TOO_MANY"));
    }
    let bot = w.bot.id;
    let by = w.reactions.entry((chat, id)).or_default();
    if wanted.is_empty() {
        by.remove(&bot);
    } else {
        by.insert(bot, wanted);
    }
    Ok(json!(true))
}
