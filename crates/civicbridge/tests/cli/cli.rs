//! The `civicbridge` command line, run as a user would: exit codes, messages, effects.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{LinkId, MirrorId, PendingId, Platform, RoomRef};
use civicbridge_core::moderation::audit::{AuditAction, AuditDraft};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{JobKind, PendingItem, PendingKind, Store};
use std::process::Command;

use crate::common;

use common::cli::*;

#[test]
fn check_accepts_the_example_config_and_prints_its_links() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config.example.toml");
    let o = civicbridge(&["check", "--config", example]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("link planning"), "{out}");
    assert!(out.contains("telegram:-1001234567890"), "{out}");
    assert!(out.contains("policy = \"approve\""), "{out}");
    assert!(!out.contains("change-me"), "secrets are not printed");
}

#[test]
fn bad_configs_exit_2_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            CONFIG.replace("telegram:-100", "irc:#town"),
            "links.planning.rooms[1].room: platform irc has no [irc] section",
        ),
        (
            CONFIG.replace(
                "token = \"123456:ABCdefghijklmnopqrstuvwxyz0123456789\"",
                "",
            ),
            "telegram: missing configuration field \"token\"",
        ),
        (
            format!("{CONFIG}\n[links.planning.rules]\nblocked_patterns = [\"([a-z\"]\n"),
            "links.planning.rules.blocked_patterns[0]",
        ),
        (
            format!("{CONFIG}\n[admin]\nlisten = \"localhost:nine\"\n"),
            "admin.listen: `localhost:nine` is not an address and port",
        ),
        (
            format!("{CONFIG}\n[admin]\nport = 9090\n"),
            "unknown field `port`, expected `listen` or `tokens` for key `admin`",
        ),
        (
            format!("{CONFIG}\n[admin]\nlisten = \"127.0.0.1:9\"\ntokens = [{{ name = \"ops\", role = \"admin\", token = \"hunter2\" }}]\n"),
            "admin.tokens[0].token: must be at least 24 characters",
        ),
        (
            format!("{CONFIG}\n[admin]\ntokens = \"ops:admin:0123456789abcdef0123456789\"\n"),
            "admin.tokens: are set but admin.listen is not",
        ),
    ];
    for (text, expected) in cases {
        let o = civicbridge(&[
            "check",
            "--config",
            config_in(dir.path(), &text).to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{expected}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    let o = civicbridge(&["check", "--config", "/nonexistent.toml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rules_set_changes_the_store_and_bad_values_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), CONFIG);
    let cfg = cfg.to_str().unwrap();
    let o = civicbridge(&[
        "rules",
        "--config",
        cfg,
        "set",
        "planning",
        "max_length",
        "500",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = civicbridge(&["rules", "--config", cfg, "show", "planning"]);
    assert!(stdout(&o).contains("max_length = 500"), "{}", stdout(&o));
    let o = civicbridge(&[
        "rules",
        "--config",
        cfg,
        "set",
        "planning",
        "links",
        "sometimes",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("links: invalid value"),
        "{}",
        stderr(&o)
    );
    let o = civicbridge(&["rules", "--config", cfg, "set", "nope", "links", "drop"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown link `nope`"), "{}", stderr(&o));
    let store = Store::open(&dir.path().join("data")).unwrap();
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::RulesChanged && e.actor == "cli"));
}

#[test]
fn queue_lists_and_decides_held_items_and_the_jobs_wait_for_the_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), CONFIG);
    let cfg = cfg.to_str().unwrap();
    assert!(
        civicbridge(&["rules", "--config", cfg, "show"])
            .status
            .success(),
        "seeds the store"
    );
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .transact(|tx| {
                let mut m = civicbridge_mirror(tx.new_mirror_id()?);
                m.link = LinkId::new("planning");
                tx.insert_mirror(&m)?;
                tx.put_pending(PendingItem {
                    id: PendingId(0),
                    link: LinkId::new("planning"),
                    mirror: m.id,
                    kind: PendingKind::Message,
                    targets: vec![RoomRef::new(Platform::new("matrix"), "!staff:localhost")],
                    reason: civicbridge_core::moderation::HoldReasons::one(
                        civicbridge_core::moderation::HoldReason::Policy {
                            from: civicbridge_core::moderation::rules::Side::Public,
                            to: civicbridge_core::moderation::rules::Side::Staff,
                        },
                    ),
                    held_at_ms: 0,
                    card: None,
                    card_job: None,
                    revision: 1,
                    revised_at_ms: None,
                    content: None,
                    superseded: Vec::new(),
                    claim: None,
                })
            })
            .unwrap();
    }
    let o = civicbridge(&["queue", "--config", cfg, "list"]);
    assert!(
        stdout(&o).contains("#1 [planning] Ada (Telegram): Where do I recycle batteries?"),
        "{}",
        stdout(&o)
    );
    let o = civicbridge(&["queue", "--config", cfg, "approve", "#1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = civicbridge(&["queue", "--config", cfg, "approve", "#1"]);
    assert_eq!(o.status.code(), Some(2), "already decided");
    assert!(stderr(&o).contains("no held item #1"), "{}", stderr(&o));
    let store = Store::open(&dir.path().join("data")).unwrap();
    let jobs = store.outbox().unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(matches!(jobs[0].kind, JobKind::Send { .. }));
}

fn civicbridge_mirror(id: MirrorId) -> civicbridge_core::store::MirrorRecord {
    civicbridge_core::store::MirrorRecord::new(
        id,
        LinkId::new("planning"),
        RoomRef::new(Platform::new("telegram"), "-100"),
        civicbridge_api::RemoteMsgId::new("9"),
        civicbridge_core::store::Author::new(Platform::new("telegram"), "42", "Ada"),
        civicbridge_api::RichText::plain("Where do I recycle batteries?"),
    )
}

#[test]
fn audit_export_and_verify_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in(dir.path(), CONFIG);
    let cfg = cfg.to_str().unwrap();
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        for i in 0..4 {
            store
                .transact(|tx| {
                    tx.audit(AuditDraft {
                        actor: "matrix:@mod:localhost".into(),
                        action: AuditAction::Approved,
                        link: Some(LinkId::new("planning")),
                        subject: Some(format!("#{i}")),
                        detail: serde_json::json!({ "text": format!("message {i}") }),
                    })
                })
                .unwrap();
        }
    }
    let o = civicbridge(&["audit", "--config", cfg, "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("4 entries verified"), "{}", stdout(&o));

    let export = dir.path().join("audit.jsonl");
    let o = civicbridge(&[
        "audit",
        "--config",
        cfg,
        "export",
        "--since",
        "2000-01-01",
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&export).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(civicbridge(&[
        "audit",
        "--config",
        cfg,
        "verify",
        "--file",
        export.to_str().unwrap()
    ])
    .status
    .success());

    std::fs::write(&export, text.replace("message 2", "message two")).unwrap();
    let o = civicbridge(&[
        "audit",
        "--config",
        cfg,
        "verify",
        "--file",
        export.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("entry 3: its hash does not match"),
        "{}",
        stderr(&o)
    );

    let o = civicbridge(&["audit", "--config", cfg, "export", "--since", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));

    // Tampering inside the store itself is caught too.
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        let mut e = store.audit_log().unwrap().remove(1);
        e.actor = "matrix:@intruder:localhost".into();
        store.transact(|tx| tx.tamper_audit(&e)).unwrap();
    }
    let o = civicbridge(&["audit", "--config", cfg, "verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("entry 2"), "{}", stderr(&o));
}

#[test]
fn environment_variables_override_the_file_so_secrets_can_stay_out_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let without_token = CONFIG.replace(
        "token = \"123456:ABCdefghijklmnopqrstuvwxyz0123456789\"",
        "",
    );
    let cfg = config_in(dir.path(), &without_token);
    let o = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(["check", "--config", cfg.to_str().unwrap()])
        .env(
            "CIVICBRIDGE__TELEGRAM__TOKEN",
            "654321:FromTheEnvironmentFromTheEnvironment",
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("FromTheEnvironment"),
        "the secret is not printed"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(["check", "--config", cfg.to_str().unwrap()])
        .env("CIVICBRIDGE__TELEGRAM__TOKEN", "not-a-token")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("telegram.token"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("not-a-token"),
        "the bad secret is not echoed: {}",
        stderr(&o)
    );
}
