//! End to end under stress: a burst of 200 messages from all three sides while the daemon
//! restarts, while Synapse restarts, and while the local servers inject faults. Every message
//! must arrive exactly once in each other room, in the order it was sent from its room.
#![allow(clippy::unwrap_used)]

use civicbridge_core::moderation::rules::{DirectionRule, LinkPolicy, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_demo::matrix::Mark;
use civicbridge_demo::wait::wait_for;
use civicbridge_demo::{Homeserver, World, WorldOptions};
use civicbridge_testkit::discord::{Fault as DcFault, FaultRoute};
use civicbridge_testkit::telegram::Fault as TgFault;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const BURST: usize = 200;
const PATIENCE: Duration = Duration::from_secs(180);

/// Everything crosses at once: the burst tests delivery, not moderation.
fn open_rules() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        links: LinkPolicy::Allow,
        ..Rules::default()
    }
}

async fn world(dir: &std::path::Path, own_synapse: bool) -> World {
    let mut opts = WorldOptions::test(dir);
    opts.rules = open_rules();
    opts.daemon.retry = civicbridge_core::pipeline::outbox::RetryPolicy {
        base: Duration::from_millis(20),
        max: Duration::from_millis(500),
    };
    if own_synapse {
        opts.homeserver = Homeserver::Own {
            data_dir: None,
            port: None,
        };
    }
    let w = World::create(opts).await.unwrap();
    w.start().await.unwrap();
    w
}

/// Which room a burst message was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Matrix,
    Telegram,
    Discord,
}

fn side_of(i: usize) -> Side {
    match i % 3 {
        0 => Side::Telegram,
        1 => Side::Discord,
        _ => Side::Matrix,
    }
}

fn label(i: usize) -> String {
    format!("burst-{:?}-{i:03}", side_of(i)).to_lowercase()
}

/// Posts the burst, counting posts in `sent`.
async fn post_burst(w: &World, resident: u64, sent: &AtomicUsize) {
    for i in 0..BURST {
        let text = format!("{} from the burst", label(i));
        match side_of(i) {
            Side::Telegram => {
                w.telegram
                    .post_as_user(w.tg_chat, (4242, "Ada"), &text)
                    .unwrap();
            }
            Side::Discord => {
                w.discord.post_as_user(w.dc_channel, resident, &text);
            }
            Side::Matrix => {
                // The homeserver may be restarting: retry until it takes the message, under one
                // transaction id, so a send that Synapse took but could not answer before it
                // stopped is not posted a second time.
                let txn = format!("burst-{}-{i}", civicbridge_core::store::now_ms());
                wait_for(PATIENCE, "Synapse to take a staff message", || async {
                    Ok(w.staff.say_once(&w.staff_room, &text, &txn).await.ok())
                })
                .await
                .unwrap();
            }
        }
        sent.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
    }
}

/// Burst labels found in `texts`, in order of appearance.
fn labels(texts: impl IntoIterator<Item = String>) -> Vec<String> {
    texts
        .into_iter()
        .filter_map(|t| {
            let start = t.find("burst-")?;
            t[start..].split_whitespace().next().map(str::to_owned)
        })
        .collect()
}

/// What each room shows of the burst.
async fn seen(w: &World, mark: &Mark) -> BTreeMap<Side, Vec<String>> {
    let mut out = BTreeMap::new();
    let staff = w
        .staff
        .messages_since(&w.staff_room, mark)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.sender == w.bot.user_id)
        .map(|m| m.body);
    out.insert(Side::Matrix, labels(staff));
    out.insert(
        Side::Telegram,
        labels(w.telegram_bot_posts().into_iter().map(|m| m.text)),
    );
    let bot = w.discord.bot_id();
    out.insert(
        Side::Discord,
        labels(
            w.discord
                .messages_in(w.dc_channel)
                .into_iter()
                .filter(|m| !m.deleted && (m.webhook_id.is_some() || m.author_id == bot))
                .map(|m| m.content),
        ),
    );
    out
}

/// Every room shows every message from the other two, once, in sending order.
fn expected() -> BTreeMap<Side, Vec<String>> {
    let mut out = BTreeMap::new();
    for room in [Side::Matrix, Side::Telegram, Side::Discord] {
        out.insert(room, Vec::new());
    }
    for i in 0..BURST {
        for (room, list) in out.iter_mut() {
            if *room != side_of(i) {
                list.push(label(i));
            }
        }
    }
    out
}

/// Per room: for each source, the labels in the order they arrived (order is per source room).
fn per_source(all: &BTreeMap<Side, Vec<String>>) -> BTreeMap<(Side, String), Vec<String>> {
    let mut out: BTreeMap<(Side, String), Vec<String>> = BTreeMap::new();
    for (room, list) in all {
        for l in list {
            let source = l.split('-').nth(1).unwrap_or_default().to_owned();
            out.entry((*room, source)).or_default().push(l.clone());
        }
    }
    out
}

async fn assert_all_arrive_once_in_order(w: &World, mark: &Mark) {
    let want = expected();
    let total: usize = want.values().map(Vec::len).sum();
    let got = wait_for(
        PATIENCE,
        "every burst message in every other room",
        || async {
            let got = seen(w, mark).await;
            let n: usize = got.values().map(Vec::len).sum();
            Ok((n >= total).then_some(got))
        },
    )
    .await;
    let got = match got {
        Ok(g) => g,
        Err(e) => {
            let now = seen(w, mark).await;
            let counts: Vec<_> = now.iter().map(|(k, v)| (k, v.len())).collect();
            panic!("{e}: got {counts:?}");
        }
    };
    assert_eq!(per_source(&got), per_source(&want), "once each, in order");
    // Nothing arrives late as a duplicate once the outbox is empty.
    let store = w.store().await.unwrap();
    wait_for(PATIENCE, "an empty outbox", || async {
        Ok(store.outbox()?.is_empty().then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(per_source(&seen(w, mark).await), per_source(&want));
}

/// Posts the burst and, once `at` messages are out, runs `disrupt` while posting goes on.
async fn burst_with<F: std::future::Future<Output = ()>>(w: &World, at: usize, disrupt: F) {
    let resident = w.discord.create_user("bea", Some("Bea"));
    let sent = AtomicUsize::new(0);
    let disrupting = async {
        wait_for(PATIENCE, "part of the burst to be posted", || async {
            Ok((sent.load(Ordering::SeqCst) >= at).then_some(()))
        })
        .await
        .unwrap();
        disrupt.await;
    };
    tokio::join!(post_burst(w, resident, &sent), disrupting);
}

#[tokio::test]
async fn a_daemon_restart_in_a_burst_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    let mark = w.staff.mark().await.unwrap();
    burst_with(&w, BURST / 3, async { w.restart().await.unwrap() }).await;
    assert_all_arrive_once_in_order(&w, &mark).await;
    w.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_synapse_restart_in_a_burst_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), true).await;
    let mark = w.staff.mark().await.unwrap();
    burst_with(&w, BURST / 3, async {
        w.synapse().restart().await.unwrap()
    })
    .await;
    assert_all_arrive_once_in_order(&w, &mark).await;
    w.shutdown().await.unwrap();
}

#[tokio::test]
async fn rate_limits_server_errors_and_a_dropped_gateway_lose_and_duplicate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path(), false).await;
    let mark = w.staff.mark().await.unwrap();
    burst_with(&w, BURST / 4, async {
        w.telegram.fail_method(
            "sendMessage",
            3,
            TgFault::TooManyRequests { retry_after: 1 },
        );
        w.telegram
            .fail_method("sendMessage", 1, TgFault::ServerError);
        w.telegram
            .fail_method("sendMessage", 1, TgFault::DropConnection);
        w.discord.fail_next(
            FaultRoute::ExecuteWebhook,
            DcFault::RateLimited {
                retry_after: 0.5,
                global: false,
            },
        );
        w.discord
            .fail_next(FaultRoute::ExecuteWebhook, DcFault::ServerError);
        w.discord.drop_gateway();
    })
    .await;
    assert_all_arrive_once_in_order(&w, &mark).await;
    w.shutdown().await.unwrap();
}
