//! A real crash: `civicbridge run` as a process, with its three real connectors (a real
//! Synapse, the local Telegram and Discord servers), SIGKILLed in the middle of a burst from
//! every side (Matrix staff, Telegram and Discord residents) and started again.
//!
//! What README promises, checked here exactly: nothing is lost (every message reaches each other
//! room), and nothing is duplicated except in one window: a send to Telegram or Discord that the
//! platform accepted just before the kill, but whose receipt had not reached the store's journal,
//! is sent again after the restart (those platforms have no idempotency key for bots). Each room
//! has one lane running one job at a time, so at most one message per Telegram or Discord room
//! can repeat per crash. Matrix sends carry a transaction id and never repeat. Inbound events are
//! never handled twice (the seen mark), and none is skipped (cursors move only past durable
//! events).
#![allow(clippy::unwrap_used)]

use crate::bridge_process;

use bridge_process::{staff_answers_cross, Bridge};
use civicbridge_api::testing::wait_until;
use std::collections::BTreeMap;
use std::time::Duration;

const PER_SIDE: usize = 40;
const PATIENCE: Duration = Duration::from_secs(120);

/// The labels (`tg-7`, `dc-3`, `mx-12`) in a room's messages, in order.
fn labels(texts: impl IntoIterator<Item = String>) -> Vec<String> {
    texts
        .into_iter()
        .filter_map(|t| {
            let at = ["tg-", "dc-", "mx-"]
                .iter()
                .filter_map(|p| t.find(p))
                .min()?;
            let rest = &t[at..];
            let end = rest[3..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len(), |e| e + 3);
            Some(rest[..end].to_owned())
        })
        .collect()
}

fn counts(labels: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in labels {
        *m.entry(l.clone()).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_a_burst_from_every_side_loses_nothing_and_repeats_only_the_documented_window() {
    let p = bridge_process::world_for_run(staff_answers_cross(), "").await;
    let bridge = Bridge::start(&p.config_path).await;
    // Discord's gateway is up once a first copy has crossed from it.
    let resident = p.discord.create_user("bea", Some("Bea"));
    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "warm-up")
        .unwrap();
    wait_until(PATIENCE, "the warm-up on Discord", || {
        p.discord
            .webhook_messages(p.dc_channel)
            .iter()
            .any(|m| m.content.contains("warm-up"))
    })
    .await;

    // The burst: the three sides interleaved, a message every few milliseconds.
    let burst = async {
        for i in 0..PER_SIDE {
            p.telegram
                .post_as_user(p.tg_chat, (42, "Ada"), &format!("tg-{i}"))
                .unwrap();
            p.discord
                .post_as_user(p.dc_channel, resident, &format!("dc-{i}"));
            p.staff
                .say(&p.staff_room, &format!("mx-{i}"))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    };
    let kill = async {
        // Kill once part of the burst has crossed: some of it is in flight, some not yet read.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let crossed = labels(p.staff.bodies(&p.staff_room).await.unwrap())
                .iter()
                .filter(|l| !l.starts_with("mx-"))
                .count();
            if crossed >= PER_SIDE / 2 {
                break crossed;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the burst never started crossing"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let ((), crossed_before) = tokio::join!(burst, kill);
    bridge.kill9();
    assert!(
        crossed_before < 2 * PER_SIDE,
        "killed mid-burst ({crossed_before} of {} crossed to Matrix)",
        2 * PER_SIDE
    );

    // Started again on the same data directory: it catches up.
    let bridge = Bridge::start(&p.config_path).await;
    let want = |a: &str, b: &str| -> Vec<String> {
        let mut v: Vec<String> = (0..PER_SIDE)
            .flat_map(|i| [format!("{a}-{i}"), format!("{b}-{i}")])
            .collect();
        v.sort();
        v
    };
    let seen = |got: &[String]| {
        let mut v: Vec<String> = counts(got).into_keys().collect();
        v.sort();
        v
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let (staff, tg, dc) = loop {
        let staff: Vec<String> = labels(p.staff.bodies(&p.staff_room).await.unwrap())
            .into_iter()
            .filter(|l| !l.starts_with("mx-"))
            .collect();
        let tg = labels(
            p.telegram
                .bot_messages(p.tg_chat)
                .into_iter()
                .map(|m| m.text),
        );
        let dc = labels(
            p.discord
                .webhook_messages(p.dc_channel)
                .into_iter()
                .chain(p.discord.bot_messages(p.dc_channel))
                .map(|m| m.content),
        );
        if seen(&staff) == want("dc", "tg")
            && seen(&tg) == want("dc", "mx")
            && seen(&dc) == want("mx", "tg")
        {
            break (staff, tg, dc);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost messages after the restart:\nstaff {:?}\ntelegram {:?}\ndiscord {:?}\nlog:\n{}",
            seen(&staff),
            seen(&tg),
            seen(&dc),
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // A marker after everything proves nothing more is on its way.
    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "tg-999")
        .unwrap();
    wait_until(PATIENCE, "the marker on Discord", || {
        p.discord
            .webhook_messages(p.dc_channel)
            .iter()
            .any(|m| m.content.contains("tg-999"))
    })
    .await;
    bridge.stop().await;

    let repeated = |got: &[String]| -> Vec<(String, usize)> {
        counts(got).into_iter().filter(|(_, n)| *n > 1).collect()
    };
    eprintln!(
        "killed with {crossed_before} crossed to Matrix; repeated after restart: telegram {:?}, discord {:?}",
        repeated(&tg),
        repeated(&dc)
    );
    assert!(
        repeated(&staff).is_empty(),
        "Matrix never repeats: {:?}",
        repeated(&staff)
    );
    for (room, got) in [("Telegram", &tg), ("Discord", &dc)] {
        let r = repeated(got);
        assert!(
            r.len() <= 1 && r.iter().all(|(_, n)| *n == 2),
            "at most the one send in flight at the kill repeats in the {room} room: {r:?}"
        );
    }
}
