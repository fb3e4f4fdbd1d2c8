//! How each `/sync` response is read: by the loop itself when it is plain (`plain.rs`), else by
//! the SDK's `sync_once` from the same token; and what the loop keeps to choose between them.

use super::plain;
use super::SyncLoop;
use crate::erase::Erase;
use crate::error::{classify_http, classify_sdk};
use civicbridge_api::ConnectorError;
use matrix_sdk::config::{RequestConfig, SyncSettings, SyncToken};
use matrix_sdk::ruma::api::client::sync::sync_events::{self, v3::Filter};
use matrix_sdk::ruma::presence::PresenceState;
use matrix_sdk::ruma::RoomId;
use matrix_sdk::store::{StateStoreDataKey, StateStoreDataValue};
use matrix_sdk::{EncryptionState, RoomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest the loop reads `/sync` itself before letting the SDK sync again.
const SDK_AT_LEAST_EVERY: Duration = Duration::from_secs(60);
/// The shortest time between two writes of a plain response's token into the SDK's store.
const SDK_TOKEN_EVERY: Duration = Duration::from_secs(5);

/// Responses read by the loop itself (plain) and processed by the SDK, since the start.
#[derive(Debug, Default)]
pub(crate) struct SyncCounts {
    pub(super) plain: AtomicU64,
    pub(super) sdk: AtomicU64,
}

impl SyncCounts {
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.plain.load(Ordering::Relaxed),
            self.sdk.load(Ordering::Relaxed),
        )
    }
}

/// One response, read by the loop itself (plain) or processed by the SDK.
pub(super) enum Batch {
    Plain(Box<sync_events::v3::Response>),
    Sdk(Box<matrix_sdk::sync::SyncResponse>),
}

/// What the loop keeps to choose, response by response, between reading `/sync` itself and
/// the SDK's `sync_once` (`plain.rs` says why and when).
#[derive(Default)]
pub(super) struct FastPath {
    /// The key counts of the last response handed to the SDK: a response with others is not
    /// plain. `None` until the first, so the first read always goes to the SDK.
    shown: Option<plain::KeyCounts>,
    /// When the SDK last synced. It syncs at least every [`SDK_AT_LEAST_EVERY`], so what it
    /// does around a sync besides the response (retrying a failed key upload, say) is never
    /// later than that.
    sdk_synced: Option<Instant>,
    /// The SDK's last response carried encryption work: the next goes straight to it.
    sdk_next: bool,
}

impl FastPath {
    fn worth_trying(&self) -> bool {
        !self.sdk_next
            && self
                .sdk_synced
                .is_some_and(|t| t.elapsed() < SDK_AT_LEAST_EVERY)
    }
}

/// The `/sync` request `sync_once` would send for these settings.
fn assign_request(since: &str, filter: &Filter, timeout: Duration) -> sync_events::v3::Request {
    let mut request = sync_events::v3::Request::new();
    request.filter = Some(filter.clone());
    request.since = Some(since.to_owned());
    request.timeout = Some(timeout);
    request.set_presence = PresenceState::Online;
    request.use_state_after = true;
    request
}

impl SyncLoop<'_> {
    /// The next response: read by the loop itself when it is plain (`plain.rs`), else synced
    /// through the SDK from the same token, which returns the same events and more.
    pub(super) async fn next_batch(
        &self,
        since: Option<&str>,
        filter: &Filter,
        fast: &mut FastPath,
    ) -> Result<Batch, (ConnectorError, String)> {
        if let Some(since) = since.filter(|_| fast.worth_trying()) {
            let request = assign_request(since, filter, self.timeout);
            let response = self
                .client
                .send(request)
                .with_request_config(self.long_poll_config())
                .erased()
                .await
                .map_err(|e| (classify_http(&e), e.to_string()))?;
            self.learn_encryption_states(&response).await;
            let rooms = |id: &RoomId| match self.client.get_room(id) {
                Some(r)
                    if r.state() == RoomState::Joined
                        && matches!(r.encryption_state(), EncryptionState::NotEncrypted) =>
                {
                    plain::Known::JoinedPlain
                }
                _ => plain::Known::Other,
            };
            match plain::classify(&response, fast.shown.as_ref(), rooms) {
                Ok(()) => {
                    self.counts.plain.fetch_add(1, Ordering::Relaxed);
                    return Ok(Batch::Plain(Box::new(response)));
                }
                Err(why) => {
                    tracing::debug!(?why, "matrix: sync response for the SDK");
                    fast.shown = Some(plain::KeyCounts::of(&response));
                }
            }
        }
        let token = match since {
            Some(t) => SyncToken::Specific(t.to_owned()),
            None => SyncToken::ReusePrevious,
        };
        let settings = SyncSettings::default()
            .token(token)
            .timeout(self.timeout)
            .filter(filter.clone());
        let response = self
            .client
            .sync_once(settings)
            .erased()
            .await
            .map_err(|e| (classify_sdk(&e), e.to_string()))?;
        self.counts.sdk.fetch_add(1, Ordering::Relaxed);
        fast.sdk_synced = Some(Instant::now());
        fast.sdk_next = self.touches_encryption(&response);
        Ok(Batch::Sdk(Box::new(response)))
    }

    /// Asks the server whether each room of `response` is encrypted, where the SDK does not
    /// know yet. A `/sync` tells the SDK only that a room *is* encrypted (its `m.room.encryption`
    /// event), never that it is not, so without this every room would stay "unknown" and off
    /// the fast path. The SDK keeps the answer, and a later `m.room.encryption` (a state event,
    /// so never plain) overrides it. A failed request leaves the room unknown: the SDK syncs.
    async fn learn_encryption_states(&self, response: &sync_events::v3::Response) {
        for id in response.rooms.join.keys() {
            let Some(room) = self.client.get_room(id) else {
                continue;
            };
            if matches!(room.encryption_state(), EncryptionState::Unknown) {
                if let Err(e) = room.request_encryption_state().erased().await {
                    tracing::debug!(room = %id, error = %e, "matrix: encryption state not learnt");
                }
            }
        }
    }

    /// Whether the SDK's response carried encryption work (to-device messages, or events in an
    /// encrypted room): then the next response likely will too, and goes straight to the SDK
    /// rather than being read twice.
    fn touches_encryption(&self, response: &matrix_sdk::sync::SyncResponse) -> bool {
        !response.to_device.is_empty()
            || response.rooms.joined.iter().any(|(id, room)| {
                !room.timeline.events.is_empty()
                    && self.client.get_room(id).is_some_and(|r| {
                        // Unknown is not encryption: the fast path learns it
                        // (`learn_encryption_states`).
                        !matches!(
                            r.encryption_state(),
                            EncryptionState::NotEncrypted | EncryptionState::Unknown
                        )
                    })
            })
    }

    /// The SDK's request settings, with the long poll's wait added to the timeout (as
    /// `sync_once` does).
    fn long_poll_config(&self) -> RequestConfig {
        self.client
            .request_config()
            .timeout(crate::session::REQUEST_TIMEOUT + self.timeout)
    }

    /// After a plain response whose events are all acknowledged: stores its `next_batch` in
    /// the SDK's store as the SDK's own sync token, as if the SDK had processed the response
    /// (it would have changed nothing else), at most every [`SDK_TOKEN_EVERY`].
    ///
    /// Why at all: a start with a wiped core store resumes from the SDK's token, and would
    /// otherwise re-read, as new, everything since the SDK's last own sync (the demo's second
    /// run did: a staff answer from the first run crossed again, outside its thread).
    ///
    /// Why not every time: each write is an SQLite transaction on the SDK's blocking pool,
    /// measured at a tenth of the daemon's CPU per relayed message. A token held back is
    /// written by the next plain response after the interval, or at the loop's end
    /// ([`Self::flush_sdk_token`]). So only a crash leaves the SDK's token behind, by at most
    /// the interval; the restart then reads those seconds again from it, and the core drops
    /// what it already has as replays (a wiped core store *and* a crash would repeat them).
    pub(super) async fn plain_token(&self, writes: &mut SdkToken, token: &str) {
        if writes
            .written
            .is_some_and(|at| at.elapsed() < SDK_TOKEN_EVERY)
        {
            writes.held = Some(token.to_owned());
            return;
        }
        self.store_sdk_token(token).await;
        *writes = SdkToken {
            written: Some(Instant::now()),
            held: None,
        };
    }

    /// Writes the token [`Self::plain_token`] held back, if any: when the loop ends.
    pub(super) async fn flush_sdk_token(&self, writes: &mut SdkToken) {
        if let Some(token) = writes.held.take() {
            self.store_sdk_token(&token).await;
        }
    }

    async fn store_sdk_token(&self, token: &str) {
        let value = StateStoreDataValue::SyncToken(token.to_owned());
        if let Err(e) = self
            .client
            .state_store()
            .set_kv_data(StateStoreDataKey::SyncToken, value)
            .erased()
            .await
        {
            tracing::warn!(error = %e, "matrix: could not store the sync token in the SDK's store");
        }
    }
}

/// How the SDK's stored token follows plain responses ([`SyncLoop::plain_token`]).
#[derive(Default)]
pub(super) struct SdkToken {
    /// When a plain response's token was last written.
    written: Option<Instant>,
    /// The newest acknowledged plain response's token, not written yet.
    held: Option<String>,
}

impl SdkToken {
    /// The SDK processed a response and stored its token itself: nothing is held any more.
    pub(super) fn sdk_synced(&mut self) {
        self.held = None;
    }
}
