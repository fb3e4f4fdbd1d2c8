//! What the core asks a connector to post, and what the connector answers.

use crate::event::AttachmentKind;
use crate::ids::{RemoteMsgId, RemoteUserId, RoomId, ThreadId};
use crate::rich_text::RichText;
use serde::{Deserialize, Serialize};

/// One part of a bridged message, ready for one platform.
///
/// The core has already applied the target's `Capabilities`: the text fits `max_text_len`,
/// attribution is in the text unless the target supports personas, a reply is only set when the
/// target supports replies, and a thread only when it supports threads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    pub room: RoomId,
    /// A stable id for this send, equal on every retry: connectors whose platform supports
    /// idempotent sends (Matrix transaction ids) must pass it so a retry cannot post twice.
    pub txn_id: String,
    /// Who originally wrote this, for targets that can show a per-message name and avatar.
    pub persona: Option<Persona>,
    pub text: RichText,
    pub reply_to: Option<RemoteMsgId>,
    pub thread: Option<ThreadTarget>,
    /// Files to upload with the message, already fetched from the source platform.
    pub attachments: Vec<OutgoingFile>,
    /// A notice from the bridge itself (an approval card, an error report) rather than a relayed
    /// message; Matrix sends these as `m.notice`.
    pub notice: bool,
}

impl Outgoing {
    pub fn text(room: RoomId, txn_id: impl Into<String>, text: impl Into<RichText>) -> Self {
        Outgoing {
            room,
            txn_id: txn_id.into(),
            persona: None,
            text: text.into(),
            reply_to: None,
            thread: None,
            attachments: Vec::new(),
            notice: false,
        }
    }
}

/// A message from the bridge to one person, privately ([`crate::Connector::tell`]): a Discord
/// DM, a Telegram private chat (only once the person has started the bot), a Matrix direct
/// room. Used to tell a resident what the moderation team decided about their message, and to
/// hand an admin a file (a subject-access export). Never a relayed message: no persona.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Private {
    /// The person, by their id on this platform.
    pub to: RemoteUserId,
    /// A room of a link where the bot met them. Discord only lets a bot write to someone it
    /// shares a server with; the others ignore it.
    pub met_in: RoomId,
    /// As [`Outgoing::txn_id`]: equal on every retry.
    pub txn_id: String,
    pub text: RichText,
    /// Files to attach (an export), with their bytes.
    pub files: Vec<OutgoingFile>,
}

/// A file to upload, with its bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingFile {
    pub kind: AttachmentKind,
    pub name: String,
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for OutgoingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingFile")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("mime", &self.mime)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// The original author of a relayed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Persona {
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// The platform the author wrote on, e.g. `Telegram`.
    pub platform_label: String,
}

/// Where in the target room a message goes, thread-wise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadTarget {
    /// Into a thread that already exists on the target.
    Existing(ThreadId),
    /// Into the thread rooted at this message on the target, creating the thread if the platform
    /// needs that (Discord starts a thread from the message; Telegram opens a forum topic).
    /// The receipt says which thread it became.
    StartFrom(RemoteMsgId),
}

/// What a successful send produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// One id per message the platform now shows, in order. Usually one; more if the connector
    /// had to split further (rendered markup longer than the plain text).
    pub ids: Vec<RemoteMsgId>,
    /// The thread the message landed in, when it is in one.
    pub thread: Option<ThreadId>,
}

impl SendReceipt {
    pub fn one(id: RemoteMsgId) -> Self {
        SendReceipt {
            ids: vec![id],
            thread: None,
        }
    }
}
