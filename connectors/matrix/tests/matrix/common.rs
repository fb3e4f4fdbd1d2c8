//! Test support: the shared Synapse, a staff member on a second real matrix-sdk client, bot
//! configs in temp dirs, and a sink that records what the connector submits.

use civicbridge_api::{
    Connector, ConnectorState, Event, EventKind, EventSink, MemoryState, RemoteMsgId, Submission,
};
use civicbridge_matrix::{MatrixConfig, MatrixConnector};
use civicbridge_testkit::synapse::{self, RegisteredUser, Synapse};
use matrix_sdk::config::SyncSettings;
use matrix_sdk::room::{IncludeRelations, RelationsOptions};
use matrix_sdk::ruma::api::client::room::create_room;
use matrix_sdk::ruma::events::relation::RelationType;
use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
use matrix_sdk::ruma::events::InitialStateEvent;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomVersionId};
use matrix_sdk::{Client, Room};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(60);

pub async fn hs() -> &'static Synapse {
    // Logs for failing tests: `RUST_LOG=civicbridge_matrix=debug cargo test ...`.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    synapse::shared().await.expect("synapse starts")
}

/// A staff member: a fresh user on a second, independent matrix-sdk client (own device, own
/// in-memory crypto store), syncing in the background so it receives room keys.
pub struct Staff {
    pub client: Client,
    sync: JoinHandle<()>,
}

impl Drop for Staff {
    fn drop(&mut self) {
        self.sync.abort();
    }
}

impl Staff {
    pub async fn new(hs: &Synapse) -> Staff {
        let user = hs.register_fresh("staff").await.expect("register staff");
        let client = Client::builder()
            .homeserver_url(hs.url())
            .build()
            .await
            .expect("staff client");
        client
            .matrix_auth()
            .login_username(&user.user_id, &user.password)
            .initial_device_display_name("staff phone")
            .send()
            .await
            .expect("staff login");
        client
            .sync_once(SyncSettings::default().timeout(Duration::ZERO))
            .await
            .expect("staff first sync");
        let c = client.clone();
        let sync = tokio::spawn(async move {
            let _ = c
                .sync(SyncSettings::default().timeout(Duration::from_secs(2)))
                .await;
        });
        Staff { client, sync }
    }

    /// Creates a room inviting `invite`; optionally encrypted, optionally of a given version.
    pub async fn create_room(
        &self,
        invite: &str,
        encrypted: bool,
        version: Option<RoomVersionId>,
    ) -> OwnedRoomId {
        let mut req = create_room::v3::Request::new();
        req.invite = vec![OwnedUserId::try_from(invite).expect("user id")];
        req.room_version = version;
        if encrypted {
            req.initial_state = vec![InitialStateEvent::with_empty_state_key(
                RoomEncryptionEventContent::with_recommended_defaults(),
            )
            .to_raw_any()];
        }
        let room = self.client.create_room(req).await.expect("create room");
        room.room_id().to_owned()
    }

    pub fn room(&self, id: &OwnedRoomId) -> Room {
        self.client.get_room(id).expect("staff knows the room")
    }

    /// Waits until `user` has joined `room`, as the server says.
    pub async fn wait_joined(&self, room: &OwnedRoomId, user: &str) {
        let r = self.room(room);
        let user = OwnedUserId::try_from(user).expect("user id");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(Some(m)) = r.get_member(&user).await {
                if *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join
                {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{user} never joined {room}"
            );
            r.sync_members().await.ok();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the staff client knows `device` of `user`, as a staff member's client must
    /// before it can encrypt to the bot (the bot's device appears after its first login).
    pub async fn wait_knows_device(&self, user: &str, device: &str) {
        let user = OwnedUserId::try_from(user).expect("user id");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let devices = self
                .client
                .encryption()
                .get_user_devices(&user)
                .await
                .expect("devices");
            if devices.devices().any(|d| d.device_id().as_str() == device) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "staff never learnt of {user}'s device {device}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn send_json(&self, room: &OwnedRoomId, event_type: &str, content: Value) -> String {
        let sent = self
            .room(room)
            .send_raw(event_type, content)
            .await
            .expect("staff send");
        sent.response.event_id.to_string()
    }

    pub async fn post(&self, room: &OwnedRoomId, text: &str) -> String {
        self.send_json(
            room,
            "m.room.message",
            serde_json::json!({"msgtype": "m.text", "body": text}),
        )
        .await
    }

    /// The event as the staff client reads it, decrypted (waits for the room key if needed).
    pub async fn event_json(&self, room: &OwnedRoomId, id: &str) -> Value {
        let r = self.room(room);
        let event_id = OwnedEventId::try_from(id).expect("event id");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = r.event(&event_id, None).await.expect("fetch event");
            let json: Value = ev.raw().deserialize_as().expect("json");
            // A redacted encrypted event keeps its type but loses its ciphertext.
            let redacted = json["unsigned"].get("redacted_because").is_some()
                || json["content"].as_object().is_none_or(|c| c.is_empty());
            if json["type"] != "m.room.encrypted" || redacted {
                return json;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "staff could not decrypt {id}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The latest `m.replace` of `id`, decrypted, if any.
    pub async fn latest_edit(&self, room: &OwnedRoomId, id: &str) -> Option<Value> {
        let r = self.room(room);
        let event_id = OwnedEventId::try_from(id).expect("event id");
        let opts = RelationsOptions {
            include_relations: IncludeRelations::RelationsOfType(RelationType::Replacement),
            ..Default::default()
        };
        let rel = r.relations(event_id, opts).await.expect("relations");
        let newest = rel.chunk.first()?;
        let edit_id = newest.event_id()?.to_string();
        Some(self.event_json(room, &edit_id).await)
    }

    /// The text a person sees for `id`: the latest edit's new content, rendered from its HTML
    /// (checked against its plain body), or `None` once redacted.
    pub async fn shown_text(&self, room: &OwnedRoomId, id: &str) -> Option<String> {
        let ev = self.event_json(room, id).await;
        if ev["content"].as_object().is_none_or(|c| c.is_empty()) {
            return None;
        }
        let content = match self.latest_edit(room, id).await {
            Some(edit) => edit["content"]["m.new_content"].clone(),
            None => ev["content"].clone(),
        };
        let body = content["body"].as_str().unwrap_or_default().to_owned();
        if let Some(html) = content["formatted_body"].as_str() {
            let rendered = html_to_text(html);
            assert_eq!(rendered, body, "formatted_body and body disagree: {html}");
        }
        Some(body)
    }
}

/// An independent, minimal HTML renderer for checks: `<br>` is a newline, tags vanish,
/// the five standard entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('>').map(|e| i + e + 1).unwrap_or(rest.len());
        if rest[i..end].starts_with("<br") {
            out.push('\n');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A fresh bot user and a config for it, its data dir in a temp dir.
pub struct BotSetup {
    pub config: MatrixConfig,
    pub user: RegisteredUser,
    pub dir: tempfile::TempDir,
}

pub async fn bot(hs: &Synapse) -> BotSetup {
    let user = hs.register_fresh("bridge").await.expect("register bot");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = MatrixConfig::with_password(hs.url(), &user.user_id, &user.password);
    config.data_dir = Some(dir.path().join("matrix"));
    config.sync_timeout_s = 2;
    BotSetup { config, user, dir }
}

/// One staff member, one bot, one room (the bot invited and joined through its config).
pub struct Scene {
    pub staff: Staff,
    pub bot: BotSetup,
    pub room: OwnedRoomId,
    pub connector: Arc<MatrixConnector>,
}

pub async fn scene(encrypted: bool, version: Option<RoomVersionId>) -> Scene {
    scene_on(hs().await, encrypted, version).await
}

pub async fn scene_on(hs: &Synapse, encrypted: bool, version: Option<RoomVersionId>) -> Scene {
    let staff = Staff::new(hs).await;
    let mut bot = bot(hs).await;
    let room = staff
        .create_room(&bot.user.user_id, encrypted, version)
        .await;
    bot.config.rooms = vec![room.to_string()];
    let connector = Arc::new(
        MatrixConnector::connect(bot.config.clone())
            .await
            .expect("connector connects"),
    );
    staff.wait_joined(&room, &bot.user.user_id).await;
    if encrypted {
        let device = connector.device_id().expect("bot device");
        staff.wait_knows_device(&bot.user.user_id, &device).await;
    }
    Scene {
        staff,
        bot,
        room,
        connector,
    }
}

/// `Connector::run` on its own task, with a sink the test reads.
pub struct Running {
    pub rx: mpsc::Receiver<Submission>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), civicbridge_api::ConnectorError>>,
}

pub fn run(connector: Arc<MatrixConnector>, state: Arc<dyn ConnectorState>) -> Running {
    let (tx, rx) = mpsc::channel(256);
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move { connector.run(EventSink::new(tx), state, s).await });
    Running { rx, shutdown, task }
}

pub fn memory_state() -> Arc<MemoryState> {
    Arc::new(MemoryState::default())
}

/// A `ConnectorState` that counts writes, so a test can wait for the cursor to be stored.
#[derive(Debug, Default)]
pub struct CountingState {
    inner: MemoryState,
    pub puts: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ConnectorState for CountingState {
    fn get(&self, key: &str) -> Option<String> {
        self.inner.get(key)
    }
    async fn put(&self, key: &str, value: &str) -> Result<(), civicbridge_api::ConnectorError> {
        self.inner.put(key, value).await?;
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl Running {
    /// The next submission (not acknowledged yet).
    pub async fn next(&mut self) -> Submission {
        match tokio::time::timeout(WAIT, self.rx.recv()).await {
            Ok(Some(s)) => s,
            Ok(None) => panic!("the connector closed its sink"),
            Err(_) => panic!("no event within {WAIT:?}"),
        }
    }

    /// Acknowledges events until one matches, and returns it (acknowledged too).
    pub async fn until(&mut self, mut pred: impl FnMut(&Event) -> bool) -> Event {
        loop {
            let s = self.next().await;
            let hit = pred(&s.event);
            let _ = s.ack.send(());
            if hit {
                return s.event;
            }
        }
    }

    /// Acknowledges everything up to the message `id`, then receives that one and never
    /// acknowledges it (its sync batch stays unacknowledged).
    pub async fn receive_without_ack(&mut self, id: &str) {
        loop {
            let sub = self.next().await;
            if is_message(&sub.event, id) {
                return;
            }
            let _ = sub.ack.send(());
        }
    }

    /// Ends `run` as a crash would: mid-await, with no clean-up.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Stops `run` and checks it returned `Ok`.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(WAIT, self.task).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "run ended with {r:?}");
    }
}

/// Whether `e` is the message with event id `id`.
pub fn is_message(e: &Event, id: &str) -> bool {
    matches!(&e.kind, EventKind::Message(m) if m.id == RemoteMsgId::new(id))
}

/// Posts and acknowledges warm-up messages until one of them came in a response the
/// connector read itself, without the SDK (`sync/plain.rs`); fails the test if none does.
/// After it, the loop is on its fast path, so what follows is read there first.
pub async fn until_fast_path(s: &Scene, r: &mut Running) {
    for i in 0..20 {
        let (plain_before, _) = s.connector.sync_counts();
        let id = s.staff.post(&s.room, &format!("warm-up {i}")).await;
        r.until(|e| is_message(e, &id)).await;
        if s.connector.sync_counts().0 > plain_before {
            return;
        }
    }
    panic!(
        "20 plaintext messages and no response read without the SDK: {:?}",
        s.connector.sync_counts()
    );
}
