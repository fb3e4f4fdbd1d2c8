//! The store conformance suite: every domain verb, run over the memory and the sled backend.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{
    InboundId, LinkId, MirrorId, PendingId, Platform, RemoteMsgId, RichText, RoomRef, ThreadId,
};
use civicbridge_core::moderation::audit::{self, AuditAction, AuditDraft, GENESIS};
use civicbridge_core::moderation::rules::{Policy, Rules, Side};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{
    Author, IndexEntry, JobKind, LinkRecord, LinkRoom, MirrorRecord, PendingItem, PendingKind,
    Store, StoreError,
};

fn backends() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path()).unwrap();
    vec![("memory", Store::memory(), None), ("sled", sled, Some(dir))]
}

fn link() -> LinkRecord {
    LinkRecord {
        id: LinkId::new("planning"),
        rooms: vec![
            LinkRoom {
                room: RoomRef::new(Platform::new("matrix"), "!staff"),
                side: Side::Staff,
            },
            LinkRoom {
                room: RoomRef::new(Platform::new("telegram"), "-100"),
                side: Side::Public,
            },
        ],
        moderation_room: Some(RoomRef::new(Platform::new("matrix"), "!mod")),
        moderators: vec!["matrix:@mod".parse().unwrap()],
        admins: vec![],
    }
}

fn mirror(id: MirrorId) -> MirrorRecord {
    MirrorRecord::new(
        id,
        LinkId::new("planning"),
        RoomRef::new(Platform::new("telegram"), "-100"),
        RemoteMsgId::new("5"),
        Author::new(Platform::new("telegram"), "42", "Ada"),
        RichText::plain("hi"),
    )
}

#[test]
fn schema_version_is_written_on_open() {
    for (name, store, _dir) in backends() {
        assert_eq!(
            store.schema_version().unwrap(),
            civicbridge_core::store::SCHEMA_VERSION,
            "{name}"
        );
    }
}

#[test]
fn seen_marks_dedupe_and_prune() {
    for (name, store, _dir) in backends() {
        let id = InboundId::new("e1");
        assert!(
            store
                .transact(|tx| tx.mark_seen(Platform::new("telegram"), &id))
                .unwrap(),
            "{name}"
        );
        assert!(
            !store
                .transact(|tx| tx.mark_seen(Platform::new("telegram"), &id))
                .unwrap(),
            "{name}: replay"
        );
        assert!(
            store
                .transact(|tx| tx.mark_seen(Platform::new("discord"), &id))
                .unwrap(),
            "{name}: per platform"
        );
        assert_eq!(
            store.prune_seen(0).unwrap(),
            0,
            "{name}: nothing is older than 0"
        );
        assert_eq!(store.prune_seen(u64::MAX).unwrap(), 2, "{name}");
        assert!(
            !store.was_seen(Platform::new("telegram"), &id).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn config_sync_seeds_rules_once_and_runtime_changes_survive_until_the_config_changes_that_key() {
    for (name, store, _dir) in backends() {
        let rules = Rules::default();
        let planning = LinkId::new("planning");
        assert_eq!(
            store.sync_config(&[(link(), rules.clone())]).unwrap().len(),
            1,
            "{name}"
        );
        store
            .set_rule(
                &planning,
                "public_to_staff.policy",
                "auto",
                &"matrix:@admin".into(),
            )
            .unwrap();
        store
            .set_rule(
                &planning,
                "trusted",
                r#"["telegram:42"]"#,
                &"matrix:@admin".into(),
            )
            .unwrap();
        assert!(
            store
                .sync_config(&[(link(), rules.clone())])
                .unwrap()
                .is_empty(),
            "{name}: same config"
        );
        assert_eq!(
            store
                .rules(&planning)
                .unwrap()
                .unwrap()
                .public_to_staff
                .policy,
            Policy::Auto
        );
        // An admin edits another key in the file and trusts someone there too: the runtime
        // changes stay, the lists merge.
        let mut edited = rules.clone();
        edited.max_length = Some(99);
        edited.trusted = vec!["discord:7".parse().unwrap()];
        assert_eq!(
            store
                .sync_config(&[(link(), edited.clone())])
                .unwrap()
                .len(),
            1,
            "{name}: config edited"
        );
        let now = store.rules(&planning).unwrap().unwrap();
        assert_eq!(now.max_length, Some(99), "{name}");
        assert_eq!(now.public_to_staff.policy, Policy::Auto, "{name}: kept");
        assert_eq!(now.trusted, vec!["telegram:42", "discord:7"], "{name}");
        // Now the file changes that very key: the file wins.
        let mut again = edited.clone();
        again.public_to_staff.policy = Policy::Approve;
        again.public_to_staff.in_thread = Some(Policy::Approve);
        store.sync_config(&[(link(), again.clone())]).unwrap();
        assert_eq!(
            store.rules(&planning).unwrap().unwrap().public_to_staff,
            again.public_to_staff,
            "{name}"
        );
        assert_eq!(store.links().unwrap(), vec![link()], "{name}");
        let entries: Vec<(AuditAction, Option<String>)> = store
            .audit_log()
            .unwrap()
            .iter()
            .map(|e| (e.action, e.subject.clone()))
            .collect();
        let seeded = |k: &str| (AuditAction::RulesSeeded, Some(k.to_owned()));
        assert_eq!(
            entries,
            vec![
                (AuditAction::LinkChanged, None),
                (AuditAction::RulesSeeded, None),
                (
                    AuditAction::RulesChanged,
                    Some("public_to_staff.policy".into())
                ),
                (AuditAction::RulesChanged, Some("trusted".into())),
                seeded("max_length"),
                seeded("trusted"),
                seeded("public_to_staff"),
            ],
            "{name}: each change audited"
        );
    }
}

#[test]
fn set_rule_errors_name_the_key_and_change_nothing() {
    for (name, store, _dir) in backends() {
        store.sync_config(&[(link(), Rules::default())]).unwrap();
        let before = store.audit_log().unwrap().len();
        let e = store
            .set_rule(&LinkId::new("planning"), "links", "maybe", &"cli".into())
            .unwrap_err();
        assert!(
            matches!(&e, StoreError::Invalid(m) if m.starts_with("links:")),
            "{name}: {e}"
        );
        let e = store
            .set_rule(&LinkId::new("nope"), "links", "drop", &"cli".into())
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound(_)), "{name}");
        assert_eq!(
            store.audit_log().unwrap().len(),
            before,
            "{name}: nothing audited"
        );
    }
}

#[test]
fn mirrors_index_source_and_copies_and_threads() {
    for (name, store, _dir) in backends() {
        let staff = RoomRef::new(Platform::new("matrix"), "!staff");
        let m = store
            .transact(|tx| {
                let mut m = mirror(tx.new_mirror_id()?);
                m.copy_in_mut(&staff).ids.push(RemoteMsgId::new("$e1"));
                tx.insert_mirror(&m)?;
                tx.index(&staff, &RemoteMsgId::new("$e1"), IndexEntry::Mirror(m.id))?;
                tx.put_thread(&staff, &ThreadId::new("t9"), m.id)?;
                Ok(m)
            })
            .unwrap();
        assert_eq!(store.mirror(m.id).unwrap().unwrap(), m, "{name}");
        assert_eq!(
            store.lookup_message(&m.source, &m.source_msg).unwrap(),
            Some(IndexEntry::Mirror(m.id))
        );
        assert_eq!(
            store
                .lookup_message(&staff, &RemoteMsgId::new("$e1"))
                .unwrap(),
            Some(IndexEntry::Mirror(m.id))
        );
        let (by_map, by_msg) = store
            .transact(|tx| {
                Ok((
                    tx.thread_root(&staff, &ThreadId::new("t9"))?,
                    tx.thread_root(&staff, &ThreadId::new("$e1"))?,
                ))
            })
            .unwrap();
        assert_eq!(by_map, Some(m.id), "{name}: thread map");
        assert_eq!(
            by_msg,
            Some(m.id),
            "{name}: a thread named after its root message"
        );
    }
}

#[test]
fn ids_increase_across_reopening_and_pending_ids_count_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let item = |n: u64| PendingItem {
        id: PendingId(0),
        link: LinkId::new("l"),
        mirror: MirrorId(n),
        kind: PendingKind::Message,
        targets: vec![],
        reason: civicbridge_core::moderation::HoldReasons::Written(String::new()),
        held_at_ms: 0,
        card: None,
        card_job: None,
        revision: 1,
        revised_at_ms: None,
        content: None,
        superseded: Vec::new(),
        claim: None,
    };
    let last = {
        let store = Store::open(dir.path()).unwrap();
        let a = store.transact(|tx| tx.new_mirror_id()).unwrap();
        let b = store.transact(|tx| tx.new_mirror_id()).unwrap();
        assert!(a.0 >= 1 && b > a);
        assert_eq!(
            store.transact(|tx| tx.put_pending(item(1))).unwrap().id,
            PendingId(1)
        );
        b
    };
    let store = Store::open(dir.path()).unwrap();
    assert!(
        store.transact(|tx| tx.new_mirror_id()).unwrap() > last,
        "never reused after reopening"
    );
    assert_eq!(
        store.transact(|tx| tx.put_pending(item(2))).unwrap().id,
        PendingId(2)
    );
}

#[test]
fn an_aborted_transaction_leaves_nothing_behind() {
    for (name, store, _dir) in backends() {
        let r: Result<(), _> = store.transact(|tx| {
            tx.mark_seen(Platform::new("telegram"), &InboundId::new("x"))?;
            tx.push_job(
                &LinkId::new("l"),
                &RoomRef::new(Platform::new("discord"), "1"),
                JobKind::Delete {
                    mirror: MirrorId(1),
                },
            )?;
            Err(StoreError::Invalid("changed my mind".into()).into())
        });
        assert!(r.is_err(), "{name}");
        assert!(
            !store
                .was_seen(Platform::new("telegram"), &InboundId::new("x"))
                .unwrap(),
            "{name}"
        );
        assert!(store.outbox().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn pending_items_and_outbox_jobs_round_trip_in_order() {
    for (name, store, _dir) in backends() {
        let room = RoomRef::new(Platform::new("discord"), "1");
        let card = (
            RoomRef::new(Platform::new("matrix"), "!mod"),
            RemoteMsgId::new("$card"),
        );
        let (item, jobs) = store
            .transact(|tx| {
                let item = tx.put_pending(PendingItem {
                    id: PendingId(0),
                    link: LinkId::new("planning"),
                    mirror: MirrorId(1),
                    kind: PendingKind::Message,
                    targets: vec![room.clone()],
                    reason: civicbridge_core::moderation::HoldReasons::Written("policy".into()),
                    held_at_ms: 5,
                    card: Some(card.clone()),
                    card_job: None,
                    revision: 1,
                    revised_at_ms: None,
                    content: None,
                    superseded: Vec::new(),
                    claim: None,
                })?;
                let jobs = (0..300)
                    .map(|i| {
                        tx.push_job(
                            &LinkId::new("planning"),
                            &room,
                            JobKind::Send {
                                mirror: MirrorId(i),
                                text: None,
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((item, jobs))
            })
            .unwrap();
        assert_eq!(item.id, PendingId(1), "{name}");
        assert_eq!(store.pending().unwrap(), vec![item.clone()], "{name}");
        assert_eq!(
            store.lookup_message(&card.0, &card.1).unwrap(),
            Some(IndexEntry::Card(item.id)),
            "{name}"
        );
        assert_eq!(
            store.outbox().unwrap(),
            jobs,
            "{name}: oldest first, past 255"
        );
        store.transact(|tx| tx.finish_job(jobs[0].id)).unwrap();
        assert_eq!(store.outbox().unwrap().len(), 299, "{name}");
        store.transact(|tx| tx.remove_pending(item.id)).unwrap();
        assert!(store.pending().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn the_audit_chain_verifies_and_tampering_is_detected() {
    for (name, store, _dir) in backends() {
        for i in 0..5 {
            store
                .transact(|tx| {
                    tx.audit(AuditDraft {
                        actor: "cli".into(),
                        action: AuditAction::Approved,
                        link: None,
                        subject: Some(format!("#{i}")),
                        detail: serde_json::json!({ "i": i }),
                    })
                })
                .unwrap();
        }
        let log = store.audit_log().unwrap();
        assert_eq!(audit::verify(&log, Some(GENESIS)), Ok(5), "{name}");
        let mut forged = log[2].clone();
        forged.detail = serde_json::json!({ "i": 99 });
        store.transact(|tx| tx.tamper_audit(&forged)).unwrap();
        assert_eq!(
            audit::verify(store.audit_log().unwrap(), Some(GENESIS)),
            Err(audit::VerifyError::Altered { seq: 3 }),
            "{name}"
        );
    }
}

/// Appends `n` entries numbered by their subject.
fn audit_entries(store: &Store, n: u64) {
    store
        .transact(|tx| {
            for i in 0..n {
                tx.audit(AuditDraft {
                    actor: "cli".into(),
                    action: AuditAction::Approved,
                    link: None,
                    subject: Some(format!("#{i}")),
                    detail: serde_json::json!({ "i": i }),
                })?;
            }
            Ok(())
        })
        .unwrap();
}

/// The block-at-a-time walks see exactly the whole log, in both directions, from any start,
/// across block edges (256 entries a block), and the walking verify finds a forgery in a middle
/// block and names it.
#[test]
fn audit_walks_cross_blocks_and_verify_names_a_forgery() {
    for (name, store, _dir) in backends() {
        let empty: Vec<_> = store.audit_forward(1).unwrap().collect();
        assert!(empty.is_empty(), "{name}");
        audit_entries(&store, 600);
        let seqs = |it: Vec<Result<audit::AuditEntry, _>>| -> Vec<u64> {
            it.into_iter().map(|e| e.unwrap().seq).collect()
        };
        let forward = seqs(store.audit_forward(1).unwrap().collect());
        assert_eq!(forward, (1..=600).collect::<Vec<_>>(), "{name}");
        for from in [0, 1, 255, 256, 257, 511, 512, 600] {
            let got = seqs(store.audit_forward(from).unwrap().collect());
            assert_eq!(
                got,
                (from.max(1)..=600).collect::<Vec<_>>(),
                "{name} from {from}"
            );
        }
        assert!(store.audit_forward(601).unwrap().next().is_none(), "{name}");
        for before in [
            None,
            Some(601),
            Some(600),
            Some(513),
            Some(512),
            Some(257),
            Some(256),
            Some(2),
            Some(1),
            Some(0),
        ] {
            let got = seqs(store.audit_backward(before).unwrap().collect());
            let last = before.map_or(600, |b| b.saturating_sub(1).min(600));
            assert_eq!(
                got,
                (1..=last).rev().collect::<Vec<_>>(),
                "{name} before {before:?}"
            );
        }
        let v = store.audit_verify().unwrap().unwrap();
        assert_eq!(
            (v.entries, v.first_seq, v.last_seq),
            (600, Some(1), Some(600)),
            "{name}"
        );

        let mut forged = store.audit_log().unwrap()[299].clone();
        forged.detail = serde_json::json!({ "i": -1 });
        store.transact(|tx| tx.tamper_audit(&forged)).unwrap();
        assert_eq!(
            store.audit_verify().unwrap(),
            Err(audit::VerifyError::Altered { seq: 300 }),
            "{name}"
        );
    }
}

#[tokio::test]
async fn connector_state_is_durable_and_per_platform() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .connector_state(Platform::new("telegram"))
            .put("offset", "41")
            .await
            .unwrap();
        assert_eq!(
            store
                .connector_state(Platform::new("discord"))
                .get("offset"),
            None
        );
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store
            .connector_state(Platform::new("telegram"))
            .get("offset")
            .as_deref(),
        Some("41")
    );
}

#[test]
fn a_new_store_gets_a_new_instance_name_and_a_reopened_one_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap().instance().to_owned();
    assert_eq!(Store::open(dir.path()).unwrap().instance(), first);
    let other = tempfile::tempdir().unwrap();
    assert_ne!(Store::open(other.path()).unwrap().instance(), first);
    assert_ne!(Store::memory().instance(), Store::memory().instance());
}

/// Writes that sled already holds (after a checkpoint, which a clean close runs) are shadowed
/// by later rewrites and removals, in reads and scans, before and after the next checkpoint.
#[test]
fn later_writes_shadow_what_a_checkpoint_put_in_sled() {
    let dir = tempfile::tempdir().unwrap();
    let room = RoomRef::new(Platform::new("discord"), "1");
    let kind = |m| JobKind::Delete {
        mirror: MirrorId(m),
    };
    let ids: Vec<_> = {
        let store = Store::open(dir.path()).unwrap();
        (1..=3)
            .map(|m| {
                store
                    .transact(|tx| tx.push_job(&LinkId::new("l"), &room, kind(m)))
                    .unwrap()
                    .id
            })
            .collect()
    };
    let check = |store: &Store| {
        let left: Vec<_> = store
            .outbox()
            .unwrap()
            .iter()
            .map(|j| (j.id, j.attempts))
            .collect();
        assert_eq!(left, [(ids[1], 7), (ids[2], 0)]);
        assert!(store.job(ids[0]).unwrap().is_none());
    };
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .transact(|tx| {
                tx.finish_job(ids[0])?;
                let mut j = tx.job(ids[1])?.unwrap();
                j.attempts = 7;
                tx.update_job(&j)
            })
            .unwrap();
        check(&store);
    }
    check(&Store::open(dir.path()).unwrap());
}

/// Enough transactions for several checkpoints into sled while reads go on: every read sees
/// the latest committed value, wherever it lives (transaction, overlay, checkpoint, sled).
#[test]
fn reads_and_scans_stay_right_while_checkpoints_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let n = 120_000u64;
    let ev = |i: u64| InboundId::new(format!("e{i:06}"));
    for i in 1..=n {
        store
            .transact(|tx| tx.mark_seen(Platform::new("telegram"), &ev(i)).map(drop))
            .unwrap();
        if i % 997 == 0 {
            assert!(store
                .was_seen(Platform::new("telegram"), &ev(i / 2))
                .unwrap());
            assert!(!store
                .was_seen(Platform::new("telegram"), &ev(i + 1))
                .unwrap());
        }
    }
    assert_eq!(store.prune_seen(u64::MAX).unwrap(), n as usize);
    assert!(!store
        .was_seen(Platform::new("telegram"), &ev(n / 3))
        .unwrap());
    assert_eq!(store.prune_seen(u64::MAX).unwrap(), 0);
}

/// Threads of this process whose name is `name` (the kernel keeps the first 15 bytes).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[test]
fn concurrent_flushes_share_one_blocking_thread() {
    // Many callers flushing at once (a burst on many links) wait for the flush in progress
    // without each holding a thread of tokio's blocking pool parked on the journal lock.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flush-probe")
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let state = store.connector_state(Platform::new("telegram"));
                tokio::spawn(async move { state.put(&format!("k{i}"), "v").await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
    });
    // Idle blocking threads live on for 10 s, so every one started is still counted here.
    // One flush runs at a time, but tokio marks a blocking thread idle only after the waiter
    // it woke may already have asked for the next one, so a hand-off now and then starts a
    // fresh thread (a clean CI run once counted three). Without the single flusher each of
    // the 400 callers parks a thread of its own on the journal lock: hundreds, not a handful.
    let threads = threads_named("flush-probe");
    assert!(
        threads <= 2 + 8,
        "{threads} runtime threads for 400 flushes"
    );
    drop(rt);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    for i in [0, 199, 399] {
        assert_eq!(
            store
                .connector_state(Platform::new("telegram"))
                .get(&format!("k{i}"))
                .as_deref(),
            Some("v")
        );
    }
}
