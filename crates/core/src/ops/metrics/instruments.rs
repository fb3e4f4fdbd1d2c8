//! The counters and histograms the pipeline moves, behind one cheap handle ([`Instruments`]):
//! the outbox times its sends and counts its retries, the watch sets whether each connector is
//! up, and committed transactions' notes ([`Observation`]) count messages, verdicts and
//! decisions. Nothing here knows HTTP; [`super::Metrics`] registers these for scraping.

use crate::store::observe::{Observation, Observer};
use civicbridge_api::Platform;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PlatformLabel {
    pub platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct LinkLabel {
    pub link: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReceivedLabels {
    pub platform: String,
    pub link: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct VerdictLabels {
    pub link: String,
    pub direction: String,
    pub verdict: String,
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RetryLabels {
    pub platform: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RelayLabels {
    pub source: String,
    pub target: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Hold → decision: a second to about three days.
fn decision_buckets() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 4.0, 10))
}

/// One request to a platform: 5 ms to about 10 s.
fn send_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

/// Received → copy sent: 10 ms to about 25 minutes (held messages wait for a moderator).
fn relay_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.5, 14))
}

#[derive(Debug)]
pub(super) struct Families {
    pub connector_up: Family<PlatformLabel, Gauge>,
    pub received: Family<ReceivedLabels, Counter>,
    pub verdicts: Family<VerdictLabels, Counter>,
    pub decision_latency: Histograms<LinkLabel>,
    pub retries: Family<RetryLabels, Counter>,
    pub send_duration: Histograms<PlatformLabel>,
    pub relay_latency: Histograms<RelayLabels>,
}

/// Why the outbox tries a job again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    RateLimited,
    Transient,
    Auth,
    Store,
}

impl RetryReason {
    fn label(self) -> &'static str {
        match self {
            RetryReason::RateLimited => "rate_limited",
            RetryReason::Transient => "transient",
            RetryReason::Auth => "auth",
            RetryReason::Store => "store",
        }
    }
}

/// The pipeline's handle on its metrics. Cheap to clone; a fresh one counts for nobody
/// (tests and commands that run without a daemon).
#[derive(Debug, Clone)]
pub struct Instruments {
    pub(super) families: Arc<Families>,
}

impl Default for Instruments {
    fn default() -> Self {
        Instruments {
            families: Arc::new(Families {
                connector_up: Family::default(),
                received: Family::default(),
                verdicts: Family::default(),
                decision_latency: Family::new_with_constructor(decision_buckets),
                retries: Family::default(),
                send_duration: Family::new_with_constructor(send_buckets),
                relay_latency: Family::new_with_constructor(relay_buckets),
            }),
        }
    }
}

fn platform(p: Platform) -> PlatformLabel {
    PlatformLabel {
        platform: p.as_str().to_owned(),
    }
}

impl Instruments {
    /// Whether `p`'s connector can read its platform now.
    pub fn connector_up(&self, p: Platform, up: bool) {
        self.families
            .connector_up
            .get_or_create(&platform(p))
            .set(i64::from(up));
    }

    /// The outbox will try a job for `p` again.
    pub fn retry(&self, p: Platform, reason: RetryReason) {
        let labels = RetryLabels {
            platform: p.as_str().to_owned(),
            reason: reason.label().to_owned(),
        };
        self.families.retries.get_or_create(&labels).inc();
    }

    /// One request to `p` (a send of one part) took `took`, whatever its outcome.
    pub fn send_took(&self, p: Platform, took: Duration) {
        self.families
            .send_duration
            .get_or_create(&platform(p))
            .observe(took.as_secs_f64());
    }

    /// A copy of a message from `source` reached `target`, `took` after it was received.
    pub fn relayed(&self, source: Platform, target: Platform, took: Duration) {
        let labels = RelayLabels {
            source: source.as_str().to_owned(),
            target: target.as_str().to_owned(),
        };
        self.families
            .relay_latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

fn side(s: crate::moderation::rules::Side) -> &'static str {
    match s {
        crate::moderation::rules::Side::Staff => "staff",
        crate::moderation::rules::Side::Public => "public",
    }
}

impl Observer for Instruments {
    fn committed(&self, observations: Vec<Observation>) {
        let f = &self.families;
        for o in observations {
            match o {
                Observation::Received { link, platform } => {
                    let labels = ReceivedLabels {
                        platform: platform.as_str().to_owned(),
                        link: link.to_string(),
                    };
                    f.received.get_or_create(&labels).inc();
                }
                Observation::Verdict {
                    link,
                    from,
                    to,
                    verdict,
                    rule,
                } => {
                    let labels = VerdictLabels {
                        link: link.to_string(),
                        direction: format!("{}_to_{}", side(from), side(to)),
                        verdict: verdict.to_owned(),
                        rule: rule.to_owned(),
                    };
                    f.verdicts.get_or_create(&labels).inc();
                }
                Observation::Decided { link, waited_ms } => {
                    let labels = LinkLabel {
                        link: link.to_string(),
                    };
                    f.decision_latency
                        .get_or_create(&labels)
                        .observe(waited_ms as f64 / 1000.0);
                }
                // For the console's open pages; nothing is counted.
                Observation::Reports { .. } => {}
            }
        }
    }
}
