//! Shared set-up for the loopback tests: a local Bot API server, a connector pointed at it, and
//! a running `run` whose events a test reads from a channel.
#![allow(dead_code, clippy::unwrap_used)]

use civicbridge_api::{Connector, EventSink, MemoryState, Submission};
use civicbridge_telegram::{PacingConfig, TelegramConfig, TelegramConnector};
use civicbridge_testkit::telegram::TelegramServer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(20);
pub const ADA: (i64, &str) = (42, "Ada");

pub fn config(server: &TelegramServer) -> TelegramConfig {
    let mut c = TelegramConfig::new(server.token());
    c.api_url = Some(server.url());
    // Short polls keep shutdown and restarts quick; pacing is tested on its own.
    c.poll_timeout_secs = 2;
    c.pacing = PacingConfig::off();
    c
}

pub fn connector(server: &TelegramServer) -> Arc<TelegramConnector> {
    Arc::new(TelegramConnector::new(config(server)).expect("valid config"))
}

/// A connector's `run`, in the background.
pub struct Running {
    pub rx: mpsc::Receiver<Submission>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), civicbridge_api::ConnectorError>>,
}

pub fn run(conn: Arc<TelegramConnector>, state: Arc<MemoryState>) -> Running {
    let (tx, rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move { conn.run(EventSink::new(tx), state, s).await });
    Running { rx, shutdown, task }
}

impl Running {
    /// The next submission, or a panic naming what was awaited.
    pub async fn next(&mut self, what: &str) -> Submission {
        match tokio::time::timeout(WAIT, self.rx.recv()).await {
            Ok(Some(s)) => s,
            Ok(None) => panic!("the connector closed its sink while waiting for {what}"),
            Err(_) => panic!("no event within {WAIT:?} while waiting for {what}"),
        }
    }

    /// No submission arrives within `d`.
    pub async fn none_within(&mut self, d: Duration) {
        if let Ok(Some(s)) = tokio::time::timeout(d, self.rx.recv()).await {
            panic!("unexpected event {:?}", s.event);
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let r = tokio::time::timeout(WAIT, self.task).await;
        assert!(matches!(r, Ok(Ok(Ok(())))), "run must stop cleanly: {r:?}");
    }
}
