//! A small world for end-to-end tests of the moderator's workflow: the shared Synapse with people
//! acting through the plain client-server API, the local Telegram and Discord servers, and the
//! daemon in-process with the three real connectors. Rooms are unencrypted (the Matrix
//! connector's encryption has its own tests).
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_api::testing::wait_until;
use civicbridge_api::{Connector, LinkId, Platform, RoomRef};
use civicbridge_core::moderation::rules::{Rules, Side};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::Daemon;
use civicbridge_core::store::{LinkRecord, LinkRoom, Store};
use civicbridge_discord::{DiscordConfig, DiscordConnector};
use civicbridge_matrix::{MatrixConfig, MatrixConnector};
use civicbridge_telegram::{PacingConfig, TelegramConfig, TelegramConnector};
use civicbridge_testkit::discord::DiscordServer;
use civicbridge_testkit::synapse::{self, RegisteredUser, Synapse};
use civicbridge_testkit::telegram::TelegramServer;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(60);

/// Someone on Synapse, acting through the client-server API.
pub struct Person {
    http: reqwest::Client,
    base: String,
    pub user: RegisteredUser,
    txn: AtomicU64,
}

/// One visible message in a Matrix room, after edits.
#[derive(Debug, Clone)]
pub struct Shown {
    pub id: String,
    pub sender: String,
    pub body: String,
    pub thread: Option<String>,
}

impl Person {
    pub async fn new(hs: &Synapse, prefix: &str) -> Person {
        Person {
            http: reqwest::Client::new(),
            base: hs.url().to_owned(),
            user: hs.register_fresh(prefix).await.unwrap(),
            txn: AtomicU64::new(0),
        }
    }

    pub fn id(&self) -> &str {
        &self.user.user_id
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/_matrix/client/v3{path}", self.base))
            .bearer_auth(&self.user.access_token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }

    pub async fn create_room(&self, invite: &[&str]) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/createRoom",
                Some(json!({ "invite": invite, "preset": "private_chat" })),
            )
            .await;
        v["room_id"].as_str().unwrap().to_owned()
    }

    pub async fn join(&self, room: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/join/{}", urlencode(room)),
            Some(json!({})),
        )
        .await;
    }

    /// Sets `user`'s power level in `room` (this person must be allowed to).
    pub async fn set_power(&self, room: &str, user: &str, level: i64) {
        let path = format!("/rooms/{}/state/m.room.power_levels/", urlencode(room));
        let mut pl = self.call(reqwest::Method::GET, &path, None).await;
        pl["users"][user] = json!(level);
        self.call(reqwest::Method::PUT, &path, Some(pl)).await;
    }

    pub async fn send(&self, room: &str, event_type: &str, content: Value) -> String {
        let txn = self.txn.fetch_add(1, Ordering::Relaxed);
        let v = self
            .call(
                reqwest::Method::PUT,
                &format!(
                    "/rooms/{}/send/{event_type}/t{}{txn}",
                    urlencode(room),
                    std::process::id()
                ),
                Some(content),
            )
            .await;
        v["event_id"].as_str().unwrap().to_owned()
    }

    pub async fn say(&self, room: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({ "msgtype": "m.text", "body": text }),
        )
        .await
    }

    /// A message in the thread of `root`.
    pub async fn say_in_thread(&self, room: &str, root: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": { "rel_type": "m.thread", "event_id": root, "is_falling_back": true, "m.in_reply_to": { "event_id": root } },
            }),
        )
        .await
    }

    pub async fn react(&self, room: &str, target: &str, key: &str) -> String {
        self.send(
            room,
            "m.reaction",
            json!({ "m.relates_to": { "rel_type": "m.annotation", "event_id": target, "key": key } }),
        )
        .await
    }

    /// Every event of the room as the server returns it (edits, redacted events, state), oldest
    /// first: for tests that prove something is gone from the room's history, not just hidden.
    pub async fn raw_events(&self, room: &str) -> Vec<Value> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=1000", urlencode(room)),
                None,
            )
            .await;
        let mut events: Vec<Value> = v["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        events
    }

    /// The room's visible messages, oldest first, with edits applied and redactions removed.
    pub async fn shown(&self, room: &str) -> Vec<Shown> {
        let v = self
            .call(
                reqwest::Method::GET,
                &format!("/rooms/{}/messages?dir=b&limit=200", urlencode(room)),
                None,
            )
            .await;
        let mut events: Vec<Value> = v["chunk"].as_array().cloned().unwrap_or_default();
        events.reverse();
        let mut out: Vec<Shown> = Vec::new();
        for e in &events {
            if e["type"] != "m.room.message" {
                continue;
            }
            let c = &e["content"];
            let rel = &c["m.relates_to"];
            if rel["rel_type"] == "m.replace" {
                let target = rel["event_id"].as_str().unwrap_or_default();
                if let (Some(m), Some(body)) = (
                    out.iter_mut().find(|m| m.id == target),
                    c["m.new_content"]["body"].as_str(),
                ) {
                    m.body = body.to_owned();
                }
                continue;
            }
            let Some(body) = c["body"].as_str() else {
                continue; // redacted
            };
            out.push(Shown {
                id: e["event_id"].as_str().unwrap_or_default().to_owned(),
                sender: e["sender"].as_str().unwrap_or_default().to_owned(),
                body: body.to_owned(),
                thread: (rel["rel_type"] == "m.thread")
                    .then(|| rel["event_id"].as_str().unwrap_or_default().to_owned()),
            });
        }
        out
    }

    /// Invites `user` to `room`.
    pub async fn invite(&self, room: &str, user: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/rooms/{}/invite", urlencode(room)),
            Some(json!({ "user_id": user })),
        )
        .await;
    }

    /// An `m.replace` edit of `target` (the server accepts one from anybody in the room).
    pub async fn edit(&self, room: &str, target: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("* {text}"),
                "m.new_content": { "msgtype": "m.text", "body": text },
                "m.relates_to": { "rel_type": "m.replace", "event_id": target },
            }),
        )
        .await
    }

    /// A reply to `target`.
    pub async fn reply(&self, room: &str, target: &str, text: &str) -> String {
        self.send(
            room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": text,
                "m.relates_to": { "m.in_reply_to": { "event_id": target } },
            }),
        )
        .await
    }

    /// Redacts `target`; returns the homeserver's HTTP status (it may refuse).
    pub async fn redact(&self, room: &str, target: &str) -> reqwest::StatusCode {
        let txn = self.txn.fetch_add(1, Ordering::Relaxed);
        self.http
            .put(format!(
                "{}/_matrix/client/v3/rooms/{}/redact/{}/r{}{txn}",
                self.base,
                urlencode(room),
                urlencode(target),
                std::process::id()
            ))
            .bearer_auth(&self.user.access_token)
            .json(&json!({ "reason": "test" }))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Changes this person's display name (Synapse updates their membership in every room).
    pub async fn set_display_name(&self, name: &str) {
        let path = format!(
            "/profile/{}/displayname",
            urlencode(self.id()).replace('@', "%40")
        );
        self.call(
            reqwest::Method::PUT,
            &path,
            Some(json!({ "displayname": name })),
        )
        .await;
    }

    /// The content of every `m.room.message` in `room`, oldest first, as sent (edits are
    /// separate events): for assertions on `body` and `formatted_body` together.
    pub async fn contents(&self, room: &str) -> Vec<Value> {
        self.raw_events(room)
            .await
            .into_iter()
            .filter(|e| e["type"] == "m.room.message")
            .map(|e| e["content"].clone())
            .collect()
    }
}

fn urlencode(s: &str) -> String {
    s.replace('!', "%21")
        .replace(':', "%3A")
        .replace('$', "%24")
}

/// Everything one end-to-end test needs.
pub struct World {
    pub hs: &'static Synapse,
    pub bot: RegisteredUser,
    pub staff: Person,
    pub moderator: Person,
    pub outsider: Person,
    pub staff_room: String,
    pub mod_room: String,
    pub tg: TelegramServer,
    pub forum: i64,
    pub dc: DiscordServer,
    pub channel: u64,
    pub matrix_dir: tempfile::TempDir,
}

impl World {
    /// Synapse users and rooms (the moderator created the moderation room, so in room version
    /// 12 they outrank everyone there; the outsider joined it with power 0), a Telegram forum and
    /// a Discord channel.
    pub async fn new() -> World {
        let hs = synapse::shared().await.unwrap();
        let bot = hs.register_fresh("bridge").await.unwrap();
        let staff = Person::new(hs, "staff").await;
        let moderator = Person::new(hs, "mod").await;
        let outsider = Person::new(hs, "outsider").await;
        let staff_room = staff.create_room(&[&bot.user_id]).await;
        let mod_room = moderator.create_room(&[&bot.user_id, outsider.id()]).await;
        outsider.join(&mod_room).await;
        let tg = TelegramServer::start().await;
        let forum = tg.create_forum("Residents");
        let dc = DiscordServer::start().await.unwrap();
        let guild = dc.create_guild("Council partners");
        let channel = dc.create_channel(guild, "general");
        World {
            hs,
            bot,
            staff,
            moderator,
            outsider,
            staff_room,
            mod_room,
            tg,
            forum,
            dc,
            channel,
            matrix_dir: tempfile::tempdir().unwrap(),
        }
    }

    /// One link over the three rooms, moderated from the moderation room, with no moderators
    /// in the config: power levels decide.
    pub fn links(&self, rules: Rules) -> Vec<LinkSettings> {
        vec![LinkSettings {
            link: LinkRecord {
                id: LinkId::new("town"),
                rooms: vec![
                    LinkRoom {
                        room: RoomRef::new(Platform::new("matrix"), self.staff_room.as_str()),
                        side: Side::Staff,
                    },
                    LinkRoom {
                        room: RoomRef::new(Platform::new("telegram"), self.forum.to_string()),
                        side: Side::Public,
                    },
                    LinkRoom {
                        room: RoomRef::new(Platform::new("discord"), self.channel.to_string()),
                        side: Side::Public,
                    },
                ],
                moderation_room: Some(RoomRef::new(
                    Platform::new("matrix"),
                    self.mod_room.as_str(),
                )),
                moderators: vec![],
                admins: vec![],
            },
            rules,
        }]
    }

    /// Starts the daemon with the three real connectors; returns once the bot is in both Matrix
    /// rooms and the Discord gateway is ready.
    pub async fn start(&self, store: Store, rules: Rules) -> Daemon {
        let mut mcfg =
            MatrixConfig::with_password(self.hs.url(), &self.bot.user_id, &self.bot.password);
        mcfg.data_dir = Some(self.matrix_dir.path().to_owned());
        mcfg.rooms = vec![self.staff_room.clone(), self.mod_room.clone()];
        mcfg.sync_timeout_s = 1;
        let matrix = MatrixConnector::connect(mcfg).await.unwrap();
        let mut tcfg = TelegramConfig::new(self.tg.token());
        tcfg.api_url = Some(self.tg.url());
        tcfg.poll_timeout_secs = 1;
        tcfg.pacing = PacingConfig::off();
        let discord = Arc::new(
            DiscordConnector::new(DiscordConfig::local(self.dc.token(), self.dc.api_base()))
                .unwrap(),
        );
        let conns: Vec<Arc<dyn Connector>> = vec![
            Arc::new(matrix),
            Arc::new(TelegramConnector::new(tcfg).unwrap()),
            discord.clone(),
        ];
        let daemon = Daemon::start(
            store,
            &self.links(rules),
            conns,
            crate::common::fast_retries(),
        )
        .await
        .unwrap();
        wait_until(WAIT, "the Discord gateway is ready", || {
            discord
                .handler_counts()
                .get("GUILD_CREATE")
                .copied()
                .unwrap_or(0)
                >= 1
        })
        .await;
        for room in [&self.staff_room, &self.mod_room] {
            self.wait_joined(room).await;
        }
        daemon
    }

    async fn wait_joined(&self, room: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self
                .moderator
                .http
                .get(format!(
                    "{}/_matrix/client/v3/rooms/{}/joined_members",
                    self.hs.url(),
                    urlencode(room)
                ))
                .bearer_auth(&self.bot.access_token)
                .send()
                .await
                .unwrap();
            if v.status().is_success() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot never joined {room}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls the moderation room until a message satisfies `f`; returns it.
    pub async fn in_mod_room(&self, what: &str, f: impl Fn(&Shown) -> bool) -> Shown {
        poll_room(&self.moderator, &self.mod_room, what, f).await
    }

    pub async fn in_staff_room(&self, what: &str, f: impl Fn(&Shown) -> bool) -> Shown {
        poll_room(&self.staff, &self.staff_room, what, f).await
    }
}

async fn poll_room(p: &Person, room: &str, what: &str, f: impl Fn(&Shown) -> bool) -> Shown {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = p.shown(room).await;
        if let Some(s) = shown.iter().find(|s| f(s)) {
            return s.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {what} in {room}; saw {:#?}",
            shown.iter().map(|s| &s.body).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
