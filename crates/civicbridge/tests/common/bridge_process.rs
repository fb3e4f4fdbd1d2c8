//! The shipped binary as a process on the end-to-end world: what tests need to stop and restart
//! a bridge with real connectors.
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
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
        Self::start_with_env(config, &[]).await
    }

    /// [`Bridge::start`] with extra environment variables.
    pub async fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "civicbridge=info")
            .envs(env.iter().copied())
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

    /// SIGHUP: "read your config again".
    pub fn hangup(&self) {
        assert!(Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
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

/// The world the shipped binary runs on (the demo's, see [`crate::world::World`]) with `rules`
/// and `extra` (top-level config sections) in its config file; `civicbridge run --config
/// world.config_path` bridges it.
pub async fn world_for_run(rules: Rules, extra: &str) -> crate::world::World {
    crate::world::World::build(rules, extra, Default::default()).await
}

/// Residents' messages cross at once, both ways; the rest as the defaults say.
pub fn residents_cross() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        ..Rules::default()
    }
}

/// Everything crosses at once, staff answers included.
pub fn staff_answers_cross() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        ..residents_cross()
    }
}
