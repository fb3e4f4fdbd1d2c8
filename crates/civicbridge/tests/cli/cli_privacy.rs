//! `civicbridge erase`, `prune` and `audit export --since` / `verify`, run as an admin would.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{LinkId, Platform, RemoteMsgId, RichText, RoomRef};
use civicbridge_core::moderation::audit::{AuditAction, AuditActor, AuditDraft};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{Author, Copy, IndexEntry, JobKind, MirrorRecord, Store};
use std::path::{Path, PathBuf};

use crate::common;

use common::cli::*;

/// The common config, with pseudonyms and a retention period on the link.
fn config_in_dir(dir: &Path) -> PathBuf {
    let rules = "[links.planning.rules]\nretention_days = 30\nresident_names = \"pseudonym\"\n";
    config_in(dir, &format!("{CONFIG}{rules}"))
}

/// Ada's message on Telegram with its copy in the staff room, `age_days` old.
fn relayed(store: &Store, src: &str, text: &str, age_days: u64) {
    let staff = RoomRef::new(Platform::new("matrix"), "!staff:localhost");
    store
        .transact(|tx| {
            let mut m = MirrorRecord::new(
                tx.new_mirror_id()?,
                LinkId::new("planning"),
                RoomRef::new(Platform::new("telegram"), "-100"),
                RemoteMsgId::new(src),
                Author::new(Platform::new("telegram"), "42", "Ada"),
                RichText::plain(text),
            );
            m.at_ms = civicbridge_core::store::now_ms() - age_days * 24 * 3600 * 1000;
            let copy = RemoteMsgId::new(format!("$copy-{src}"));
            m.copies.push(Copy {
                room: staff.clone(),
                ids: vec![copy.clone()],
                thread: None,
            });
            tx.insert_mirror(&m)?;
            tx.index(&staff, &copy, IndexEntry::Mirror(m.id))
        })
        .unwrap();
}

#[test]
fn erase_tombstones_the_store_queues_deletes_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in_dir(dir.path());
    let cfg = cfg.to_str().unwrap();
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        relayed(&store, "7", "Where do I recycle batteries?", 0);
    }
    for bad in ["42", "irc:42", "telegram:"] {
        let o = civicbridge(&["erase", "--config", cfg, "--user", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("civicbridge: --user:"),
            "{}",
            stderr(&o)
        );
    }
    let o = civicbridge(&["erase", "--config", cfg, "--user", "telegram:42"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("erased telegram:42: 1 message(s)")
            && stdout(&o).contains("2 delete job(s) will run when the bridge next starts"),
        "{}",
        stdout(&o)
    );
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        let jobs = store.outbox().unwrap();
        assert_eq!(jobs.len(), 2);
        assert!(jobs
            .iter()
            .all(|j| matches!(j.kind, JobKind::Delete { .. })));
        assert!(store
            .mirrors_by(&"telegram:42".parse().unwrap())
            .unwrap()
            .is_empty());
        let log = store.audit_log().unwrap();
        let e = log.last().unwrap();
        assert_eq!(
            (e.action, &e.actor),
            (AuditAction::Erased, &AuditActor::Cli)
        );
        let text = serde_json::to_string(&log).unwrap();
        assert!(!text.contains("batteries") && !text.contains("telegram:42"));
    }
    let o = civicbridge(&["audit", "--config", cfg, "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The bridge holds the data directory while it runs: erase says so and changes nothing.
    let held = Store::open(&dir.path().join("data")).unwrap();
    let o = civicbridge(&["erase", "--config", cfg, "--user", "telegram:42"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("stop the bridge first"),
        "{}",
        stderr(&o)
    );
    drop(held);
}

#[test]
fn prune_applies_each_links_retention_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in_dir(dir.path());
    let cfg = cfg.to_str().unwrap();
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        relayed(&store, "1", "old", 31);
        relayed(&store, "2", "new", 1);
    }
    let o = civicbridge(&["prune", "--config", cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("link planning: 1 message(s) older than"),
        "{}",
        stdout(&o)
    );
    let store = Store::open(&dir.path().join("data")).unwrap();
    let left = store.mirrors_by(&"telegram:42".parse().unwrap()).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].text.to_plain(), "new");
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Pruned && e.actor == AuditActor::Cli));
}

fn write_log(dir: &Path, n: usize) {
    let store = Store::open(&dir.join("data")).unwrap();
    for i in 0..n {
        store
            .transact(|tx| {
                tx.audit(AuditDraft {
                    actor: AuditActor::Person("matrix:@mod:localhost".parse().unwrap()),
                    action: AuditAction::Approved,
                    link: Some(LinkId::new("planning")),
                    subject: Some(format!("#{i}")),
                    detail: serde_json::json!({ "n": i }),
                })
            })
            .unwrap();
    }
}

#[test]
fn export_since_a_time_starts_mid_chain_and_still_verifies_or_names_the_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in_dir(dir.path());
    let cfg = cfg.to_str().unwrap();
    write_log(dir.path(), 8);
    let log = Store::open(&dir.path().join("data"))
        .unwrap()
        .audit_log()
        .unwrap();
    // `--since` at entry 4's second: the export is the contiguous run from the first entry at or
    // after the start of that second.
    let since = civicbridge_core::moderation::audit::rfc3339(log[3].at_ms);
    let floor = log[3].at_ms / 1000 * 1000;
    let expected_first = log.iter().find(|e| e.at_ms >= floor).unwrap().seq;
    let export = dir.path().join("tail.jsonl");
    let out = export.to_str().unwrap();
    let o = civicbridge(&[
        "audit", "--config", cfg, "export", "--since", &since, "--out", out,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&export).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let first_seq = first["seq"].as_u64().unwrap();
    assert_eq!(first_seq, expected_first);
    assert_eq!(text.lines().count() as u64, 9 - first_seq);

    // A date works too, and an export from a date in the future is empty.
    let o = civicbridge(&["audit", "--config", cfg, "export", "--since", "2999-01-01"]);
    assert!(
        o.status.success() && stdout(&o).is_empty(),
        "{}",
        stderr(&o)
    );
    let o = civicbridge(&["audit", "--config", cfg, "export", "--since", "31/01/2026"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("RFC 3339"), "{}", stderr(&o));

    // A mid-chain export: drop the first lines by hand to be sure it starts later.
    let tail: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    std::fs::write(&export, &tail).unwrap();
    let o = civicbridge(&["audit", "--config", cfg, "verify", "--file", out]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stdout(&o);
    assert!(
        said.contains(&format!("starts mid-chain at seq {}", first_seq + 1)),
        "{said}"
    );

    // Tampering inside it is caught and the first bad entry named, with its line.
    let lines: Vec<&str> = tail.lines().collect();
    let mut bad: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let bad_seq = bad["seq"].as_u64().unwrap();
    bad["actor"] = "matrix:@intruder:localhost".into();
    let mut tampered = lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    tampered[1] = serde_json::to_string(&bad).unwrap();
    std::fs::write(&export, tampered.join("\n") + "\n").unwrap();
    let o = civicbridge(&["audit", "--config", cfg, "verify", "--file", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("entry {bad_seq}: its hash does not match"))
            && stderr(&o).contains("(line 2)"),
        "{}",
        stderr(&o)
    );

    // A removed line inside it is named too.
    let mut gap = lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    gap.remove(1);
    std::fs::write(&export, gap.join("\n") + "\n").unwrap();
    let o = civicbridge(&["audit", "--config", cfg, "verify", "--file", out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(&format!("entry {}: it does not follow", bad_seq + 1)),
        "{}",
        stderr(&o)
    );
}

#[test]
fn export_and_report_write_their_files_and_the_export_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config_in_dir(dir.path());
    let cfg = cfg.to_str().unwrap();
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        relayed(&store, "7", "Where do I recycle batteries?", 0);
    }
    let file = dir.path().join("ada.json");
    let o = civicbridge(&[
        "export",
        "--config",
        cfg,
        "--user",
        "telegram:42",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["messages"][0]["text"], "Where do I recycle batteries?");
    let summary = std::fs::read_to_string(dir.path().join("ada.txt")).unwrap();
    assert!(
        summary.contains("Messages you wrote that it carried: 1"),
        "{summary}"
    );

    let prefix = dir.path().join("report");
    let o = civicbridge(&[
        "report",
        "--config",
        cfg,
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(dir.path().join("report.csv")).unwrap();
    assert!(csv.starts_with("month,link,direction,outcome"), "{csv}");
    assert!(dir.path().join("report.json").exists());
    let o = civicbridge(&[
        "report",
        "--config",
        cfg,
        "--from",
        "2026-02-01",
        "--to",
        "2026-01-01",
        "--out",
        prefix.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let store = Store::open(&dir.path().join("data")).unwrap();
    let e = store.audit_log().unwrap().pop().unwrap();
    assert_eq!(
        (e.action, &e.actor),
        (AuditAction::Exported, &AuditActor::Cli)
    );
}
