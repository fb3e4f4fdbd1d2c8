//! The records the store keeps. Each is persisted as JSON (see `keys`), so every field change
//! here is a format change: add fields with `#[serde(default)]`, never rename.

use crate::moderation::rules::{Rules, Side, UserKey};
use crate::moderation::HoldReasons;
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

    pub fn is_moderator(&self, user: &UserKey) -> bool {
        self.moderators
            .iter()
            .chain(&self.admins)
            .any(|m| m == user)
    }

    pub fn is_admin(&self, user: &UserKey) -> bool {
        self.admins.iter().any(|m| m == user)
    }
}

/// A link's rules and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRecord {
    pub rules: Rules,
    /// A hash of the config rules these were last seeded from.
    pub seeded_from: String,
    /// The config's rules as last seeded: at the next start, each key the config changed since
    /// replaces the stored one, and every other key keeps its runtime changes (`store::seed`).
    /// `None` in records written before per-key seeding.
    #[serde(default)]
    pub config: Option<Rules>,
}

/// Who wrote a bridged message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub platform: Platform,
    pub id: RemoteUserId,
    pub display_name: String,
    pub avatar_url: Option<String>,
    /// Why the name is shown as unverified (it imitates staff or a protected word, see
    /// `moderation::lookalike`); `None`: shown as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    /// Their language as their platform reported it (`Sender::language`), for the notices
    /// they are sent (`moderation::tell`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Author {
    pub fn new(platform: Platform, id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Author {
            platform,
            id: RemoteUserId::new(id),
            display_name: display_name.into(),
            avatar_url: None,
            unverified: None,
            language: None,
        }
    }

    /// The label after the name wherever the bridge shows it: the platform, and whether the
    /// name is unverified ("Telegram, unverified name").
    pub fn label(&self) -> String {
        match self.unverified {
            Some(_) => format!("{}, unverified name", self.platform.label()),
            None => self.platform.label(),
        }
    }

    pub fn key(&self) -> UserKey {
        UserKey::new(self.platform, self.id.clone())
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
    /// Approval cards posted about this message (room and message), held or decided: they quote
    /// it and name its author, so erasure deletes them with the copies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cards: Vec<(RoomRef, RemoteMsgId)>,
    /// Rooms a copy was released to (forwarded, or approved), whether or not it has been sent
    /// yet. An edit is judged for these rooms by the edit policy: it never changes a text that
    /// is already on its way there unseen.
    #[serde(default)]
    pub released: Vec<RoomRef>,
    /// Held items about this message (the message itself, or an edit of it), so that an edit or
    /// a deletion at the source reaches them. May still name items decided or expired since:
    /// check that the item exists and names this message.
    #[serde(default)]
    pub held: Vec<PendingId>,
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
            cards: Vec::new(),
            released: Vec::new(),
            held: Vec::new(),
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

    /// Whether this message may be referred to in `room` (quoted, replied to, threaded under):
    /// it was written there, or a copy of it is there now. A message deleted at its source or
    /// taken down is shared nowhere; a rejected, held or never-relayed one only in its own room.
    pub fn shared_in(&self, room: &RoomRef) -> bool {
        !self.deleted
            && (&self.source == room || self.copy_in(room).is_some_and(|c| !c.ids.is_empty()))
    }

    /// The rooms a copy is in, or on its way to.
    pub fn crossed_rooms(&self) -> Vec<RoomRef> {
        let mut rooms: Vec<RoomRef> = self
            .copies
            .iter()
            .filter(|c| !c.ids.is_empty())
            .map(|c| c.room.clone())
            .collect();
        for r in &self.released {
            if !rooms.contains(r) {
                rooms.push(r.clone());
            }
        }
        rooms
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
    /// A report card in a moderation room, about this bridged message.
    Report(MirrorId),
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
    pub reason: HoldReasons,
    pub held_at_ms: u64,
    /// The card shown to moderators, once posted.
    pub card: Option<(RoomRef, RemoteMsgId)>,
    /// The outbox job posting the card, while it may not be posted yet: a decision taken before
    /// the card is out rewrites that job, so the card appears already decided.
    #[serde(default)]
    pub card_job: Option<JobId>,
    /// The version of the held content: 1 when held, one more each time its author edited it
    /// while it waited. Each revision gets a card of its own, and a decision names the revision
    /// it was taken on (see `approval::decide`).
    #[serde(default = "first_revision")]
    pub revision: u32,
    /// When the current revision arrived, if it is not the first.
    #[serde(default)]
    pub revised_at_ms: Option<u64>,
    /// For a held message: its content in this revision, exactly what an approval sends (the
    /// mirror record keeps what has crossed). `None` in items held before revisions existed:
    /// then the mirror's text and attachments are the held ones. For an edit: see `kind`.
    #[serde(default)]
    pub content: Option<HeldContent>,
    /// The cards of earlier revisions (marked superseded): a decision on one is refused.
    #[serde(default)]
    pub superseded: Vec<(RoomRef, RemoteMsgId)>,
    /// A moderator working on it (`!claim`, 🙋 on the card), so others leave it to them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// Who took a held item, and until when: a claim lapses by itself after the link's
/// `claim_minutes`, or is released (`!release`, or a decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The claimant as the audit log writes them (`matrix:@mo:example.org`).
    pub actor: String,
    /// Their name as the card shows it.
    pub name: String,
    pub until_ms: u64,
}

fn first_revision() -> u32 {
    1
}

/// The content of a held message, as one revision has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldContent {
    pub text: RichText,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

impl PendingItem {
    /// A new item (id 0 until stored) for `mirror`, held for `targets`, at its first revision.
    pub fn new(
        link: LinkId,
        mirror: MirrorId,
        kind: PendingKind,
        targets: Vec<RoomRef>,
        reason: HoldReasons,
        held_at_ms: u64,
    ) -> PendingItem {
        PendingItem {
            id: PendingId(0),
            link,
            mirror,
            kind,
            targets,
            reason,
            held_at_ms,
            card: None,
            card_job: None,
            revision: 1,
            revised_at_ms: None,
            content: None,
            superseded: Vec::new(),
            claim: None,
        }
    }

    /// The claim in force at `now_ms`, if any.
    pub fn claimed(&self, now_ms: u64) -> Option<&Claim> {
        self.claim.as_ref().filter(|c| now_ms < c.until_ms)
    }

    /// The text this item would cross with (for an edit: the new text).
    pub fn text<'a>(&'a self, mirror: &'a MirrorRecord) -> &'a RichText {
        match (&self.kind, &self.content) {
            (PendingKind::Edit { text }, _) => text,
            (PendingKind::Message, Some(c)) => &c.text,
            (PendingKind::Message, None) => &mirror.text,
        }
    }

    /// The attachments it would cross with (an edit keeps the message's).
    pub fn attachments<'a>(&'a self, mirror: &'a MirrorRecord) -> &'a [Attachment] {
        match (&self.kind, &self.content) {
            (PendingKind::Message, Some(c)) => &c.attachments,
            _ => &mirror.attachments,
        }
    }

    /// How moderators name this revision in commands: `#3` for the first, `#3v2` after.
    pub fn reference(&self) -> String {
        match self.revision {
            0 | 1 => self.id.to_string(),
            r => format!("{}v{r}", self.id),
        }
    }
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
    Send {
        mirror: MirrorId,
        /// The text this copy shows, fixed when the job is queued. Copies of one message can
        /// be at different versions: an edit may follow to one room at once while it waits
        /// for a moderator for another, and a send queued before that edit must still post
        /// what was approved for its room. `None` only in jobs queued by older releases (they
        /// send the message's current text).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<RichText>,
    },
    /// Bring the copy up to `text` (as for `Send`, fixed when the job is queued).
    Edit {
        mirror: MirrorId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<RichText>,
    },
    /// Remove the copy.
    Delete { mirror: MirrorId },
    /// Post (or repost) the report card about `mirror` to the moderation room: a notice whose
    /// first part is filed as the report's card, so ✅ and ❌ on it decide the report.
    ReportCard { mirror: MirrorId, text: RichText },
    /// Tell the author of `mirror` (a resident) what happened to their message
    /// (`moderation::tell`): `private` where their platform lets the bot write to them, else
    /// `in_room` (with `invite` where the platform could reach them once they allow it) as a
    /// reply in the target room (the message's source), deleted after `delete_after_secs`.
    /// The texts are fixed when queued.
    Tell {
        mirror: MirrorId,
        told: crate::moderation::tell::Told,
        private: RichText,
        in_room: RichText,
        invite: RichText,
        delete_after_secs: u64,
    },
    /// Delete a message the bridge posted itself (a notice to a resident whose time is up).
    Unsay { message: RemoteMsgId },
    /// Send `to` (an admin who asked with `!export`) privately, as files, everything the store
    /// holds about `subject` on `links`. Built when the job runs, so the export is never kept
    /// in the outbox; audited as `by` once it was handed over.
    Export {
        subject: UserKey,
        to: civicbridge_api::RemoteUserId,
        links: Vec<LinkId>,
        by: crate::moderation::audit::AuditActor,
    },
    /// Bring the bot's reactions on the message in the target room (its source or its copy)
    /// in line with the reactions people made on the message's other rooms
    /// (`pipeline::reactions`). It reads the tallies when it runs, so several queued for one
    /// room settle in one go.
    Reactions { mirror: MirrorId },
    /// A message from the bridge itself (to a moderation room); `card` marks an approval card and
    /// `about` the bridged message it shows, so that the card is found again when its author's
    /// data is erased (after a decision the item, and with it the card's place, is gone).
    Notice {
        text: RichText,
        card: Option<PendingId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<MirrorId>,
    },
    /// Replace the text of a message the bridge posted itself (a decided approval card).
    /// `about` as for `Notice`: the bridged message the new text shows.
    EditNotice {
        message: RemoteMsgId,
        text: RichText,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<MirrorId>,
    },
}

impl JobKind {
    /// A plain notice from the bridge (not a card).
    pub fn notice(text: impl Into<RichText>) -> JobKind {
        JobKind::Notice {
            text: text.into(),
            card: None,
            about: None,
        }
    }

    /// A copy of `mirror` showing `text`.
    pub fn send(mirror: MirrorId, text: RichText) -> JobKind {
        JobKind::Send {
            mirror,
            text: Some(text),
        }
    }

    /// An edit of `mirror`'s copy to `text`.
    pub fn edit(mirror: MirrorId, text: RichText) -> JobKind {
        JobKind::Edit {
            mirror,
            text: Some(text),
        }
    }

    pub fn mirror(&self) -> Option<MirrorId> {
        match self {
            JobKind::Send { mirror, .. }
            | JobKind::Edit { mirror, .. }
            | JobKind::Delete { mirror }
            | JobKind::Reactions { mirror }
            | JobKind::ReportCard { mirror, .. }
            | JobKind::Tell { mirror, .. } => Some(*mirror),
            JobKind::Notice { .. }
            | JobKind::EditNotice { .. }
            | JobKind::Unsay { .. }
            | JobKind::Export { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Typed hold reasons are stored as a list, each once, and read back as they were.
    #[test]
    fn hold_reasons_round_trip_typed() {
        use crate::moderation::HoldReason;
        let held = [
            ("a", HoldReason::TooLong { len: 9, max: 5 }),
            ("b", HoldReason::Links),
            ("c", HoldReason::TooLong { len: 9, max: 5 }),
        ];
        let reasons = HoldReasons::of(&held);
        let json = serde_json::to_string(&reasons).expect("json");
        assert_eq!(json, r#"[{"too_long":{"len":9,"max":5}},"links"]"#);
        let back: HoldReasons = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, reasons);
        assert_eq!(
            back.to_string(),
            "too long (9 > 5 characters); it contains a link"
        );
    }

    /// Records written before revisions, releases and held links still decode, with the
    /// defaults that make them behave as before: revision 1, the mirror's text held.
    #[test]
    fn records_from_before_revisions_decode() {
        let item: PendingItem = serde_json::from_str(
            r#"{"id":3,"link":"planning","mirror":9,"kind":{"type":"message"},
                "targets":[{"platform":"matrix","room":"!staff"}],"reason":"r",
                "held_at_ms":5,"card":null}"#,
        )
        .expect("an old pending item decodes");
        assert_eq!(item.revision, 1);
        assert_eq!(item.content, None);
        assert!(item.superseded.is_empty());
        assert_eq!(item.reference(), "#3");
        // Reasons from before they were typed read back as their text, and are shown as it.
        assert_eq!(item.reason, HoldReasons::Written("r".into()));
        assert_eq!(item.reason.to_string(), "r");
        let text = serde_json::to_string(&RichText::plain("hi")).expect("json");
        let m: MirrorRecord = serde_json::from_str(&format!(
            r#"{{"id":9,"link":"planning","source":{{"platform":"telegram","room":"-1"}},
                "source_msg":"7","author":{{"platform":"telegram","id":"42",
                "display_name":"Ada","avatar_url":null}},"text":{text},
                "attachments":[],"reply_to":null,"thread_root":null,"published":false,
                "copies":[],"at_ms":0}}"#
        ))
        .expect("an old mirror record decodes");
        assert!(m.released.is_empty() && m.held.is_empty());
        assert_eq!(item.text(&m), &m.text, "the mirror's text is the held one");
        let rec: RulesRecord =
            serde_json::from_str(r#"{"rules":{},"seeded_from":"abc"}"#).expect("decodes");
        assert_eq!(rec.config, None);
    }
}
