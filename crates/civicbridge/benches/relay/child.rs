//! The daemon under test as a child process: started on a config, its log collected, stopped
//! with SIGTERM (it must exit on its own).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The processes this bench started, killed if it panics (see [`kill_on_panic`]), so a failed
/// run leaves no daemon behind to skew the next one.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Remembers `pid` for [`kill_on_panic`].
pub fn track(pid: u32) {
    CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
}

/// Installs a panic hook that SIGKILLs every tracked child (and, under `BENCH_WRAP`, their
/// children) before the usual report.
pub fn kill_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        for pid in CHILDREN.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let pid = pid.to_string();
            let _ = Command::new("pkill").args(["-KILL", "-P", &pid]).status();
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        report(info);
    }));
}

/// `BENCH_WRAP` (e.g. `heaptrack -o /tmp/relay`) runs the daemon under a profiler; the RSS
/// printed is then the wrapper's, not the daemon's. `BENCH_ENV` (`NAME=value …`) adds to the
/// daemon's environment, for experiments such as `TOKIO_WORKER_THREADS=1`. `BENCH_DAEMON` runs
/// another build of the daemon, such as `target/production/civicbridge`, instead of the bench's.
pub fn spawn_daemon(config: &std::path::Path) -> (Child, Arc<Mutex<String>>) {
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut argv: Vec<&str> = wrap.split_whitespace().collect();
    let daemon = std::env::var("BENCH_DAEMON")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_civicbridge").to_owned());
    argv.extend([daemon.as_str(), "run", "--config", config.to_str().unwrap()]);
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        // The config's filter (or the default) decides, as for a council's daemon.
        .env_remove("RUST_LOG")
        .envs(
            std::env::var("BENCH_ENV")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|kv| kv.split_once('=')),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    track(child.id());
    let log = Arc::new(Mutex::new(String::new()));
    let l = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut g = l.lock().unwrap();
            g.push_str(&line);
            g.push('\n');
        }
    });
    (child, log)
}

/// SIGTERM, then waits up to 30 s for the daemon to exit.
pub async fn stop_gracefully(child: &mut Child) {
    // Under a wrapper the daemon is the wrapper's child, and the wrapper ends after it.
    let wrapped = std::env::var_os("BENCH_WRAP").is_some();
    let _ = Command::new(if wrapped { "pkill" } else { "kill" })
        .args([
            "-TERM",
            if wrapped { "-P" } else { "--" },
            &child.id().to_string(),
        ])
        .status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the daemon did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
