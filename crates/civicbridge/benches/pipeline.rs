//! Pipeline benchmark: messages through router, link worker, moderation, the store on disk (its
//! journal synced before every acknowledgement, sled checkpointed behind it), outbox and render,
//! to fake platforms.
//!
//! Prints, for this machine:
//! - sustained throughput for a burst of 100,000 resident messages, each relayed to two rooms;
//! - bridge-added latency (event submitted → send call on the target) p50/p99 at a steady load
//!   below saturation;
//! - peak RSS of the process.
//!
//! Run: `cargo bench --bench pipeline` (env `BENCH_MESSAGES` to change the burst size, 0 for the
//! latency runs alone; `BENCH_MEMORY=1` for the memory store, to tell the store's share).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use civicbridge_api::testing::FakeConnector;
use civicbridge_api::{Connector, LinkId, Message, Platform, RoomRef};
use civicbridge_core::moderation::rules::{DirectionRule, LinkPolicy, Policy, Rules, Side};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::store::{LinkRecord, LinkRoom, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn link() -> Vec<LinkSettings> {
    let rules = Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        links: LinkPolicy::Allow,
        ..Rules::default()
    };
    vec![LinkSettings {
        link: LinkRecord {
            id: LinkId::new("bench"),
            rooms: vec![
                LinkRoom {
                    room: RoomRef::new(Platform::new("matrix"), "!staff"),
                    side: Side::Staff,
                },
                LinkRoom {
                    room: RoomRef::new(Platform::new("telegram"), "-100"),
                    side: Side::Public,
                },
                LinkRoom {
                    room: RoomRef::new(Platform::new("discord"), "200"),
                    side: Side::Public,
                },
            ],
            moderation_room: Some(RoomRef::new(Platform::new("matrix"), "!mod")),
            moderators: vec![],
            admins: vec![],
        },
        rules,
    }]
}

struct Run {
    matrix: Arc<FakeConnector>,
    telegram: Arc<FakeConnector>,
    discord: Arc<FakeConnector>,
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

async fn start() -> Run {
    let dir = tempfile::tempdir().unwrap();
    // BENCH_MEMORY=1 runs on the memory backend, to tell sled's share from the pipeline's.
    let store = if std::env::var_os("BENCH_MEMORY").is_some() {
        Store::memory()
    } else {
        Store::open(dir.path()).unwrap()
    };
    let matrix = FakeConnector::new(Platform::new("matrix"));
    let telegram = FakeConnector::new(Platform::new("telegram"));
    let discord = FakeConnector::new(Platform::new("discord"));
    let conns: Vec<Arc<dyn Connector>> = vec![matrix.clone(), telegram.clone(), discord.clone()];
    let daemon = Daemon::start(store, &link(), conns, Options::default())
        .await
        .unwrap();
    Run {
        matrix,
        telegram,
        discord,
        daemon,
        _dir: dir,
    }
}

fn event(run: &Run, i: usize) -> civicbridge_api::Event {
    run.telegram.message_event(
        "-100",
        ("42", "Ada"),
        Message::text(i.to_string(), format!("message {i} about the bins")),
    )
}

async fn wait_for(run: &Run, n: usize) {
    while run.matrix.posted_count() < n || run.discord.posted_count() < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn throughput(n: usize) {
    let run = start().await;
    let t0 = Instant::now();
    let mut last_ack = None;
    for i in 0..n {
        // Injection is back-pressured by the bridge (bounded channels), not by this loop.
        last_ack = Some(run.telegram.inject(event(&run, i)));
    }
    if let Some(ack) = last_ack {
        ack.await.unwrap();
    }
    let durable = t0.elapsed().as_secs_f64();
    wait_for(&run, n).await;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "burst: {n} messages durable and acknowledged in {durable:.2} s ({:.0}/s); relayed (x2 copies) in {secs:.2} s = {:.0} messages/s, {:.0} sends/s",
        n as f64 / durable,
        n as f64 / secs,
        2.0 * n as f64 / secs
    );
    run.daemon.shutdown().await.unwrap();
}

async fn latency(rate: u32, n: usize) {
    let run = start().await;
    let mut injected = Vec::with_capacity(n);
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate);
    for i in 0..n {
        tick.tick().await;
        injected.push(tokio::time::Instant::now());
        drop(run.telegram.inject(event(&run, i)));
    }
    wait_for(&run, n).await;
    let posted = run.matrix.posted();
    let mut lat: Vec<Duration> = posted
        .iter()
        .map(|p| {
            let i: usize = p
                .out
                .text
                .to_plain()
                .split_whitespace()
                .nth(3)
                .and_then(|w| w.parse().ok())
                .unwrap();
            p.at - injected[i]
        })
        .collect();
    lat.sort();
    println!(
        "steady {rate} messages/s for {n}: bridge-added latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    run.daemon.shutdown().await.unwrap();
}

fn main() {
    let n: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Latency first: the burst leaves the disk busy writing back its store for a while,
        // which would show in a steady run's tail.
        latency(1_000, 5_000).await;
        latency(5_000, 20_000).await;
        if n > 0 {
            throughput(n).await;
        }
    });
    println!("peak RSS: {:.1} MB", peak_rss_mb());
}
