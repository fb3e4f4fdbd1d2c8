//! The daemon's metrics, in the Prometheus text format (`prometheus-client`).
//!
//! - `instruments.rs`: the counters, gauges and histograms the pipeline moves, behind the
//!   [`Instruments`] handle (the outbox, the watch, and the store's observer: notes of
//!   committed transactions, see [`crate::store::observe`]).
//! - `stored.rs`: gauges of stored state (queue, outbox, parked jobs, audit log, journal), read
//!   from the store at scrape time.
//!
//! Labels are bounded: a platform, a link's name, a direction, a verdict, a rule's kind, a
//! retry reason. Never a person, a room or a message. [`Metrics::catalogue`] lists every
//! metric with its help (from `catalogue.rs`, the one table the registry is built from);
//! README's list is generated from it (`tests/daemon/admin`).

mod catalogue;
mod instruments;
mod stored;

pub use instruments::{Instruments, RetryReason};

use crate::store::Store;
use civicbridge_api::Platform;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::sync::Arc;

/// Registers `metric` as `def` says.
fn register(
    r: &mut Registry,
    def: &catalogue::Def,
    metric: impl prometheus_client::registry::Metric,
) {
    match &def.unit {
        Some(unit) => r.register_with_unit(def.name, def.help, unit.clone(), metric),
        None => r.register(def.name, def.help, metric),
    }
}

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
        let build = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        register(&mut r, &catalogue::BUILD, build);
        register(&mut r, &catalogue::CONNECTOR_UP, f.connector_up.clone());
        register(&mut r, &catalogue::RECEIVED, f.received.clone());
        register(&mut r, &catalogue::VERDICTS, f.verdicts.clone());
        register(
            &mut r,
            &catalogue::DECISION_LATENCY,
            f.decision_latency.clone(),
        );
        register(&mut r, &catalogue::RETRIES, f.retries.clone());
        register(&mut r, &catalogue::SEND_DURATION, f.send_duration.clone());
        register(&mut r, &catalogue::RELAY_LATENCY, f.relay_latency.clone());
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

    /// Every metric's name, type and help, one Markdown list item each, in the order
    /// `/metrics` shows them: README's list.
    pub fn catalogue() -> String {
        catalogue::ALL
            .iter()
            .map(|d| {
                format!(
                    "- `{}` ({}): {}.\n",
                    d.exposed_name(),
                    d.type_name(),
                    d.help
                )
            })
            .collect()
    }

    /// Every metric's name as a scrape shows it in its `# TYPE` line.
    pub fn names() -> Vec<String> {
        catalogue::ALL.iter().map(|d| d.exposed_name()).collect()
    }
}
