//! The shipped binary as a process, and a staff member's plain client-server view of Synapse:
//! what tests need to stop and restart a bridge with real connectors.
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_api::testing::wait_until;
use civicbridge_testkit::synapse::RegisteredUser;
use serde_json::{json, Value};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(60);

/// Runs `civicbridge ARGS` to completion.
pub fn civicbridge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(args)
        .output()
        .unwrap()
}

/// `civicbridge run` in the background, its log captured.
pub struct Bridge {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Bridge {
    /// Starts the bridge and waits until it says it runs.
    pub async fn start(config: &Path) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "civicbridge=info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let bridge = Bridge { child, log };
        wait_until(WAIT, "the bridge to start", || {
            bridge.log().contains("civicbridge running")
        })
        .await;
        bridge
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Starts the bridge with this `RUST_LOG`, stdout and stderr both captured into the log.
    pub async fn start_logging(config: &Path, rust_log: &str) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        for reader in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err) as Box<dyn std::io::Read + Send>,
        ] {
            let sink = log.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(reader);
                let mut line = Vec::new();
                // Lines as bytes: a trace log may hold anything.
                while r
                    .read_until(b'\n', &mut line)
                    .map(|n| n > 0)
                    .unwrap_or(false)
                {
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&line));
                    line.clear();
                }
            });
        }
        let bridge = Bridge { child, log };
        wait_until(WAIT, "the bridge to start", || {
            bridge.log().contains("civicbridge running")
        })
        .await;
        bridge
    }

    /// SIGTERM, a clean exit, and everything it wrote.
    pub async fn stop_with_log(self) -> String {
        let log = self.log.clone();
        self.stop().await;
        let all = log.lock().unwrap().clone();
        all
    }

    /// Waits for the process to exit by itself; its exit code.
    pub async fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        let mut status = None;
        wait_until(timeout, "the bridge to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        status.unwrap().code()
    }

    /// SIGKILL: the process dies wherever it stands.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) {
        assert!(Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let mut status = None;
        wait_until(Duration::from_secs(30), "the bridge to exit", || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        })
        .await;
        assert!(
            status.unwrap().success(),
            "clean exit; log:\n{}",
            self.log()
        );
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // A failed test must not leave the bridge running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls an async condition until it holds; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A person's view of Synapse through the plain client-server API.
pub struct Person {
    pub http: reqwest::Client,
    pub base: String,
    pub user: RegisteredUser,
}

impl Person {
    pub async fn create_room(&self, invite: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/_matrix/client/v3/createRoom", self.base))
            .bearer_auth(&self.user.access_token)
            .json(&json!({ "invite": [invite], "preset": "private_chat" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["room_id"].as_str().unwrap().to_owned()
    }

    /// The room's `m.room.message` events, oldest first (redacted ones have empty content).
    pub async fn messages(&self, room: &str) -> Vec<Value> {
        self.last_messages(room, 100).await
    }

    /// Up to `limit` of the room's latest `m.room.message` events, oldest first.
    async fn last_messages(&self, room: &str, limit: usize) -> Vec<Value> {
        let r: Value = self
            .http
            .get(format!(
                "{}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit={limit}",
                self.base
            ))
            .bearer_auth(&self.user.access_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut out: Vec<Value> = r["chunk"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["type"] == "m.room.message")
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// The plain bodies of the room's live messages, oldest first.
    pub async fn bodies(&self, room: &str) -> Vec<String> {
        self.messages(room)
            .await
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// Sends a text message; returns its event id.
    pub async fn say(&self, room: &str, text: &str) -> String {
        let txn = format!("t{}", rand_txn());
        let r: Value = self
            .http
            .put(format!(
                "{}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
                self.base
            ))
            .bearer_auth(&self.user.access_token)
            .json(&json!({ "msgtype": "m.text", "body": text }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["event_id"].as_str().unwrap_or_default().to_owned()
    }

    /// The plain bodies of up to 1,000 of the room's live messages, oldest first.
    pub async fn all_bodies(&self, room: &str) -> Vec<String> {
        self.last_messages(room, 1000)
            .await
            .iter()
            .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// How many of the room's messages were redacted.
    pub async fn redacted(&self, room: &str) -> usize {
        self.messages(room)
            .await
            .iter()
            .filter(|e| !e["unsigned"]["redacted_because"].is_null())
            .count()
    }
}

fn rand_txn() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (N.fetch_add(1, Ordering::Relaxed) << 48)
}

/// One link on all three real platforms, for the shipped binary: a fresh bot, staff member and
/// moderator on the shared Synapse, their staff and moderation rooms, a Telegram group and a
/// Discord channel on fresh local servers, and the config file in a temporary directory (the
/// store at `dir/data`). Residents' messages cross at once; `extra_rules` adds rule lines.
pub struct ThreePlatforms {
    /// The bridge's own Matrix account.
    pub bot: RegisteredUser,
    pub staff: Person,
    pub moderator: Person,
    pub staff_room: String,
    pub mod_room: String,
    pub tg: civicbridge_testkit::telegram::TelegramServer,
    pub chat: i64,
    pub dc: civicbridge_testkit::discord::DiscordServer,
    pub channel: u64,
    pub dir: tempfile::TempDir,
    pub config_path: std::path::PathBuf,
}

impl ThreePlatforms {
    pub async fn start(extra_rules: &str) -> ThreePlatforms {
        Self::start_with(extra_rules, Default::default()).await
    }

    /// As [`Self::start`], with the local Discord server started with `discord`.
    pub async fn start_with(
        extra_rules: &str,
        discord: civicbridge_testkit::discord::ServerOptions,
    ) -> ThreePlatforms {
        let hs = civicbridge_testkit::synapse::shared().await.unwrap();
        let http = reqwest::Client::new();
        let bot = hs.register_fresh("bridge").await.unwrap();
        let person = |user| Person {
            http: http.clone(),
            base: hs.url().to_owned(),
            user,
        };
        let staff = person(hs.register_fresh("staff").await.unwrap());
        let moderator = person(hs.register_fresh("mod").await.unwrap());
        let staff_room = staff.create_room(&bot.user_id).await;
        let mod_room = moderator.create_room(&bot.user_id).await;
        let tg = civicbridge_testkit::telegram::TelegramServer::start().await;
        let chat = tg.create_group("Residents");
        let dc = civicbridge_testkit::discord::DiscordServer::start_with(discord)
            .await
            .unwrap();
        let guild = dc.create_guild("Council");
        let channel = dc.create_channel(guild, "general");
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            r#"
[store]
path = "data"
[matrix]
homeserver_url = "{hs}"
user_id = "{bot}"
password = "{pw}"
sync_timeout_s = 2
[telegram]
token = "{tg_token}"
api_url = "{tg_url}"
poll_timeout_secs = 1
pacing = {{ per_chat_interval_ms = 0, group_per_minute = 0 }}
[discord]
token = "{dc_token}"
api_base = "{dc_url}"
ratelimiter = false
[links.town]
moderation_room = "matrix:{mod_room}"
moderators = ["matrix:{moderator}"]
rooms = [
  {{ room = "matrix:{staff_room}", side = "staff" }},
  {{ room = "telegram:{chat}", side = "public" }},
  {{ room = "discord:{channel}", side = "public" }},
]
[links.town.rules]
public_to_staff = {{ policy = "auto" }}
public_to_public = {{ policy = "auto" }}
{extra_rules}
"#,
            hs = hs.url(),
            bot = bot.user_id,
            pw = bot.password,
            tg_token = tg.token(),
            tg_url = tg.url(),
            dc_token = dc.token(),
            dc_url = dc.api_base(),
            moderator = moderator.user.user_id,
        );
        let config_path = dir.path().join("civicbridge.toml");
        std::fs::write(&config_path, config).unwrap();
        ThreePlatforms {
            bot,
            staff,
            moderator,
            staff_room,
            mod_room,
            tg,
            chat,
            dc,
            channel,
            dir,
            config_path,
        }
    }
}
