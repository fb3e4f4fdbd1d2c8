//! The three-platform mode (the default): the shipped `civicbridge` binary (a child process)
//! with its three connectors, a real Synapse and the local Telegram and Discord servers.
//!
//! Prints, for this machine:
//! - latency p50/p99 of a resident's message from the local Telegram server to a staff
//!   client's `/sync` on Synapse under `auto` rules, next to the latency of a direct Synapse
//!   send between two clients measured in the same run (interleaved, so both see the same
//!   noise); the difference is the bridge's cost;
//! - the daemon's peak RSS (`VmHWM` of the child process, so the local servers' and this
//!   process's memory is not counted) with three connectors and `BENCH_LINKS` (default 100)
//!   links, each joining a Matrix room, a Telegram group and a Discord channel, after a message
//!   has crossed every link.
//!
//! - how long after the samples the last copies reached Discord and Telegram (the staff's
//!   sync sees its copies first; the other platforms' lanes may still be sending);
//! - then, after `BENCH_IDLE_S` (default 60) seconds in which nobody writes, the daemon's CPU
//!   seconds per minute at idle and its RSS (`BENCH_LINKS=1000` for the scale figure).
//!
//! Env: `BENCH_SAMPLES`, default 100, `BENCH_LINKS`; `BENCH_WRAP`, a profiler to run the
//! daemon under; `BENCH_LOG`, a file for the daemon's log.

use super::child::{spawn_daemon, stop_gracefully};
use super::env;
use super::proc::{cpu, percentile, status_mb};
use civicbridge_core::moderation::rules::{DirectionRule, LinkPolicy, Policy, Rules};
use civicbridge_demo::matrix::{Mark, MatrixUser};
use civicbridge_demo::{World, WorldOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(300);

pub fn open_rules() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        links: LinkPolicy::Allow,
        ..Rules::default()
    }
}

/// The staff client's sync loop: every message it sees, with the moment it saw it.
fn staff_sync(
    staff: Arc<MatrixUser>,
    mut mark: Mark,
) -> mpsc::UnboundedReceiver<(String, Instant)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match staff.sync(&mark, 30_000).await {
                Ok((next, msgs)) => {
                    let now = Instant::now();
                    for (_, m) in msgs {
                        if tx.send((m.body, now)).is_err() {
                            return;
                        }
                    }
                    mark = next;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    rx
}

async fn seen(rx: &mut mpsc::UnboundedReceiver<(String, Instant)>, label: &str) -> Instant {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let (body, at) = rx.recv().await.unwrap();
            if body.contains(label) {
                return at;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{label} never reached the staff client"))
}

/// Extra links for the RSS measurement: a staff room, a Telegram group, a Discord channel each.
async fn add_links(world: &World, n: usize) -> Vec<(String, i64, u64)> {
    let mut rooms = Vec::new();
    let mut config = String::new();
    for i in 0..n {
        let room = world
            .staff
            .create_room(&format!("staff {i}"), &[&world.bot.user_id])
            .await
            .unwrap();
        let chat = world.telegram.create_group(&format!("residents {i}"));
        let channel = world
            .discord
            .create_channel(world.dc_guild, &format!("c{i}"));
        config.push_str(&format!(
            "\n[links.extra{i}]\nmoderation_room = \"matrix:{}\"\nrooms = [\n  {{ room = \"matrix:{room}\", side = \"staff\" }},\n  \
             {{ room = \"telegram:{chat}\", side = \"public\" }},\n  \
             {{ room = \"discord:{channel}\", side = \"public\" }},\n]\n{}",
            world.moderation_room,
            civicbridge_demo::rules_toml(&format!("extra{i}"), &open_rules()).unwrap()
        ));
        rooms.push((room, chat, channel));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&world.config_path)
        .unwrap();
    f.write_all(config.as_bytes()).unwrap();
    rooms
}

/// One link's warm-up text. Fixed width, so that no label is part of another ("warm-up 1" is
/// part of "warm-up 10"); a trailing space cannot do that job, because Telegram trims texts.
fn warm_up_label(i: usize) -> String {
    format!("warm-up {i:05}")
}

/// Waits until the outbox has delivered what the bench said: each extra link's warm-up copy in
/// its Discord channel, and the last sample Matrix staff sent (`last`) in the main link's
/// Telegram group and Discord channel (each room's copies go out in order, so the earlier
/// ones are there too). Polls the local servers' state; panics after [`PATIENCE`].
async fn wait_for_copies(world: &World, links: &[(String, i64, u64)], last: Option<&str>) {
    let discord_has = |channel: u64, label: &str| {
        world
            .discord
            .messages_in(channel)
            .iter()
            .any(|m| !m.deleted && m.content.contains(label))
    };
    let mut next = 0;
    let done = tokio::time::timeout(PATIENCE, async {
        loop {
            while next < links.len() && discord_has(links[next].2, &warm_up_label(next)) {
                next += 1;
            }
            let main_done = last.is_none_or(|l| {
                discord_has(world.dc_channel, l)
                    && world
                        .telegram
                        .bot_messages(world.tg_chat)
                        .iter()
                        .any(|m| m.text.contains(l))
            });
            if next == links.len() && main_done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the copies never all arrived: {} of {} links' warm-ups on Discord",
        next,
        links.len()
    );
}

pub async fn run() {
    let samples = env("BENCH_SAMPLES", 100);
    let extra = env("BENCH_LINKS", 100).saturating_sub(1);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = WorldOptions::test(dir.path());
    opts.rules = open_rules();
    let world = World::create(opts).await.unwrap();
    let links = add_links(&world, extra).await;
    let (mut child, log) = spawn_daemon(&world.config_path);
    let pid = child.id();

    // Ready when a message has crossed every link (this also fills every lane once).
    let staff = Arc::new(MatrixUser::new(
        world.homeserver_url(),
        world.staff.account.clone(),
    ));
    let mut rx = staff_sync(staff.clone(), staff.mark().await.unwrap());
    let started = Instant::now();
    world
        .telegram
        .post_as_user(world.tg_chat, (4242, "Ada"), "warm-up main")
        .unwrap();
    for (i, (_, chat, _)) in links.iter().enumerate() {
        world
            .telegram
            .post_as_user(*chat, (4242, "Ada"), &warm_up_label(i))
            .unwrap();
    }
    let mut left: std::collections::HashSet<String> = (0..links.len())
        .map(warm_up_label)
        .chain(["warm-up main".to_owned()])
        .collect();
    // The bot joins each staff room before its link can relay: a second or more per link.
    let patience = PATIENCE + Duration::from_secs(2 * links.len() as u64);
    // What the staff saw that was no label, so a failed warm-up says whether the copies came
    // and looked different (as when the labels once ended in a space) or never came.
    let mut unmatched: Vec<String> = Vec::new();
    let warm = tokio::time::timeout(patience, async {
        while !left.is_empty() {
            // A daemon that exits (a config it refuses) ends the wait at once.
            match tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
                Ok(got) => {
                    let (body, _) = got.unwrap();
                    let before = left.len();
                    left.retain(|l| !body.contains(l.as_str()));
                    if left.len() == before && unmatched.len() < 5 {
                        unmatched.push(body);
                    }
                }
                Err(_) => assert!(
                    child.try_wait().unwrap().is_none(),
                    "the daemon exited; its log:\n{}",
                    log.lock().unwrap()
                ),
            }
        }
    })
    .await;
    assert!(
        warm.is_ok(),
        "{} links never relayed; the staff saw {unmatched:?}; daemon log:\n{}",
        left.len(),
        log.lock().unwrap()
    );
    let ready_s = started.elapsed().as_secs_f64();
    // Discord must relay too: one message on the main link's channel.
    let bea = world.discord.create_user("bea", Some("Bea"));
    world
        .discord
        .post_as_user(world.dc_channel, bea, "warm-up discord");
    seen(&mut rx, "warm-up discord").await;

    let mut bridge = Vec::new();
    let mut direct = Vec::new();
    for i in 0..samples {
        let label = format!("lat-bridge-{i:04}");
        let t0 = Instant::now();
        world
            .telegram
            .post_as_user(world.tg_chat, (4242, "Ada"), &label)
            .unwrap();
        bridge.push(seen(&mut rx, &label).await.duration_since(t0).as_secs_f64() * 1000.0);

        let label = format!("lat-direct-{i:04}");
        let t0 = Instant::now();
        world
            .moderator
            .say(&world.staff_room, &label)
            .await
            .unwrap();
        direct.push(seen(&mut rx, &label).await.duration_since(t0).as_secs_f64() * 1000.0);
    }
    // The staff saw everything, but the copies for Discord and Telegram may still be on their
    // way (at 1,000 links the outbox is still sending warm-up copies for half a minute); idle
    // starts once they have all arrived, or it would measure that work.
    let caught_up = Instant::now();
    let last = format!("lat-direct-{:04}", samples.saturating_sub(1));
    wait_for_copies(&world, &links, (samples > 0).then_some(last.as_str())).await;
    let catch_up_s = caught_up.elapsed().as_secs_f64();
    // Idle: nothing is said anywhere; what the daemon spends keeping its connectors alive.
    let idle = Duration::from_secs(env("BENCH_IDLE_S", 60) as u64);
    let cpu0 = cpu(pid);
    tokio::time::sleep(idle).await;
    let idle_cpu_per_min = (cpu(pid) - cpu0).as_secs_f64() * 60.0 / idle.as_secs_f64().max(1.0);
    let rss = status_mb(pid, "VmHWM");
    let (anon, file) = (status_mb(pid, "RssAnon"), status_mb(pid, "RssFile"));

    stop_gracefully(&mut child).await;

    bridge.sort_by(f64::total_cmp);
    direct.sort_by(f64::total_cmp);
    let (b50, b99) = (percentile(&bridge, 0.5), percentile(&bridge, 0.99));
    let (d50, d99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    println!(
        "relay benchmark ({samples} samples each, interleaved; {} links; {} cores)",
        links.len() + 1,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  daemon ready (every link relayed once) in {ready_s:.1} s");
    println!("  Telegram → bridge → Synapse → staff sync: p50 {b50:7.1} ms   p99 {b99:7.1} ms");
    println!("  Synapse client → Synapse → staff sync:    p50 {d50:7.1} ms   p99 {d99:7.1} ms");
    println!(
        "  bridge cost: p50 +{:.1} ms (×{:.2})   p99 +{:.1} ms (×{:.2})   [aim: < 25 ms at p99]",
        b50 - d50,
        b50 / d50,
        b99 - d99,
        b99 / d99
    );
    println!("  daemon peak RSS (VmHWM of the child): {rss:.1} MB   [aim: < 60 MB]");
    println!("  daemon RSS at the end: anonymous {anon:.1} MB, file-backed (code) {file:.1} MB");
    println!("  every copy on Discord and Telegram {catch_up_s:.1} s after the samples");
    println!(
        "  then idle for {} s: {idle_cpu_per_min:.2} CPU seconds per minute",
        idle.as_secs()
    );
    if let Ok(path) = std::env::var("BENCH_LOG") {
        std::fs::write(&path, log.lock().unwrap().as_bytes()).unwrap();
        println!("  daemon log written to {path}");
    }
    world.shutdown().await.unwrap();
}
