//! The daemon's metrics, in the Prometheus text format (`prometheus-client`).
//!
//! - [`instruments`]: the counters, gauges and histograms the pipeline moves, behind the
//!   [`Instruments`] handle (the outbox, the watch, and the store's observer: notes of
//!   committed transactions, see [`crate::store::observe`]).
//! - [`stored`]: gauges of stored state (queue, outbox, parked jobs, audit log, journal), read
//!   from the store at scrape time.
//!
//! Labels are bounded: a platform, a link's name, a direction, a verdict, a rule's kind, a
//! retry reason. Never a person, a room or a message. [`Metrics::catalogue`] lists every
//! metric with its help; README's list is generated from it (`tests/daemon/admin.rs`).

mod instruments;
mod stored;

pub use instruments::{Instruments, RetryReason};

use crate::store::Store;
use civicbridge_api::Platform;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric of one daemon, registered for scraping. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    instruments: Instruments,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics of a daemon on `store` with connectors for `platforms`.
    pub fn new(store: &Store, platforms: Vec<Platform>) -> Metrics {
        let instruments = Instruments::default();
        let f = &instruments.families;
        let mut r = Registry::with_prefix("civicbridge");
        r.register(
            "build",
            "The running build (its version is the label)",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "connector_up",
            "1 while the platform's connector can read its platform, else 0",
            f.connector_up.clone(),
        );
        r.register(
            "messages_received",
            "New messages in a link's bridged rooms (replays not counted)",
            f.received.clone(),
        );
        r.register(
            "verdicts",
            "Verdicts per target room: by the rules (forward, hold, drop; rule: the kind that held or dropped) and by moderators (approved, rejected; rule: moderator)",
            f.verdicts.clone(),
        );
        r.register_with_unit(
            "decision_latency",
            "Time from holding an item to a moderator's decision on it",
            Unit::Seconds,
            f.decision_latency.clone(),
        );
        r.register(
            "outbox_retries",
            "Outbox jobs tried again, by target platform and reason",
            f.retries.clone(),
        );
        r.register_with_unit(
            "send_duration",
            "Duration of one send request to a platform, whatever its outcome",
            Unit::Seconds,
            f.send_duration.clone(),
        );
        r.register_with_unit(
            "relay_latency",
            "Time from a message's arrival (its platform's timestamp) to its copy being sent",
            Unit::Seconds,
            f.relay_latency.clone(),
        );
        r.register_collector(Box::new(stored::Stored {
            store: store.clone(),
            platforms: platforms.clone(),
        }));
        for p in platforms {
            instruments.connector_up(p, false);
        }
        Metrics {
            registry: Arc::new(r),
            instruments,
        }
    }

    /// The handle the pipeline moves.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// Every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// Every metric's name, type and help, one Markdown list item each, in registration
    /// order: README's list.
    pub fn catalogue(&self) -> Result<String, std::fmt::Error> {
        let text = self.render()?;
        let mut out = String::new();
        let mut help: Option<(String, String)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
                help = Some((name.to_owned(), text.to_owned()));
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
                if let Some((h_name, text)) = help.take().filter(|(n, _)| n == name) {
                    out.push_str(&format!("- `{h_name}` ({kind}): {text}\n"));
                }
            }
        }
        Ok(out)
    }
}
