//! The moderator's workflow on fake platforms: cards and their decided state, every command,
//! every permission path (config lists and power levels), approved threads, edits after
//! approval, takedown, and a queue that survives a restart.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeConnector};
use civicbridge_api::{Event, EventKind, Message, RemoteMsgId, ThreadId};
use civicbridge_core::moderation::audit::{AuditAction, AuditActor};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules, Scope};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

/// Residents' messages need approval; staff messages cross at once.
fn resident_approval_rules() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    }
}

/// A message in the moderation room from someone with `power` in it (as the Matrix connector
/// reports it).
fn with_power(fake: &FakeConnector, who: (&str, &str), id: &str, text: &str, power: i64) -> Event {
    let mut ev = fake.message_event(MODS, who, Message::text(id, text));
    ev.sender.standing = Some(civicbridge_matrix::inbound::standing_of(power));
    ev
}

fn reaction(
    fake: &FakeConnector,
    who: (&str, &str),
    id: &str,
    card: &RemoteMsgId,
    key: &str,
) -> Event {
    fake.event(
        MODS,
        who,
        format!("matrix:react:{id}"),
        EventKind::Reaction {
            target: card.clone(),
            key: key.into(),
            id: None,
        },
    )
}

fn mods_say(fakes: &Fakes, needle: &str) -> bool {
    fakes
        .matrix
        .texts_in(MODS)
        .iter()
        .any(|t| t.contains(needle))
}

async fn card_of(store: &Store, n: usize) -> RemoteMsgId {
    wait_until(WAIT, "the card is posted and recorded", || {
        store
            .pending()
            .unwrap()
            .get(n)
            .is_some_and(|p| p.card.is_some())
    })
    .await;
    store.pending().unwrap()[n].card.clone().unwrap().1
}

/// How the audit log names a person without a role (see `privacy::person_ref`).
fn person(store: &Store, user: &str) -> AuditActor {
    civicbridge_core::privacy::person_ref(&store.privacy_key().unwrap(), &user.parse().unwrap())
        .into()
}

fn count(store: &Store, action: AuditAction) -> usize {
    store
        .audit_log()
        .unwrap()
        .iter()
        .filter(|e| e.action == action)
        .count()
}

#[tokio::test]
async fn a_card_shows_who_where_and_why_and_is_edited_to_show_the_decision() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Is the hall free on Friday?"),
    )
    .await;
    let card = card_of(&store, 0).await;
    let text = fakes.matrix.get(&card).unwrap().out.text.to_plain();
    for part in [
        "Held #1",
        "rule: public to staff messages need approval",
        "From Ada on Telegram, new sender",
        "In telegram:-100 → matrix:!staff",
        "Ada (Telegram): Is the hall free on Friday?",
    ] {
        assert!(text.contains(part), "{part:?} missing in the card: {text}");
    }

    // Someone without a role reacts: nothing happens but an audit entry.
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, STAFFER, "r0", &card, "✅")),
    )
    .await;
    assert_eq!(store.pending().unwrap().len(), 1);
    assert_eq!(count(&store, AuditAction::Refused), 1);

    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r1", &card, "✅")),
    )
    .await;
    wait_until(WAIT, "the card shows the decision", || {
        fakes.matrix.get(&card).is_some_and(|p| {
            p.edits
                .last()
                .is_some_and(|e| e.text.to_plain().starts_with("✅ Approved #1 by Mo at "))
        })
    })
    .await;
    wait_until(WAIT, "the staff copy", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    // Later reactions change nothing.
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r2", &card, "❌")),
    )
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        ["Ada (Telegram): Is the hall free on Friday?"]
    );
    assert_eq!(count(&store, AuditAction::Approved), 1);
    assert_eq!(count(&store, AuditAction::Rejected), 0);
    assert_eq!(
        fakes.matrix.get(&card).unwrap().edits.len(),
        1,
        "edited once"
    );
}

#[tokio::test]
async fn power_level_50_in_the_moderation_room_makes_a_moderator_and_less_is_refused() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "one")).await;
    let low = ("@low", "Lou");
    let high = ("@pl50", "Pat");
    acked(
        fakes
            .matrix
            .inject(with_power(&fakes.matrix, low, "$a", "!approve 1", 49)),
    )
    .await;
    wait_until(WAIT, "a polite refusal", || {
        mods_say(&fakes, "Sorry, only moderators")
    })
    .await;
    assert_eq!(store.pending().unwrap().len(), 1);
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused && e.actor == person(&store, "matrix:@low")));

    acked(
        fakes
            .matrix
            .inject(with_power(&fakes.matrix, high, "$c", "!approve 1", 50)),
    )
    .await;
    wait_until(WAIT, "the staff copy", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    assert!(mods_say(&fakes, "#1 approved by Pat"));

    // Moderators are not admins: rule changes are refused and audited.
    acked(fakes.matrix.inject(with_power(
        &fakes.matrix,
        high,
        "$d",
        "!set planning max_length 10",
        50,
    )))
    .await;
    wait_until(WAIT, "refused", || {
        mods_say(&fakes, "Sorry, only admins of link planning")
    })
    .await;
    assert_eq!(
        store
            .rules(&civicbridge_api::LinkId::new("planning"))
            .unwrap()
            .unwrap()
            .max_length,
        None
    );
    let admin = ("@boss", "Bo");
    acked(fakes.matrix.inject(with_power(
        &fakes.matrix,
        admin,
        "$e",
        "!set planning max_length 10",
        100,
    )))
    .await;
    wait_until(WAIT, "changed", || {
        mods_say(&fakes, "planning: max_length is now 10")
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        store
            .rules(&civicbridge_api::LinkId::new("planning"))
            .unwrap()
            .unwrap()
            .max_length,
        Some(10)
    );
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::RulesChanged
            && e.actor == AuditActor::Person("matrix:@boss".parse().unwrap())));
}

#[tokio::test]
async fn reject_with_a_reason_sends_nothing_and_edit_publishes_the_moderators_text() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "spam spam")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "8", "Is teh hall free?")).await;
    let first = card_of(&store, 0).await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c1", "!reject #1 advertising"),
    )
    .await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$c2", "!edit #2 Is the hall free?"),
    )
    .await;
    wait_until(WAIT, "the edited text in the staff room", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): Is the hall free?"]
    })
    .await;
    wait_until(WAIT, "the rejected card", || {
        fakes.matrix.get(&first).is_some_and(|p| {
            p.edits.last().is_some_and(|e| {
                e.text.to_plain().contains("❌ Rejected #1 by Mo")
                    && e.text.to_plain().contains("reason: advertising")
            })
        })
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.matrix.texts_in(STAFF).len(),
        1,
        "the rejected one sent nothing"
    );
    let edited = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::EditedAndApproved)
        .unwrap();
    let hash =
        |t: &str| civicbridge_core::privacy::content_hash(&civicbridge_api::RichText::plain(t));
    assert_eq!(edited.detail["original_sha256"], hash("Is teh hall free?"));
    assert_eq!(edited.detail["text_sha256"], hash("Is the hall free?"));
}

#[tokio::test]
async fn takedown_by_id_by_link_and_by_pending_id_removes_every_copy() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    for (id, text) in [("1", "first"), ("2", "second"), ("3", "third")] {
        acked(fakes.telegram.post(TG, RESIDENT, id, text)).await;
    }
    wait_until(WAIT, "copies", || {
        fakes.matrix.texts_in(STAFF).len() == 3 && fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    // By the mirror id; by a Discord message link to a copy; by the source id.
    let dc_copy = fakes.discord.visible_in(DC)[1].id.clone();
    acked(fakes.matrix.post(MODS, MODERATOR, "$t1", "!takedown m1")).await;
    wait_until(WAIT, "one taken down", || {
        mods_say(&fakes, "taken down by Mo: removing 2 copies")
    })
    .await;
    let link = format!("https://discord.com/channels/1/{DC}/{dc_copy}");
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$t2", &format!("!takedown {link}")),
    )
    .await;
    acked(fakes.matrix.post(MODS, STAFFER, "$t3", "!takedown 3")).await;
    wait_until(WAIT, "a refusal", || {
        mods_say(&fakes, "Sorry, only moderators")
    })
    .await;
    acked(
        fakes
            .matrix
            .post(MODS, MODERATOR, "$t4", "!takedown nothing-like-this"),
    )
    .await;
    wait_until(WAIT, "not found", || {
        mods_say(&fakes, "I know no bridged message")
    })
    .await;
    wait_until(WAIT, "two messages gone everywhere", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): third"]
            && fakes.discord.texts_in(DC) == ["Ada (Telegram): third"]
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(count(&store, AuditAction::Takedown), 2);
    assert_eq!(count(&store, AuditAction::Refused), 1);
}

#[tokio::test]
async fn a_staff_thread_published_on_request_crosses_until_unpublished() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        staff_to_public: DirectionRule {
            policy: Policy::Approve,
            scope: Scope::OnRequest,
            in_thread: Some(Policy::Auto),
        },
        public_to_staff: DirectionRule {
            policy: Policy::Approve,
            scope: Scope::All,
            in_thread: Some(Policy::Approve),
        },
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    let in_thread = |id: &str, text: &str| {
        let mut m = Message::text(id, text);
        m.thread = Some(ThreadId::new("$root"));
        fakes.matrix.message_event(STAFF, STAFFER, m)
    };
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$root", "Park consultation"),
    )
    .await;
    acked(
        fakes
            .matrix
            .inject(in_thread("$r0", "internal first thoughts")),
    )
    .await;
    assert!(
        store.pending().unwrap().is_empty(),
        "internal chat is not held"
    );
    acked(fakes.matrix.inject(in_thread("$p", "!publish"))).await;
    wait_until(WAIT, "the card", || {
        mods_say(&fakes, "publication of its thread requested by Sam")
    })
    .await;
    wait_until(WAIT, "the answer in the staff room", || {
        fakes
            .matrix
            .texts_in(STAFF)
            .iter()
            .any(|t| t.contains("Asked the moderators to publish this thread (#1)"))
    })
    .await;
    acked(fakes.matrix.inject(in_thread("$p2", "!publish"))).await;
    wait_until(WAIT, "no second item", || {
        fakes
            .matrix
            .texts_in(STAFF)
            .iter()
            .any(|t| t.contains("already waiting for the moderators as #1"))
    })
    .await;
    assert!(fakes.telegram.posted().is_empty());

    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    acked(fakes.matrix.inject(in_thread("$r1", "Drop-in on Friday"))).await;
    acked(fakes.matrix.inject(in_thread("$r2", "Agenda attached"))).await;
    wait_until(WAIT, "root and two replies on both sides", || {
        fakes.telegram.texts_in(TG).len() == 3 && fakes.discord.texts_in(DC).len() == 3
    })
    .await;
    assert_eq!(
        fakes.telegram.texts_in(TG)[0],
        "Sam (Matrix): Park consultation"
    );
    let tg_thread = fakes.telegram.visible_in(TG)[1].thread.clone().unwrap();
    assert!(fakes.telegram.visible_in(TG)[1..]
        .iter()
        .all(|p| p.thread.as_ref() == Some(&tg_thread)));

    // A resident answers in the Telegram thread: held, then approved into the Matrix thread.
    let mut answer = Message::text("900", "Will there be a playground?");
    answer.thread = Some(tg_thread.clone());
    acked(
        fakes
            .telegram
            .inject(fakes.telegram.message_event(TG, RESIDENT, answer)),
    )
    .await;
    assert_eq!(store.pending().unwrap().len(), 1, "held");
    acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!approve 2")).await;
    wait_until(WAIT, "the answer in the staff thread", || {
        fakes
            .matrix
            .visible_in(STAFF)
            .iter()
            .any(|p| p.out.text.to_plain().contains("playground"))
    })
    .await;
    let staff_copy = fakes
        .matrix
        .visible_in(STAFF)
        .into_iter()
        .find(|p| p.out.text.to_plain().contains("playground"))
        .unwrap();
    assert!(
        matches!(&staff_copy.out.thread, Some(t) if format!("{t:?}").contains("$root")),
        "{:?}",
        staff_copy.out.thread
    );

    // Unpublished: further replies stay in the staff room.
    acked(fakes.matrix.inject(in_thread("$u", "!unpublish"))).await;
    acked(fakes.matrix.inject(in_thread("$r3", "internal again"))).await;
    wait_until(WAIT, "the unpublish answer", || {
        fakes
            .matrix
            .texts_in(STAFF)
            .iter()
            .any(|t| t.contains("no longer crosses"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes
        .telegram
        .texts_in(TG)
        .iter()
        .all(|t| !t.contains("internal")));
    assert!(fakes
        .discord
        .texts_in(DC)
        .iter()
        .all(|t| !t.contains("internal")));
    assert_eq!(count(&store, AuditAction::PublishRequested), 1);
    assert_eq!(count(&store, AuditAction::Unpublished), 1);
}

#[tokio::test]
async fn an_edit_of_an_approved_resident_message_returns_to_the_queue() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };
    let rules = Rules {
        edits_public_to_staff: civicbridge_core::moderation::rules::EditPolicy::Approve,
        ..rules
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "Is the library open?"),
    )
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.texts_in(STAFF).len() == 1 && fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    let edit = EventKind::Edit {
        target: RemoteMsgId::new("7"),
        new: Message::text("7", "Is the library open? Idiots."),
    };
    acked(
        fakes.telegram.inject(
            fakes
                .telegram
                .event(TG, RESIDENT, "telegram:edit:7:1".into(), edit),
        ),
    )
    .await;
    wait_until(WAIT, "the edit card", || mods_say(&fakes, "Edit held #2")).await;
    wait_until(
        WAIT,
        "Discord follows (public to public edits follow)",
        || fakes.discord.texts_in(DC) == ["Ada (Telegram): Is the library open? Idiots."],
    )
    .await;
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        ["Ada (Telegram): Is the library open?"],
        "the staff copy stays as it was"
    );
    acked(fakes.matrix.post(MODS, MODERATOR, "$c2", "!approve 2")).await;
    wait_until(WAIT, "the staff copy edited", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): Is the library open? Idiots."]
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(count(&store, AuditAction::EditApproved), 1);
}

#[tokio::test]
async fn read_only_commands_trust_block_and_usage() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "held one")).await;
    for (i, cmd) in [
        "!queue",
        "!audit 2",
        "!rules",
        "!help",
        "!frobnicate",
        "!approve",
        "!takedown",
    ]
    .into_iter()
    .enumerate()
    {
        acked(fakes.matrix.post(MODS, MODERATOR, &format!("$q{i}"), cmd)).await;
    }
    wait_until(WAIT, "every answer", || {
        mods_say(&fakes, "1 held item(s)\n#1 [planning] Ada: held one")
            && mods_say(&fakes, "Last 2 audit entries:")
            && mods_say(&fakes, "Rules of link planning:")
            && mods_say(&fakes, "!takedown WHAT")
            && mods_say(&fakes, "unknown command `!frobnicate`")
            && mods_say(&fakes, "usage: !approve ID")
            && mods_say(&fakes, "usage: !takedown WHAT")
    })
    .await;
    acked(fakes.matrix.post(MODS, STAFFER, "$x", "!queue")).await;
    wait_until(WAIT, "refused", || {
        mods_say(&fakes, "Sorry, only moderators")
    })
    .await;

    // Trust needs an admin; a trusted resident skips the queue, a blocked one is dropped.
    let admin = ("@boss", "Bo");
    acked(fakes.matrix.inject(with_power(
        &fakes.matrix,
        admin,
        "$t",
        "!trust telegram:42",
        100,
    )))
    .await;
    wait_until(WAIT, "trusted", || {
        mods_say(&fakes, "telegram:42 is now trusted")
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "8", "trusted now")).await;
    wait_until(WAIT, "crossed at once", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    acked(fakes.matrix.inject(with_power(
        &fakes.matrix,
        admin,
        "$b",
        "!block telegram:42",
        100,
    )))
    .await;
    wait_until(WAIT, "blocked", || {
        mods_say(&fakes, "telegram:42 is now blocked")
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "9", "blocked now")).await;
    daemon.shutdown().await.unwrap();
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        ["Ada (Telegram): trusted now"]
    );
    let rules = store
        .rules(&civicbridge_api::LinkId::new("planning"))
        .unwrap()
        .unwrap();
    assert_eq!(rules.blocked, ["telegram:42"]);
    assert!(rules.trusted.is_empty());
}

#[tokio::test]
async fn a_decision_taken_before_the_card_is_posted_shows_on_the_card() {
    let fakes = Fakes::new();
    let store = Store::memory();
    // The card's first attempt fails, so the decision may come before the card is out.
    fakes
        .matrix
        .fail_next([civicbridge_api::ConnectorError::Transient("down".into())]);
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "quick")).await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve 1")).await;
    wait_until(WAIT, "the card reads approved", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.starts_with("✅ Approved #1 by Mo"))
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(!fakes
        .matrix
        .texts_in(MODS)
        .iter()
        .any(|t| t.starts_with("Held #1")));
}

#[tokio::test]
async fn the_queue_survives_a_restart_and_decisions_after_it_work() {
    let dir = tempfile::tempdir().unwrap();
    let fakes = Fakes::new();
    let store = Store::open(dir.path()).unwrap();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "before the restart")).await;
    let card = card_of(&store, 0).await;
    daemon.shutdown().await.unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.pending().unwrap().len(), 1);
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r1", &card, "✅")),
    )
    .await;
    wait_until(WAIT, "delivered and the card edited", || {
        fakes.matrix.texts_in(STAFF).len() == 1
            && fakes.matrix.get(&card).is_some_and(|p| !p.edits.is_empty())
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(
        fakes.matrix.texts_in(STAFF),
        ["Ada (Telegram): before the restart"]
    );
}

fn edit_event(
    fake: &FakeConnector,
    room: &str,
    who: (&str, &str),
    n: u32,
    target: &str,
    text: &str,
) -> Event {
    fake.event(
        room,
        who,
        format!("edit:{room}:{target}:{n}"),
        EventKind::Edit {
            target: RemoteMsgId::new(target),
            new: Message::text(target, text),
        },
    )
}

/// The race the outbox allows: the resident edits, the card of the new revision cannot be
/// posted yet (the homeserver fails), and the moderator reacts ✅ on the card they see. The
/// decision names that card's revision and is refused; no clock is involved.
#[tokio::test]
async fn a_decision_on_the_old_card_is_refused_while_the_new_card_is_still_in_the_outbox() {
    use civicbridge_api::ConnectorError;
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "harmless question")).await;
    let old = card_of(&store, 0).await;

    // The moderation room's lane stalls: the old card's "superseded" edit and the new card
    // wait in the outbox.
    fakes
        .matrix
        .fail_next((0..40).map(|_| ConnectorError::Transient("homeserver down".into())));
    acked(fakes.telegram.inject(edit_event(
        &fakes.telegram,
        TG,
        RESIDENT,
        1,
        "7",
        "visit http://evil.example/phish",
    )))
    .await;
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r1", &old, "✅")),
    )
    .await;
    let item = store.pending().unwrap().remove(0);
    assert_eq!(item.revision, 2, "still held, at revision 2");
    assert!(
        store
            .audit_log()
            .unwrap()
            .iter()
            .any(|e| e.action == AuditAction::Refused && e.detail["why"] == "outdated revision"),
        "the refusal is audited"
    );
    // A bare id is revision 1: refused as well.
    acked(fakes.matrix.post(MODS, MODERATOR, "c1", "!approve #1")).await;

    // Once the room is back: the old card says it is superseded, the new card is out, and the
    // moderators were told why their decisions did not count.
    wait_until(
        WAIT,
        "the new card, the superseded one, the refusals",
        || {
            let texts = fakes.matrix.texts_in(MODS);
            texts.iter().any(|t| t.starts_with("Held #1 · revision 2"))
                && texts
                    .iter()
                    .any(|t| t.starts_with("⤵ Superseded: #1 revision 1"))
                && texts
                    .iter()
                    .filter(|t| t.starts_with("Not decided: #1 ") && t.contains("!approve #1v2"))
                    .count()
                    == 2
        },
    )
    .await;
    assert!(fakes.matrix.texts_in(STAFF).is_empty(), "nothing crossed");

    // The card of revision 2 decides revision 2: exactly its text crosses.
    let new = card_of(&store, 0).await;
    assert_ne!(new, old);
    // Another ✅ on the old card, now that the new one is out: still refused.
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r2", &old, "✅")),
    )
    .await;
    acked(
        fakes
            .matrix
            .inject(reaction(&fakes.matrix, MODERATOR, "r3", &new, "✅")),
    )
    .await;
    wait_until(WAIT, "revision 2 crossed", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): visit http://evil.example/phish"]
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(count(&store, AuditAction::HeldRevised), 1);
}

/// Filters run again on a held item's new text: a rule may now drop it (it is withdrawn), or
/// hold it for another reason than before.
#[tokio::test]
async fn an_edit_while_held_reruns_the_filters() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        links: civicbridge_core::moderation::rules::LinkPolicy::Approve,
        blocked_patterns: vec!["(?i)casino".into()],
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    // Under `auto`, only the link holds it.
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "see https://council.example/pay"),
    )
    .await;
    card_of(&store, 0).await;
    assert_eq!(
        store.pending().unwrap()[0].reason.to_string(),
        "it contains a link"
    );
    // Without the link, nothing would hold it, but a moderator already has it: held still.
    acked(fakes.telegram.inject(edit_event(
        &fakes.telegram,
        TG,
        RESIDENT,
        1,
        "7",
        "see you at five",
    )))
    .await;
    assert_eq!(
        store.pending().unwrap()[0].reason.to_string(),
        "it was edited while held"
    );
    // Now a mass mention: held for that.
    acked(fakes.telegram.inject(edit_event(
        &fakes.telegram,
        TG,
        RESIDENT,
        2,
        "7",
        "@everyone see you at five",
    )))
    .await;
    let item = store.pending().unwrap().remove(0);
    assert_eq!(
        (item.revision, item.reason.to_string().as_str()),
        (3, "it tries to notify a whole room")
    );
    // A blocked pattern drops it everywhere: withdrawn, and its card says so.
    acked(fakes.telegram.inject(edit_event(
        &fakes.telegram,
        TG,
        RESIDENT,
        3,
        "7",
        "casino bonus",
    )))
    .await;
    assert!(store.pending().unwrap().is_empty());
    assert_eq!(count(&store, AuditAction::Withdrawn), 1);
    wait_until(WAIT, "the last card marked withdrawn", || {
        mods_say(&fakes, "🗑 Withdrawn #1") && mods_say(&fakes, "matches blocked pattern")
    })
    .await;
    // Nothing crossed: a later message does, and is the only one.
    acked(fakes.telegram.post(TG, RESIDENT, "8", "hello")).await;
    wait_until(WAIT, "the later message", || {
        fakes.matrix.texts_in(STAFF) == ["Ada (Telegram): hello"]
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.discord.texts_in(DC), ["Ada (Telegram): hello"]);
}

/// A deletion while held withdraws the item: the moderators see it on the card, an approval
/// afterwards finds nothing.
#[tokio::test]
async fn a_deletion_while_held_withdraws_the_item_and_marks_its_card() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(
        fakes
            .discord
            .post(DC, ("77", "Bea"), "9", "call me on 0123"),
    )
    .await;
    let card = card_of(&store, 0).await;
    let delete = fakes.discord.event(
        DC,
        ("0", "unknown"),
        "discord:delete:9".into(),
        EventKind::Delete {
            target: RemoteMsgId::new("9"),
        },
    );
    let mut delete = delete;
    // As the Discord connector reports it: nobody named, vouched for by the platform.
    delete.sender.authority = civicbridge_api::Authority::PlatformChecked;
    acked(fakes.discord.inject(delete)).await;
    assert!(store.pending().unwrap().is_empty());
    acked(fakes.matrix.post(MODS, MODERATOR, "c1", "!approve #1")).await;
    wait_until(WAIT, "the card marked withdrawn and the answer", || {
        fakes.matrix.get(&card).is_some_and(|p| {
            p.edits
                .last()
                .is_some_and(|e| e.text.to_plain().starts_with("🗑 Withdrawn #1"))
        }) && mods_say(&fakes, "There is no held item #1")
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes.matrix.texts_in(STAFF).is_empty());
    assert!(fakes.telegram.texts_in(TG).is_empty());
}

/// A resident who edits a held message over and over cannot flood the moderation room: every
/// revision gets a card of its own (a card is never rewritten under a moderator's eyes), so the
/// item is withdrawn once it reaches `MAX_REVISIONS`, and later edits post nothing.
#[tokio::test]
async fn editing_a_held_message_over_and_over_withdraws_it_instead_of_flooding_the_moderators() {
    use civicbridge_core::moderation::approval::MAX_REVISIONS;
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "version 1")).await;
    for n in 2..=3 * MAX_REVISIONS {
        let text = format!("version {n}");
        acked(
            fakes
                .telegram
                .inject(edit_event(&fakes.telegram, TG, RESIDENT, n, "7", &text)),
        )
        .await;
    }
    assert!(store.pending().unwrap().is_empty(), "withdrawn");
    wait_until(WAIT, "the outbox drains", || {
        store.outbox().unwrap().is_empty()
    })
    .await;
    let cards = fakes
        .matrix
        .posted()
        .into_iter()
        .filter(|p| p.out.room.as_str() == MODS)
        .count();
    assert_eq!(
        cards, MAX_REVISIONS as usize,
        "one card per revision, none after the withdrawal"
    );
    assert!(
        mods_say(&fakes, "edited it 10 times while it was held"),
        "{:?}",
        fakes.matrix.texts_in(MODS)
    );
    daemon.shutdown().await.unwrap();
    assert!(fakes.matrix.texts_in(STAFF).is_empty(), "nothing crossed");
}

/// A message held for the staff room but already on Discord is taken down with `!takedown`:
/// the Discord copy goes, and the held item goes with it (its card says so, `!queue` is empty,
/// a later ✅ or `!approve` sends nothing).
#[tokio::test]
async fn a_takedown_withdraws_the_messages_held_items_too() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), resident_approval_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "call me on 0123")).await;
    let card = card_of(&store, 0).await;
    wait_until(WAIT, "the Discord copy", || {
        fakes.discord.texts_in(DC).len() == 1
    })
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "t1", "!takedown m1")).await;
    wait_until(WAIT, "the copy gone and the card withdrawn", || {
        fakes.discord.texts_in(DC).is_empty()
            && fakes.matrix.get(&card).is_some_and(|p| {
                p.edits
                    .last()
                    .is_some_and(|e| e.text.to_plain().starts_with("🗑 Withdrawn #1"))
            })
    })
    .await;
    assert!(store.pending().unwrap().is_empty());
    acked(fakes.matrix.post(MODS, MODERATOR, "c1", "!approve #1")).await;
    wait_until(WAIT, "the answer", || {
        mods_say(&fakes, "There is no held item #1")
    })
    .await;
    daemon.shutdown().await.unwrap();
    assert!(fakes.matrix.texts_in(STAFF).is_empty(), "nothing crossed");
    let log = store.audit_log().unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::Takedown)
            .count(),
        1
    );
    assert!(log.iter().any(|e| e.action == AuditAction::Withdrawn));
}
