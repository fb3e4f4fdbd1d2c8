//! The Matrix → Matrix mode: a Matrix-only daemon with one link from a staff room to a second
//! Matrix room under `auto` rules, then the floor relay ([`super::floor`]) on the same rooms,
//! each measured the same way in the same run:
//!
//! - latency: `BENCH_SAMPLES` (200) messages sent one at a time in the source room, each
//!   interleaved with a direct send in a third room, both read by one client's `/sync`; the
//!   difference is the relay's cost;
//! - a burst of `BENCH_BURST` (1,000) messages, `BENCH_RUNS` (3) times: the relay's CPU time
//!   (utime + stime from `/proc`) while it relays them, per 1,000 messages (median of the
//!   runs); every message must arrive, or the bench fails;
//! - the relay's peak RSS (`VmHWM`) and final RSS after the bursts, and the bytes of log it
//!   wrote per 1,000 messages at its default filter.
//!
//! Env: `BENCH_LOG`, a file for the daemon's log; `BENCH_WRAP`, a profiler to run it under.

use super::child::{spawn_daemon, stop_gracefully};
use super::proc::{cpu, median, percentile, status_mb};
use super::receiver::{self, Seen};
use super::three::open_rules;
use super::{env, floor};
use civicbridge_demo::matrix::MatrixUser;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(300);

/// The rooms and people of the run.
struct Rooms {
    hs: String,
    staff: MatrixUser,
    reader: MatrixUser,
    /// Where staff write (the link's staff room).
    source: String,
    /// Where the relay writes (the link's other room).
    target: String,
    /// Where the reader also gets direct messages from staff, for the latency floor.
    direct: String,
    moderation: String,
}

/// What one relay did.
#[derive(Default)]
struct Figures {
    relay_p50: f64,
    relay_p99: f64,
    direct_p50: f64,
    direct_p99: f64,
    cpu_per_1000: f64,
    peak_mb: f64,
    final_mb: f64,
    anon_mb: f64,
    log_per_1000: f64,
}

pub async fn run() {
    let samples = env("BENCH_SAMPLES", 200);
    let burst = env("BENCH_BURST", 1000).max(1);
    let runs = env("BENCH_RUNS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let hs = civicbridge_testkit::synapse::shared().await.unwrap();
    let bot = MatrixUser::register(hs, "civicbridge").await.unwrap();
    let floor_user = MatrixUser::register(hs, "floor").await.unwrap();
    let staff = MatrixUser::register(hs, "staff").await.unwrap();
    let reader = MatrixUser::register(hs, "reader").await.unwrap();
    let (b, f, r) = (bot.user_id(), floor_user.user_id(), reader.user_id());
    let source = staff.create_room("source", &[b, f, r]).await.unwrap();
    let target = reader.create_room("target", &[b, f]).await.unwrap();
    let direct = staff.create_room("direct", &[r]).await.unwrap();
    let moderation = reader.create_room("moderation", &[b]).await.unwrap();
    for room in [&source, &direct] {
        reader.join(room).await.unwrap();
    }
    floor_user.join(&source).await.unwrap();
    floor_user.join(&target).await.unwrap();
    let rooms = Rooms {
        hs: hs.url().to_owned(),
        staff,
        reader,
        source,
        target,
        direct,
        moderation,
    };

    let config = dir.path().join("civicbridge.toml");
    std::fs::write(&config, config_text(&rooms, &bot)).unwrap();
    let (mut child, log) = spawn_daemon(&config);
    let ours = measure(&rooms, &mut child, Some(&log), "cb", samples, burst, runs).await;
    stop_gracefully(&mut child).await;
    if let Ok(path) = std::env::var("BENCH_LOG") {
        std::fs::write(&path, log.lock().unwrap().as_bytes()).unwrap();
        println!("daemon log written to {path}");
    }

    let mut floor_child = spawn_floor(&rooms, &floor_user);
    let bare = measure(&rooms, &mut floor_child, None, "fl", samples, burst, runs).await;
    let _ = floor_child.kill();
    let _ = floor_child.wait();

    report(&ours, &bare, samples, burst, runs);
}

/// A Matrix-only daemon with one link, at the default log filter.
fn config_text(rooms: &Rooms, bot: &MatrixUser) -> String {
    format!(
        "[store]\npath = \"store\"\n\n[matrix]\nhomeserver_url = \"{hs}\"\nuser_id = \"{user}\"\n\
         password = \"{pw}\"\ndata_dir = \"matrix\"\nsync_timeout_s = 30\n\n[links.m2m]\n\
         moderation_room = \"matrix:{moderation}\"\nmoderators = [\"matrix:{reader}\"]\nrooms = [\n  \
         {{ room = \"matrix:{source}\", side = \"staff\" }},\n  \
         {{ room = \"matrix:{target}\", side = \"public\" }},\n]\n\n{rules}",
        hs = rooms.hs,
        user = bot.user_id(),
        pw = bot.account.password,
        moderation = rooms.moderation,
        reader = rooms.reader.user_id(),
        source = rooms.source,
        target = rooms.target,
        rules = civicbridge_demo::rules_toml("m2m", &open_rules()).unwrap(),
    )
}

/// This bench binary again, as the floor relay; returns once it has synced.
fn spawn_floor(rooms: &Rooms, floor_user: &MatrixUser) -> Child {
    let spec = format!(
        "{} {} {} {}",
        rooms.hs, floor_user.account.access_token, rooms.source, rooms.target
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(floor::ENV, spec)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    super::child::track(child.id());
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the floor relay did not start");
    child
}

/// Latency samples, then the bursts, against the relay running as `child`.
async fn measure(
    rooms: &Rooms,
    child: &mut Child,
    log: Option<&Arc<Mutex<String>>>,
    tag: &str,
    samples: usize,
    burst: usize,
    runs: usize,
) -> Figures {
    let pid = child.id();
    let token = rooms.reader.account.access_token.clone();
    let mut rx = receiver::start(&rooms.hs, &token, &[&rooms.target, &rooms.direct]).await;
    // Ready when a message crosses (the daemon has logged in, joined and synced).
    let warm = format!("{tag}-warm-up");
    rooms.staff.say(&rooms.source, &warm).await.unwrap();
    receiver::seen(&mut rx, &warm, PATIENCE).await;

    let (mut relayed, mut direct) = (Vec::new(), Vec::new());
    for i in 0..samples {
        relayed.push(
            sample(
                rooms,
                &mut rx,
                &rooms.source,
                &format!("{tag}-lat-r-{i:04}"),
            )
            .await,
        );
        direct.push(
            sample(
                rooms,
                &mut rx,
                &rooms.direct,
                &format!("{tag}-lat-d-{i:04}"),
            )
            .await,
        );
        assert!(child.try_wait().unwrap().is_none(), "the relay exited");
    }
    relayed.sort_by(f64::total_cmp);
    direct.sort_by(f64::total_cmp);

    let log_len = || log.map_or(0, |l| l.lock().unwrap().len());
    let mut cpu_runs = Vec::new();
    let mut log_runs = Vec::new();
    for run in 0..runs {
        let labels: Vec<String> = (0..burst).map(|i| format!("{tag}-b{run}-{i:05}")).collect();
        let (cpu0, log0) = (cpu(pid), log_len());
        for l in &labels {
            rooms.staff.say(&rooms.source, l).await.unwrap();
        }
        receiver::all(&mut rx, &labels, PATIENCE).await;
        let spent = (cpu(pid) - cpu0).as_secs_f64();
        cpu_runs.push(spent * 1000.0 / burst as f64);
        log_runs.push((log_len() - log0) as f64 * 1000.0 / burst as f64);
    }
    Figures {
        relay_p50: percentile(&relayed, 0.5),
        relay_p99: percentile(&relayed, 0.99),
        direct_p50: percentile(&direct, 0.5),
        direct_p99: percentile(&direct, 0.99),
        cpu_per_1000: median(cpu_runs),
        peak_mb: status_mb(pid, "VmHWM"),
        final_mb: status_mb(pid, "VmRSS"),
        anon_mb: status_mb(pid, "RssAnon"),
        log_per_1000: median(log_runs),
    }
}

/// Sends `label` in `room` and waits for it where the reader sees it: milliseconds taken.
async fn sample(rooms: &Rooms, rx: &mut Seen, room: &str, label: &str) -> f64 {
    let t0 = Instant::now();
    rooms.staff.say(room, label).await.unwrap();
    receiver::seen(rx, label, PATIENCE)
        .await
        .duration_since(t0)
        .as_secs_f64()
        * 1000.0
}

fn report(ours: &Figures, bare: &Figures, samples: usize, burst: usize, runs: usize) {
    println!(
        "Matrix → Matrix relay ({samples} latency samples each, interleaved with direct sends; \
         bursts of {burst} × {runs}; {} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<36} {:>12} {:>12} {:>8}",
        "", "civicbridge", "floor", "ratio"
    );
    let row = |name: &str, a: f64, b: f64| {
        println!("{name:<36} {a:>12.2} {b:>12.2} {:>8.2}", a / b);
    };
    row(
        "added latency p50 (ms)",
        ours.relay_p50 - ours.direct_p50,
        bare.relay_p50 - bare.direct_p50,
    );
    row(
        "added latency p99 (ms)",
        ours.relay_p99 - ours.direct_p99,
        bare.relay_p99 - bare.direct_p99,
    );
    row(
        "CPU seconds / 1000 messages",
        ours.cpu_per_1000,
        bare.cpu_per_1000,
    );
    row("peak RSS (MB)", ours.peak_mb, bare.peak_mb);
    row("final RSS (MB)", ours.final_mb, bare.final_mb);
    row("final anonymous RSS (MB)", ours.anon_mb, bare.anon_mb);
    println!(
        "{:<36} {:>12.0} {:>12.0}",
        "log bytes / 1000 messages", ours.log_per_1000, bare.log_per_1000
    );
    println!("[aims: civicbridge ≤ 2.5 CPU s / 1000 messages, peak RSS ≤ 30 MB]");
}
