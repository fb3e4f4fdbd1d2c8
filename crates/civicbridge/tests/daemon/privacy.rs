//! Privacy: pseudonyms, retention and erasure, on the memory and sled stores (tier 1) and on the
//! real pipeline with fake platforms (tier 2).
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeOp};
use civicbridge_api::ThreadId;
use civicbridge_api::{LinkId, MirrorId, PendingId, Platform, RemoteMsgId, RichText, RoomRef};
use civicbridge_core::moderation::audit::{self, AuditAction};
use civicbridge_core::moderation::rules::{
    DirectionRule, LinkPolicy, Policy, ResidentNames, Rules,
};
use civicbridge_core::privacy::{self, erase::erase, retention::prune, TOMBSTONE};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{
    Author, Copy, IndexEntry, JobKind, MirrorRecord, PendingItem, PendingKind, Store,
};
use common::*;

const DAY_MS: u64 = 24 * 3600 * 1000;

fn backends() -> Vec<(&'static str, Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path()).unwrap();
    vec![("memory", Store::memory(), None), ("sled", sled, Some(dir))]
}

fn planning() -> LinkId {
    LinkId::new("planning")
}

fn room(p: Platform, r: &str) -> RoomRef {
    RoomRef::new(p, r)
}

fn seed(store: &Store, rules: Rules) {
    let pairs: Vec<_> = link(rules).into_iter().map(|l| (l.link, l.rules)).collect();
    store.sync_config(&pairs).unwrap();
}

/// A resident's Telegram message with copies in the staff room and on Discord, indexed.
fn relayed(store: &Store, who: (&str, &str), src: &str, text: &str, at_ms: u64) -> MirrorId {
    store
        .transact(|tx| {
            let mut m = MirrorRecord::new(
                tx.new_mirror_id()?,
                planning(),
                room(Platform::new("telegram"), TG),
                RemoteMsgId::new(src),
                Author::new(Platform::new("telegram"), who.0, who.1),
                RichText::plain(text),
            );
            m.at_ms = at_ms;
            tx.insert_mirror(&m)?;
            for (r, id) in [
                (room(Platform::new("matrix"), STAFF), format!("$copy-{src}")),
                (room(Platform::new("discord"), DC), format!("dc-{src}")),
            ] {
                let id = RemoteMsgId::new(id);
                m.copies.push(Copy {
                    room: r.clone(),
                    ids: vec![id.clone()],
                    thread: None,
                });
                tx.index(&r, &id, IndexEntry::Mirror(m.id))?;
            }
            tx.put_mirror(&m)?;
            Ok(m.id)
        })
        .unwrap()
}

/// A resident's message held for approval, with its card posted and a send still queued.
fn held(store: &Store, src: &str, text: &str) -> (MirrorId, PendingId) {
    store
        .transact(|tx| {
            let m = MirrorRecord::new(
                tx.new_mirror_id()?,
                planning(),
                room(Platform::new("telegram"), TG),
                RemoteMsgId::new(src),
                Author::new(Platform::new("telegram"), "42", "Ada"),
                RichText::plain(text),
            );
            tx.insert_mirror(&m)?;
            let item = tx.put_pending(PendingItem {
                id: PendingId(0),
                link: planning(),
                mirror: m.id,
                kind: PendingKind::Message,
                targets: vec![room(Platform::new("matrix"), STAFF)],
                reason: civicbridge_core::moderation::HoldReasons::Written("policy".into()),
                held_at_ms: 0,
                card: Some((
                    room(Platform::new("matrix"), MODS),
                    RemoteMsgId::new("$card"),
                )),
                card_job: None,
                revision: 1,
                revised_at_ms: None,
                content: None,
                superseded: Vec::new(),
                claim: None,
            })?;
            // A second card notice still waiting to be sent quotes the text too.
            tx.push_job(
                &planning(),
                &room(Platform::new("matrix"), MODS),
                JobKind::Notice {
                    text: RichText::plain(format!("Held {}: {text}", item.id)),
                    card: Some(item.id),
                    about: Some(item.mirror),
                },
            )?;
            tx.push_job(
                &planning(),
                &room(Platform::new("discord"), DC),
                JobKind::Send {
                    mirror: m.id,
                    text: None,
                },
            )?;
            Ok((m.id, item.id))
        })
        .unwrap()
}

/// Everything the store holds that could carry content, as text.
fn everything(store: &Store) -> String {
    let mut s = String::new();
    for j in store.outbox().unwrap() {
        s.push_str(&format!("{j:?}\n"));
    }
    for p in store.pending().unwrap() {
        s.push_str(&format!("{p:?}\n"));
    }
    for e in store.audit_log().unwrap() {
        s.push_str(&serde_json::to_string(&e).unwrap());
    }
    s
}

#[test]
fn erase_tombstones_a_residents_messages_queues_deletes_and_discards_held_items() {
    for (name, store, _dir) in backends() {
        seed(&store, open_rules());
        let a = relayed(
            &store,
            ("42", "Ada"),
            "7",
            "Where do I recycle batteries?",
            1,
        );
        let b = relayed(&store, ("43", "Bob"), "8", "Bins on Tuesday?", 2);
        let (h, pid) = held(&store, "9", "My address is 1 Elm Street");

        let done = erase(&store, &"telegram:42".parse().unwrap(), &"cli".into()).unwrap();
        assert_eq!(done.messages, 2, "{name}");
        assert_eq!(done.held_discarded, 1, "{name}");
        assert_eq!(done.jobs_cancelled, 2, "{name}: the queued card and send");

        // A delete for each copy, for each original, and for the posted card.
        let deletes: Vec<(MirrorId, String)> = store
            .outbox()
            .unwrap()
            .into_iter()
            .filter_map(|j| match j.kind {
                JobKind::Delete { mirror } => Some((mirror, j.target.to_string())),
                _ => None,
            })
            .collect();
        let mut expected = vec![
            (a, format!("matrix:{STAFF}")),
            (a, format!("discord:{DC}")),
            (a, format!("telegram:{TG}")),
            (h, format!("telegram:{TG}")),
            (h, format!("matrix:{MODS}")),
        ];
        let mut got = deletes.clone();
        expected.sort();
        got.sort();
        assert_eq!(got, expected, "{name}");
        assert_eq!(done.deletes.len(), 5, "{name}");

        for id in [a, h] {
            let m = store.mirror(id).unwrap().unwrap();
            assert_eq!(m.text.to_plain(), TOMBSTONE, "{name}");
            assert_eq!(m.author.display_name, TOMBSTONE, "{name}");
            assert!(m.attachments.is_empty() && m.deleted, "{name}");
            assert_ne!(m.author.key(), "telegram:42", "{name}");
        }
        assert!(store.pending_item(pid).unwrap().is_none(), "{name}");
        for (r, msg) in [
            (room(Platform::new("telegram"), TG), "7"),
            (room(Platform::new("matrix"), STAFF), "$copy-7"),
            (room(Platform::new("discord"), DC), "dc-7"),
            (room(Platform::new("matrix"), MODS), "$card"),
        ] {
            assert_eq!(
                store.lookup_message(&r, &RemoteMsgId::new(msg)).unwrap(),
                None,
                "{name}: {r} {msg} unmapped"
            );
        }
        // Bob is untouched.
        let bob = store.mirror(b).unwrap().unwrap();
        assert_eq!(bob.text.to_plain(), "Bins on Tuesday?", "{name}");
        assert!(store
            .lookup_message(&room(Platform::new("telegram"), TG), &RemoteMsgId::new("8"))
            .unwrap()
            .is_some());

        // Audited with a keyed hash, never the id, the name or the text.
        let log = store.audit_log().unwrap();
        let e = log.last().unwrap();
        assert_eq!(e.action, AuditAction::Erased, "{name}");
        assert_eq!(e.actor, "cli");
        let key = store.privacy_key().unwrap();
        assert_eq!(
            e.detail["user_hash"],
            key.user_hash(&"telegram:42".parse().unwrap())
        );
        assert_eq!(e.detail["messages"], 2);
        assert_eq!(e.detail["deletes_queued"], 5);
        let all = everything(&store);
        for secret in ["batteries", "Elm Street", "telegram:42", "Ada"] {
            assert!(!all.contains(secret), "{name}: `{secret}` left in {all}");
        }
        assert!(audit::verify(&log, Some(audit::GENESIS)).is_ok());

        // A second erasure finds nothing more and is still recorded.
        let again = erase(&store, &"telegram:42".parse().unwrap(), &"cli".into()).unwrap();
        assert_eq!((again.messages, again.deletes.len()), (0, 0), "{name}");
        assert_eq!(store.audit_log().unwrap().len(), log.len() + 1, "{name}");
    }
}

/// A message record that no longer decodes (an old release wrote it too deep) neither stops
/// an erasure nor a retention run; if it mentions the person, erasure removes it whole.
#[test]
fn erasure_and_retention_go_past_an_unreadable_record_and_erase_it_if_it_names_the_person() {
    for (name, store, _dir) in backends() {
        seed(
            &store,
            Rules {
                retention_days: 1,
                ..open_rules()
            },
        );
        let a = relayed(
            &store,
            ("42", "Ada"),
            "7",
            "Where do I recycle batteries?",
            1,
        );
        let theirs = MirrorId(900);
        let other = MirrorId(901);
        store
            .transact(|tx| {
                tx.put_raw_mirror(
                    theirs,
                    b"{\"author\":{\"id\":\"42\"},\"text\":[[[[".to_vec(),
                )?;
                tx.put_raw_mirror(other, b"{\"author\":{\"id\":\"99\"}".to_vec())?;
                Ok(())
            })
            .unwrap();
        assert!(
            store.mirror(theirs).is_err(),
            "{name}: unreadable as set up"
        );

        let done =
            erase(&store, &"telegram:42".parse().unwrap(), &"cli".into()).expect("erasure goes on");
        assert_eq!(done.messages, 1, "{name}");
        assert_eq!(done.unreadable_removed, 1, "{name}");
        assert_eq!(store.mirror(theirs).unwrap(), None, "{name}: removed whole");
        assert!(
            store.mirror(other).is_err(),
            "{name}: someone else's is left alone"
        );
        assert_eq!(
            store.mirror(a).unwrap().unwrap().author.display_name,
            TOMBSTONE,
            "{name}"
        );
    }
}

#[test]
fn retention_prunes_old_content_and_its_mappings_but_keeps_held_and_busy_messages() {
    for (name, store, _dir) in backends() {
        seed(
            &store,
            Rules {
                retention_days: 30,
                ..open_rules()
            },
        );
        let now = 100 * DAY_MS;
        let old = relayed(&store, ("42", "Ada"), "1", "old news", now - 31 * DAY_MS);
        let fresh = relayed(&store, ("42", "Ada"), "2", "new news", now - 29 * DAY_MS);
        // An old thread root with a mapped thread in the staff room.
        let root = relayed(&store, ("43", "Bob"), "3", "old root", now - 40 * DAY_MS);
        let staff = room(Platform::new("matrix"), STAFF);
        store
            .transact(|tx| {
                let mut m = tx.mirror_required(root)?;
                m.copy_in_mut(&staff).thread = Some(ThreadId::new("t-root"));
                tx.put_mirror(&m)?;
                tx.put_thread(&staff, &ThreadId::new("t-root"), root)
            })
            .unwrap();
        // Old but still held, and old with a job in flight: both kept.
        let (held_old, _) = held(&store, "4", "still waiting");
        let busy = relayed(&store, ("44", "Cy"), "5", "edit pending", 1);
        store
            .transact(|tx| {
                tx.push_job(
                    &planning(),
                    &staff,
                    JobKind::Edit {
                        mirror: busy,
                        text: None,
                    },
                )
                .map(|_| ())
            })
            .unwrap();

        let done = prune(&store, now, &"bridge".into()).unwrap();
        assert_eq!(done.len(), 1, "{name}");
        assert_eq!(
            done[0].messages, 2,
            "{name}: the old message and the old root"
        );
        assert_eq!(done[0].cutoff_ms, now - 30 * DAY_MS);
        for gone in [old, root] {
            assert!(store.mirror(gone).unwrap().is_none(), "{name}");
        }
        for kept in [fresh, held_old, busy] {
            assert!(store.mirror(kept).unwrap().is_some(), "{name}");
        }
        for (r, msg) in [
            (room(Platform::new("telegram"), TG), "1"),
            (staff.clone(), "$copy-1"),
            (room(Platform::new("discord"), DC), "dc-3"),
        ] {
            assert_eq!(
                store.lookup_message(&r, &RemoteMsgId::new(msg)).unwrap(),
                None,
                "{name}"
            );
        }
        assert!(store
            .lookup_message(&room(Platform::new("telegram"), TG), &RemoteMsgId::new("2"))
            .unwrap()
            .is_some());
        assert_eq!(
            store
                .transact(|tx| Ok(tx.thread_root(&staff, &ThreadId::new("t-root"))?))
                .unwrap(),
            None,
            "{name}: thread map entry pruned"
        );
        let log = store.audit_log().unwrap();
        let e = log.last().unwrap();
        assert_eq!(e.action, AuditAction::Pruned, "{name}");
        assert_eq!(e.detail["messages"], 2);
        assert_eq!(e.detail["cutoff_ms"], now - 30 * DAY_MS);
        assert!(!serde_json::to_string(e).unwrap().contains("old news"));

        // Nothing more to prune: no new entry.
        prune(&store, now, &"bridge".into()).unwrap();
        assert_eq!(store.audit_log().unwrap().len(), log.len(), "{name}");
    }
}

#[test]
fn a_link_without_retention_keeps_everything() {
    let store = Store::memory();
    seed(&store, open_rules());
    let m = relayed(&store, ("42", "Ada"), "1", "kept", 0);
    assert!(prune(&store, u64::MAX / 2, &"bridge".into())
        .unwrap()
        .is_empty());
    assert!(store.mirror(m).unwrap().is_some());
}

#[test]
fn the_privacy_key_and_so_the_pseudonyms_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (key, shown) = {
        let store = Store::open(dir.path()).unwrap();
        seed(
            &store,
            Rules {
                resident_names: ResidentNames::Pseudonym,
                ..open_rules()
            },
        );
        let m = relayed(&store, ("42", "Ada"), "1", "hi", 0);
        let m = store.mirror(m).unwrap().unwrap();
        let shown = civicbridge_core::privacy::shown_author(
            &mut &store,
            &m,
            &room(Platform::new("matrix"), STAFF),
        )
        .unwrap();
        assert!(shown.pseudonymous && shown.name.starts_with("Resident "));
        assert_eq!(
            civicbridge_core::privacy::shown_author(
                &mut &store,
                &m,
                &room(Platform::new("matrix"), MODS)
            )
            .unwrap(),
            shown,
            "the moderation room is staff side"
        );
        assert_eq!(
            civicbridge_core::privacy::shown_author(
                &mut &store,
                &m,
                &room(Platform::new("discord"), DC)
            )
            .unwrap()
            .name,
            "Ada",
            "residents see each other by name"
        );
        (store.privacy_key().unwrap(), shown)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.privacy_key().unwrap(), key);
    let m = store
        .mirrors_by(&"telegram:42".parse().unwrap())
        .unwrap()
        .remove(0);
    assert_eq!(
        civicbridge_core::privacy::shown_author(
            &mut &store,
            &m,
            &room(Platform::new("matrix"), STAFF)
        )
        .unwrap(),
        shown
    );
}

// ---- tier 2: the pipeline on fake platforms -------------------------------------------------

fn pseudonym_rules() -> Rules {
    Rules {
        resident_names: ResidentNames::Pseudonym,
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

#[tokio::test]
async fn residents_appear_by_pseudonym_to_staff_and_on_cards_and_by_name_to_residents() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), pseudonym_rules(), &fakes).await;

    acked(fakes.telegram.post(TG, RESIDENT, "7", "Is the pool open?")).await;
    wait_until(WAIT, "the Discord copy and the card", || {
        fakes.discord.texts_in(DC).len() == 1
            && fakes.matrix.texts_in(MODS).iter().any(|t| t.contains("#1"))
    })
    .await;
    assert_eq!(
        fakes.discord.texts_in(DC),
        vec!["Ada (Telegram): Is the pool open?"]
    );
    let card = fakes.matrix.texts_in(MODS).remove(0);
    assert!(!card.contains("Ada"), "{card}");
    let pseudonym = card
        .split_whitespace()
        .skip_while(|w| *w != "Resident")
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        pseudonym.starts_with("Resident ") && pseudonym.len() == 15,
        "{card}"
    );

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    wait_until(WAIT, "the staff copy", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    let copy = &fakes.matrix.visible_in(STAFF)[0];
    assert_eq!(
        copy.out.text.to_plain(),
        format!("{pseudonym} (Telegram): Is the pool open?")
    );
    assert_eq!(copy.out.persona.as_ref().unwrap().display_name, pseudonym);
    assert_eq!(copy.out.persona.as_ref().unwrap().avatar_url, None);

    // The same person later: the same pseudonym; a staff reply reaches residents by name.
    acked(fakes.telegram.post(TG, RESIDENT, "8", "Thanks")).await;
    wait_until(WAIT, "the second card", || {
        fakes.matrix.texts_in(MODS).iter().any(|t| t.contains("#2"))
    })
    .await;
    assert!(fakes
        .matrix
        .texts_in(MODS)
        .iter()
        .any(|t| t.contains("#2") && t.contains(&pseudonym)));
    acked(fakes.matrix.post(MODS, MODERATOR, "$q", "!queue")).await;
    wait_until(WAIT, "the queue listing", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("held item(s)"))
    })
    .await;
    let listing = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .find(|t| t.contains("held item(s)"))
        .unwrap();
    assert!(
        listing.contains(&format!("{pseudonym}: Thanks")) && !listing.contains("Ada"),
        "{listing}"
    );
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Yes, until 8")).await;
    wait_until(WAIT, "the staff reply on Discord", || {
        fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    assert_eq!(fakes.discord.texts_in(DC)[1], "Ada (Telegram): Thanks");
    assert_eq!(fakes.discord.texts_in(DC)[2], "Sam (Matrix): Yes, until 8");
    // The audit log keeps a hash of what was approved, not the words.
    let approved = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::Approved)
        .unwrap();
    assert_eq!(
        approved.detail["text_sha256"],
        privacy::content_hash(&RichText::plain("Is the pool open?"))
    );
    assert!(!serde_json::to_string(&approved).unwrap().contains("pool"));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn erase_while_stopped_deletes_every_copy_when_the_bridge_starts_again() {
    let fakes = Fakes::new();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let rules = Rules {
        links: LinkPolicy::Approve,
        ..open_rules()
    };
    let daemon = start(store.clone(), rules.clone(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Where do I recycle batteries?"),
    )
    .await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "8", "See https://example.org/me"),
    )
    .await;
    acked(fakes.telegram.post(TG, ("43", "Bob"), "9", "Me too")).await;
    wait_until(WAIT, "copies and the card", || {
        fakes.matrix.texts_in(STAFF).len() == 2
            && fakes.discord.texts_in(DC).len() == 2
            && fakes.matrix.texts_in(MODS).iter().any(|t| t.contains("#1"))
    })
    .await;
    daemon.shutdown().await.unwrap();

    // What `civicbridge erase` does, with the bridge stopped.
    let done = erase(&store, &"telegram:42".parse().unwrap(), &"cli".into()).unwrap();
    store.flush().await.unwrap();
    assert_eq!((done.messages, done.held_discarded), (2, 1));
    assert!(store.pending().unwrap().is_empty());

    let daemon = start(store.clone(), rules, &fakes).await;
    wait_until(WAIT, "Ada's copies and card deleted", || {
        fakes.matrix.texts_in(STAFF) == vec!["Bob (Telegram): Me too".to_owned()]
            && fakes.discord.texts_in(DC) == vec!["Bob (Telegram): Me too".to_owned()]
            && !fakes.matrix.texts_in(MODS).iter().any(|t| t.contains("#1"))
    })
    .await;
    // The originals were asked for too (the fake refuses: it did not post them).
    wait_until(WAIT, "deletes of the originals attempted", || {
        let ops = fakes.telegram.ops();
        ["7", "8"].iter().all(|id| {
            ops.iter()
                .any(|o| matches!(o, FakeOp::Delete { id: d, .. } if d.as_str() == *id))
        })
    })
    .await;
    wait_until(WAIT, "the outbox drains", || {
        store.outbox().unwrap().is_empty()
    })
    .await;
    daemon.shutdown().await.unwrap();
    for m in store.mirrors_by(&"telegram:43".parse().unwrap()).unwrap() {
        assert_eq!(m.text.to_plain(), "Me too");
    }
    let all = everything(&store);
    assert!(
        !all.contains("batteries") && !all.contains("example.org/me"),
        "{all}"
    );
    let log = store.audit_log().unwrap();
    assert!(log.iter().any(|e| e.action == AuditAction::Erased));
    assert!(audit::verify(&log, Some(audit::GENESIS)).is_ok());
}

#[tokio::test]
async fn the_daemon_prunes_expired_content_by_itself() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        retention_days: 1,
        ..open_rules()
    };
    seed(&store, rules.clone());
    let old = relayed(&store, ("42", "Ada"), "1", "ancient", 1);
    let daemon = start(store.clone(), rules, &fakes).await;
    wait_until(WAIT, "the old message pruned", || {
        store.mirror(old).unwrap().is_none()
    })
    .await;
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Pruned && e.actor == "bridge"));
    // New messages (at the platform's time) still cross.
    acked(fakes.telegram.post(TG, RESIDENT, "2", "fresh")).await;
    wait_until(WAIT, "the copy", || fakes.discord.texts_in(DC).len() == 1).await;
    daemon.shutdown().await.unwrap();
}

/// Under the default rules (everything public is held), a resident is held, approved, rejected,
/// approved and taken down, and left waiting; someone without a role in the moderation room is
/// refused twice (once with words of their own, once naming the resident). After both are
/// erased, no id, name or word of either is left in any tree of the store (audit log included),
/// and the cards that quoted the resident are deleted from the moderation room.
#[tokio::test]
async fn erase_under_default_rules_leaves_no_id_name_or_word_anywhere() {
    const QUILLON: (&str, &str) = ("7319946218", "Quillon Marsh");
    const NOSY: (&str, &str) = ("@nosy", "Nosy Parker");
    let words = ["xylophonic", "zanzibarian", "quorvantic", "plumbicous"];
    let fakes = Fakes::new();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let daemon = start(store.clone(), Rules::default(), &fakes).await;
    let say = |id: &str, text: &str| fakes.matrix.post(MODS, MODERATOR, id, text);
    let mods = &fakes.matrix;
    let card_shows = |n: String| move || mods.texts_in(MODS).iter().any(|t| t.starts_with(&n));
    for (i, w) in words.iter().enumerate() {
        let id = (i + 1).to_string();
        acked(
            fakes
                .telegram
                .post(TG, QUILLON, &id, &format!("{w} question")),
        )
        .await;
        wait_until(WAIT, "its card", card_shows(format!("Held #{id}"))).await;
    }
    acked(say("c1", "!approve #1")).await;
    acked(say("c2", "!reject #2 off topic")).await;
    acked(say("c3", "!approve #3")).await;
    wait_until(WAIT, "two approved copies in the staff room", || {
        fakes.matrix.texts_in(STAFF).len() == 2
    })
    .await;
    acked(say("c4", "!takedown #3")).await;
    acked(
        fakes
            .matrix
            .post(MODS, NOSY, "n1", "!edit #4 vermiculous rewrite"),
    )
    .await;
    acked(
        fakes
            .matrix
            .post(MODS, NOSY, "n2", "!trust telegram:7319946218"),
    )
    .await;
    wait_until(WAIT, "the takedown", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    wait_until(WAIT, "the outbox drains", || {
        store.outbox().unwrap().is_empty()
    })
    .await;
    // A card decided before it could be posted (the homeserver rate-limits the bridge): the
    // decision rewrites the queued card, which still quotes the message and names its author.
    fakes.matrix.fail_on(
        "#5",
        civicbridge_api::ConnectorError::RateLimited {
            retry_after: std::time::Duration::from_secs(600),
        },
    );
    acked(fakes.telegram.post(TG, QUILLON, "5", "glimmerous question")).await;
    acked(say("c5", "!reject #5 spam")).await;
    wait_until(WAIT, "#5 decided, its card still queued", || {
        store
            .pending()
            .unwrap()
            .iter()
            .all(|p| p.id != PendingId(5))
    })
    .await;
    let log = store.audit_log().unwrap();
    for action in [
        AuditAction::Held,
        AuditAction::Approved,
        AuditAction::Rejected,
        AuditAction::Takedown,
        AuditAction::Refused,
    ] {
        assert!(
            log.iter().any(|e| e.action == action),
            "the test covers {action:?}"
        );
    }
    daemon.shutdown().await.unwrap();

    // A dead letter of theirs: a parked event keeps its text and the sender's name verbatim.
    let stuck = fakes.telegram.message_event(
        TG,
        QUILLON,
        civicbridge_api::Message::text("99", "xylophonic dead letter"),
    );
    store
        .transact(|tx| tx.park_event(&planning(), &stuck, "test"))
        .unwrap();

    // What `civicbridge erase` does, with the bridge stopped; then the deletes run.
    for who in ["telegram:7319946218", "matrix:@nosy"] {
        erase(&store, &who.parse().unwrap(), &"cli".into()).unwrap();
    }
    store.flush().await.unwrap();
    fakes.matrix.clear_faults();
    let daemon = start(store.clone(), Rules::default(), &fakes).await;
    wait_until(WAIT, "the outbox drains after the erasure", || {
        store.outbox().unwrap().is_empty()
    })
    .await;
    daemon.shutdown().await.unwrap();

    let traces = [
        "7319946218",
        "Quillon",
        "Marsh",
        "@nosy",
        "Nosy",
        "vermiculous",
        "glimmerous",
    ]
    .into_iter()
    .chain(words);
    let contents: Vec<String> = store
        .raw_contents()
        .unwrap()
        .into_iter()
        .map(|(tree, k, v)| {
            format!(
                "{tree:?} {} = {}",
                String::from_utf8_lossy(&k),
                String::from_utf8_lossy(&v)
            )
        })
        .collect();
    let shown = fakes.matrix.texts_in(MODS);
    for trace in traces {
        let left: Vec<&String> = contents.iter().filter(|c| c.contains(trace)).collect();
        assert!(
            left.is_empty(),
            "`{trace}` is still in the store: {left:#?}"
        );
        let cards: Vec<&String> = shown.iter().filter(|t| t.contains(trace)).collect();
        assert!(
            cards.is_empty(),
            "`{trace}` is still shown in the moderation room: {cards:#?}"
        );
    }
    assert!(audit::verify(store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
}
