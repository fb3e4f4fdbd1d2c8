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
        let r: Value = self
            .http
            .get(format!(
                "{}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100",
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

    /// How many of the room's messages were redacted.
    pub async fn redacted(&self, room: &str) -> usize {
        self.messages(room)
            .await
            .iter()
            .filter(|e| !e["unsigned"]["redacted_because"].is_null())
            .count()
    }
}
