//! Scale benchmark: what a store that has run for years costs at start and to audit.
//!
//! Builds, once and untimed, a store on disk holding `BENCH_MIRRORS` (1,000,000) mirror records
//! (each with its source index entry and two copies) and `BENCH_AUDIT` (100,000) audit entries,
//! written through the store's own transactions. Then, `BENCH_RUNS` (3) times each, in a fresh
//! process (this binary again, so each figure is one cold process's):
//!
//! - **open**: `Store::open`, then the daemon started on it with one link and fake connectors,
//!   until a first message has crossed: time to ready and the process's peak RSS;
//! - **verify**: `audit verify`'s path (walk the log a block at a time, check every hash and
//!   link);
//! - **floor**: the same open on an empty store, measured in the same run.
//!
//! Prints the medians and each against the floor. Run: `cargo bench --bench scale`.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use civicbridge_api::testing::FakeConnector;
use civicbridge_api::{
    Connector, LinkId, Message, MirrorId, Platform, RemoteMsgId, RichText, RoomRef,
};
use civicbridge_core::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use civicbridge_core::moderation::rules::{DirectionRule, LinkPolicy, Policy, Rules, Side};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::store::audit::AuditReads;
use civicbridge_core::store::{Author, Copy, LinkRecord, LinkRoom, MirrorRecord, Store};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set in the child process: `open DIR` or `verify DIR`.
const CHILD: &str = "CIVICBRIDGE_SCALE_CHILD";
/// Records per transaction while building the store.
const BATCH: u64 = 10_000;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(spec) = std::env::var(CHILD) {
        let (what, dir) = spec.split_once(' ').unwrap();
        let secs = match what {
            "open" => rt.block_on(open_until_ready(Path::new(dir))),
            "store" => {
                let t0 = Instant::now();
                drop(Store::open(Path::new(dir)).unwrap());
                t0.elapsed().as_secs_f64()
            }
            "verify" => verify(Path::new(dir)),
            other => panic!("{CHILD}={other}"),
        };
        println!("{secs} {}", peak_rss_mb());
        return;
    }
    let mirrors = env("BENCH_MIRRORS", 1_000_000);
    let entries = env("BENCH_AUDIT", 100_000);
    let runs = env("BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    // `BENCH_STORE=DIR` keeps the full store there and reuses it on the next run.
    let full = std::env::var("BENCH_STORE").map_or_else(|_| dir.path().join("full"), Into::into);
    let empty = dir.path().join("empty");
    if !full.exists() {
        let t0 = Instant::now();
        rt.block_on(build(&full, mirrors, entries));
        println!(
            "built a store with {mirrors} mirror records and {entries} audit entries in {:.0} s",
            t0.elapsed().as_secs_f64(),
        );
    }
    println!("the full store: {} MB on disk", dir_mb(&full));
    rt.block_on(build(&empty, 0, 0));

    let (mut open, mut floor, mut check) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        floor.push(child("open", &empty));
        open.push(child("open", &full));
        check.push(child("verify", &full));
    }
    let (fs, fm) = medians(&floor);
    let (os, om) = medians(&open);
    let (vs, vm) = medians(&check);
    println!(
        "scale ({runs} runs each, medians, a fresh process each; {} cores)",
        cores()
    );
    println!("                               time (s)   peak RSS (MB)");
    println!("  floor: open an empty store  {fs:9.2}   {fm:9.1}");
    println!(
        "  open the full store          {os:9.2}   {om:9.1}   (×{:.1} time, +{:.1} MB)",
        os / fs,
        om - fm
    );
    println!("  audit verify, {entries:>7} entries {vs:7.2}   {vm:9.1}");
}

/// One link from a staff room to two public rooms, everything crossing.
fn links() -> Vec<LinkSettings> {
    let room = |p: &'static str, id: &'static str, side| LinkRoom {
        room: RoomRef::new(Platform::new(p), id),
        side,
    };
    vec![LinkSettings {
        link: LinkRecord {
            id: LinkId::new("scale"),
            rooms: vec![
                room("matrix", "!staff", Side::Staff),
                room("telegram", "-100", Side::Public),
                room("discord", "200", Side::Public),
            ],
            moderation_room: Some(RoomRef::new(Platform::new("matrix"), "!mod")),
            moderators: vec![],
            admins: vec![],
        },
        rules: Rules {
            staff_to_public: DirectionRule::new(Policy::Auto),
            public_to_staff: DirectionRule::new(Policy::Auto),
            public_to_public: DirectionRule::new(Policy::Auto),
            links: LinkPolicy::Allow,
            ..Rules::default()
        },
    }]
}

/// Writes the records through the store's transactions, `BATCH` at a time.
async fn build(dir: &Path, mirrors: u64, entries: u64) {
    let store = Store::open(dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let link = LinkId::new("scale");
    let source = RoomRef::new(Platform::new("telegram"), "-100");
    let mut done = 0;
    while done < mirrors {
        let end = (done + BATCH).min(mirrors);
        store
            .transact(|tx| {
                for i in done..end {
                    let mut m = MirrorRecord::new(
                        MirrorId(i + 1),
                        link.clone(),
                        source.clone(),
                        RemoteMsgId::new((i + 1).to_string()),
                        Author::new(Platform::new("telegram"), (i % 5000).to_string(), "Ada"),
                        RichText::plain(format!(
                            "message {i}: the bins on Elm Street were not collected again this week"
                        )),
                    );
                    m.at_ms = now;
                    m.published = true;
                    m.copies = [("matrix", "$e"), ("discord", "9")]
                        .iter()
                        .map(|(p, prefix)| Copy {
                            room: RoomRef::new(Platform::new(p), "room"),
                            ids: vec![RemoteMsgId::new(format!("{prefix}{i}"))],
                            thread: None,
                        })
                        .collect();
                    tx.insert_mirror(&m)?;
                }
                Ok(())
            })
            .unwrap();
        done = end;
    }
    let mut done = 0;
    while done < entries {
        let end = (done + BATCH).min(entries);
        store
            .transact(|tx| {
                for i in done..end {
                    tx.audit(AuditDraft {
                        actor: AuditActor::Bridge,
                        action: AuditAction::Approved,
                        link: Some(link.clone()),
                        subject: Some(format!("m{}", i + 1)),
                        detail: serde_json::json!({ "reason_code": "ok", "targets": 2 }),
                    })?;
                }
                Ok(())
            })
            .unwrap();
        done = end;
    }
    store.flush().await.unwrap();
}

/// In the child: open the store and start the daemon on it until a message has crossed.
async fn open_until_ready(dir: &Path) -> f64 {
    let t0 = Instant::now();
    let store = Store::open(dir).unwrap();
    let matrix = FakeConnector::new(Platform::new("matrix"));
    let telegram = FakeConnector::new(Platform::new("telegram"));
    let discord = FakeConnector::new(Platform::new("discord"));
    let conns: Vec<Arc<dyn Connector>> = vec![matrix.clone(), telegram.clone(), discord.clone()];
    let daemon = Daemon::start(store, &links(), conns, Options::default())
        .await
        .unwrap();
    let event = telegram.message_event(
        "-100",
        ("42", "Ada"),
        // A new id per process: the same id again would be dropped as a replay.
        Message::text(format!("ready-{}", std::process::id()), "ready?"),
    );
    telegram.inject(event).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while matrix.posted_count() == 0 || discord.posted_count() == 0 {
        assert!(Instant::now() < deadline, "the first message never crossed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    daemon.shutdown().await.unwrap();
    secs
}

/// In the child: `civicbridge audit verify`'s path over the whole log.
fn verify(dir: &Path) -> f64 {
    let t0 = Instant::now();
    let store = Store::open(dir).unwrap();
    let n = store.audit_verify().unwrap().unwrap().entries;
    // The daemon's start in the `open` runs adds its own entries (rules seeded).
    assert!(
        n as u64 >= env("BENCH_AUDIT", 100_000),
        "{n} entries verified"
    );
    t0.elapsed().as_secs_f64()
}

/// Runs this binary as a child doing `what` on `dir`: (seconds, peak RSS in MB).
fn child(what: &str, dir: &Path) -> (f64, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, format!("{what} {}", dir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut f = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    (f.next().unwrap(), f.next().unwrap())
}

fn medians(xs: &[(f64, f64)]) -> (f64, f64) {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        mid(xs.iter().map(|x| x.0).collect()),
        mid(xs.iter().map(|x| x.1).collect()),
    )
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn dir_mb(dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        std::fs::read_dir(p).map_or(0, |rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => walk(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
    }
    walk(dir) / 1_000_000
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}
