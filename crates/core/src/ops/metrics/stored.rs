//! The gauges of stored state, read from the store at each scrape rather than kept in step by
//! the pipeline: the held items per link and the oldest one's age, outbox jobs and parked jobs
//! per target platform, the audit log's length and the journal's size. A scrape costs a read
//! of the pending, outbox and parked trees.

use crate::store::prelude::*;
use crate::store::{ParkedWhat, Store};
use civicbridge_api::Platform;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::collections::BTreeMap;

use super::catalogue::{self, Def};
use super::instruments::{LinkLabel, PlatformLabel};

/// Reads the store's gauges at scrape time.
#[derive(Debug)]
pub(super) struct Stored {
    pub store: Store,
    /// The configured platforms, shown at 0 when nothing of theirs is stored.
    pub platforms: Vec<Platform>,
}

/// The descriptor of `def` (its help with the full stop the registry adds to the others).
fn describe<'e>(
    encoder: &'e mut DescriptorEncoder,
    def: &'e Def,
    kind: MetricType,
) -> Result<MetricEncoder<'e>, std::fmt::Error> {
    // Only the help is owned; the encoder writes it at once.
    let help = format!("{}.", def.help);
    encoder.encode_descriptor(def.name, &help, def.unit.as_ref(), kind)
}

/// A labelled gauge family from `values`.
fn gauges<L: prometheus_client::encoding::EncodeLabelSet, V>(
    encoder: &mut DescriptorEncoder,
    def: &Def,
    values: impl IntoIterator<Item = (L, V)>,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<V>: EncodeMetric,
{
    let mut family = describe(encoder, def, MetricType::Gauge)?;
    for (labels, v) in values {
        ConstGauge::new(v).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Stored {
    fn by_platform(&self) -> BTreeMap<String, i64> {
        self.platforms
            .iter()
            .map(|p| (p.as_str().to_owned(), 0))
            .collect()
    }
}

fn platform(p: String) -> PlatformLabel {
    PlatformLabel { platform: p }
}

impl Collector for Stored {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = crate::store::now_ms();
        // A store that cannot be read shows no values this scrape (the log says why), rather
        // than failing the whole scrape.
        let read = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "metrics: cannot read {what}");
        };

        let mut queued: BTreeMap<String, (i64, f64)> = BTreeMap::new();
        match self.store.links() {
            Ok(links) => queued.extend(links.into_iter().map(|l| (l.id.to_string(), (0, 0.0)))),
            Err(e) => read("links", &e),
        }
        match self.store.pending() {
            Ok(items) => {
                for item in items {
                    let (n, oldest) = queued.entry(item.link.to_string()).or_default();
                    *n += 1;
                    let age = now.saturating_sub(item.held_at_ms) as f64 / 1000.0;
                    *oldest = oldest.max(age);
                }
            }
            Err(e) => read("held items", &e),
        }
        let link = |l: &String| LinkLabel { link: l.clone() };
        gauges(
            &mut encoder,
            &catalogue::QUEUE_ITEMS,
            queued.iter().map(|(l, (n, _))| (link(l), *n)),
        )?;
        gauges(
            &mut encoder,
            &catalogue::QUEUE_OLDEST_AGE,
            queued.iter().map(|(l, (_, age))| (link(l), *age)),
        )?;

        let mut jobs = self.by_platform();
        match self.store.outbox() {
            Ok(all) => {
                for j in all {
                    *jobs
                        .entry(j.target.platform.as_str().to_owned())
                        .or_default() += 1;
                }
            }
            Err(e) => read("the outbox", &e),
        }
        gauges(
            &mut encoder,
            &catalogue::OUTBOX_JOBS,
            jobs.into_iter().map(|(p, n)| (platform(p), n)),
        )?;

        let mut parked = self.by_platform();
        match self.store.parked() {
            Ok(all) => {
                for item in all {
                    if let ParkedWhat::Job { target, .. } = item.what {
                        let p = target.map_or("unknown", |t| t.platform.as_str());
                        *parked.entry(p.to_owned()).or_default() += 1;
                    }
                }
            }
            Err(e) => read("parked jobs", &e),
        }
        gauges(
            &mut encoder,
            &catalogue::OUTBOX_PARKED,
            parked.into_iter().map(|(p, n)| (platform(p), n)),
        )?;

        let journal = ConstGauge::new(self.store.journal_bytes() as i64);
        journal.encode(describe(
            &mut encoder,
            &catalogue::JOURNAL,
            MetricType::Gauge,
        )?)?;

        match self.store.audit_entries() {
            Ok(n) => ConstCounter::new(n).encode(describe(
                &mut encoder,
                &catalogue::AUDIT_ENTRIES,
                MetricType::Counter,
            )?)?,
            Err(e) => read("the audit log", &e),
        }
        Ok(())
    }
}
