//! The admin listener on fake platforms: `/readyz` follows the connectors, `/metrics` parses
//! and counts a scripted moderation sequence exactly, hostile requests leave the daemon
//! undisturbed, a taken port stops the start, and README's metrics list is the registry's.
#![allow(clippy::unwrap_used)]

mod prom;

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{ConnectorError, Health, Message};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::admin::AdminSettings;
use civicbridge_core::ops::daemon::{Daemon, DaemonError, Options};
use civicbridge_core::ops::metrics::Metrics;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::admin::{readyz, readyz_until};
use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn admin_on(listen: &str) -> Options {
    Options {
        admin: Some(AdminSettings {
            listen: listen.parse().unwrap(),
            tokens: Default::default(),
            console: None,
        }),
        ..fast_retries()
    }
}

/// A daemon on `fakes` with the admin listener on a port the system chose, and its base URL.
async fn start_with_admin(store: Store, rules: Rules, fakes: &Fakes) -> (Daemon, String) {
    let daemon = Daemon::start(store, &link(rules), fakes.all(), admin_on("127.0.0.1:0"))
        .await
        .unwrap();
    let base = format!("http://{}", daemon.admin_addr().unwrap());
    (daemon, base)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn scrape(base: &str) -> prom::Scrape {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    prom::parse(&r.text().await.unwrap()).unwrap()
}

fn connector<'a>(body: &'a serde_json::Value, platform: &str) -> &'a serde_json::Value {
    body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == platform)
        .unwrap()
}

#[tokio::test]
async fn admin_readyz_is_503_until_every_connector_connects_and_names_the_one_that_fails() {
    let fakes = Fakes::new();
    fakes
        .telegram
        .reach(Health::Down("getMe failed: connection refused".into()));
    let (daemon, base) = start_with_admin(Store::memory(), open_rules(), &fakes).await;

    assert_eq!(get(&format!("{base}/livez")).await.0, 200);
    let body = readyz_until(&base, WAIT, "telegram reported down", |code, b| {
        code == 503 && connector(b, "telegram")["state"] == "down"
    })
    .await;
    assert_eq!(body["ready"], false);
    assert_eq!(body["store_open"], true);
    assert_eq!(body["not_ready"], serde_json::json!(["telegram"]));
    let tg = connector(&body, "telegram");
    assert_eq!(tg["last_error"], "getMe failed: connection refused");
    let since = tg["since"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(since).is_ok(),
        "since is RFC 3339: {since}"
    );

    fakes.telegram.reach(Health::Up);
    let body = readyz_until(&base, WAIT, "ready", |code, _| code == 200).await;
    assert_eq!(body["ready"], true);
    for p in ["matrix", "telegram", "discord"] {
        assert_eq!(connector(&body, p)["state"], "up", "{p}");
    }

    // The gateway drops: not ready, and the body says which connector and why.
    fakes
        .discord
        .reach(Health::Down("the gateway connection stopped".into()));
    let body = readyz_until(&base, WAIT, "discord down", |code, _| code == 503).await;
    assert_eq!(body["not_ready"], serde_json::json!(["discord"]));
    let dc = connector(&body, "discord");
    assert_eq!(dc["state"], "down");
    assert_eq!(dc["last_error"], "the gateway connection stopped");
    let m = scrape(&base).await;
    assert_eq!(
        m.get("civicbridge_connector_up", &[("platform", "discord")]),
        Some(0.0)
    );
    assert_eq!(
        m.get("civicbridge_connector_up", &[("platform", "matrix")]),
        Some(1.0)
    );

    fakes.discord.reach(Health::Up);
    readyz_until(&base, WAIT, "ready again", |code, _| code == 200).await;

    // Refused credentials stop the connector for good: failed, and not ready.
    fakes
        .discord
        .end_run(Some(ConnectorError::Auth("401 Unauthorized".into())));
    let body = readyz_until(&base, WAIT, "discord failed", |code, b| {
        code == 503 && connector(b, "discord")["state"] == "failed"
    })
    .await;
    assert_eq!(body["not_ready"], serde_json::json!(["discord"]));
    assert!(connector(&body, "discord")["last_error"]
        .as_str()
        .unwrap()
        .contains("401 Unauthorized"));

    // Stopped gracefully: the port refuses connections afterwards.
    let addr = daemon.admin_addr().unwrap();
    daemon.shutdown().await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// Residents' messages wait for a moderator; everything else crosses.
fn resident_approval() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

#[tokio::test]
async fn admin_metrics_parse_and_count_three_held_two_approved_one_rejected() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_with_admin(store.clone(), resident_approval(), &fakes).await;
    let before = scrape(&base).await;
    assert_eq!(
        before.get(
            "civicbridge_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        before.get("civicbridge_queue_items", &[("link", "planning")]),
        Some(0.0)
    );

    // The first copy to Discord fails once (a retry), then everything goes through.
    fakes
        .discord
        .fail_next([ConnectorError::Transient("502 Bad Gateway".into())]);
    let now_ms = civicbridge_core::store::now_ms();
    for i in 1..=3 {
        let mut ev = fakes.telegram.message_event(
            TG,
            RESIDENT,
            Message::text(format!("r{i}"), format!("question {i}").as_str()),
        );
        ev.at_ms = now_ms;
        acked(fakes.telegram.inject(ev)).await;
    }
    wait_until(WAIT, "three held items", || {
        store.pending().unwrap().len() == 3
    })
    .await;
    let held = scrape(&base).await;
    assert_eq!(
        held.get("civicbridge_queue_items", &[("link", "planning")]),
        Some(3.0)
    );
    assert!(
        held.value(
            "civicbridge_queue_oldest_age_seconds",
            &[("link", "planning")]
        ) >= 0.0
    );

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!approve 2")).await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c3", "!reject 3 off topic"),
    )
    .await;
    wait_until(WAIT, "the approved copies and the Discord copies", || {
        fakes.matrix.texts_in(STAFF).len() == 2
            && fakes.discord.texts_in(DC).len() == 3
            && store.outbox().unwrap().is_empty()
    })
    .await;
    let after = scrape(&base).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let verdict = |direction: &str, verdict: &str, rule: &str| {
        moved(
            "civicbridge_verdicts_total",
            &[
                ("link", "planning"),
                ("direction", direction),
                ("verdict", verdict),
                ("rule", rule),
            ],
        )
    };
    assert_eq!(
        moved(
            "civicbridge_messages_received_total",
            &[("platform", "telegram"), ("link", "planning")]
        ),
        3.0,
        "moderators' commands are not bridged messages"
    );
    assert_eq!(verdict("public_to_staff", "hold", "policy"), 3.0);
    assert_eq!(verdict("public_to_public", "forward", "none"), 3.0);
    assert_eq!(verdict("public_to_staff", "approved", "moderator"), 2.0);
    assert_eq!(verdict("public_to_staff", "rejected", "moderator"), 1.0);
    assert_eq!(
        moved(
            "civicbridge_decision_latency_seconds_count",
            &[("link", "planning")]
        ),
        3.0
    );
    assert_eq!(
        after.get("civicbridge_queue_items", &[("link", "planning")]),
        Some(0.0)
    );
    assert_eq!(
        after.get(
            "civicbridge_queue_oldest_age_seconds",
            &[("link", "planning")]
        ),
        Some(0.0)
    );
    assert_eq!(
        moved(
            "civicbridge_outbox_retries_total",
            &[("platform", "discord"), ("reason", "transient")]
        ),
        1.0
    );
    for p in ["matrix", "telegram", "discord"] {
        assert_eq!(
            after.get("civicbridge_outbox_jobs", &[("platform", p)]),
            Some(0.0),
            "{p}"
        );
        assert_eq!(
            after.get("civicbridge_outbox_parked", &[("platform", p)]),
            Some(0.0),
            "{p}"
        );
    }
    // Relayed copies: three to Discord at once, two to Matrix once approved.
    let relayed = |target: &str| {
        moved(
            "civicbridge_relay_latency_seconds_count",
            &[("source", "telegram"), ("target", target)],
        )
    };
    assert_eq!(relayed("discord"), 3.0);
    assert_eq!(relayed("matrix"), 2.0);
    // Discord: one failed send and three copies, each timed.
    assert_eq!(
        moved(
            "civicbridge_send_duration_seconds_count",
            &[("platform", "discord")]
        ),
        4.0
    );
    assert_eq!(
        after.get("civicbridge_audit_entries_total", &[]),
        Some(store.audit_log().unwrap().len() as f64)
    );
    assert!(after.get("civicbridge_store_journal_bytes", &[]).is_some());

    // Every family the registry shows is in the catalogue (README's list), and by now every
    // one has shown up.
    let mut shown: Vec<String> = after.types.keys().cloned().collect();
    let mut listed = Metrics::names();
    shown.sort();
    listed.sort();
    assert_eq!(shown, listed);

    // Bounded labels only: no person, room or message anywhere in the output.
    assert_eq!(
        after.label_values("civicbridge_verdicts_total", "link"),
        ["planning"]
    );
    let text = get(&format!("{base}/metrics")).await.1;
    for needle in [
        RESIDENT.0, RESIDENT.1, TG, DC, STAFF, MODS, "question", "r1",
    ] {
        assert!(
            !text.contains(&format!("\"{needle}\"")) && !text.contains(&format!("{needle}\"}}")),
            "{needle} in the metrics"
        );
    }
    daemon.shutdown().await.unwrap();
}

/// Sends `request` on a fresh connection and returns what came back before the server closed
/// or went quiet (empty if it just closed).
async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading all of it: a failed write is an answer.
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn admin_hostile_requests_are_refused_and_the_daemon_goes_on() {
    let fakes = Fakes::new();
    let (daemon, base) = start_with_admin(Store::memory(), open_rules(), &fakes).await;
    let addr = daemon.admin_addr().unwrap();
    readyz_until(&base, WAIT, "ready", |code, _| code == 200).await;

    // The admin API wants a token (see admin_api.rs).
    assert_eq!(get(&format!("{base}/api/v1/links")).await.0, 401);
    for path in [
        "/",
        "/api/v1/nothing",
        "/metrics/extra",
        "/livez/",
        "/%00",
        "/READYZ",
    ] {
        assert_eq!(get(&format!("{base}{path}")).await.0, 404, "{path}");
    }
    let client = reqwest::Client::new();
    for path in ["/livez", "/readyz", "/metrics"] {
        let r = client
            .post(format!("{base}{path}"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "POST {path}");
        let r = client.delete(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "DELETE {path}");
    }

    // Garbage, a header of a megabyte, a body announced but never sent, a request left half
    // written: each is refused or left alone, and none holds up the others.
    let garbage = raw(
        addr,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
    )
    .await;
    assert!(
        garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
        "{garbage}"
    );
    let mut huge = b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Filler: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend(b"\r\n\r\n");
    let answer = raw(addr, &huge).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer:.80}"
    );
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut announced = tokio::net::TcpStream::connect(addr).await.unwrap();
    announced
        .write_all(b"POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000000\r\n\r\nabc")
        .await
        .unwrap();
    let long_path = format!(
        "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw(addr, long_path.as_bytes()).await;
    let refused = [
        "HTTP/1.1 404",
        "HTTP/1.1 414",
        "HTTP/1.1 431",
        "HTTP/1.1 400",
    ];
    assert!(
        answer.is_empty() || refused.iter().any(|r| answer.starts_with(r)),
        "{answer:.80}"
    );

    // Undisturbed: it answers, counts and relays as before.
    assert_eq!(
        get(&format!("{base}/livez")).await,
        (200, "ok\n".to_owned())
    );
    assert_eq!(readyz(&base).await.0, 200);
    acked(fakes.telegram.post(TG, RESIDENT, "m1", "still here")).await;
    wait_until(WAIT, "the copy", || fakes.matrix.texts_in(STAFF).len() == 1).await;
    let m = scrape(&base).await;
    assert_eq!(
        m.get(
            "civicbridge_messages_received_total",
            &[("platform", "telegram"), ("link", "planning")]
        ),
        Some(1.0)
    );

    // Open connections do not hold up the shutdown.
    tokio::time::timeout(Duration::from_secs(8), daemon.shutdown())
        .await
        .expect("shutdown in time")
        .unwrap();
    drop((half, announced));
}

#[tokio::test]
async fn admin_a_taken_port_stops_the_start_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let fakes = Fakes::new();
    let err = Daemon::start(
        Store::memory(),
        &link(open_rules()),
        fakes.all(),
        admin_on(&addr.to_string()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DaemonError::Admin(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("admin.listen: cannot listen on {addr}: ")),
        "{text}"
    );
    assert_eq!(fakes.matrix.runs(), 0, "no connector was started");
}

#[tokio::test]
async fn admin_a_replayed_message_is_received_once() {
    let fakes = Fakes::new();
    let (daemon, base) = start_with_admin(Store::memory(), open_rules(), &fakes).await;
    let ev = fakes
        .telegram
        .message_event(TG, RESIDENT, Message::text("m1", "once"));
    acked(fakes.telegram.inject(ev.clone())).await;
    acked(fakes.telegram.inject(ev)).await;
    wait_until(WAIT, "the copy", || fakes.matrix.texts_in(STAFF).len() == 1).await;
    let m = scrape(&base).await;
    let received = [("platform", "telegram"), ("link", "planning")];
    assert_eq!(
        m.get("civicbridge_messages_received_total", &received),
        Some(1.0)
    );
    let forwarded = [
        ("link", "planning"),
        ("direction", "public_to_staff"),
        ("verdict", "forward"),
        ("rule", "none"),
    ];
    assert_eq!(m.get("civicbridge_verdicts_total", &forwarded), Some(1.0));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn admin_is_off_unless_configured() {
    let fakes = Fakes::new();
    let daemon = start(Store::memory(), open_rules(), &fakes).await;
    assert_eq!(daemon.admin_addr(), None);
    daemon.shutdown().await.unwrap();
}

const BEGIN: &str = "<!-- metrics:begin (generated from the registry: CIVICBRIDGE_BLESS=1 cargo test -p civicbridge --test daemon readme_lists) -->\n";
const END: &str = "<!-- metrics:end -->";

/// README's list of metrics is the registry's: rewritten with `CIVICBRIDGE_BLESS=1`.
#[test]
fn admin_readme_lists_every_metric() {
    let list = Metrics::catalogue();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README has the metrics:begin marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README has the metrics:end marker");
    if readme[start..end] == list {
        return;
    }
    if std::env::var_os("CIVICBRIDGE_BLESS").is_some() {
        let fresh = format!("{}{list}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    let old: Vec<&str> = readme[start..end].lines().collect();
    let new: Vec<&str> = list.lines().collect();
    let mut diff = String::new();
    for l in old.iter().filter(|l| !new.contains(l)) {
        diff.push_str(&format!("- {l}\n"));
    }
    for l in new.iter().filter(|l| !old.contains(l)) {
        diff.push_str(&format!("+ {l}\n"));
    }
    panic!(
        "README's metrics list differs from the registry (rewrite it with CIVICBRIDGE_BLESS=1):\n{diff}"
    );
}

/// The Grafana dashboard queries only metrics the registry has, and shows every one of them.
#[test]
fn admin_grafana_dashboard_uses_the_registry_names() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contrib/grafana/civicbridge.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let names = Metrics::names();
    let mut used = std::collections::BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    for target in panels.iter().flat_map(|p| p["targets"].as_array().unwrap()) {
        let expr = target["expr"].as_str().unwrap();
        let mut rest = expr;
        while let Some(at) = rest.find("civicbridge_") {
            let word: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + word.len()..];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| word.strip_suffix(s))
                .filter(|base| names.iter().any(|n| n == base))
                .map_or(word.clone(), str::to_owned);
            assert!(names.contains(&family), "{family} in `{expr}` is no metric");
            used.insert(family);
        }
    }
    let unused: Vec<&String> = names.iter().filter(|n| !used.contains(*n)).collect();
    assert!(unused.is_empty(), "the dashboard does not show {unused:?}");
}
