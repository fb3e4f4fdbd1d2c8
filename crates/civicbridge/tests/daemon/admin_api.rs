//! The admin API over HTTP on fake platforms: tokens, roles, the same commands and audit
//! entries as the moderation room, and what a hostile caller tries.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::admin::tokens::{RawToken, RawTokens};
use civicbridge_core::ops::admin::AdminSettings;
use civicbridge_core::ops::daemon::{Daemon, Options};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;
use serde_json::{json, Value};

const OPS: &str = "ops-0123456789abcdef0123456789";
const DESK: &str = "desk-0123456789abcdef012345678";

async fn start_api(store: Store, rules: Rules, fakes: &Fakes) -> (Daemon, String) {
    let tokens = RawTokens::List(vec![
        RawToken {
            name: "ops".into(),
            role: "admin".into(),
            token: OPS.into(),
        },
        RawToken {
            name: "desk".into(),
            role: "moderator".into(),
            token: DESK.into(),
        },
    ])
    .validate()
    .unwrap();
    let options = Options {
        admin: Some(AdminSettings {
            listen: "127.0.0.1:0".parse().unwrap(),
            tokens,
            console: None,
        }),
        ..fast_retries()
    };
    let daemon = Daemon::start(store, &link(rules), fakes.all(), options)
        .await
        .unwrap();
    let base = format!("http://{}/api/v1", daemon.admin_addr().unwrap());
    (daemon, base)
}

async fn command(base: &str, token: Option<&str>, link: &str, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/links/{link}/commands"))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

fn held() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

#[tokio::test]
async fn api_decides_with_a_moderator_token_and_changes_rules_only_with_an_admin_one() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), held(), &fakes).await;

    let r = reqwest::Client::new()
        .get(format!("{base}/links"))
        .header("authorization", format!("bearer {DESK}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the scheme in any case");
    let links: Value = r.json().await.unwrap();
    assert_eq!(links["links"][0]["id"], "planning", "{links}");

    acked(fakes.telegram.post(TG, RESIDENT, "t1", "Is the pool open?")).await;
    let (code, body) = command(&base, Some(DESK), "planning", json!({"command": "!queue"})).await;
    assert_eq!(code, 200, "{body}");
    assert!(body["reply"].as_str().unwrap().contains("#1"), "{body}");

    let (code, body) = command(
        &base,
        Some(DESK),
        "planning",
        json!({"command": "!approve #1"}),
    )
    .await;
    assert_eq!((code, &body["refused"]), (200, &json!(false)), "{body}");
    wait_until(WAIT, "the approved copies", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;

    let set = json!({"command": "!set planning links drop"});
    let (code, body) = command(&base, Some(DESK), "planning", set.clone()).await;
    assert_eq!((code, &body["refused"]), (403, &json!(true)), "{body}");
    let (code, body) = command(&base, Some(OPS), "planning", set).await;
    assert_eq!(code, 200, "{body}");

    let log = store.audit_log().unwrap();
    let by = |action: AuditAction, actor: &str| {
        log.iter()
            .filter(|e| e.action == action && e.actor == actor)
            .count()
    };
    assert_eq!(by(AuditAction::Approved, "token:desk"), 1);
    assert_eq!(by(AuditAction::Refused, "token:desk"), 1);
    assert_eq!(by(AuditAction::RulesChanged, "token:ops"), 1);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_refuses_callers_without_a_valid_token_audits_them_and_never_logs_the_token() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), held(), &fakes).await;
    let cmd = json!({"command": "!set planning links allow"});
    let wrong = "wrong-0123456789abcdef01234567";
    for token in [None, Some(wrong), Some(""), Some(&OPS[..OPS.len() - 1])] {
        let (code, body) = command(&base, token, "planning", cmd.clone()).await;
        assert_eq!(code, 401, "{token:?}: {body}");
    }
    let refused: Vec<_> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Refused && e.actor == "token:?")
        .collect();
    assert!(!refused.is_empty(), "refusals are audited");
    // Four refusals within a second or two: coalesced, none lost from the count.
    let counted: u64 = refused
        .iter()
        .map(|e| {
            1 + e.detail["refusals_not_written_before"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert!(counted <= 4 && refused.len() <= 4, "{refused:?}");
    let everything = serde_json::to_string(&store.audit_log().unwrap()).unwrap();
    assert!(
        !everything.contains(wrong),
        "a presented token is never written"
    );
    assert!(!store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::RulesChanged));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_answers_hostile_bodies_and_unknown_links_without_disturbing_the_bridge() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), open_rules(), &fakes).await;
    let client = reqwest::Client::new();
    let post = |path: String, body: Vec<u8>| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(OPS)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("/links/planning/commands", b"{".to_vec(), 400),
        ("/links/planning/commands", b"[]".to_vec(), 422),
        (
            "/links/planning/commands",
            br#"{"command": 3}"#.to_vec(),
            422,
        ),
        (
            "/links/planning/commands",
            br#"{"command": "!queue", "as": "root"}"#.to_vec(),
            422,
        ),
        (
            "/links/planning/commands",
            br#"{"command": "approve all"}"#.to_vec(),
            400,
        ),
        (
            "/links/planning/commands",
            br#"{"command": "!approve"}"#.to_vec(),
            400,
        ),
        (
            "/links/nowhere/commands",
            br#"{"command": "!queue"}"#.to_vec(),
            404,
        ),
        (
            "/links/..%2Fplanning/commands",
            br#"{"command": "!queue"}"#.to_vec(),
            404,
        ),
        (
            "/links/planning/commands",
            format!(r#"{{"command": "!edit #1 {}"}}"#, "x".repeat(200 * 1024)).into_bytes(),
            413,
        ),
    ];
    for (path, body, expected) in cases {
        let r = post(path.to_owned(), body).await.unwrap();
        assert_eq!(r.status().as_u16(), expected, "{path}");
    }
    let r = client
        .get(format!("{base}/links/planning/commands"))
        .bearer_auth(OPS)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);

    acked(fakes.telegram.post(TG, RESIDENT, "t1", "still relaying?")).await;
    wait_until(WAIT, "the bridge relays on", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_exports_and_verifies_the_audit_log_and_erases_and_prunes_for_admins_only() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), open_rules(), &fakes).await;
    let client = reqwest::Client::new();
    acked(fakes.telegram.post(TG, RESIDENT, "t1", "my flat is 4B")).await;
    wait_until(WAIT, "the copy", || fakes.matrix.texts_in(STAFF).len() == 1).await;

    // The audit log as JSON Lines, whole and from a date on; the chain verifies.
    let export = |query: &'static str| {
        client
            .get(format!("{base}/audit{query}"))
            .bearer_auth(DESK)
            .send()
    };
    let r = export("").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), store.audit_log().unwrap().len());
    let later = export("?since=2999-01-01")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(later.is_empty(), "{later}");
    for bad in ["?since=yesterday", "?until=2026-01-01"] {
        assert_eq!(export(bad).await.unwrap().status().as_u16(), 400, "{bad}");
    }
    let r = client
        .get(format!("{base}/audit/verify"))
        .bearer_auth(DESK)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["intact"], true, "{body}");

    // Erasure: admins only, refusals audited, bad users refused before anything happens.
    let erase = |token: &'static str, body: Value| {
        client
            .post(format!("{base}/erase"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let r = erase(DESK, json!({"user": "telegram:42"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused && e.actor == "token:desk"));
    for bad in [
        json!({"user": "42"}),
        json!({"user": "telegram:42 planning"}),
        json!({}),
    ] {
        let r = erase(OPS, bad.clone()).await.unwrap();
        assert!(matches!(r.status().as_u16(), 400 | 422), "{bad}");
    }
    let r = erase(OPS, json!({"user": "telegram:42"})).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let done: Value = r.json().await.unwrap();
    assert_eq!(done["messages"], 1, "{done}");
    wait_until(WAIT, "the copies deleted", || {
        fakes.matrix.visible_in(STAFF).is_empty() && fakes.discord.visible_in(DC).is_empty()
    })
    .await;
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Erased && e.actor == "token:ops"));

    let prune = |token: &'static str| {
        client
            .post(format!("{base}/prune"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(prune(DESK).await.unwrap().status().as_u16(), 403);
    let r = prune(OPS).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["links"],
        json!([]),
        "no link has a retention period: {body}"
    );
    daemon.shutdown().await.unwrap();
}

/// What a config reload does with changed tokens: the old one stops working at once.
#[tokio::test]
async fn api_tokens_can_be_rotated_while_running() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), open_rules(), &fakes).await;
    let queue = json!({"command": "!queue"});
    assert_eq!(
        command(&base, Some(OPS), "planning", queue.clone()).await.0,
        200
    );
    let fresh = "ops-rotated-0123456789abcdef012";
    let tokens = RawTokens::Text(format!("ops:admin:{fresh}"))
        .validate()
        .unwrap();
    assert!(daemon.set_admin_tokens(tokens));
    assert_eq!(
        command(&base, Some(OPS), "planning", queue.clone()).await.0,
        401
    );
    assert_eq!(
        command(&base, Some(DESK), "planning", queue.clone())
            .await
            .0,
        401
    );
    assert_eq!(command(&base, Some(fresh), "planning", queue).await.0, 200);
    daemon.shutdown().await.unwrap();
}

/// The ids of the links the API lists as in force.
async fn listed(base: &str) -> Vec<String> {
    let links: Value = reqwest::Client::new()
        .get(format!("{base}/links"))
        .bearer_auth(DESK)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    links["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn listed_until(base: &str, want: &[&str]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = listed(base).await;
        if now == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "links {now:?}, want {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn api_links_and_unlinks_with_an_admin_token_only_and_the_listing_follows() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let (daemon, base) = start_api(store.clone(), open_rules(), &fakes).await;
    let link = json!({"command": "!link library staff=matrix:!library public=telegram:-200"});
    let (code, body) = command(&base, Some(DESK), "planning", link.clone()).await;
    assert_eq!((code, &body["refused"]), (403, &json!(true)), "{body}");
    let (code, body) = command(&base, Some(OPS), "planning", link).await;
    assert_eq!(code, 200, "{body}");
    listed_until(&base, &["planning", "library"]).await;
    // A reply in the new link's Telegram group reaches its moderation room as a card.
    acked(fakes.telegram.post("-200", RESIDENT, "t1", "hello library")).await;
    wait_until(WAIT, "a card for the new link", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("hello library"))
    })
    .await;

    let unlink = json!({"command": "!unlink library"});
    let (code, _) = command(&base, Some(DESK), "planning", unlink.clone()).await;
    assert_eq!(code, 403);
    let (code, body) = command(&base, Some(OPS), "library", unlink).await;
    assert_eq!(code, 200, "{body}");
    listed_until(&base, &["planning"]).await;
    let log = store.audit_log().unwrap();
    let actors: Vec<(AuditAction, String)> = log
        .iter()
        .filter(|e| matches!(e.action, AuditAction::Linked | AuditAction::Unlinked))
        .map(|e| (e.action, e.actor.to_string()))
        .collect();
    assert_eq!(
        actors,
        vec![
            (AuditAction::Linked, "token:ops".to_owned()),
            (AuditAction::Unlinked, "token:ops".to_owned())
        ]
    );
    daemon.shutdown().await.unwrap();
}
