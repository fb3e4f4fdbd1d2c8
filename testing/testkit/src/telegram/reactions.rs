//! Reactions made by people, as Telegram reports them to a bot:
//!
//! - A person (or an anonymous admin, acting as the chat) sets their reactions on a message,
//!   replacing the ones they had, as the Telegram apps do: a `message_reaction` update with
//!   `old_reaction` and `new_reaction` (`user`, or `actor_chat` for an anonymous admin), and
//!   none when nothing changed.
//! - Anonymous reactions (a chat that does not show who reacted) are counted: a
//!   `message_reaction_count` update with the totals on the message, each person's and the
//!   bot's own reactions included.
//!
//! Either update reaches only a bot that is an administrator of the chat and that named its
//! type in `allowed_updates` (the `Update` object's docs); `World::push_update` does the
//! second check.

use super::control::ControlError;
use super::methods::REACTION_EMOJI;
use super::world::{now_secs, World};
use serde_json::{json, Map, Value};

/// Who reacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reactor<'a> {
    /// A person: id and first name.
    User(i64, &'a str),
    /// An anonymous admin: Telegram names the chat as `actor_chat`.
    AnonymousAdmin,
}

/// `ReactionTypeEmoji` objects for `emoji`, each checked against Telegram's reaction set.
pub(crate) fn emoji_types(emoji: &[&str]) -> Result<Vec<Value>, ControlError> {
    emoji
        .iter()
        .map(|e| {
            if REACTION_EMOJI.contains(e) {
                Ok(json!({"type": "emoji", "emoji": e}))
            } else {
                Err(ControlError::NotAReaction((*e).to_owned()))
            }
        })
        .collect()
}

fn check_message(w: &World, chat: i64, id: i32) -> Result<(), ControlError> {
    if !w.chats.contains_key(&chat) {
        return Err(ControlError::NoChat(chat));
    }
    if w.messages.get(&(chat, id)).is_none_or(|m| m.deleted) {
        return Err(ControlError::NoMessage(chat, id));
    }
    Ok(())
}

/// Whether the bot gets reaction updates from `chat` at all: it must administer it.
fn bot_administers(w: &World, chat: i64) -> bool {
    w.chats
        .get(&chat)
        .is_some_and(|c| c.bot_is_admin && !c.bot_kicked)
}

/// `who` now has exactly `new` on the message.
pub(crate) fn set_reactions(
    w: &mut World,
    chat: i64,
    id: i32,
    who: Reactor<'_>,
    new: Vec<Value>,
) -> Result<(), ControlError> {
    check_message(w, chat, id)?;
    let (key, actor) = match who {
        Reactor::User(uid, name) => (uid, ("user", w.user(uid, name).json())),
        Reactor::AnonymousAdmin => (chat, ("actor_chat", w.chats[&chat].json())),
    };
    let by = w.reactions.entry((chat, id)).or_default();
    let old = match new.is_empty() {
        true => by.remove(&key),
        false => by.insert(key, new.clone()),
    };
    let old = old.unwrap_or_default();
    if old == new || !bot_administers(w, chat) {
        return Ok(());
    }
    let mut u = Map::new();
    u.insert("chat".into(), w.chats[&chat].json());
    u.insert("message_id".into(), json!(id));
    u.insert(actor.0.into(), actor.1);
    u.insert("date".into(), json!(now_secs()));
    u.insert("old_reaction".into(), Value::Array(old));
    u.insert("new_reaction".into(), Value::Array(new));
    w.push_update("message_reaction", Value::Object(u));
    Ok(())
}

/// The anonymous reactions on a message are now `counts`; queues the totals.
pub(crate) fn set_anonymous(
    w: &mut World,
    chat: i64,
    id: i32,
    counts: Vec<(Value, u64)>,
) -> Result<(), ControlError> {
    check_message(w, chat, id)?;
    w.anonymous_reactions.insert((chat, id), counts);
    if !bot_administers(w, chat) {
        return Ok(());
    }
    let totals = totals(w, chat, id);
    let reactions: Vec<Value> = totals
        .into_iter()
        .map(|(t, n)| json!({"type": t, "total_count": n}))
        .collect();
    let update = json!({
        "chat": w.chats[&chat].json(),
        "message_id": id,
        "date": now_secs(),
        "reactions": reactions,
    });
    w.push_update("message_reaction_count", update);
    Ok(())
}

/// Every reaction on the message with how many set it, most first (anonymous ones, each
/// person's and the bot's).
pub(crate) fn totals(w: &World, chat: i64, id: i32) -> Vec<(Value, u64)> {
    let mut out: Vec<(Value, u64)> = Vec::new();
    let mut add = |t: &Value, n: u64| match out.iter_mut().find(|(o, _)| o == t) {
        Some((_, c)) => *c += n,
        None => out.push((t.clone(), n)),
    };
    for (t, n) in w.anonymous_reactions.get(&(chat, id)).into_iter().flatten() {
        add(t, *n);
    }
    for t in w
        .reactions
        .get(&(chat, id))
        .into_iter()
        .flat_map(|by| by.values().flatten())
    {
        add(t, 1);
    }
    out.retain(|(_, n)| *n > 0);
    out.sort_by_key(|t| std::cmp::Reverse(t.1));
    out
}
