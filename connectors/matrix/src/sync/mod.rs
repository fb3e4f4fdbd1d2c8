//! The `/sync` loop behind `Connector::run`, with ack-before-advance.
//!
//! How the cursor is kept, and why: matrix-sdk's `sync_once` writes the response, including
//! its `next_batch` token, into the SDK's own store *before* it returns, i.e. before the core
//! has acknowledged a single event. Resuming from the SDK's token after a crash could therefore
//! skip events the bridge never made durable. So the connector keeps its own cursor in the
//! core's `ConnectorState` (key [`SINCE_KEY`]), passes it explicitly to every sync
//! (`SyncToken::Specific`), and stores the new `next_batch` only after the `Ack` of every
//! event in that response has resolved. After a crash the next sync starts from the last
//! acknowledged batch; events the core already has are dropped by it as replays (same
//! `InboundId` = event id), so each arrives once.
//!
//! One trap: the SDK silently empties a sync response whose `next_batch` equals the token it
//! stored last ("same sync response twice"). Re-syncing from our older cursor when nothing new
//! happened since would thus return nothing, and the unacknowledged batch would be lost. So at
//! start, when the SDK's stored token is ahead of ours, the events in between are re-read
//! through `/messages` (which takes sync tokens and which the SDK decrypts), submitted and
//! acknowledged, and only then does the loop sync from the SDK's token.
//!
//! First start: `connect` runs one sync after the login; its token anchors the cursor, so
//! history from before the bot's first start is not bridged, everything after it is. When
//! neither our state nor `connect` has a token (the core's store was wiped but the data dir
//! kept), the SDK's own token is used.
//!
//! Most responses do not go through the SDK at all: the loop reads `/sync` itself and, when a
//! response only carries plaintext events in rooms the SDK knows are not encrypted, delivers
//! them without the SDK's per-response work (`plain.rs` says what qualifies and why). Any other
//! response is discarded and synced again through `sync_once` from the same token, which
//! returns the same events and more. After plain responses the loop stores the last
//! `next_batch` in the SDK's store itself, every few seconds and when it ends, so the SDK's
//! token keeps pace with ours (`plain_token` says why, and what a crash in between costs).
//!
//! A sync whose timeline is `limited` (more events since our token than the filter's limit)
//! is completed by paging `/messages` backwards from the timeline's `prev_batch` down to our
//! token, so catch-up after a long outage still delivers every message, in order.

use crate::erase::Erase;
use crate::inbound::{to_event, InboundContext};
use civicbridge_api::{Ack, ConnectorError, ConnectorState, EventSink};
use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::api::client::filter::{FilterDefinition, RoomEventFilter, RoomFilter};
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId, RoomId, UInt};
use matrix_sdk::store::{StateStoreDataKey, StateStoreDataValue};
use matrix_sdk::{Client, Room};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

mod plain;
mod reading;
mod senders;
pub(crate) use reading::SyncCounts;
use reading::{Batch, FastPath, SdkToken};
pub(crate) use senders::standing;

/// The `ConnectorState` key of the last fully acknowledged sync token.
pub const SINCE_KEY: &str = "matrix.sync_token";

/// Events per room per sync before the timeline is `limited` and gap-filled.
const TIMELINE_LIMIT: u32 = 100;
/// Upper bound on events fetched to fill one gap (a very long outage loses the oldest).
const MAX_GAP_EVENTS: usize = 5000;

pub(crate) struct SyncLoop<'a> {
    pub client: &'a Client,
    pub sink: &'a EventSink,
    pub state: Arc<dyn ConnectorState>,
    pub shutdown: &'a CancellationToken,
    pub own_user: String,
    /// Rooms whose invites are accepted (shared with `join`/`leave`); others are declined.
    pub accept_rooms: crate::rooms::AcceptRooms,
    /// The bot's direct rooms: their events are dropped unread (`direct.rs`).
    pub direct: crate::direct::DirectRooms,
    pub timeout: Duration,
    /// The token from `connect`'s first sync, used when `state` holds none yet.
    pub initial_token: Option<String>,
    pub counts: Arc<SyncCounts>,
    pub senders: senders::Senders,
}

enum Step {
    Continue,
    Stop,
}

/// A joined room's new timeline, from either kind of response.
struct RoomTimeline<'r> {
    room_id: &'r RoomId,
    limited: bool,
    prev_batch: Option<&'r str>,
    events: Vec<TimelineEvent>,
}

impl SyncLoop<'_> {
    pub(crate) async fn run(self) -> Result<(), ConnectorError> {
        let mut since = self.state.get(SINCE_KEY);
        if since.is_none() {
            if let Some(initial) = &self.initial_token {
                // First run after the first login: anchor the cursor at the first sync, so a
                // crash before the first acknowledged batch still resumes from here.
                if let Err(e) = self.state.put(SINCE_KEY, initial).await {
                    tracing::warn!(error = %e, "matrix: could not persist the first sync token");
                }
                since = Some(initial.clone());
            }
        }
        if let Some(ours) = since.clone() {
            if let Some(sdk) = self.sdk_token().await.filter(|t| *t != ours) {
                // Either the SDK processed batches past our cursor that were never
                // acknowledged (re-read them), or, after a crash, its token lags ours by what
                // `plain_token` held back: then the loop goes on from the SDK's older token and
                // reads those seconds again, which the core drops as replays.
                match self.replay(&ours, &sdk).await {
                    Step::Stop => return Ok(()),
                    Step::Continue => {}
                }
                if let Err(e) = self.state.put(SINCE_KEY, &sdk).await {
                    tracing::warn!(error = %e, "matrix: could not persist the sync token");
                }
                since = Some(sdk);
            }
        }
        self.answer_pending_invites().await;
        let mut token = SdkToken::default();
        let result = self.follow(since, &mut token).await;
        self.flush_sdk_token(&mut token).await;
        result
    }

    /// Syncs from `since` until shutdown (or a refused login), delivering each response.
    async fn follow(
        &self,
        mut since: Option<String>,
        token: &mut SdkToken,
    ) -> Result<(), ConnectorError> {
        let mut backoff = Duration::from_millis(500);
        let filter = sync_filter(&self.own_user);
        let mut fast = FastPath::default();
        loop {
            if self.shutdown.is_cancelled() {
                return Ok(());
            }
            let batch = tokio::select! {
                _ = self.shutdown.cancelled() => return Ok(()),
                r = self.next_batch(since.as_deref(), &filter, &mut fast) => r,
            };
            let batch = match batch {
                Ok(b) => b,
                Err((error, text)) => match error {
                    ConnectorError::Auth(m) => return Err(ConnectorError::Auth(m)),
                    other => {
                        let wait = match other {
                            ConnectorError::RateLimited { retry_after } => retry_after,
                            _ => backoff,
                        };
                        tracing::warn!(error = %text, ?wait, "matrix: sync failed; retrying");
                        self.sink.down(format!("sync failed: {other}"));
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        tokio::select! {
                            _ = self.shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(wait) => continue,
                        }
                    }
                },
            };
            backoff = Duration::from_millis(500);
            self.sink.up();
            let next = match batch {
                Batch::Plain(response) => {
                    tracing::debug!(
                        rooms = response.rooms.join.len(),
                        "matrix: plain sync response"
                    );
                    let timelines = response.rooms.join.iter().map(|(id, room)| RoomTimeline {
                        room_id: id,
                        limited: false,
                        prev_batch: None,
                        events: room
                            .timeline
                            .events
                            .iter()
                            .cloned()
                            .map(TimelineEvent::from_plaintext)
                            .collect(),
                    });
                    if let Step::Stop = self.deliver(timelines.collect(), since.as_deref()).await {
                        return Ok(());
                    }
                    self.plain_token(token, &response.next_batch).await;
                    response.next_batch
                }
                Batch::Sdk(response) => {
                    tracing::debug!(rooms = response.rooms.joined.len(), "matrix: sync response");
                    token.sdk_synced();
                    // The SDK may have changed room state (members, power levels).
                    self.senders.clear();
                    self.handle_invites(&response.rooms.invited).await;
                    let timelines = response.rooms.joined.iter().map(|(id, room)| RoomTimeline {
                        room_id: id,
                        limited: room.timeline.limited,
                        prev_batch: room.timeline.prev_batch.as_deref(),
                        events: room.timeline.events.clone(),
                    });
                    if let Step::Stop = self.deliver(timelines.collect(), since.as_deref()).await {
                        return Ok(());
                    }
                    response.next_batch
                }
            };
            // Every event of this batch is durable in the bridge: now the cursor may move. It
            // need not be durable itself (`remember`, not `put`): after a crash that loses it,
            // the loop resumes from an older cursor, and what it reads again is either re-read
            // by `replay` or dropped by the core as replays. That saves a disk sync per response.
            if let Err(e) = self.state.remember(SINCE_KEY, &next).await {
                tracing::warn!(error = %e, "matrix: could not persist the sync token; will retry");
            }
            since = Some(next);
        }
    }

    /// The token of the last response the SDK processed (and stored).
    async fn sdk_token(&self) -> Option<String> {
        match self
            .client
            .state_store()
            .get_kv_data(StateStoreDataKey::SyncToken)
            .erased()
            .await
        {
            Ok(Some(StateStoreDataValue::SyncToken(t))) => Some(t),
            _ => None,
        }
    }

    /// Re-reads, room by room through `/messages`, every event between our acknowledged cursor
    /// `from` and the SDK's token `to`, and submits them in order.
    ///
    /// Why not simply `/sync` from our cursor: the SDK drops a sync response whose `next_batch`
    /// equals the token it already stored ("same sync response twice") and hands back an empty
    /// response, so replaying the last unacknowledged batch that way would silently lose it.
    /// `/messages` accepts sync tokens and the SDK decrypts what it returns.
    async fn replay(&self, from: &str, to: &str) -> Step {
        let mut acks = Vec::new();
        for room in self.client.joined_rooms() {
            if self.direct.is_private(&room, &self.accept_rooms) {
                continue;
            }
            let mut cursor = from.to_owned();
            let mut fetched = 0usize;
            loop {
                let mut opts = MessagesOptions::forward().from(cursor.as_str());
                opts.to = Some(to.to_owned());
                opts.limit = UInt::from(TIMELINE_LIMIT);
                let page = match room.messages(opts).erased().await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(room = %room.room_id(), error = %e, "matrix: replay failed");
                        break;
                    }
                };
                fetched += page.chunk.len();
                for ev in &page.chunk {
                    let Some(event) = self.convert(&room, ev).await else {
                        continue;
                    };
                    match self.sink.submit(event).await {
                        Ok(ack) => acks.push(ack),
                        Err(_) => return Step::Stop,
                    }
                }
                match page.end {
                    Some(end) if !page.chunk.is_empty() && fetched < MAX_GAP_EVENTS => cursor = end,
                    _ => break,
                }
            }
        }
        self.wait_acks(acks).await
    }

    async fn wait_acks(&self, acks: Vec<Ack>) -> Step {
        for ack in acks {
            let done = tokio::select! {
                _ = self.shutdown.cancelled() => return Step::Stop,
                r = ack.wait() => r,
            };
            if done.is_err() {
                return Step::Stop;
            }
        }
        Step::Continue
    }

    /// Invites that arrived while the bridge was down (or before a crash) are answered at start.
    async fn answer_pending_invites(&self) {
        let ids: std::collections::BTreeMap<OwnedRoomId, ()> = self
            .client
            .invited_rooms()
            .into_iter()
            .map(|r| (r.room_id().to_owned(), ()))
            .collect();
        self.handle_invites(&ids).await;
    }

    async fn handle_invites<T>(&self, invited: &std::collections::BTreeMap<OwnedRoomId, T>) {
        for room_id in invited.keys() {
            let Some(room) = self.client.get_room(room_id) else {
                continue;
            };
            let accept = self.accept_rooms.contains(room_id.as_str());
            let result = if accept {
                room.join().erased().await
            } else {
                room.leave().erased().await
            };
            match result {
                Ok(()) => tracing::info!(room = %room_id, accept, "matrix: answered an invite"),
                Err(e) => {
                    tracing::warn!(room = %room_id, error = %e, "matrix: invite answer failed")
                }
            }
        }
    }

    /// Submits every event of the rooms' timelines, in order per room, then waits for all acks.
    async fn deliver(&self, timelines: Vec<RoomTimeline<'_>>, since: Option<&str>) -> Step {
        let mut acks: Vec<Ack> = Vec::new();
        for timeline in timelines {
            let Some(room) = self.client.get_room(timeline.room_id) else {
                continue;
            };
            // A direct room (`tell`) is never bridged nor read for commands: dropped here,
            // before any conversion or member lookup, rather than by the core's router.
            if self.direct.is_private(&room, &self.accept_rooms) {
                continue;
            }
            let mut events: Vec<TimelineEvent> = Vec::new();
            if timeline.limited {
                if let (Some(prev), Some(since)) = (timeline.prev_batch, since) {
                    events = fill_gap(&room, prev, since).await;
                }
            }
            events.extend(timeline.events);
            for ev in &events {
                let Some(event) = self.convert(&room, ev).await else {
                    continue;
                };
                match self.sink.submit(event).await {
                    Ok(ack) => acks.push(ack),
                    Err(_) => return Step::Stop,
                }
            }
        }
        self.wait_acks(acks).await
    }

    async fn convert(&self, room: &Room, ev: &TimelineEvent) -> Option<civicbridge_api::Event> {
        let json: Value = match ev.raw().deserialize_as::<Value>() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "matrix: unreadable event skipped");
                return None;
            }
        };
        if json.get("type").and_then(Value::as_str) == Some("m.room.encrypted") {
            tracing::warn!(
                room = %room.room_id(),
                event = ?json.get("event_id"),
                "matrix: could not decrypt an event (no room key); it is not bridged"
            );
            return None;
        }
        let sender = json.get("sender").and_then(Value::as_str)?;
        let who = match crate::ids::user_id(sender) {
            Ok(uid) => self.senders.get(room, &uid).await,
            Err(_) => senders::Sender::default(),
        };
        let ctx = InboundContext {
            room: room.room_id().as_str(),
            own_user: &self.own_user,
            sender_name: who.name,
            sender_avatar: who.avatar,
            sender_power: who.power,
            sender_may_redact_others: who.may_redact_others,
        };
        to_event(&json, &ctx)
    }
}

/// Pages `/messages` backwards from `prev_batch` to `since`; returns the events oldest first.
async fn fill_gap(room: &Room, prev_batch: &str, since: &str) -> Vec<TimelineEvent> {
    let mut out: Vec<TimelineEvent> = Vec::new();
    let mut from = prev_batch.to_owned();
    loop {
        let mut opts = MessagesOptions::backward().from(from.as_str());
        opts.to = Some(since.to_owned());
        opts.limit = UInt::from(TIMELINE_LIMIT);
        match room.messages(opts).erased().await {
            Ok(page) => {
                let done = page.chunk.is_empty() || page.end.is_none();
                out.extend(page.chunk);
                match page.end {
                    Some(end) if !done && out.len() < MAX_GAP_EVENTS => from = end,
                    _ => break,
                }
            }
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "matrix: could not fill a sync gap");
                break;
            }
        }
    }
    out.reverse();
    out
}

/// What the bot's `/sync` asks for. Every response the SDK processes costs a crypto-store
/// transaction (the Olm account is pickled, saved and cloned back, even in rooms that are not
/// encrypted), so the filter leaves out what would wake the long poll for nothing:
/// - the bot's own timeline events: the core drops them unread (`Sender::is_bridge`), and
///   each message the bridge sends would otherwise come back as a second sync;
/// - read receipts and typing (ephemeral events) and presence, which nothing here reads and
///   which a busy room produces more of than messages.
///
/// Synapse holds a long poll until something passes the filter, so these no longer cost a
/// response. Others' state events, account data (`m.direct`), invites, to-device messages and
/// device lists still come, so encryption keeps working. The bot's own state events (its
/// joins) no longer reach the SDK's store this way: what the connector needs of them it asks
/// the server (`direct.rs` reads a room's members and encryption state from it).
fn sync_filter(own_user: &str) -> Filter {
    let mut timeline = RoomEventFilter::default();
    timeline.limit = Some(UInt::from(TIMELINE_LIMIT));
    timeline.not_senders = OwnedUserId::try_from(own_user).into_iter().collect();
    let mut room = RoomFilter::default();
    room.timeline = timeline;
    room.ephemeral = RoomEventFilter::ignore_all();
    let mut def = FilterDefinition::default();
    def.room = room;
    def.presence = matrix_sdk::ruma::api::client::filter::Filter::ignore_all();
    Filter::FilterDefinition(def)
}
