//! What a connector reports: one `Event` per thing that happened in a room.

use crate::ids::{InboundId, RemoteMsgId, RemoteUserId, RoomRef, ThreadId, UserKey};
use crate::rich_text::RichText;
use serde::{Deserialize, Serialize};

/// One thing that happened in a room the bridge watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per platform; the core drops a second event with the same id.
    pub id: InboundId,
    pub room: RoomRef,
    pub sender: Sender,
    /// When the platform says it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub kind: EventKind,
}

impl Event {
    /// Who sent it, as rules and the audit log name people.
    pub fn sender_key(&self) -> UserKey {
        UserKey::new(self.room.platform, self.sender.id.clone())
    }
}

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub id: RemoteUserId,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// Set by the connector when the bridge itself caused this event (its bot user, its
    /// webhooks): the router never relays such an event.
    pub is_bridge: bool,
    /// The sender's standing in the room at the time of the event, as the platform records it
    /// (room power levels, roles), mapped by the connector. `None` where the platform has no
    /// such notion or it is unknown. The core reads it in moderation rooms only: a `Moderator`
    /// there moderates the rooms's links, an `Admin` also changes their rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standing: Option<Standing>,
    /// What the platform itself vouches for about this sender's right to change or remove
    /// messages that are not theirs. The core's rule "only the author edits or deletes" reads it.
    #[serde(default, skip_serializing_if = "Authority::is_member")]
    pub authority: Authority,
    /// The sender's language as their platform reports it (an IETF tag such as `en` or `de`;
    /// Telegram's `language_code`), where it does. The core picks the text of the notices it
    /// sends them by it (`tell_texts`), cleaned; `None` where unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Sender {
    pub fn person(id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Sender {
            id: RemoteUserId::new(id),
            display_name: display_name.into(),
            avatar_url: None,
            is_bridge: false,
            standing: None,
            authority: Authority::Member,
            language: None,
        }
    }
}

/// A sender's standing in a room, as the platform records it. Ordered: an admin is also a
/// moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Member,
    /// May moderate the room (Matrix: power level 50, Element's "Moderator").
    Moderator,
    /// May change the room itself (Matrix: power level 100, or a room creator where creators
    /// outrank every level).
    Admin,
}

/// Who may have caused an edit, deletion or reaction, as far as the platform guarantees it.
///
/// The core counts an edit only from the message's author and a deletion by anyone else only
/// from someone who may remove other people's messages in that room (then it is an audited
/// takedown); everything else is ignored and logged. Platforms differ in what they check and
/// in what they tell, so each connector says which case an event is:
///
/// - **Matrix** checks nothing for edits: any member may send an `m.replace` of anyone's event
///   (clients hide such edits, bridges must too). A redaction of someone else's event is only
///   applied by the server when the sender's power level reaches the room's `redact` level, but a
///   redaction event from a remote server can still arrive. The connector names the sender and
///   reports [`Authority::Moderator`] when their power level reaches the room's `redact` level
///   (at the time the event is converted), [`Authority::Member`] otherwise.
/// - **Discord** only lets authors edit their messages, and only the author or a member with
///   Manage Messages delete one. `MESSAGE_DELETE` does not say who deleted: the connector reports
///   it with [`Authority::PlatformChecked`] and no person. An edit names its author (or, when the
///   update omits the author, [`Authority::PlatformChecked`]).
/// - **Telegram** only lets authors edit (the update names them) and never reports deletions to
///   bots: removal from Telegram is a takedown by the moderators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// Nothing beyond who the sender is: their edits and deletions count for their own
    /// messages only.
    #[default]
    Member,
    /// The sender may remove other people's messages in this room (Matrix: power level at
    /// least the room's `redact` level). Their deletion of someone else's message is a takedown.
    Moderator,
    /// The platform does not name who acted, but only lets the author do it (an edit) or the
    /// author or a room moderator (a deletion). The event counts; `Sender::id` names nobody.
    PlatformChecked,
}

impl Authority {
    pub fn is_member(&self) -> bool {
        *self == Authority::Member
    }
}

/// The kinds of event the core understands. Closed: a connector maps anything else to nothing.
///
/// Moderator commands are ordinary messages here; the core recognises them by the room they are
/// posted in (a link's moderation room), so connectors need not know about moderation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum EventKind {
    Message(Message),
    /// The message `target` now reads `new` (only `new.text` and `new.attachments` matter).
    Edit {
        target: RemoteMsgId,
        new: Message,
    },
    Delete {
        target: RemoteMsgId,
    },
    /// A reaction such as `✅` added to `target` by the sender.
    Reaction {
        target: RemoteMsgId,
        key: String,
        /// The reaction's own id, where the platform removes a reaction by deleting it (Matrix:
        /// the `m.reaction` event, later redacted): a `Delete` of this id is then the removal.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<RemoteMsgId>,
    },
    /// The sender's reaction `key` on `target` was removed (Discord's MESSAGE_REACTION_REMOVE,
    /// a Telegram `message_reaction` update that drops it). Only the reactor's own removal, or
    /// one the platform vouches for, is reported: the sender is the person whose reaction went.
    ReactionRemoved {
        target: RemoteMsgId,
        key: String,
    },
    /// The platform counts reactions on `target` without naming who reacted (Telegram's
    /// `message_reaction_count` for chats with anonymous reactions): the totals now, including
    /// the bot's own. Replaces any earlier count for the message.
    ReactionCounts {
        target: RemoteMsgId,
        counts: Vec<ReactionCount>,
    },
}

/// How many reacted with one key, where the platform does not say who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReactionCount {
    pub key: String,
    pub count: u32,
}

/// A message as posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: RemoteMsgId,
    pub text: RichText,
    /// The message this one replies to, in the same room.
    pub reply_to: Option<RemoteMsgId>,
    /// The thread this message belongs to. A thread's root message has `thread: None`.
    pub thread: Option<ThreadId>,
    pub attachments: Vec<Attachment>,
}

impl Message {
    pub fn text(id: impl Into<String>, text: impl Into<RichText>) -> Self {
        Message {
            id: RemoteMsgId::new(id),
            text: text.into(),
            reply_to: None,
            thread: None,
            attachments: Vec::new(),
        }
    }
}

impl From<String> for RichText {
    fn from(s: String) -> Self {
        RichText::plain(s)
    }
}

/// A file attached to a message, by reference. `url` is an opaque reference that only the *source*
/// connector understands (its `Connector::fetch` turns it into bytes when a copy is sent). It must
/// not embed a secret: a Telegram file URL contains the bot token, so store the `file_id` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub name: String,
    pub mime: Option<String>,
    pub size: Option<u64>,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    Voice,
    Sticker,
    File,
}

impl AttachmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Video => "video",
            AttachmentKind::Audio => "audio",
            AttachmentKind::Voice => "voice",
            AttachmentKind::Sticker => "sticker",
            AttachmentKind::File => "file",
        }
    }
}

impl std::str::FromStr for AttachmentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use AttachmentKind::*;
        [Image, Video, Audio, Voice, Sticker, File]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown attachment kind `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Platform;

    /// Events are persisted in the store's inbox: their JSON shape is a storage format.
    #[test]
    fn event_json_shape_is_stable() {
        let e = Event {
            id: InboundId::new("tg:1"),
            room: RoomRef::new(Platform::new("telegram"), "-100"),
            sender: Sender::person("42", "Ada"),
            at_ms: 1_700_000_000_000,
            kind: EventKind::Delete {
                target: RemoteMsgId::new("7"),
            },
        };
        let json = serde_json::to_string(&e).expect("serialises");
        assert_eq!(
            json,
            r#"{"id":"tg:1","room":{"platform":"telegram","room":"-100"},"sender":{"id":"42","display_name":"Ada","avatar_url":null,"is_bridge":false},"at_ms":1700000000000,"kind":{"type":"delete","target":"7"}}"#
        );
        let back: Event = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, e);
    }
}
