//! Discord ids ⇄ the bridge's opaque ids. Only this module knows that a `RoomId` is a channel
//! snowflake, a `ThreadId` a thread channel's snowflake and a `RemoteMsgId` a message snowflake.

use crate::error::DiscordError;
use civicbridge_api::{InboundId, RemoteMsgId, RemoteUserId, RoomId, ThreadId};
use serenity::model::id::{ChannelId, MessageId, UserId};

fn snowflake(kind: &'static str, s: &str) -> Result<u64, DiscordError> {
    s.parse::<u64>()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| DiscordError::BadId {
            kind,
            id: s.to_owned(),
        })
}

pub fn channel(room: &RoomId) -> Result<ChannelId, DiscordError> {
    snowflake("channel", room.as_str()).map(ChannelId::new)
}

pub fn thread(t: &ThreadId) -> Result<ChannelId, DiscordError> {
    snowflake("thread", t.as_str()).map(ChannelId::new)
}

/// A person (`Sender::id` of a Discord event is their user snowflake).
pub fn user(u: &RemoteUserId) -> Result<UserId, DiscordError> {
    snowflake("user", u.as_str()).map(UserId::new)
}

pub fn message(m: &RemoteMsgId) -> Result<MessageId, DiscordError> {
    snowflake("message", m.as_str()).map(MessageId::new)
}

pub fn msg_id(id: MessageId) -> RemoteMsgId {
    RemoteMsgId::new(id.get().to_string())
}

pub fn room_id(id: ChannelId) -> RoomId {
    RoomId::new(id.get().to_string())
}

pub fn thread_id(id: ChannelId) -> ThreadId {
    ThreadId::new(id.get().to_string())
}

/// Inbound ids: a message, each edit (by its edit time), a delete, a reaction.
pub fn inbound_message(id: MessageId) -> InboundId {
    InboundId::new(format!("discord:msg:{id}"))
}

/// An edit is named by its `edited_timestamp`, so a replayed MESSAGE_UPDATE dedupes and a second
/// edit does not.
pub fn inbound_edit(id: MessageId, edited_at: &str) -> InboundId {
    InboundId::new(format!("discord:edit:{id}:{edited_at}"))
}

/// Milliseconds since the Unix epoch at which a snowflake was created.
pub fn snowflake_ms(id: u64) -> u64 {
    (id >> 22) + 1_420_070_400_000
}

pub fn inbound_delete(id: MessageId) -> InboundId {
    InboundId::new(format!("discord:delete:{id}"))
}

/// Whether a reaction came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionChange {
    Added,
    Removed,
}

/// A reaction added or removed. Discord gives a reaction no id of its own, and the same user
/// may add, remove and add again the same emoji: each occurrence must be an event of its own
/// (the core would drop a repeated id as a replay), so the id ends with `occurrence`, unique
/// per dispatch handled (see [`occurrence`]). A RESUME replay of a dispatch then gets a new id;
/// the core keeps reactions as a set of reactors per key, so a replay changes nothing there.
pub fn inbound_reaction(
    id: MessageId,
    user: u64,
    key: &str,
    change: ReactionChange,
    occurrence: &str,
) -> InboundId {
    let sign = match change {
        ReactionChange::Added => "add",
        ReactionChange::Removed => "remove",
    };
    InboundId::new(format!(
        "discord:react:{sign}:{id}:{user}:{key}:{occurrence}"
    ))
}

/// A token unique to each call, in this process and across restarts: the wall clock in
/// nanoseconds when the process first asked, and a counter.
pub fn occurrence() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u128> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    format!("{start:x}.{}", COUNT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snowflakes_and_rejects_garbage() {
        assert_eq!(
            channel(&RoomId::new("123")).map(ChannelId::get).ok(),
            Some(123)
        );
        assert!(channel(&RoomId::new("!room:matrix")).is_err());
        assert!(message(&RemoteMsgId::new("0")).is_err());
        assert_eq!(msg_id(MessageId::new(9)).as_str(), "9");
    }

    #[test]
    fn each_reaction_occurrence_has_its_own_id() {
        let m = MessageId::new(7);
        let add = inbound_reaction(m, 3, "👍", ReactionChange::Added, &occurrence());
        let remove = inbound_reaction(m, 3, "👍", ReactionChange::Removed, &occurrence());
        let again = inbound_reaction(m, 3, "👍", ReactionChange::Added, &occurrence());
        assert_ne!(add, remove);
        assert_ne!(add, again, "a re-add is not a replay of the first add");
        assert!(
            add.as_str().starts_with("discord:react:add:7:3:👍:"),
            "{add:?}"
        );
    }
}
