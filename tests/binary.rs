//! The shipped binary, `civicbridge run`, with all three real connectors: a real Synapse (the
//! project's launcher), the local Telegram Bot API server and the local Discord server. A
//! resident's message crosses to the staff room and to Discord; SIGTERM stops the bridge cleanly.
#![allow(clippy::unwrap_used)]

#[path = "common/bridge_process.rs"]
mod bridge_process;

use bridge_process::ThreePlatforms;
use civicbridge::audit;
use civicbridge::store::Store;
use civicbridge_api::testing::wait_until;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn civicbridge_run_relays_between_real_connectors_and_stops_cleanly_on_sigterm() {
    let ThreePlatforms {
        staff,
        staff_room,
        tg,
        chat,
        dc,
        channel,
        dir,
        config_path,
        ..
    } = ThreePlatforms::start("").await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(["run", "--config", config_path.to_str().unwrap()])
        .env("RUST_LOG", "civicbridge=info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    {
        let log = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let running = || log.lock().unwrap().contains("civicbridge running");
    wait_until(WAIT, "the bridge to start", running).await;

    tg.post_as_user(chat, (42, "Ada"), "Is the library open late on Thursday?")
        .unwrap();
    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bodies
        .iter()
        .any(|b: &String| b.contains("Is the library open late"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no staff copy; log:\n{}",
            log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        bodies = staff.bodies(&staff_room).await;
    }
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("Ada (Telegram): Is the library open late on Thursday?")),
        "{bodies:?}"
    );
    wait_until(WAIT, "the Discord copy", || {
        dc.webhook_messages(channel)
            .iter()
            .chain(dc.bot_messages(channel).iter())
            .any(|m| m.content.contains("library open late"))
    })
    .await;

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let mut status = None;
    wait_until(
        Duration::from_secs(30),
        "the bridge to exit after SIGTERM",
        || {
            status = child.try_wait().unwrap();
            status.is_some()
        },
    )
    .await;
    assert!(
        status.unwrap().success(),
        "clean exit; log:\n{}",
        log.lock().unwrap()
    );
    assert!(
        log.lock().unwrap().contains("civicbridge stopped"),
        "{}",
        log.lock().unwrap()
    );

    let store = Store::open(&dir.path().join("data")).unwrap();
    assert!(
        store.outbox().unwrap().is_empty(),
        "everything was delivered"
    );
    assert!(audit::verify(&store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
}
