//! The shipped binary, `civicbridge run`, with all three real connectors: a real Synapse (the
//! project's launcher), the local Telegram Bot API server and the local Discord server. A
//! resident's message crosses to the staff room and to Discord; SIGTERM stops the bridge cleanly.
#![allow(clippy::unwrap_used)]

use crate::bridge_process;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn civicbridge_run_relays_between_real_connectors_and_stops_cleanly_on_sigterm() {
    let w = bridge_process::world_for_run(bridge_process::residents_cross(), "").await;
    let (staff, staff_room, tg, chat, dc, channel) = (
        &w.staff,
        &w.staff_room,
        &w.telegram,
        w.tg_chat,
        &w.discord,
        w.dc_channel,
    );
    let config_path = w.config_path.clone();

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
        bodies = staff.bodies(staff_room).await.unwrap();
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

    let store = Store::open(&w.store_path()).unwrap();
    assert!(
        store.outbox().unwrap().is_empty(),
        "everything was delivered"
    );
    assert!(audit::verify(store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
}

// ---- the daemon watches its connectors; no secret in logs -----------------------------------

use bridge_process::Bridge;

/// The bridge's Matrix access token, from the session it saved at login.
fn matrix_access_token(dir: &std::path::Path) -> String {
    let raw = std::fs::read_to_string(dir.join("session.json")).unwrap();
    fn find(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| match v {
                serde_json::Value::String(s) if k == "access_token" => Some(s.clone()),
                other => find(other),
            }),
            serde_json::Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    find(&serde_json::from_str(&raw).unwrap()).expect("an access token in session.json")
}

#[tokio::test]
async fn a_revoked_telegram_token_ends_run_with_exit_code_1_and_one_line_naming_telegram() {
    let p = bridge_process::world_for_run(bridge_process::residents_cross(), "").await;
    let mut bridge = Bridge::start(&p.config_path).await;
    p.telegram.revoke_token();
    let code = bridge.exit_code(Duration::from_secs(60)).await;
    let log = bridge.log();
    assert_eq!(code, Some(1), "exit 1; log:\n{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("civicbridge: ")
            && last.contains("Telegram")
            && last.contains("authentication"),
        "one line naming Telegram: {last:?}"
    );
}

#[tokio::test]
async fn a_telegram_outage_is_ridden_out_and_the_moderators_are_told_once() {
    use civicbridge_testkit::telegram::Fault;
    let p = bridge_process::world_for_run(
        bridge_process::residents_cross(),
        "[connectors]\noutage_notice_after_secs = 2",
    )
    .await;
    let bridge = Bridge::start(&p.config_path).await;
    // getUpdates breaks for a while (0.5 + 1 + 2 + 4 + 8 s of the connector's backoff).
    p.telegram
        .fail_method("getUpdates", 5, Fault::DropConnection);
    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "posted during the outage")
        .unwrap();
    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bodies
        .iter()
        .any(|b: &String| b.contains("posted during the outage"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never crossed; log:\n{}",
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        bodies = p.staff.bodies(&p.staff_room).await.unwrap();
    }
    // The "back" notice follows the first good poll; then count.
    let mut notices = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !notices
        .iter()
        .any(|b: &String| b.contains("reachable again"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no back notice: {notices:?}; log:\n{}",
            bridge.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        notices = p.moderator.bodies(&p.moderation_room).await.unwrap();
    }
    let down: Vec<_> = notices
        .iter()
        .filter(|b| b.contains("cannot be reached"))
        .collect();
    let back: Vec<_> = notices
        .iter()
        .filter(|b| b.contains("reachable again"))
        .collect();
    assert_eq!(down.len(), 1, "one outage notice: {notices:?}");
    assert_eq!(back.len(), 1, "one back notice: {notices:?}");
    assert!(down[0].contains("Telegram"), "{down:?}");
    bridge.stop().await;
}

#[tokio::test]
async fn at_rust_log_trace_no_token_or_password_appears_in_the_output() {
    let p = bridge_process::world_for_run(bridge_process::staff_answers_cross(), "").await;
    let bridge = Bridge::start_logging(&p.config_path, "trace").await;
    // A real exchange on all three platforms, every direction.
    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "from telegram")
        .unwrap();
    p.staff.say(&p.staff_room, "from matrix").await.unwrap();
    // Discord's gateway is up once the first copy arrived there.
    wait_until(WAIT, "the first Discord copy", || {
        p.discord
            .webhook_messages(p.dc_channel)
            .iter()
            .chain(p.discord.bot_messages(p.dc_channel).iter())
            .any(|m| m.content.contains("from telegram"))
    })
    .await;
    let resident = p.discord.create_user("bea", Some("Bea"));
    p.discord
        .post_as_user(p.dc_channel, resident, "from discord");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let staff = p.staff.bodies(&p.staff_room).await.unwrap();
        let tg = p.telegram.bot_messages(p.tg_chat);
        let dc: Vec<String> = p
            .discord
            .webhook_messages(p.dc_channel)
            .into_iter()
            .chain(p.discord.bot_messages(p.dc_channel))
            .map(|m| m.content)
            .collect();
        let done = staff.iter().any(|b| b.contains("from telegram"))
            && staff.iter().any(|b| b.contains("from discord"))
            && tg.iter().any(|m| m.text.contains("from matrix"))
            && tg.iter().any(|m| m.text.contains("from discord"))
            && dc.iter().any(|m| m.contains("from matrix"))
            && dc.iter().any(|m| m.contains("from telegram"));
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the exchange did not complete: staff {staff:?} telegram {:?} discord {dc:?}",
            tg.iter().map(|m| &m.text).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let access_token = matrix_access_token(&p.matrix_dir());
    let log = bridge.stop_with_log().await;
    assert!(
        log.contains("TRACE") && log.len() > 100_000,
        "a trace log was written ({} bytes)",
        log.len()
    );
    let tg_token = p.telegram.token().to_owned();
    let tg_secret = tg_token.split_once(':').unwrap().1.to_owned();
    let secrets = [
        ("the Discord token", p.discord.token()),
        ("the Telegram token", tg_token),
        ("the Telegram token's secret half", tg_secret),
        ("the Matrix password", p.bot.password.clone()),
        ("the Matrix access token", access_token),
    ];
    for (what, secret) in secrets {
        for (form, needle) in [
            ("as text", secret.clone()),
            ("as hex", hex_lower(&secret)),
            ("as a byte list", byte_list(&secret)),
        ] {
            assert!(
                !log.contains(&needle),
                "{what} appears {form} in the trace log at byte {:?}",
                log.find(&needle)
            );
        }
    }
}

fn hex_lower(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn byte_list(s: &str) -> String {
    s.bytes()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn sighup_keeps_the_bridge_running_on_a_broken_config_and_applies_a_good_one() {
    use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
    let w = bridge_process::world_for_run(bridge_process::residents_cross(), "").await;
    let bridge = Bridge::start(&w.config_path).await;
    let ada = (42, "Ada");

    // A careless edit: a side that does not exist. The bridge says so and runs on.
    let good = std::fs::read_to_string(&w.config_path).unwrap();
    let broken = good.replacen("side = \"public\"", "side = \"sideways\"", 1);
    assert_ne!(broken, good);
    std::fs::write(&w.config_path, broken).unwrap();
    bridge.hangup();
    wait_until(WAIT, "the refusal in the log", || {
        bridge.log().contains("config reload refused")
    })
    .await;
    let log = bridge.log();
    let refusal = log
        .lines()
        .find(|l| l.contains("config reload refused"))
        .unwrap();
    assert!(
        refusal.contains("sideways") && refusal.contains("links.riverside.rooms"),
        "names what is wrong: {refusal}"
    );
    w.telegram
        .post_as_user(w.tg_chat, ada, "still bridged after the bad reload?")
        .unwrap();
    w.staff
        .wait_for_message(
            &w.staff_room,
            WAIT,
            "the message after a refused reload",
            |m| m.body.contains("still bridged after the bad reload?"),
        )
        .await
        .unwrap();

    // A good edit: residents' messages now wait for a moderator.
    w.write_config(&Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..bridge_process::residents_cross()
    })
    .unwrap();
    bridge.hangup();
    wait_until(WAIT, "the reload in the log", || {
        bridge.log().contains("config reloaded")
    })
    .await;
    w.telegram
        .post_as_user(w.tg_chat, ada, "held by the new rules?")
        .unwrap();
    w.moderator
        .wait_for_message(&w.moderation_room, WAIT, "the card", |m| {
            m.body.starts_with("Held #1") && m.body.contains("held by the new rules?")
        })
        .await
        .unwrap();
    let staff = w.staff.bodies(&w.staff_room).await.unwrap();
    assert!(
        !staff.iter().any(|b| b.contains("held by the new rules?")),
        "it waits: {staff:?}"
    );
    let log = bridge.stop_with_log().await;
    assert!(!log.contains("panicked"), "{log}");
}

/// A reload that changes one platform's section restarts that connector alone and loses
/// nothing: a resident's message posted while it restarts crosses, and a staff answer after it
/// goes out through the new connector; no setting is left for a restart.
#[tokio::test]
async fn sighup_with_a_changed_platform_section_restarts_that_connector_alone() {
    let w = bridge_process::world_for_run(bridge_process::staff_answers_cross(), "").await;
    let bridge = Bridge::start(&w.config_path).await;
    let ada = (42, "Ada");
    w.telegram
        .post_as_user(w.tg_chat, ada, "before the reload")
        .unwrap();
    w.staff
        .wait_for_message(&w.staff_room, WAIT, "the first message", |m| {
            m.body.contains("before the reload")
        })
        .await
        .unwrap();

    let config = std::fs::read_to_string(&w.config_path).unwrap();
    let line = config
        .lines()
        .find(|l| l.starts_with("poll_timeout_secs"))
        .unwrap()
        .to_owned();
    let changed = config.replacen(&line, "poll_timeout_secs = 7", 1);
    assert_ne!(changed, config, "the section changes");
    std::fs::write(&w.config_path, changed).unwrap();
    bridge.hangup();
    w.telegram
        .post_as_user(w.tg_chat, ada, "during the restart")
        .unwrap();
    wait_until(WAIT, "the connector's restart in the log", || {
        bridge
            .log()
            .contains("connector restarted with its new settings")
    })
    .await;
    w.staff
        .wait_for_message(
            &w.staff_room,
            WAIT,
            "the message sent during the restart",
            |m| m.body.contains("during the restart"),
        )
        .await
        .unwrap();
    w.staff
        .say(&w.staff_room, "after the reload")
        .await
        .unwrap();
    wait_until(WAIT, "the staff answer in Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("after the reload"))
    })
    .await;
    let log = bridge.stop_with_log().await;
    assert!(
        !log.contains("take effect at the next restart"),
        "nothing waits for a restart: {log}"
    );
    let restarts = log
        .lines()
        .filter(|l| l.contains("connector restarted with its new settings"))
        .collect::<Vec<_>>();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
    assert!(restarts[0].contains("telegram"), "{restarts:?}");
    assert!(!log.contains("panicked"), "{log}");
}

/// What the bridge tells systemd, read from a notify socket of the test's own.
#[tokio::test]
async fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let w = bridge_process::world_for_run(bridge_process::residents_cross(), "").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let heard = heard.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                heard
                    .lock()
                    .unwrap()
                    .extend(text.lines().map(str::to_owned));
            }
        });
    }
    let lines = || heard.lock().unwrap().clone();
    let count = |what: &str| lines().iter().filter(|l| *l == what).count();
    let bridge = Bridge::start_with_env(
        &w.config_path,
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    )
    .await;
    wait_until(WAIT, "READY=1", || count("READY=1") == 1).await;
    // Pinged twice per 2 s period while the pipeline comes round.
    wait_until(WAIT, "three watchdog pings", || count("WATCHDOG=1") >= 3).await;

    bridge.hangup();
    wait_until(WAIT, "READY=1 after the reload", || count("READY=1") == 2).await;
    let said = lines();
    let reloading = said.iter().position(|l| l == "RELOADING=1").unwrap();
    assert!(
        said[reloading + 1].starts_with("MONOTONIC_USEC="),
        "RELOADING=1 comes with the time it began: {said:?}"
    );
    let second_ready = said.iter().rposition(|l| l == "READY=1").unwrap();
    assert!(reloading < second_ready, "{said:?}");

    bridge.stop().await;
    wait_until(WAIT, "STOPPING=1", || count("STOPPING=1") == 1).await;
}
