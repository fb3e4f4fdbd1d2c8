//! `Connector::tell` on Matrix: the text as an `m.notice`, then each file, in the bot's
//! encrypted direct room with the person (`direct.rs` finds or makes it).
//!
//! The posting is `send`'s own (`Outgoing` with `notice`): the same rendering, the same
//! transaction ids (`txn_id` for the text, `{txn_id}-file{i}` for the files), so a retried
//! `tell` posts once; the same encrypted uploads. What is checked here first, before a room is
//! made: the user id (malformed, or the bot itself: `Rejected`), the upload limit (a file over
//! it: `Rejected`, the core should not have passed it), and, before a new room, that the
//! homeserver knows the person (`Rejected` otherwise), so no room is made for nobody.

use crate::erase::Erase;
use crate::error::classify_http;
use crate::{ids, MatrixConnector};
use civicbridge_api::{
    Connector, ConnectorError, ConnectorState, Outgoing, Private, RoomId, SendReceipt,
};
use matrix_sdk::ruma::api::client::profile::get_profile;
use matrix_sdk::ruma::UserId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long `tell` waits for `run` to hand over the `ConnectorState` (see [`StateSlot`]).
const STATE_WAIT: Duration = Duration::from_secs(5);

/// The `ConnectorState` the core hands `run`, kept for `tell`, which is not given one.
///
/// The core starts `run` and its outbox together, so after a restart a retried `tell` can
/// come before `run` has started: `tell` then waits for it (up to [`STATE_WAIT`]) rather than
/// miss the remembered room, make a second one, and post the retry there again (the
/// transaction id only deduplicates within one room). Past the wait (`run` never called, as
/// in some tests), rooms are found through `m.direct` alone and not remembered.
#[derive(Debug)]
pub(crate) struct StateSlot(watch::Sender<Option<Arc<dyn ConnectorState>>>);

impl Default for StateSlot {
    fn default() -> Self {
        StateSlot(watch::Sender::new(None))
    }
}

impl StateSlot {
    pub(crate) fn set(&self, state: Arc<dyn ConnectorState>) {
        self.0.send_replace(Some(state));
    }

    async fn get(&self) -> Option<Arc<dyn ConnectorState>> {
        let mut rx = self.0.subscribe();
        let ready = tokio::time::timeout(STATE_WAIT, rx.wait_for(Option::is_some)).await;
        match ready {
            Ok(Ok(state)) => state.clone(),
            _ => {
                tracing::warn!("matrix: tell before run: the direct room is not remembered");
                None
            }
        }
    }
}

impl MatrixConnector {
    pub(crate) async fn tell_impl(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        let user = ids::user_id(private.to.as_str())?;
        if user.as_str() == self.own_user {
            return Err(ConnectorError::Rejected(
                "the bot cannot write to itself".to_owned(),
            ));
        }
        if let Some(max) = self.max_upload {
            if let Some(f) = private.files.iter().find(|f| f.data.len() as u64 > max) {
                return Err(ConnectorError::Rejected(format!(
                    "{} is {} bytes, over the homeserver's upload limit of {max}",
                    f.name,
                    f.data.len()
                )));
            }
        }
        let state = self.state.get().await;
        let room = self.direct_room(&user, state.as_ref()).await?;
        let mut out = Outgoing::text(
            RoomId::new(room.room_id().as_str()),
            private.txn_id.clone(),
            private.text.clone(),
        );
        out.notice = true;
        out.attachments = private.files.clone();
        self.send(&out).await
    }

    /// Whether the homeserver knows `user` (their profile): an unknown one (404) is
    /// `Rejected`. A server that keeps profiles to people who share a room (403) is not a no:
    /// the invite then decides.
    ///
    /// Why ask at all: Synapse (1.163) answers `createRoom` inviting a local user who does not
    /// exist with success, so the invite cannot be the test. Its profile lookup answers 404
    /// (`M_UNKNOWN` "No row found", not `M_NOT_FOUND`), hence the status, not the code.
    pub(crate) async fn check_known(&self, user: &UserId) -> Result<(), ConnectorError> {
        match self
            .client
            .send(get_profile::v3::Request::new(user.to_owned()))
            .erased()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify_http(&e) {
                ConnectorError::Rejected(why) if crate::error::is_status(&e, 404) => Err(
                    ConnectorError::Rejected(format!("no such Matrix user {user}: {why}")),
                ),
                ConnectorError::Rejected(why) => {
                    tracing::debug!(%user, %why, "matrix: profile not readable; inviting anyway");
                    Ok(())
                }
                other => Err(other),
            },
        }
    }
}
