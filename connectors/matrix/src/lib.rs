#![recursion_limit = "256"]
//! civicbridge's Matrix connector, on matrix-sdk, end-to-end encryption included.
//!
//! The daemon builds it through [`MatrixFactory`] from the `[matrix]` section (a test with
//! [`MatrixConnector::connect`]).
//!
//! Codemap:
//! - `factory`: `MatrixFactory`, the daemon's entry point (section, login, matrix.to links).
//! - [`config`]: `MatrixConfig`, the `[matrix]` config section.
//! - `session`: password login once, then restore `session.json` (one device, one set of keys).
//! - `sync`: the `/sync` loop behind `run`, with ack-before-advance (read its module doc).
//! - [`inbound`]: Matrix event JSON -> `Event` (pure), with the sender's standing in the room
//!   from their power level (50 a moderator, 100 an admin).
//! - [`outbound`]: `Outgoing` -> event content (pure).
//! - [`format`]: `RichText` <-> `body` + `formatted_body`.
//! - `rooms`: `join` / `leave`, and the rooms whose invites the bot accepts.
//! - `tell`: `Connector::tell`, checks (user id, upload limit) then `send`'s own posting
//!   (`m.notice`, `txn_id`, encrypted files) in the person's direct room.
//! - `direct`: that direct room, found (remembered in `ConnectorState`, else `m.direct`),
//!   checked against the server (only the bot and the person, encrypted) or made (private,
//!   `is_direct`, encrypted from its first event, history `invited`); the sync loop drops
//!   its events.
//! - [`ids`], [`error`]: id parsing; `MatrixError` and its `ConnectorError` classification.
//! - `erase`: `.erased()`, the SDK's futures boxed where they are awaited (compile time).
//!
//! Reactions (`react`, `unreact`, here): the bot's own annotations of a message are found
//! through the relations API, every page. `react` sends nothing when the bot's reaction with
//! that key is there already (a retry after a crash) and sends with a fresh transaction id
//! (a fixed one would bring back a redacted reaction, see `react`); `unreact` redacts every one
//! it finds. matrix-sdk 0.18 sends `m.reaction` unencrypted even in encrypted rooms (its
//! `send_raw` skips the type), and an encrypted annotation keeps its `m.relates_to`, key
//! included, in the clear: Synapse refuses a duplicate of the same event type from the same
//! sender (`M_DUPLICATE_ANNOTATION`) either way, but the spec does not require servers to.

pub mod config;
mod direct;
mod erase;
pub mod error;
mod factory;
pub mod format;
pub mod ids;
pub mod inbound;
pub mod outbound;
mod rooms;
mod session;
mod sync;
mod tell;

pub use config::MatrixConfig;
pub use direct::state_key as direct_room_state_key;
pub use error::MatrixError;
pub use factory::MatrixFactory;
pub use sync::SINCE_KEY;

/// The platform this connector serves: its rooms are `matrix:…` in the config and the store.
pub const PLATFORM: civicbridge_api::Platform = civicbridge_api::Platform::new("matrix");

use crate::erase::Erase;
use async_trait::async_trait;
use civicbridge_api::{
    Attachment, AttachmentKind, Capabilities, Connector, ConnectorError, ConnectorState, EventSink,
    Outgoing, OutgoingFile, Platform, Private, RemoteMsgId, RoomId, RoomInfo, SendReceipt,
    ThreadId,
};
use error::{classify_http, classify_sdk};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::ruma::events::room::{EncryptedFile, MediaSource};
use matrix_sdk::ruma::{OwnedMxcUri, OwnedTransactionId};
use matrix_sdk::{Client, Room};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Pages of 100 relations read at most for one message (`own_relations`).
const MAX_RELATION_PAGES: usize = 20;

/// The Matrix connector: one bot account on one homeserver.
pub struct MatrixConnector {
    client: Client,
    config: MatrixConfig,
    own_user: String,
    initial_token: Mutex<Option<String>>,
    max_upload: Option<u64>,
    /// Rooms whose invites the sync loop accepts: the configured ones, then as `join` and
    /// `leave` change them.
    accept_rooms: rooms::AcceptRooms,
    /// The bot's direct rooms (`tell`), whose events the sync loop drops.
    direct: direct::DirectRooms,
    /// The core's `ConnectorState`, kept from `run` for `tell`.
    state: tell::StateSlot,
    /// How many `/sync` responses the loop read itself and how many the SDK processed.
    syncs: Arc<sync::SyncCounts>,
}

impl std::fmt::Debug for MatrixConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatrixConnector")
            .field("user", &self.own_user)
            .field("device", &self.client.device_id())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MatrixConnector {
    /// Logs in (first start) or restores the persisted session (every later start), opens the
    /// SDK's stores in `config.data_dir`, and joins the configured rooms. Fails with a clear
    /// error on wrong credentials.
    ///
    /// On a first start it also runs one `/sync`, so that the bot's device keys are published
    /// (staff clients can encrypt to it) and so that `run` bridges everything posted from now
    /// on, but not the rooms' history.
    pub async fn connect(config: MatrixConfig) -> Result<MatrixConnector, MatrixError> {
        let (client, origin) = session::open(&config).await?;
        let own_user = client
            .user_id()
            .map(|u| u.to_string())
            .unwrap_or_else(|| config.user_id.clone());
        let mut initial_token = None;
        if origin == session::Origin::Fresh {
            let first = client
                .sync_once(SyncSettings::default().timeout(Duration::ZERO))
                .erased()
                .await?;
            initial_token = Some(first.next_batch);
        }
        for room in &config.rooms {
            // A typo in a room id is a config error, not something to discover later.
            let id = ids::room_id(&RoomId::new(room.clone())).map_err(|_| {
                MatrixError::Config(format!("matrix.rooms: `{room}` is not a room id"))
            })?;
            let joined = client
                .get_room(&id)
                .is_some_and(|r| r.state() == matrix_sdk::RoomState::Joined);
            if !joined {
                if let Err(e) = client.join_room_by_id(&id).erased().await {
                    tracing::warn!(room, error = %e, "matrix: could not join a configured room");
                }
            }
        }
        let max_upload = client
            .load_or_fetch_max_upload_size()
            .erased()
            .await
            .ok()
            .map(u64::from);
        tracing::info!(user = %own_user, device = ?client.device_id(), "matrix: connected");
        Ok(MatrixConnector {
            client,
            own_user,
            initial_token: Mutex::new(initial_token),
            max_upload,
            accept_rooms: rooms::AcceptRooms::new(config.rooms.iter().cloned()),
            direct: direct::DirectRooms::default(),
            state: tell::StateSlot::default(),
            syncs: Arc::default(),
            config,
        })
    }

    /// The bot's device id (constant across restarts).
    pub fn device_id(&self) -> Option<String> {
        self.client.device_id().map(|d| d.to_string())
    }

    /// `/sync` responses so far: (read by the loop itself, processed by the SDK). See
    /// `sync/plain.rs`; the benches and tests read it to know which path carried what.
    pub fn sync_counts(&self) -> (u64, u64) {
        self.syncs.get()
    }

    /// The bot's user id.
    pub fn user_id(&self) -> &str {
        &self.own_user
    }

    /// The underlying SDK client, for the demo and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn room(&self, room: &RoomId) -> Result<Room, ConnectorError> {
        let id = ids::room_id(room)?;
        self.client
            .get_room(&id)
            .ok_or_else(|| MatrixError::UnknownRoom(room.to_string()).into())
    }

    /// Redacts one event; one that is already gone counts as done.
    async fn redact(
        &self,
        room: &Room,
        event: &matrix_sdk::ruma::EventId,
    ) -> Result<(), ConnectorError> {
        let txn = OwnedTransactionId::from(outbound::derived_txn_id("redact", &[event.as_str()]));
        match room.redact(event, None, Some(txn)).erased().await {
            Ok(_) => Ok(()),
            Err(e) if error::is_not_found(&e) => Ok(()),
            Err(e) => Err(classify_http(&e)),
        }
    }

    /// The `m.replace` events the bot sent for `event` (its edits of it).
    async fn own_edits_of(
        &self,
        room: &Room,
        event: &matrix_sdk::ruma::EventId,
    ) -> Result<Vec<matrix_sdk::ruma::OwnedEventId>, ConnectorError> {
        use matrix_sdk::ruma::events::relation::RelationType;
        self.own_relations(room, event, RelationType::Replacement, |_| true)
            .await
    }

    /// The bot's `m.annotation`s of `event` with `key` (its reactions): normally none or one,
    /// more only if an older version or another homeserver let a duplicate through.
    async fn own_reactions(
        &self,
        room: &Room,
        event: &matrix_sdk::ruma::EventId,
        key: &str,
    ) -> Result<Vec<matrix_sdk::ruma::OwnedEventId>, ConnectorError> {
        use matrix_sdk::ruma::events::relation::RelationType;
        self.own_relations(room, event, RelationType::Annotation, |rel| {
            rel["key"].as_str() == Some(key)
        })
        .await
    }

    /// The events the bot sent relating to `event` by `rel_type` whose `m.relates_to` passes
    /// `keep`, through the relations API (`/relations/{event}/{rel_type}`), every page.
    ///
    /// No event type filter: an encrypted relation is an `m.room.encrypted` event, which a
    /// filter on `m.reaction` would miss (matrix-sdk 0.18 sends reactions in the clear, but
    /// staff clients and later SDKs may not). Its `m.relates_to`, key included, is in the clear
    /// beside the ciphertext (the SDKs copy it out so servers can aggregate), so `keep` reads it
    /// whether or not the event could be decrypted. An unknown or invisible `event` (404) has
    /// no relations.
    async fn own_relations(
        &self,
        room: &Room,
        event: &matrix_sdk::ruma::EventId,
        rel_type: matrix_sdk::ruma::events::relation::RelationType,
        keep: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<Vec<matrix_sdk::ruma::OwnedEventId>, ConnectorError> {
        use matrix_sdk::room::{IncludeRelations, RelationsOptions};
        let mut out = Vec::new();
        let mut from = None;
        // A bridged message is edited a handful of times and a popular one gets hundreds of
        // reactions; the cap bounds a hostile history.
        for _ in 0..MAX_RELATION_PAGES {
            let opts = RelationsOptions {
                from,
                limit: Some(100u32.into()),
                include_relations: IncludeRelations::RelationsOfType(rel_type.clone()),
                ..RelationsOptions::default()
            };
            let page = match room.relations(event.to_owned(), opts).erased().await {
                Ok(page) => page,
                Err(matrix_sdk::Error::Http(e)) if error::is_status(&e, 404) => return Ok(out),
                Err(e) => return Err(classify_sdk(&e)),
            };
            for ev in &page.chunk {
                let Ok(json) = ev.raw().deserialize_as::<serde_json::Value>() else {
                    continue;
                };
                let mine = json["sender"].as_str() == Some(self.own_user.as_str());
                let redacted = json["unsigned"].get("redacted_because").is_some();
                if !mine || redacted || !keep(&json["content"]["m.relates_to"]) {
                    continue;
                }
                if let Some(id) = json["event_id"]
                    .as_str()
                    .and_then(|i| matrix_sdk::ruma::OwnedEventId::try_from(i).ok())
                {
                    out.push(id);
                }
            }
            // `next_batch` continues in the direction asked for (the spec's pagination token;
            // matrix-sdk's docs point at `prev_batch`, which goes back the way it came and is
            // absent from a first page, so reading it stopped after one page).
            match page.next_batch_token {
                Some(t) => from = Some(t),
                None => return Ok(out),
            }
        }
        tracing::warn!(room = %room.room_id(), %event, "matrix: relations past the page cap not read");
        Ok(out)
    }

    async fn send_content(
        &self,
        room: &Room,
        event_type: &str,
        content: serde_json::Value,
        txn_id: &str,
    ) -> Result<RemoteMsgId, ConnectorError> {
        let txn = OwnedTransactionId::from(txn_id.to_owned());
        let sent = room
            .send_raw(event_type, content)
            .with_transaction_id(&txn)
            .erased()
            .await
            .map_err(|e| classify_sdk(&e))?;
        Ok(RemoteMsgId::new(sent.response.event_id.to_string()))
    }
}

impl MatrixConnector {
    /// Uploads one file (encrypted in encrypted rooms) and posts it with the text's thread and
    /// reply. A retry uploads again but posts once: the event's transaction id is fixed.
    async fn send_file(
        &self,
        room: &Room,
        out: &Outgoing,
        i: usize,
        file: &OutgoingFile,
    ) -> Result<RemoteMsgId, ConnectorError> {
        let mime = file
            .mime
            .as_deref()
            .and_then(|m| m.parse::<mime::Mime>().ok())
            .unwrap_or_else(|| default_mime(file.kind));
        let encrypted = room
            .latest_encryption_state()
            .erased()
            .await
            .map_err(|e| classify_sdk(&e))?
            .is_encrypted();
        let source = if encrypted {
            let mut reader = std::io::Cursor::new(file.data.as_slice());
            let uploaded = self
                .client
                .upload_encrypted_file(&mut reader)
                .erased()
                .await
                .map_err(|e| classify_sdk(&e))?;
            let uploaded = serde_json::to_value(uploaded)
                .map_err(|e| ConnectorError::Rejected(e.to_string()))?;
            serde_json::json!({ "file": uploaded })
        } else {
            let uploaded = self
                .client
                .media()
                .upload(&mime, file.data.clone(), None)
                .erased()
                .await
                .map_err(|e| classify_sdk(&e))?;
            serde_json::json!({ "url": uploaded.content_uri.to_string() })
        };
        let content = outbound::file_content(out, file, mime.essence_str(), source);
        let txn = format!("{}-file{i}", out.txn_id);
        self.send_content(room, "m.room.message", content, &txn)
            .await
    }
}

fn default_mime(kind: AttachmentKind) -> mime::Mime {
    match kind {
        AttachmentKind::Image | AttachmentKind::Sticker => mime::IMAGE_PNG,
        AttachmentKind::Audio | AttachmentKind::Voice => "audio/ogg"
            .parse()
            .unwrap_or(mime::APPLICATION_OCTET_STREAM),
        AttachmentKind::Video => "video/mp4"
            .parse()
            .unwrap_or(mime::APPLICATION_OCTET_STREAM),
        AttachmentKind::File => mime::APPLICATION_OCTET_STREAM,
    }
}

#[async_trait]
impl Connector for MatrixConnector {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            deletes: true,
            threads: true,
            replies: true,
            reactions: true,
            reaction_keys: civicbridge_api::ReactionKeys::Any,
            max_bot_reactions: None,
            // MSC4144 profiles are added when a persona is given, but few clients show them,
            // so the core still writes the bold name prefix.
            personas: false,
            // Event size is capped at 64 KiB, encrypted events grow by a third, and the HTML
            // escapes up to 6 bytes per character: 4,000 characters always fit.
            max_text_len: 4000,
            attachments: true,
            max_attachment_bytes: self.max_upload,
            // In an encrypted direct room (`tell.rs`, `direct.rs`).
            private_messages: true,
        }
    }

    /// Their power level in the room as the bot's store holds it (kept current by sync), so
    /// the answer needs no request. `None` for someone who is not a member there, a room the
    /// bot is not in, or ids that are not Matrix ids.
    async fn standing(
        &self,
        room: &RoomId,
        person: &civicbridge_api::RemoteUserId,
    ) -> Result<Option<civicbridge_api::Standing>, ConnectorError> {
        let (Ok(room), Ok(user)) = (ids::room_id(room), ids::user_id(person.as_str())) else {
            return Ok(None);
        };
        let Some(room) = self.client.get_room(&room) else {
            return Ok(None);
        };
        match room.get_member_no_sync(&user).erased().await {
            Ok(Some(m))
                if m.membership()
                    == &matrix_sdk::ruma::events::room::member::MembershipState::Join =>
            {
                Ok(Some(sync::standing(&m)))
            }
            Ok(_) => Ok(None),
            Err(e) => Err(classify_sdk(&e)),
        }
    }

    /// A `matrix.to` link, ids encoded as the spec says; with the room's server as `via`, so
    /// clients on other servers can find it.
    fn message_url(
        &self,
        room: &RoomId,
        _thread: Option<&civicbridge_api::ThreadId>,
        id: &RemoteMsgId,
    ) -> Option<String> {
        ids::message_url(room, id)
    }

    async fn run(
        &self,
        sink: EventSink,
        state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        self.state.set(state.clone());
        let initial_token = self
            .initial_token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let ended = sync::SyncLoop {
            client: &self.client,
            sink: &sink,
            state,
            shutdown: &shutdown,
            own_user: self.own_user.clone(),
            accept_rooms: self.accept_rooms.clone(),
            direct: self.direct.clone(),
            counts: self.syncs.clone(),
            senders: Default::default(),
            timeout: Duration::from_secs(self.config.sync_timeout_s),
            initial_token,
        }
        .run()
        .await;
        let (plain, sdk) = self.syncs.get();
        tracing::info!(
            plain,
            sdk,
            "matrix: sync stopped (responses read directly / by the SDK)"
        );
        ended
    }

    /// Joins the room (if not joined) and accepts its invites from now on; returns its name
    /// (see `rooms.rs`).
    async fn join(&self, room: &RoomId) -> Result<RoomInfo, ConnectorError> {
        self.join_impl(room).await
    }

    /// Leaves the room and declines its invites from now on; a room the bot is not in is left
    /// already.
    async fn leave(&self, room: &RoomId) -> Result<(), ConnectorError> {
        self.leave_impl(room).await
    }

    async fn send(&self, out: &Outgoing) -> Result<SendReceipt, ConnectorError> {
        let room = self.room(&out.room)?;
        let mut ids = Vec::new();
        if !out.text.is_empty() || out.attachments.is_empty() {
            let content = outbound::message_content(out);
            ids.push(
                self.send_content(&room, "m.room.message", content, &out.txn_id)
                    .await?,
            );
        }
        for (i, file) in out.attachments.iter().enumerate() {
            ids.push(self.send_file(&room, out, i, file).await?);
        }
        Ok(SendReceipt {
            ids,
            thread: outbound::thread_root(out).map(ThreadId::new),
        })
    }

    /// In the bot's encrypted direct room with the person, found or made (`tell.rs`).
    async fn tell(&self, private: &Private) -> Result<SendReceipt, ConnectorError> {
        self.tell_impl(private).await
    }

    async fn edit(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        out: &Outgoing,
    ) -> Result<(), ConnectorError> {
        let room = self.room(room)?;
        ids::event_id(id)?;
        let content = outbound::edit_content(id, out);
        self.send_content(&room, "m.room.message", content, &out.txn_id)
            .await
            .map(|_| ())
    }

    /// Redacts the message and every edit the bot made of it: a redaction hides the edits from
    /// clients but leaves their `m.new_content` readable through the API, so an erased or taken
    /// down message would live on in its last edit (a decided card, an edited copy).
    async fn delete(&self, room: &RoomId, id: &RemoteMsgId) -> Result<(), ConnectorError> {
        let room = self.room(room)?;
        let event_id = ids::event_id(id)?;
        for edit in self.own_edits_of(&room, &event_id).await? {
            self.redact(&room, &edit).await?;
        }
        self.redact(&room, &event_id).await
    }

    /// Adds the bot's `key` reaction to `id`, once: if the bot's reaction with that key is
    /// there already (a retry after a crash), nothing is sent.
    ///
    /// The check comes first, rather than relying on the server: Synapse refuses a duplicate
    /// annotation (400 `M_DUPLICATE_ANNOTATION`, read as success for a race between two calls),
    /// but the spec only asks servers to, and a fixed transaction id cannot stand in for
    /// it: Synapse answers a repeated transaction id with the first event for 24 hours, so
    /// after an `unreact` the same request would return the redacted reaction and add none.
    async fn react(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let room = self.room(room)?;
        let event_id = ids::event_id(id)?;
        if !self.own_reactions(&room, &event_id, key).await?.is_empty() {
            return Ok(());
        }
        let txn = matrix_sdk::ruma::TransactionId::new();
        match room
            .send_raw("m.reaction", outbound::reaction_content(id, key))
            .with_transaction_id(&txn)
            .erased()
            .await
        {
            Ok(_) => Ok(()),
            Err(matrix_sdk::Error::Http(e)) if error::is_duplicate_annotation(&e) => Ok(()),
            Err(e) => Err(classify_sdk(&e)),
        }
    }

    /// Removes the bot's `key` reaction from `id` by redacting it (every one, should there be
    /// several); none there, or a message that is gone, is already done.
    async fn unreact(
        &self,
        room: &RoomId,
        id: &RemoteMsgId,
        key: &str,
    ) -> Result<(), ConnectorError> {
        let room = self.room(room)?;
        let event_id = ids::event_id(id)?;
        for reaction in self.own_reactions(&room, &event_id, key).await? {
            self.redact(&room, &reaction).await?;
        }
        Ok(())
    }

    async fn fetch(&self, attachment: &Attachment) -> Result<Vec<u8>, ConnectorError> {
        let source = if let Some(reference) = attachment.url.strip_prefix(inbound::EVENT_REF_PREFIX)
        {
            let (room, event) = reference.split_once('|').ok_or_else(|| {
                ConnectorError::Rejected(format!("bad attachment reference {reference}"))
            })?;
            let room = self.room(&RoomId::new(room))?;
            let event_id = ids::event_id(&RemoteMsgId::new(event))?;
            let ev = room
                .event(&event_id, None)
                .erased()
                .await
                .map_err(|e| classify_sdk(&e))?;
            let json: serde_json::Value = ev
                .raw()
                .deserialize_as()
                .map_err(|e| ConnectorError::Rejected(e.to_string()))?;
            let content = &json["content"];
            let content = content.get("m.new_content").unwrap_or(content);
            let file: EncryptedFile = serde_json::from_value(content["file"].clone())
                .map_err(|e| ConnectorError::Rejected(format!("no encrypted file: {e}")))?;
            MediaSource::Encrypted(Box::new(file))
        } else if attachment.url.starts_with("mxc://") {
            MediaSource::Plain(OwnedMxcUri::from(attachment.url.clone()))
        } else {
            return Err(ConnectorError::Rejected(format!(
                "not a Matrix media reference: {}",
                attachment.url
            )));
        };
        let request = MediaRequestParameters {
            source,
            format: MediaFormat::File,
        };
        self.client
            .media()
            .get_media_content(&request, false)
            .erased()
            .await
            .map_err(|e| match classify_sdk(&e) {
                ConnectorError::Transient(m) if m.contains("M_NOT_FOUND") => {
                    ConnectorError::Rejected(m)
                }
                other => other,
            })
    }
}
