//! The admin listener of the shipped binary, `civicbridge run`, with its three real connectors
//! (a real Synapse, the local Telegram and Discord servers): `/readyz` turns 200 once they have
//! connected, and 503 naming Telegram while its polling fails or Discord while its gateway is
//! down; `/metrics` parses and counts a
//! relayed message; a taken port ends the start with exit 1 and one line naming `admin.listen`.
#![allow(clippy::unwrap_used)]

use crate::bridge_process;

use crate::common::admin::readyz_until;
use bridge_process::Bridge;
use civicbridge_api::testing::wait_until;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The listener's base URL, from the line the daemon logs when it binds.
fn admin_base(log: &str) -> Option<String> {
    let at = log.find("admin listener on http://")? + "admin listener on ".len();
    let url = &log[at..];
    let end = url["http://".len()..].find('/')? + "http://".len();
    Some(url[..end].to_owned())
}

/// One sample of a scrape, by exact series (`name{labels}` as the text format writes it).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn civicbridge_run_serves_readyz_and_metrics_for_its_real_connectors() {
    let p = bridge_process::world_for_run(
        bridge_process::residents_cross(),
        "[admin]\nlisten = \"127.0.0.1:0\"",
    )
    .await;
    let bridge = Bridge::start(&p.config_path).await;
    let base = admin_base(&bridge.log()).expect("the admin URL is logged");

    let body = readyz_until(&base, WAIT, "every connector connected", |code, _| {
        code == 200
    })
    .await;
    assert_eq!(body["not_ready"], serde_json::json!([]));
    assert_eq!(body["connectors"].as_array().unwrap().len(), 3, "{body}");

    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "Is the library open late?")
        .unwrap();
    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bodies
        .iter()
        .any(|b: &String| b.contains("library open late"))
    {
        assert!(tokio::time::Instant::now() < deadline, "never crossed");
        tokio::time::sleep(Duration::from_millis(200)).await;
        bodies = p.staff.bodies(&p.staff_room).await.unwrap();
    }
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        sample(
            &text,
            "civicbridge_messages_received_total{platform=\"telegram\",link=\"riverside\"}"
        ),
        Some(1.0),
        "{text}"
    );
    for platform in ["matrix", "telegram", "discord"] {
        let series = format!("civicbridge_connector_up{{platform=\"{platform}\"}}");
        assert_eq!(sample(&text, &series), Some(1.0), "{series}");
    }
    assert!(
        sample(
            &text,
            "civicbridge_relay_latency_seconds_count{source=\"telegram\",target=\"matrix\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );

    // Telegram's polling breaks for a while (the connector backs off 0.5 + 1 + 2 + 4 + 8 s).
    p.telegram.fail_method(
        "getUpdates",
        5,
        civicbridge_testkit::telegram::Fault::DropConnection,
    );
    let body = readyz_until(&base, WAIT, "telegram down", |code, b| {
        code == 503 && b["not_ready"] == serde_json::json!(["telegram"])
    })
    .await;
    let tg = body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == "telegram")
        .unwrap();
    assert_eq!(tg["state"], "down");
    assert!(
        tg["last_error"].as_str().unwrap().contains("getUpdates"),
        "{tg}"
    );
    readyz_until(&base, WAIT, "telegram back", |code, _| code == 200).await;
    bridge.stop().await;
}

#[tokio::test]
async fn civicbridge_run_readyz_names_discord_while_its_gateway_is_down() {
    // Heartbeats every second, so serenity notices the dead connection at once (Discord's own
    // interval is about 41 s).
    let discord = civicbridge_testkit::discord::ServerOptions {
        heartbeat_ms: 1000,
        ..Default::default()
    };
    let p = crate::world::World::build(
        bridge_process::residents_cross(),
        "[admin]\nlisten = \"127.0.0.1:0\"",
        discord,
    )
    .await;
    let bridge = Bridge::start(&p.config_path).await;
    let base = admin_base(&bridge.log()).expect("the admin URL is logged");
    readyz_until(&base, WAIT, "every connector connected", |code, _| {
        code == 200
    })
    .await;

    p.discord.hold_gateway(true);
    p.discord.drop_gateway();
    let body = readyz_until(&base, WAIT, "discord down", |code, b| {
        code == 503 && b["not_ready"] == serde_json::json!(["discord"])
    })
    .await;
    let dc = body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == "discord")
        .unwrap();
    assert_eq!(dc["state"], "down");
    assert!(
        dc["last_error"]
            .as_str()
            .unwrap()
            .starts_with("the gateway connection dropped"),
        "{dc}"
    );
    p.discord.hold_gateway(false);
    readyz_until(&base, WAIT, "discord back", |code, _| code == 200).await;
    bridge.stop().await;
}

#[tokio::test]
async fn a_taken_admin_port_ends_run_with_exit_code_1_and_one_line_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let p = bridge_process::world_for_run(
        bridge_process::residents_cross(),
        &format!("[admin]\nlisten = \"{addr}\""),
    )
    .await;
    // Off the test's runtime, which serves the local platforms the binary talks to.
    let config = p.config_path.to_str().unwrap().to_owned();
    let out = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            bridge_process::civicbridge(&["run", "--config", &config])
        }),
    )
    .await
    .expect("run ends by itself")
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("civicbridge: ")
            && last.contains(&format!("admin.listen: cannot listen on {addr}")),
        "one line naming admin.listen: {last:?}"
    );
    drop(taken);
}

/// With the admin API on, the store commands work while the bridge runs: each goes through
/// the API as its moderation-room command, with the same effect in the rooms, audited as the
/// config's admin token. What needs the store itself still says to stop the bridge.
#[tokio::test]
async fn the_cli_works_while_the_bridge_runs_through_the_admin_api() {
    use civicbridge_core::moderation::audit::AuditAction;
    use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
    use civicbridge_core::store::prelude::*;
    use civicbridge_core::store::Store;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token = "ops-secret-0123456789abcdef0123";
    let p = bridge_process::world_for_run(
        Rules {
            public_to_staff: DirectionRule::new(Policy::Approve),
            public_to_public: DirectionRule::new(Policy::Approve),
            ..bridge_process::residents_cross()
        },
        &format!(
            "[admin]\nlisten = \"127.0.0.1:{port}\"\ntokens = [{{ name = \"ops\", role = \"admin\", token = \"{token}\" }}]"
        ),
    )
    .await;
    let cfg = p.config_path.to_str().unwrap().to_owned();
    let bridge = Bridge::start(&p.config_path).await;
    p.telegram
        .post_as_user(p.tg_chat, (42, "Ada"), "Can I park at the library?")
        .unwrap();
    p.moderator
        .wait_for_message(&p.moderation_room, WAIT, "the card", |m| {
            m.body.starts_with("Held #1")
        })
        .await
        .unwrap();

    let cli = |args: &[&str]| {
        let mut all = vec![args[0], "--config", &cfg];
        all.extend_from_slice(&args[1..]);
        bridge_process::civicbridge(&all)
    };
    let o = cli(&["queue", "list"]);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("#1"), "{text}");

    let o = cli(&["queue", "approve", "#1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    p.staff
        .wait_for_message(&p.staff_room, WAIT, "the approved question", |m| {
            m.body.contains("Can I park at the library?")
        })
        .await
        .unwrap();

    let o = cli(&["rules", "set", "riverside", "links", "drop"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Input the bridge would take as a second argument never leaves the command line.
    let o = cli(&["rules", "set", "riverside", "links otherlink", "drop"]);
    assert_eq!(o.status.code(), Some(2));
    let o = cli(&["queue", "approve", "#2 #3"]);
    assert_eq!(o.status.code(), Some(2));
    // A refusal by the bridge is the admin's input to change: exit 2 with its words.
    let o = cli(&["queue", "approve", "#9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("#9"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The audit log, erasure and pruning too.
    let o = cli(&["audit", "verify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("audit log intact"));
    let export = p.config_path.with_file_name("running-audit.jsonl");
    let o = cli(&["audit", "export", "--out", export.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.lines().count() >= 3, "{exported}");
    let o = cli(&["audit", "verify", "--file", export.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "the export verifies offline: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = cli(&["prune"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli(&["erase", "--user", "telegram:42"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("running now"));
    civicbridge_demo::wait::wait_for(WAIT, "the erased copy gone from the staff room", || async {
        let shown = p.staff.shown(&p.staff_room).await?;
        Ok((!shown.iter().any(|m| m.body.contains("Can I park"))).then_some(()))
    })
    .await
    .unwrap();

    // A token rotated by a reload: the CLI, reading the new config, is let in at once.
    let text = std::fs::read_to_string(&p.config_path).unwrap();
    let rotated = "ops-rotated-0123456789abcdef012";
    std::fs::write(&p.config_path, text.replace(token, rotated)).unwrap();
    bridge.hangup();
    wait_until(WAIT, "the reload", || {
        bridge.log().contains("config reloaded")
    })
    .await;
    let o = cli(&["queue", "list"]);
    assert!(
        o.status.success(),
        "the rotated token works: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let old = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/links"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 401, "the old token no longer works");

    bridge.stop().await;
    let store = Store::open(&p.store_path()).unwrap();
    let log = store.audit_log().unwrap();
    for action in [
        AuditAction::Approved,
        AuditAction::RulesChanged,
        AuditAction::Erased,
    ] {
        assert!(
            log.iter()
                .any(|e| e.action == action && e.actor == "token:ops"),
            "{action:?} by token:ops"
        );
    }
    let everything = serde_json::to_string(&log).unwrap();
    assert!(!everything.contains(token) && !everything.contains(rotated));
}
