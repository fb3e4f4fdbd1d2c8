//! The admin's command-line equivalents of the moderation-room commands: `queue edit`,
//! `takedown`, `trust`, `block`. Thin over the same code; checked here for their effects.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{LinkId, PendingId, Platform, RemoteMsgId, RichText, RoomRef};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{
    Author, Copy, JobKind, MirrorRecord, PendingItem, PendingKind, Store,
};
use std::process::{Command, Output};

const CONFIG: &str = r#"
[store]
path = "data"
[telegram]
token = "123456:ABCdefghijklmnopqrstuvwxyz0123456789"
[matrix]
homeserver_url = "http://127.0.0.1:1"
user_id = "@bridge:localhost"
password = "pw"
[links.planning]
moderation_room = "matrix:!mod:localhost"
rooms = [
  { room = "matrix:!staff:localhost", side = "staff" },
  { room = "telegram:-100", side = "public" },
]
"#;

fn civicbridge(cfg: &str, args: &[&str]) -> Output {
    let mut all = vec![args[0], "--config", cfg];
    all.extend(&args[1..]);
    Command::new(env!("CARGO_BIN_EXE_civicbridge"))
        .args(&all)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn takedown_trust_block_and_edit_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("civicbridge.toml");
    std::fs::write(&cfg_path, CONFIG).unwrap();
    let cfg = cfg_path.to_str().unwrap();
    assert!(
        civicbridge(cfg, &["rules", "show"]).status.success(),
        "seeds the store"
    );
    {
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .transact(|tx| {
                let staff = RoomRef::new(Platform::new("matrix"), "!staff:localhost");
                let mut m = MirrorRecord::new(
                    tx.new_mirror_id()?,
                    LinkId::new("planning"),
                    RoomRef::new(Platform::new("telegram"), "-100"),
                    RemoteMsgId::new("9"),
                    Author::new(Platform::new("telegram"), "42", "Ada"),
                    RichText::plain("crossed already"),
                );
                m.copies.push(Copy {
                    room: staff.clone(),
                    ids: vec![RemoteMsgId::new("$copy")],
                    thread: None,
                });
                tx.insert_mirror(&m)?;
                tx.index(
                    &staff,
                    &RemoteMsgId::new("$copy"),
                    civicbridge_core::store::IndexEntry::Mirror(m.id),
                )?;
                let mut held = m.clone();
                held.id = tx.new_mirror_id()?;
                held.source_msg = RemoteMsgId::new("10");
                held.copies.clear();
                held.text = RichText::plain("Is teh hall free?");
                tx.insert_mirror(&held)?;
                tx.put_pending(PendingItem {
                    id: PendingId(0),
                    link: LinkId::new("planning"),
                    mirror: held.id,
                    kind: PendingKind::Message,
                    targets: vec![staff],
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
                })?;
                Ok(())
            })
            .unwrap();
    }

    // A copy's id is enough to find the message.
    let o = civicbridge(cfg, &["takedown", "planning", "$copy"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("taken down by an admin (command line): removing 1 copy"),
        "{}",
        text(&o)
    );
    let o = civicbridge(
        cfg,
        &["takedown", "planning", "https://example.org/nothing"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    let o = civicbridge(cfg, &["queue", "edit", "#1", "Is the hall free?"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = civicbridge(cfg, &["trust", "planning", "telegram:42"]);
    assert!(
        text(&o).contains("telegram:42 is now trusted"),
        "{}",
        text(&o)
    );
    let o = civicbridge(cfg, &["block", "planning", "telegram:666"]);
    assert!(
        text(&o).contains("telegram:666 is now blocked"),
        "{}",
        text(&o)
    );
    let o = civicbridge(cfg, &["block", "planning", "666"]);
    assert_eq!(o.status.code(), Some(2), "needs platform:id: {}", text(&o));
    // The person is one key, never words pasted into a chat command, and on a platform of
    // this config.
    for bad in ["telegram:7 planning", "slack:7"] {
        let o = civicbridge(cfg, &["trust", "planning", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", text(&o));
        assert!(text(&o).contains("--user"), "{bad}: {}", text(&o));
    }

    let store = Store::open(&dir.path().join("data")).unwrap();
    let rules = store.rules(&LinkId::new("planning")).unwrap().unwrap();
    assert_eq!(rules.trusted, ["telegram:42"]);
    assert_eq!(rules.blocked, ["telegram:666"]);
    let jobs = store.outbox().unwrap();
    assert!(
        jobs.iter()
            .any(|j| matches!(j.kind, JobKind::Delete { .. })),
        "{jobs:?}"
    );
    assert!(
        jobs.iter().any(|j| matches!(j.kind, JobKind::Send { .. })),
        "{jobs:?}"
    );
    let log = store.audit_log().unwrap();
    let edited = log
        .iter()
        .find(|e| e.action == AuditAction::EditedAndApproved)
        .unwrap();
    assert_eq!(edited.actor, "cli");
    assert_eq!(
        edited.detail["original_sha256"],
        civicbridge_core::privacy::content_hash(&civicbridge_api::RichText::plain(
            "Is teh hall free?"
        ))
    );
    assert!(log
        .iter()
        .any(|e| e.action == AuditAction::Takedown && e.actor == "cli"));
}
