//! The records the store keeps. Each is persisted as JSON (see `keys`), so every field change
//! here is a format change: add fields with `#[serde(default)]`, never rename.

use crate::rules::{Rules, Side, UserKey};
use civicbridge_api::{
    Attachment, LinkId, MirrorId, PendingId, Platform, RemoteMsgId, RemoteUserId, RichText,
    RoomRef, ThreadId,
};
use serde::{Deserialize, Serialize};

/// A link as configured: the rooms it joins and who moderates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    pub id: LinkId,
    pub rooms: Vec<LinkRoom>,
    pub moderation_room: Option<RoomRef>,
    pub moderators: Vec<UserKey>,
    pub admins: Vec<UserKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRoom {
    pub room: RoomRef,
    pub side: Side,
}

impl LinkRecord {
    pub fn side_of(&self, room: &RoomRef) -> Option<Side> {
        self.rooms.iter().find(|r| &r.room == room).map(|r| r.side)
    }

    pub fn is_moderator(&self, user: &str) -> bool {
        self.moderators
            .iter()
            .chain(&self.admins)
            .any(|m| m == user)
    }

    pub fn is_admin(&self, user: &str) -> bool {
        self.admins.iter().any(|m| m == user)
    }
}

/// A link's rules and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRecord {
    pub rules: Rules,
    /// A hash of the config rules these were last seeded from. When the config's rules change,
    /// they replace the stored ones (an admin edited the file); otherwise runtime changes stay.
    pub seeded_from: String,
}

/// Who wrote a bridged message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub platform: Platform,
    pub id: RemoteUserId,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

impl Author {
    pub fn new(platform: Platform, id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Author {
            platform,
            id: RemoteUserId::new(id),
            display_name: display_name.into(),
            avatar_url: None,
        }
    }

    pub fn key(&self) -> UserKey {
        format!("{}:{}", self.platform, self.id)
    }
}

/// One message the bridge knows: its source and every copy made of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorRecord {
    pub id: MirrorId,
    pub link: LinkId,
    pub source: RoomRef,
    pub source_msg: RemoteMsgId,
    pub author: Author,
    /// The current text (after the latest accepted edit).
    pub text: RichText,
    pub attachments: Vec<Attachment>,
    /// The bridged message this one replies to.
    pub reply_to: Option<MirrorId>,
    /// The root of the thread this message is in.
    pub thread_root: Option<MirrorId>,
    /// For a thread root: whether its thread may cross (it was approved, or crossed under
    /// `auto`). Replies in an unpublished thread are held under `approved_threads` scope.
    pub published: bool,
    pub copies: Vec<Copy>,
    pub at_ms: u64,
    /// Deleted at the source: held copies are never sent, and every copy is removed.
    #[serde(default)]
    pub deleted: bool,
    /// For a thread root: the thread it heads in its source room, once known.
    #[serde(default)]
    pub source_thread: Option<ThreadId>,
    /// For a thread root: staff stopped the thread crossing (`!unpublish`), whatever the scope.
    #[serde(default)]
    pub unpublished: bool,
}

/// The messages a bridged message became in one target room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub room: RoomRef,
    /// One id per part, in order.
    pub ids: Vec<RemoteMsgId>,
    /// The thread the copy lives in (for a root: the thread created from it).
    pub thread: Option<ThreadId>,
}

impl MirrorRecord {
    /// A message first seen at its source: no copies, no thread, not published.
    pub fn new(
        id: MirrorId,
        link: LinkId,
        source: RoomRef,
        source_msg: RemoteMsgId,
        author: Author,
        text: RichText,
    ) -> Self {
        MirrorRecord {
            id,
            link,
            source,
            source_msg,
            author,
            text,
            attachments: Vec::new(),
            reply_to: None,
            thread_root: None,
            published: false,
            copies: Vec::new(),
            at_ms: 0,
            deleted: false,
            source_thread: None,
            unpublished: false,
        }
    }

    pub fn copy_in(&self, room: &RoomRef) -> Option<&Copy> {
        self.copies.iter().find(|c| &c.room == room)
    }

    pub fn copy_in_mut(&mut self, room: &RoomRef) -> &mut Copy {
        if let Some(i) = self.copies.iter().position(|c| &c.room == room) {
            return &mut self.copies[i];
        }
        self.copies.push(Copy {
            room: room.clone(),
            ids: Vec::new(),
            thread: None,
        });
        let last = self.copies.len() - 1;
        &mut self.copies[last]
    }

    /// The thread this message heads in `room`, once one exists there.
    pub fn thread_in(&self, room: &RoomRef) -> Option<&ThreadId> {
        if &self.source == room {
            return self.source_thread.as_ref();
        }
        self.copy_in(room).and_then(|c| c.thread.as_ref())
    }

    /// Records the thread this message heads in `room`.
    pub fn set_thread_in(&mut self, room: &RoomRef, thread: ThreadId) {
        if &self.source == room {
            self.source_thread = Some(thread);
        } else {
            self.copy_in_mut(room).thread = Some(thread);
        }
    }

    /// The message id of this message in `room`: the source id there, or the first copy.
    pub fn id_in(&self, room: &RoomRef) -> Option<&RemoteMsgId> {
        if &self.source == room {
            return Some(&self.source_msg);
        }
        self.copy_in(room).and_then(|c| c.ids.first())
    }
}

/// What a (room, message id) pair is to the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexEntry {
    /// The source or a copy of a bridged message.
    Mirror(MirrorId),
    /// An approval card in a moderation room.
    Card(PendingId),
}

/// A message (or an edit) held for a moderator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingItem {
    pub id: PendingId,
    pub link: LinkId,
    pub mirror: MirrorId,
    pub kind: PendingKind,
    /// The rooms it goes to when approved.
    pub targets: Vec<RoomRef>,
    /// Why it was held, for the card and the audit log.
    pub reason: String,
    pub held_at_ms: u64,
    /// The card shown to moderators, once posted.
    pub card: Option<(RoomRef, RemoteMsgId)>,
    /// The outbox job posting the card, while it may not be posted yet: a decision taken before
    /// the card is out rewrites that job, so the card appears already decided.
    #[serde(default)]
    pub card_job: Option<JobId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum PendingKind {
    /// The message itself.
    Message,
    /// A new text for a message that already crossed.
    Edit { text: RichText },
}

/// An outbox job's id; jobs for one room run in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u64);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "j{}", self.0)
    }
}

/// A persisted send: it stays in the outbox until the target confirms it or refuses for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub link: LinkId,
    pub target: RoomRef,
    pub kind: JobKind,
    pub created_ms: u64,
    /// Parts already delivered (a long message is sent as several).
    pub parts_done: u32,
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum JobKind {
    /// Post a copy of a bridged message.
    Send { mirror: MirrorId },
    /// Bring the copy up to the mirror's current text.
    Edit { mirror: MirrorId },
    /// Remove the copy.
    Delete { mirror: MirrorId },
    /// A message from the bridge itself (to a moderation room); `card` marks an approval card.
    Notice {
        text: RichText,
        card: Option<PendingId>,
    },
    /// Replace the text of a message the bridge posted itself (a decided approval card).
    EditNotice {
        message: RemoteMsgId,
        text: RichText,
    },
}

impl JobKind {
    pub fn mirror(&self) -> Option<MirrorId> {
        match self {
            JobKind::Send { mirror } | JobKind::Edit { mirror } | JobKind::Delete { mirror } => {
                Some(*mirror)
            }
            JobKind::Notice { .. } | JobKind::EditNotice { .. } => None,
        }
    }
}
