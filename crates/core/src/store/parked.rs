//! Dead letters: outbox jobs and inbound events the bridge gave up running for now, kept with
//! the reason until an admin retries or drops them (`!parked`, `!retry P3`, `!drop P3`,
//! `civicbridge queue parked|retry|drop`).
//!
//! Why a tree of its own: a parked job leaves the outbox tree (so a re-drive at start never runs
//! it again and its lane moves on), and its stored bytes move here untouched, as a hex string.
//! A flat string always decodes, so even a job whose own record can no longer be decoded is
//! parked, listed and retried losslessly. Parked events keep the event as a JSON *string* for the
//! same reason: a deeply nested event must not make its dead letter unreadable too.

use super::read::sealed::Access as _;
use super::read::{self, Read};
use super::{keys, Job, JobId, StoreError, Tree, Tx, TxError};
use civicbridge_api::{Event, InboundId, LinkId, MirrorId, RoomRef, UserKey};
use serde::{Deserialize, Serialize};

/// A parked item's id, shown as `P3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParkedId(pub u64);

impl std::fmt::Display for ParkedId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl std::str::FromStr for ParkedId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix(['P', 'p'])
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map(ParkedId)
            .ok_or_else(|| format!("`{s}` is not a parked item (P1, P2 …)"))
    }
}

/// What was parked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParkedWhat {
    /// An outbox job. `raw` is the job's stored record, hex-encoded, exactly as it was.
    Job {
        job: JobId,
        /// Where it was going (from the record, or the lane it ran in if the record is
        /// unreadable).
        target: Option<RoomRef>,
        /// What kind of job, when the record could be read that far (`send`, `notice` …).
        kind: Option<String>,
        /// The bridged message the job sends, edits, deletes or shows on a card, when the
        /// record could be read that far: a notice about this dead letter is about it too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<MirrorId>,
        raw: String,
    },
    /// An inbound event its link worker could not handle. `event` is its JSON, as a string.
    Event {
        room: RoomRef,
        event_id: InboundId,
        event: String,
    },
}

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParkedItem {
    pub id: ParkedId,
    /// The link it belongs to, when known (a job whose record is unreadable may not say).
    pub link: Option<LinkId>,
    pub what: ParkedWhat,
    /// Why it was parked, one line.
    pub reason: String,
    pub at_ms: u64,
    /// An admin asked for a retry of this event; its link worker replays it when it next looks
    /// (at start, or right after the `!retry`). Jobs are retried at once and never carry this.
    #[serde(default)]
    pub retry: bool,
}

impl ParkedItem {
    /// Whether this dead letter carries something of the person `user` for an
    /// erasure: an event they sent, a job about one of their messages (`mirrors`), or, when the
    /// record cannot be decoded, any of `needles` (their id and names) in its bytes. Errs on the
    /// side of the person: an unreadable item that mentions them goes.
    pub fn concerns(
        &self,
        user: &UserKey,
        mirrors: &std::collections::HashSet<MirrorId>,
        needles: &[String],
    ) -> bool {
        let mentions = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            needles
                .iter()
                .any(|n| !n.is_empty() && text.contains(n.as_str()))
        };
        match &self.what {
            ParkedWhat::Event { event, .. } => match serde_json::from_str::<Event>(event) {
                Ok(ev) => ev.sender_key() == *user,
                Err(_) => mentions(event.as_bytes()),
            },
            ParkedWhat::Job { raw, .. } => {
                let Ok(bytes) = hex::decode(raw) else {
                    return false;
                };
                match keys::decode::<Job>(&bytes) {
                    Ok(job) => match &job.kind {
                        super::JobKind::Notice { about: Some(m), .. }
                        | super::JobKind::EditNotice { about: Some(m), .. } => mirrors.contains(m),
                        super::JobKind::Send { mirror, .. }
                        | super::JobKind::Edit { mirror, .. }
                        | super::JobKind::Reactions { mirror }
                        | super::JobKind::ReportCard { mirror, .. }
                        | super::JobKind::Tell { mirror, .. } => mirrors.contains(mirror),
                        super::JobKind::Export { subject, .. } => subject == user,
                        super::JobKind::Delete { .. } | super::JobKind::Unsay { .. } => false,
                        super::JobKind::Notice { .. } | super::JobKind::EditNotice { .. } => {
                            mentions(&bytes)
                        }
                    },
                    Err(_) => mentions(&bytes),
                }
            }
        }
    }

    /// One line for listings: id, link, what, reason.
    pub fn line(&self) -> String {
        let link = self.link.as_ref().map_or("?", |l| l.as_str());
        let what = match &self.what {
            ParkedWhat::Job {
                job, target, kind, ..
            } => format!(
                "{} job {job} to {}",
                kind.as_deref().unwrap_or("unreadable"),
                target
                    .as_ref()
                    .map_or_else(|| "an unknown room".to_owned(), |t| t.to_string())
            ),
            ParkedWhat::Event { room, event_id, .. } => format!("event {event_id} in {room}"),
        };
        let retry = if self.retry { " (retry requested)" } else { "" };
        format!("{} [{link}] {what} — {}{retry}", self.id, self.reason)
    }
}

/// As much of a job record as can be read without decoding its kind's body: the kind's fields
/// are skipped with serde_json's non-recursive `ignore_value`, so a record too deep to decode
/// whole still names its link and target.
#[derive(Deserialize)]
struct JobHeader {
    link: LinkId,
    target: RoomRef,
    kind: KindTag,
}

#[derive(Deserialize)]
struct KindTag {
    #[serde(rename = "type")]
    tag: String,
    /// Set on a card (a notice for a held item).
    #[serde(default)]
    card: Option<u64>,
    /// The message of a send, edit or delete.
    #[serde(default)]
    mirror: Option<MirrorId>,
    /// The message a notice or a card edit shows.
    #[serde(default)]
    about: Option<MirrorId>,
}

impl KindTag {
    fn name(&self) -> String {
        match self.card {
            Some(_) => "card".to_owned(),
            None => self.tag.clone(),
        }
    }

    fn about(&self) -> Option<MirrorId> {
        self.mirror.or(self.about)
    }
}

const PARKED_COUNTER: &str = "parked";

/// Reads of the dead letters.
pub trait ParkedReads: Read {
    /// Every parked item, oldest first.
    fn parked(&self) -> Result<Vec<ParkedItem>, StoreError> {
        read::all(self, Tree::Parked)
    }

    fn parked_item(&self, id: ParkedId) -> Result<Option<ParkedItem>, StoreError> {
        read::get(self, Tree::Parked, &keys::id(id.0))
    }
}

impl<R: Read + ?Sized> ParkedReads for R {}

impl Tx<'_> {
    fn next_parked(&mut self) -> Result<ParkedId, TxError> {
        self.next_counter(PARKED_COUNTER).map(ParkedId)
    }

    /// Moves job `id` out of the outbox into the parked tree, its bytes untouched. `lane` is the
    /// room whose lane ran it (the target, if the record cannot say). `None` if the job is gone.
    pub fn park_job(
        &mut self,
        id: JobId,
        lane: Option<&RoomRef>,
        reason: &str,
    ) -> Result<Option<ParkedItem>, TxError> {
        let key = keys::id(id.0);
        let Some(raw) = self.raw_get(Tree::Outbox, &key)? else {
            return Ok(None);
        };
        let header = keys::decode::<JobHeader>(&raw).ok();
        let item = ParkedItem {
            id: self.next_parked()?,
            link: header.as_ref().map(|h| h.link.clone()),
            what: ParkedWhat::Job {
                job: id,
                target: header
                    .as_ref()
                    .map(|h| h.target.clone())
                    .or_else(|| lane.cloned()),
                kind: header.as_ref().map(|h| h.kind.name()),
                about: header.as_ref().and_then(|h| h.kind.about()),
                raw: hex::encode(&raw),
            },
            reason: one_line(reason),
            at_ms: self.now_ms,
            retry: false,
        };
        self.remove(Tree::Outbox, &key)?;
        self.put(Tree::Parked, &keys::id(item.id.0), &item)?;
        Ok(Some(item))
    }

    /// Parks an inbound event of `link` and marks it seen, so a redelivery is not handled again
    /// until an admin retries it.
    pub fn park_event(
        &mut self,
        link: &LinkId,
        event: &Event,
        reason: &str,
    ) -> Result<ParkedItem, TxError> {
        let _ = self.mark_seen(event.room.platform, &event.id)?;
        let item = ParkedItem {
            id: self.next_parked()?,
            link: Some(link.clone()),
            what: ParkedWhat::Event {
                room: event.room.clone(),
                event_id: event.id.clone(),
                event: serde_json::to_string(event).unwrap_or_default(),
            },
            reason: one_line(reason),
            at_ms: self.now_ms,
            retry: false,
        };
        self.put(Tree::Parked, &keys::id(item.id.0), &item)?;
        Ok(item)
    }

    /// Takes a parked item back: a job returns to the outbox under its own id (its lane runs it
    /// again once it is enqueued: see [`Retried`]); an event is marked for replay by its link
    /// worker (its seen mark is dropped then). `None` if there is no such item.
    pub fn retry_parked(&mut self, id: ParkedId) -> Result<Option<Retried>, TxError> {
        let Some(mut item) = self.parked_item(id)? else {
            return Ok(None);
        };
        match &item.what {
            ParkedWhat::Job { job, raw, .. } => {
                let bytes = hex::decode(raw)
                    .map_err(|e| StoreError::Corrupt(format!("parked item {id}: {e}")))?;
                self.put_raw(Tree::Outbox, &keys::id(job.0), bytes)?;
                self.remove(Tree::Parked, &keys::id(id.0))?;
                Ok(Some(Retried::Job(*job, item)))
            }
            ParkedWhat::Event { .. } => {
                item.retry = true;
                self.put(Tree::Parked, &keys::id(id.0), &item)?;
                Ok(Some(Retried::Event(item)))
            }
        }
    }

    /// Removes a parked item for good. Returns it, or `None` if there is no such item.
    pub fn drop_parked(&mut self, id: ParkedId) -> Result<Option<ParkedItem>, TxError> {
        let item = self.parked_item(id)?;
        if item.is_some() {
            self.remove(Tree::Parked, &keys::id(id.0))?;
        }
        Ok(item)
    }

    /// Takes an event marked for retry out of the parked tree, drops its seen mark, and returns
    /// the event to handle again. `Err` text if the stored event does not decode.
    pub fn take_retried_event(
        &mut self,
        id: ParkedId,
    ) -> Result<Option<Result<Event, String>>, TxError> {
        let Some(item) = self.parked_item(id)? else {
            return Ok(None);
        };
        let ParkedWhat::Event {
            room,
            event_id,
            event,
        } = &item.what
        else {
            return Ok(None);
        };
        self.remove(Tree::Parked, &keys::id(id.0))?;
        self.unmark_seen(room.platform, event_id)?;
        Ok(Some(
            serde_json::from_str::<Event>(event).map_err(|e| e.to_string()),
        ))
    }

    /// A retried event failed again: it stays parked, no longer marked for retry, with the new
    /// reason.
    pub fn keep_parked(&mut self, id: ParkedId, reason: &str) -> Result<(), TxError> {
        if let Some(mut item) = self.parked_item(id)? {
            item.retry = false;
            item.reason = one_line(reason);
            self.put(Tree::Parked, &keys::id(id.0), &item)?;
        }
        Ok(())
    }
}

/// What a retry put back.
#[derive(Debug)]
pub enum Retried {
    /// Back in the outbox: enqueue this id once the transaction has committed.
    Job(JobId, ParkedItem),
    /// Marked for replay by its link worker.
    Event(ParkedItem),
}

fn one_line(s: &str) -> String {
    let line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = line.chars().take(300).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}
