//! Every metric's name, type, unit and help, in one table: the registry is built from it
//! ([`super::Metrics::new`], [`super::stored`]) and README's list is rendered from it
//! ([`super::Metrics::catalogue`]), so neither can name a metric the other lacks.

use prometheus_client::registry::Unit;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Info,
    Gauge,
    Counter,
    Histogram,
}

/// One metric, as registered (the prefix `civicbridge_`, the unit and the type's suffix are
/// added by the encoder).
#[derive(Debug)]
pub(super) struct Def {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Option<Unit>,
    /// One sentence, without its final full stop (the encoder adds it).
    pub help: &'static str,
}

const fn def(name: &'static str, kind: Kind, unit: Option<Unit>, help: &'static str) -> Def {
    Def {
        name,
        kind,
        unit,
        help,
    }
}

pub(super) const BUILD: Def = def(
    "build",
    Kind::Info,
    None,
    "The running build (its version is the label)",
);
pub(super) const CONNECTOR_UP: Def = def(
    "connector_up",
    Kind::Gauge,
    None,
    "1 while the platform's connector can read its platform, else 0",
);
pub(super) const RECEIVED: Def = def(
    "messages_received",
    Kind::Counter,
    None,
    "New messages in a link's bridged rooms (replays, echoes and staff commands not counted)",
);
pub(super) const VERDICTS: Def = def(
    "verdicts",
    Kind::Counter,
    None,
    "Verdicts per target room: by the rules (forward, hold, drop; rule: the kind that held or dropped) and by moderators (approved, rejected; rule: moderator)",
);
pub(super) const DECISION_LATENCY: Def = def(
    "decision_latency",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Time from holding an item to a moderator's decision on it",
);
pub(super) const RETRIES: Def = def(
    "outbox_retries",
    Kind::Counter,
    None,
    "Outbox jobs tried again, by target platform and reason (rate_limited, transient, auth, store)",
);
pub(super) const SEND_DURATION: Def = def(
    "send_duration",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Duration of one send request to a platform, whatever its outcome",
);
pub(super) const RELAY_LATENCY: Def = def(
    "relay_latency",
    Kind::Histogram,
    Some(Unit::Seconds),
    "Time from a message's arrival (its platform's timestamp) to its copy being sent, by source and target platform",
);
pub(super) const QUEUE_ITEMS: Def = def(
    "queue_items",
    Kind::Gauge,
    None,
    "Items held for a moderator, per link",
);
pub(super) const QUEUE_OLDEST_AGE: Def = def(
    "queue_oldest_age",
    Kind::Gauge,
    Some(Unit::Seconds),
    "Age of the oldest held item per link (0 when none waits)",
);
pub(super) const OUTBOX_JOBS: Def = def(
    "outbox_jobs",
    Kind::Gauge,
    None,
    "Jobs waiting in the outbox, per target platform",
);
pub(super) const OUTBOX_PARKED: Def = def(
    "outbox_parked",
    Kind::Gauge,
    None,
    "Outbox jobs set aside as dead letters, per target platform",
);
pub(super) const JOURNAL: Def = def(
    "store_journal",
    Kind::Gauge,
    Some(Unit::Bytes),
    "Bytes of the store's write-ahead journal on disk",
);
pub(super) const AUDIT_ENTRIES: Def = def(
    "audit_entries",
    Kind::Counter,
    None,
    "Entries in the audit log",
);

/// Every metric, in the order `/metrics` shows them.
pub(super) const ALL: [&Def; 14] = [
    &BUILD,
    &CONNECTOR_UP,
    &RECEIVED,
    &VERDICTS,
    &DECISION_LATENCY,
    &RETRIES,
    &SEND_DURATION,
    &RELAY_LATENCY,
    &QUEUE_ITEMS,
    &QUEUE_OLDEST_AGE,
    &OUTBOX_JOBS,
    &OUTBOX_PARKED,
    &JOURNAL,
    &AUDIT_ENTRIES,
];

impl Def {
    /// The name a scrape shows in its `# TYPE` line.
    pub fn exposed_name(&self) -> String {
        let unit = match &self.unit {
            Some(Unit::Seconds) => "_seconds",
            Some(Unit::Bytes) => "_bytes",
            Some(_) | None => "",
        };
        let suffix = match self.kind {
            Kind::Counter => "_total",
            Kind::Info => "_info",
            Kind::Gauge | Kind::Histogram => "",
        };
        format!("civicbridge_{}{unit}{suffix}", self.name)
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Info | Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}
