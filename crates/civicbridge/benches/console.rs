//! Console benchmark: the queue page of a moderator whose links hold 1,000 items, served by the
//! real daemon's admin listener over loopback HTTP (session check, store read, template render,
//! headers), on fake platforms with the store in memory.
//!
//! Prints, for this machine, the p50/p99/max time to fetch the whole page, the same for the
//! rows fragment open pages fetch on a change, and for a floor measured in the same run: a
//! signed-in request that renders nothing (the style sheet), so the ratio shows what the page
//! itself costs on a shared, noisy machine. Each figure is over `BENCH_ROUNDS` requests (200).
//!
//! Then it appends `BENCH_AUDIT` (100,000) entries to the audit log and times the audit page
//! (which verifies the whole chain on every view) newest first and from the middle.
//!
//! Run: `cargo bench --bench console` (env `BENCH_HELD` for another number of held items).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use civicbridge_core::store::prelude::*;
use common::console::*;
use common::*;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fetches `path` `rounds` times; returns the sorted durations and the body's length.
async fn timed(web: &Web, path: &str, rounds: usize) -> (Vec<Duration>, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut len = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let (status, _, body) = web.get(path).await;
        times.push(start.elapsed());
        assert_eq!(status, 200, "{path}: {body}");
        len = body.len();
    }
    times.sort_unstable();
    (times, len)
}

fn at(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let held = env_or("BENCH_HELD", 1000);
    let rounds = env_or("BENCH_ROUNDS", 200).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = start_console(Duration::from_secs(300)).await;
        for i in 0..held {
            let text = format!("Question {i} about the new cycle lane on Mill Road");
            acked(w.fakes.telegram.post(TG, RESIDENT, &format!("{i}"), &text)).await;
        }
        wait_until(Duration::from_secs(300), "every message is held", || {
            w.store.pending().unwrap().len() >= held
        })
        .await;
        let mut web = Web::new(&w.base);
        assert_eq!(
            web.sign_in(&w.weblogin(MODS, MODERATOR, "$l1").await).await,
            303
        );

        // Warm up (templates, allocator, connection), then measure each in turn.
        let _ = timed(&web, "/console/queue", 5).await;
        let (floor, _) = timed(&web, "/console/static/console.css", rounds).await;
        let (page, bytes) = timed(&web, "/console/queue", rounds).await;
        let (rows, _) = timed(&web, "/console/queue/rows", rounds).await;
        assert!(
            bytes > held * 100,
            "the page lists every item ({bytes} bytes)"
        );

        println!("console queue page, {held} held items, {rounds} requests each:");
        for (name, t) in [
            ("floor (style sheet)", &floor),
            ("queue page", &page),
            ("rows fragment", &rows),
        ] {
            println!(
                "  {name:<20} p50 {:>10}  p99 {:>10}  max {:>10}",
                ms(at(t, 0.5)),
                ms(at(t, 0.99)),
                ms(at(t, 1.0))
            );
        }
        println!("  page size            {:.0} KiB", bytes as f64 / 1024.0);
        println!(
            "  queue page p99 / floor p99: {:.1}x",
            at(&page, 0.99).as_secs_f64() / at(&floor, 0.99).as_secs_f64()
        );

        // A log grown over years: the audit page walks it a block at a time.
        let entries = env_or("BENCH_AUDIT", 100_000) as u64;
        for chunk in 0..entries.div_ceil(10_000) {
            w.store
                .transact(|tx| {
                    for i in chunk * 10_000..((chunk + 1) * 10_000).min(entries) {
                        tx.audit(AuditDraft {
                            actor: AuditActor::Bridge,
                            action: AuditAction::Approved,
                            link: Some(civicbridge_api::LinkId::new("planning")),
                            subject: Some(format!("#{i}")),
                            detail: serde_json::json!({ "reason_code": "ok" }),
                        })?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        let audit_rounds = (rounds / 10).max(3);
        let (audit, _) = timed(&web, "/console/audit", audit_rounds).await;
        let (older, _) = timed(&web, "/console/audit?before=50000", audit_rounds).await;
        println!("console audit page, {entries} more entries, {audit_rounds} requests each:");
        for (name, t) in [("newest page", &audit), ("page at the middle", &older)] {
            println!(
                "  {name:<20} p50 {:>10}  p99 {:>10}  max {:>10}",
                ms(at(t, 0.5)),
                ms(at(t, 0.99)),
                ms(at(t, 1.0))
            );
        }
        w.daemon.shutdown().await.unwrap();
    });
}
