//! The shipped `civicbridge demo`: it plays its story, keeps running with instructions, and
//! Ctrl-C (SIGINT) stops everything it started, Synapse included; a second run reuses the data
//! directory, and `demo --check` verifies the story and exits 0.
#![allow(clippy::unwrap_used)]

use civicbridge_api::testing::wait_until;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(240);

fn demo(dir: &Path, extra: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(["demo", "--data-dir", dir.to_str().unwrap()])
        .args(extra)
        // The default log: what a newcomer sees.
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let out = out.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut o = out.lock().unwrap();
                o.push_str(&line);
                o.push('\n');
            }
        });
    }
    (child, out)
}

/// Processes whose command line mentions `dir` (Synapse and its watchdog would).
fn processes_using(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        if let Ok(raw) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            if cmd.contains(&needle) && !cmd.contains("civicbridge demo") {
                found.push(format!("{name}: {cmd}"));
            }
        }
    }
    found
}

async fn exit_status(child: &mut Child, out: &Arc<Mutex<String>>) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(WAIT, "the demo to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    })
    .await;
    status.unwrap_or_else(|| panic!("{}", out.lock().unwrap()))
}

/// When every step succeeds, nothing in the output looks like a problem.
fn assert_quiet(text: &str) {
    let alarming: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        alarming.is_empty(),
        "warnings or errors in a good run: {alarming:#?}"
    );
}

#[tokio::test]
async fn demo_plays_its_story_stops_everything_on_ctrl_c_and_check_reuses_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out) = demo(dir.path(), &[]);
    wait_until(WAIT, "the demo to print how to take part", || {
        let o = out.lock().unwrap();
        o.contains("Press Ctrl-C") || o.contains("failed")
    })
    .await;
    let text = out.lock().unwrap().clone();
    assert!(text.contains("Press Ctrl-C"), "{text}");
    for expected in [
        "What each participant sees now",
        "── Telegram",
        "── Discord",
        "── Matrix · staff room",
        "curl -s -X POST",
        "@staff:localhost",
        "@moderator:localhost",
        "admin listener at http://127.0.0.1:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(
        !processes_using(dir.path()).is_empty(),
        "Synapse runs from the data dir while the demo runs"
    );
    // The admin URL it printed answers: ready, every connector up.
    let at = text.find("admin listener at ").expect("the admin URL") + "admin listener at ".len();
    let url = text[at..].split_whitespace().next().unwrap().to_owned();
    let mut ready = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while ready != Some(200) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{url}readyz: {ready:?}"
        );
        ready = match reqwest::get(format!("{url}readyz")).await {
            Ok(r) => Some(r.status().as_u16()),
            Err(_) => None,
        };
        if ready != Some(200) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = exit_status(&mut child, &out).await;
    let text = out.lock().unwrap().clone();
    assert!(status.success(), "{text}");
    assert_quiet(&text);
    let left = processes_using(dir.path());
    assert!(left.is_empty(), "left behind: {left:?}");

    // A second run, with --check: same data dir, no new accounts, every step verified.
    let (mut again, out2) = demo(dir.path(), &["--check"]);
    let status = exit_status(&mut again, &out2).await;
    let text = out2.lock().unwrap().clone();
    assert!(status.success(), "{text}");
    assert!(text.contains("from the last run's data"), "{text}");
    assert!(!text.contains("created the bot"), "{text}");
    assert!(text.contains("every step verified"), "{text}");
    assert_quiet(&text);
    assert!(processes_using(dir.path()).is_empty());
}
