//! What the daemon knows about its own readiness, shared between the parts that find it out
//! (the daemon once the store is open and the outbox re-driven, each connector's supervisor in
//! [`crate::ops::watch`] as health reports arrive) and whoever asks (`/readyz`).
//!
//! Ready means: the store is open and replayed, and every configured connector has connected
//! (reported `Up`) and not gone down or failed since.

use chrono::{DateTime, Utc};
use civicbridge_api::{Health, Platform};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where a connector stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started, not yet connected.
    Connecting,
    /// Reading its platform.
    Up,
    /// Cannot read its platform; its supervisor keeps trying.
    Down,
    /// Stopped for good (its credentials were refused).
    Failed,
}

/// One connector's state, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorStatus {
    pub platform: String,
    pub state: Phase,
    /// The last error it reported, even if it has recovered since.
    pub last_error: Option<String>,
    /// When it entered this state (RFC 3339, UTC).
    pub since: DateTime<Utc>,
}

/// The whole answer of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// Whether the store is open and the outbox re-driven.
    pub store_open: bool,
    pub connectors: Vec<ConnectorStatus>,
    /// The connectors that keep it from being ready, by platform.
    pub not_ready: Vec<String>,
}

#[derive(Debug, Default)]
struct State {
    store_open: bool,
    connectors: BTreeMap<String, ConnectorStatus>,
}

/// The shared readiness state. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Status {
    state: Arc<Mutex<State>>,
}

impl Status {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store is open and what it held is re-driven.
    pub fn store_open(&self) {
        self.lock().store_open = true;
    }

    /// `platform`'s connector is configured and starting.
    pub fn connecting(&self, platform: Platform) {
        self.set(platform, Phase::Connecting, None);
    }

    /// A health report from `platform`'s connector (or its supervisor).
    pub fn report(&self, platform: Platform, health: &Health) {
        match health {
            Health::Up => self.set(platform, Phase::Up, None),
            Health::Down(why) => self.set(platform, Phase::Down, Some(why)),
        }
    }

    /// `platform`'s connector stopped for good.
    pub fn failed(&self, platform: Platform, why: &str) {
        self.set(platform, Phase::Failed, Some(why));
    }

    fn set(&self, platform: Platform, phase: Phase, error: Option<&str>) {
        let mut st = self.lock();
        let now = Utc::now();
        let entry = st
            .connectors
            .entry(platform.as_str().to_owned())
            .or_insert_with(|| ConnectorStatus {
                platform: platform.as_str().to_owned(),
                state: phase,
                last_error: None,
                since: now,
            });
        if entry.state != phase {
            entry.state = phase;
            entry.since = now;
        }
        if let Some(e) = error {
            entry.last_error = Some(e.to_owned());
        }
    }

    pub fn readiness(&self) -> Readiness {
        let st = self.lock();
        let connectors: Vec<ConnectorStatus> = st.connectors.values().cloned().collect();
        let not_ready: Vec<String> = connectors
            .iter()
            .filter(|c| c.state != Phase::Up)
            .map(|c| c.platform.clone())
            .collect();
        Readiness {
            ready: st.store_open && not_ready.is_empty(),
            store_open: st.store_open,
            connectors,
            not_ready,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_with_the_store_open_and_every_connector_up() {
        let s = Status::default();
        let (a, b) = (Platform::new("alpha"), Platform::new("beta"));
        s.connecting(a);
        s.connecting(b);
        assert!(!s.readiness().ready);
        s.report(a, &Health::Up);
        s.report(b, &Health::Up);
        assert!(!s.readiness().ready, "the store is not open yet");
        s.store_open();
        assert!(s.readiness().ready);
        s.report(b, &Health::Down("gateway closed".into()));
        let r = s.readiness();
        assert!(!r.ready);
        assert_eq!(r.not_ready, vec!["beta".to_owned()]);
        assert_eq!(
            r.connectors[1].last_error.as_deref(),
            Some("gateway closed")
        );
        s.report(b, &Health::Up);
        let r = s.readiness();
        assert!(r.ready);
        assert_eq!(
            r.connectors[1].last_error.as_deref(),
            Some("gateway closed"),
            "the last error stays to be read"
        );
    }

    #[test]
    fn since_changes_only_with_the_state() {
        let s = Status::default();
        let p = Platform::new("alpha");
        s.report(p, &Health::Down("one".into()));
        let first = s.readiness().connectors[0].since;
        s.report(p, &Health::Down("two".into()));
        let r = s.readiness();
        assert_eq!(r.connectors[0].since, first);
        assert_eq!(r.connectors[0].last_error.as_deref(), Some("two"));
    }
}
