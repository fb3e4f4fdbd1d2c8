//! The `Connector` trait and what the core hands a connector while it runs.

use crate::error::ConnectorError;
use crate::event::{Attachment, Event};
use crate::ids::{Platform, RemoteMsgId, RoomId, ThreadId};
use crate::outgoing::{Outgoing, Private, SendReceipt};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// What a platform can do. The core reads this to shape every `Outgoing` before it is sent, so a
/// connector never has to refuse content it could have been spared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub edits: bool,
    pub deletes: bool,
    /// Native threads or topics. Without them, thread replies become replies to the root's copy.
    pub threads: bool,
    /// Native replies. Without them, a reply becomes a quote of the message it answers.
    pub replies: bool,
    pub reactions: bool,
    /// Which reaction keys the bot may put on a message here; the core drops (and logs) the
    /// others rather than have the platform refuse them.
    pub reaction_keys: ReactionKeys,
    /// How many reactions the bot may put on one message (Telegram: one for a bot), if limited.
    /// The core then shows the most frequent keys.
    pub max_bot_reactions: Option<usize>,
    /// A per-message display name and avatar (Discord webhooks, Matrix MSC4144). Without it,
    /// attribution is a bold name prefix in the text.
    pub personas: bool,
    /// The longest text, in characters of plain text, one message may carry. The connector
    /// reserves room for its own markup and escaping.
    pub max_text_len: usize,
    pub attachments: bool,
    /// The largest attachment the bot may upload, if the platform sets a limit.
    pub max_attachment_bytes: Option<u64>,
    /// The bot can write to a person privately (`Connector::tell`), at least to some people
    /// (Telegram: those who started the bot). Without it the core never calls `tell`.
    pub private_messages: bool,
}

impl Default for Capabilities {
    /// Everything supported, a 4,000-character limit: what the fake connector starts with.
    fn default() -> Self {
        Capabilities {
            edits: true,
            deletes: true,
            threads: true,
            replies: true,
            reactions: true,
            reaction_keys: ReactionKeys::Any,
            max_bot_reactions: None,
            personas: false,
            max_text_len: 4000,
            attachments: true,
            max_attachment_bytes: None,
            private_messages: true,
        }
    }
}

/// The reaction keys a platform lets a bot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionKeys {
    /// Any short text (Matrix annotations).
    Any,
    /// One Unicode emoji (Discord; its custom emoji are the server's own and do not cross).
    Emoji,
    /// Exactly these (Telegram's fixed reaction set). A key that differs only by a variation
    /// selector (U+FE0F) is the same key.
    Only(&'static [&'static str]),
}

impl ReactionKeys {
    /// `key` as this platform writes it, if the bot may use it here.
    pub fn admit(&self, key: &str) -> Option<String> {
        match self {
            ReactionKeys::Any => Some(key.to_owned()),
            ReactionKeys::Emoji => emojis::get(key)
                .or_else(|| emojis::get(&key.replace('\u{fe0f}', "")))
                .map(|e| e.as_str().to_owned()),
            ReactionKeys::Only(set) => {
                let bare = key.replace('\u{fe0f}', "");
                set.iter()
                    .find(|k| **k == key || k.replace('\u{fe0f}', "") == bare)
                    .map(|k| (*k).to_owned())
            }
        }
    }
}

/// What the bot learnt of a room on joining it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomInfo {
    /// The room's name as people see it (a Matrix room name, a Telegram chat title, a Discord
    /// channel name), as the platform gives it: the core cleans it before showing it.
    pub name: Option<String>,
}

/// One platform, as the core sees it.
///
/// The core calls `run` once, on its own task, for the life of the daemon; it calls `send`,
/// `edit`, `delete` and `react` from the outbox, concurrently with `run` and with each other, but
/// never concurrently for the same room (the outbox keeps one lane per room, in order).
///
/// A connector must not retry a failed request itself beyond what its client library does
/// internally: it returns a classified `ConnectorError` and the outbox, which persists the job,
/// decides. It must not hold any message in memory as the only copy.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    fn platform(&self) -> Platform;

    /// Constant for the life of the connector.
    fn capabilities(&self) -> Capabilities;

    /// Reads the platform until `shutdown` is cancelled, submitting every event to `sink`.
    ///
    /// Contract: a platform cursor (Telegram's update offset, a sync token) may be advanced
    /// through `state` only after the `Ack` of every event it covers has resolved, because an
    /// acknowledged event is durable in the bridge and a replayed one is dropped by the core.
    /// Events the bridge itself caused must carry `Sender::is_bridge = true`.
    /// Returns `Err` only for failures that retrying cannot mend (`Auth`); transient failures
    /// are retried inside `run` with backoff.
    async fn run(
        &self,
        sink: EventSink,
        state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError>;

    /// Posts one message. On success the receipt lists every platform message created.
    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError>;

    /// Replaces the text of a message the bridge posted earlier. Only called when
    /// `capabilities().edits`.
    async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError>;

    /// Deletes a message the bridge posted (or, with moderator rights, any message). Deleting a
    /// message that is already gone succeeds. Only called when `capabilities().deletes`.
    async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError>;

    /// Adds a reaction from the bot. Only called when `capabilities().reactions`.
    async fn react(&self, room: &RoomId, id: &RemoteMsgId, key: &str)
        -> Result<(), ConnectorError>;

    /// Removes the bot's own reaction `key` from a message, where it put one with `react`.
    /// Removing a reaction that is not there succeeds. Only called when
    /// `capabilities().reactions`; the default refuses.
    async fn unreact(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let _ = (room, id);
        Err(ConnectorError::Unsupported(format!(
            "{} cannot remove a reaction ({key})",
            self.platform()
        )))
    }

    /// Writes to one person privately (see [`Private`]); the receipt lists the messages posted
    /// there. Only called when `capabilities().private_messages`; the default refuses.
    ///
    /// Contract: `Rejected` means this person cannot be reached privately now (a Telegram user
    /// who never started the bot or blocked it, a Discord user whose DMs are closed or who
    /// shares no server with the bot): the core then falls back (a reply in the room that it
    /// deletes later) instead of reporting a failure. Text longer than `max_text_len` is cut
    /// by the core before; files larger than `max_attachment_bytes` are not passed.
    async fn tell(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "{} cannot write to {} privately",
            self.platform(),
            private.to
        )))
    }

    /// A web address people can open to see message `id` in `room` (in `thread` when it was
    /// posted in one) on the platform: the console links each copy with it. Built from what the connector already knows, without
    /// I/O; `None` where the platform has no such address for that room (a Telegram group that
    /// is not a supergroup) or the connector does not know enough yet (a Discord channel whose
    /// server it has not seen). The caller shows only `https://` and `http://` addresses.
    fn message_url(
        &self,
        room: &RoomId,
        thread: Option<&ThreadId>,
        id: &RemoteMsgId,
    ) -> Option<String> {
        let _ = (room, thread, id);
        None
    }

    /// The standing `person` has in `room` now (Matrix: their power level), for a sign-in that
    /// does not come with a message from that room (the console opened as a widget, where an
    /// OpenID token says who someone is but not what they may do). `None` when the platform
    /// has no such notion or the connector does not know them there; read from what the
    /// connector already holds, without waiting on the platform.
    async fn standing(
        &self,
        room: &RoomId,
        person: &crate::RemoteUserId,
    ) -> Result<Option<crate::Standing>, ConnectorError> {
        let _ = (room, person);
        Ok(None)
    }

    /// Makes the bot a member of `room` where a bot can join by itself (Matrix: join, and accept
    /// its invites from now on), or checks that it is one where only people can add it
    /// (Telegram, Discord); returns what people call the room. The core calls it for every
    /// room a link uses, at start and whenever a link comes into force at runtime.
    ///
    /// `Rejected` with a reason a moderator can act on ("the bot is not in this chat: add it",
    /// "missing access") when the bot cannot be there; `Transient` when the platform could not
    /// be asked. The default knows nothing and refuses nothing.
    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        let _ = room;
        Ok(RoomInfo::default())
    }

    /// Leaves a room no link uses any more, where the bot's membership is its own (Matrix: leave,
    /// and refuse its invites from now on). The default does nothing: elsewhere membership is
    /// the platform admin's business.
    async fn leave(&self, room: &RoomId) -> Result<(), ConnectorError> {
        let _ = room;
        Ok(())
    }

    /// Downloads an attachment this connector reported in an inbound event (its `url` is this
    /// connector's own reference), so the outbox can upload it elsewhere. `Rejected` when the
    /// file is too large for the bot to download (Telegram: 20 MB) or gone.
    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        Err(ConnectorError::Unsupported(format!(
            "{} cannot fetch attachment {}",
            self.platform(),
            attachment.name
        )))
    }
}

/// The core has stopped taking events (the daemon is shutting down). The connector should stop
/// and must not advance its cursor past events that were not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bridge is not accepting events (shutting down)")]
pub struct SinkClosed;

/// An event handed to the core with the channel on which the core acknowledges it.
#[derive(Debug)]
pub struct Submission {
    pub event: Event,
    pub ack: oneshot::Sender<()>,
}

/// Whether a connector can reach its platform, as it reports through [`EventSink::down`] and
/// [`EventSink::up`]. The daemon turns a lasting `Down` into one notice to the moderators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Reading from the platform works again (a poll, a sync or the gateway succeeded).
    Up,
    /// Reading failed for a reason that may pass; the connector keeps retrying. One line.
    Down(String),
}

/// Where a connector submits inbound events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: mpsc::Sender<Submission>,
    health: Option<mpsc::UnboundedSender<Health>>,
}

impl EventSink {
    pub fn new(tx: mpsc::Sender<Submission>) -> Self {
        EventSink { tx, health: None }
    }

    /// A sink that also carries the connector's health reports to `health`.
    pub fn with_health(
        tx: mpsc::Sender<Submission>,
        health: mpsc::UnboundedSender<Health>,
    ) -> Self {
        EventSink {
            tx,
            health: Some(health),
        }
    }

    /// The platform cannot be read for now (`why`, one line, no secrets); the connector retries.
    /// Call on every failed attempt: the daemon debounces.
    pub fn down(&self, why: impl Into<String>) {
        if let Some(h) = &self.health {
            // The daemon is gone: nobody to tell, and nothing to do about it here.
            let _ = h.send(Health::Down(why.into()));
        }
    }

    /// Reading from the platform works (after a successful poll, sync or gateway start). Cheap;
    /// call on every success.
    pub fn up(&self) {
        if let Some(h) = &self.health {
            let _ = h.send(Health::Up);
        }
    }

    /// Hands an event to the core and returns at once (after back-pressure) with the `Ack` that
    /// resolves when the event is durable. Submit many, then await their acks, to keep the
    /// pipeline full: the core groups durable writes.
    pub async fn submit(&self, event: Event) -> Result<Ack, SinkClosed> {
        let (ack, rx) = oneshot::channel();
        self.tx
            .send(Submission { event, ack })
            .await
            .map_err(|_| SinkClosed)?;
        Ok(Ack(rx))
    }

    /// Submits one event and waits until it is durable.
    pub async fn deliver(&self, event: Event) -> Result<(), SinkClosed> {
        self.submit(event).await?.wait().await
    }
}

/// Resolves once the core has made its event durable (or decided to ignore it: an echo, a
/// replay, a room no link uses). Ignored events are acknowledged too, so cursors can move on.
#[derive(Debug)]
pub struct Ack(oneshot::Receiver<()>);

impl Ack {
    pub async fn wait(self) -> Result<(), SinkClosed> {
        self.0.await.map_err(|_| SinkClosed)
    }
}

/// Durable key/value state a connector keeps between runs (cursors, session data), stored by the
/// core in its own store so that a backup of the data directory is a backup of everything.
#[async_trait]
pub trait ConnectorState: Send + Sync + std::fmt::Debug {
    fn get(&self, key: &str) -> Option<String>;
    /// Returns once the value is durable.
    async fn put(&self, key: &str, value: &str) -> Result<(), ConnectorError>;
    /// Stores the value without waiting for it to be durable: it becomes durable with the next
    /// write that is, and a crash before that keeps the previous value. Only for a value whose
    /// loss is harmless, such as a cursor from which reading again only re-delivers events the
    /// core already has and drops as replays. It saves a sync to disk per call.
    async fn remember(&self, key: &str, value: &str) -> Result<(), ConnectorError> {
        self.put(key, value).await
    }
}

/// A `ConnectorState` in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryState(Mutex<HashMap<String, String>>);

#[async_trait]
impl ConnectorState for MemoryState {
    fn get(&self, key: &str) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), ConnectorError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}
