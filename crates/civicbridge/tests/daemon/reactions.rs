//! Reactions crossing a link, on fake platforms: the bot shows on each copy the reactions made
//! on the others, as the rules allow, counted per person, following removals, within what each
//! platform takes (a Telegram-like platform: one reaction, from a fixed set).
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::{wait_until, FakeConnector, FakeOp};
use civicbridge_api::{
    Capabilities, Connector, ConnectorError, EventKind, LinkId, Platform, ReactionCount,
    ReactionKeys, RemoteMsgId,
};
use civicbridge_core::moderation::audit::AuditActor;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

/// A Telegram-like fake: one reaction per message, from a small fixed set.
fn fakes() -> Fakes {
    Fakes {
        telegram: FakeConnector::with_capabilities(
            Platform::new("telegram"),
            Capabilities {
                reaction_keys: ReactionKeys::Only(&["👍", "❤", "🔥"]),
                max_bot_reactions: Some(1),
                ..Capabilities::default()
            },
        ),
        ..Fakes::new()
    }
}

fn add(key: &str, target: &str, id: Option<&str>) -> EventKind {
    EventKind::Reaction {
        target: RemoteMsgId::new(target),
        key: key.into(),
        id: id.map(RemoteMsgId::new),
    }
}

fn removed(key: &str, target: &str) -> EventKind {
    EventKind::ReactionRemoved {
        target: RemoteMsgId::new(target),
        key: key.into(),
    }
}

fn redaction(id: &str) -> EventKind {
    EventKind::Delete {
        target: RemoteMsgId::new(id),
    }
}

/// Injects `kind` from `who` in `room` of `fake`, with a unique event id, and waits for its ack.
async fn act(fake: &FakeConnector, room: &str, who: (&str, &str), id: &str, kind: EventKind) {
    acked(fake.inject(fake.event(room, who, format!("{}:{id}", fake.platform()), kind))).await;
}

/// The id of the single copy `fake` posted in `room`.
fn copy_id(fake: &FakeConnector, room: &str) -> String {
    let posted = fake.visible_in(room);
    assert_eq!(posted.len(), 1, "{posted:?}");
    posted[0].id.to_string()
}

async fn shows(fake: &FakeConnector, id: &str, keys: &[&str], what: &str) {
    wait_until(WAIT, what, || fake.reactions_on(id) == keys).await;
}

#[tokio::test]
async fn staff_reactions_show_on_every_public_copy_counted_per_person_and_follow_removals() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .matrix
            .post(STAFF, STAFFER, "$s1", "Consultation opens today"),
    )
    .await;
    wait_until(WAIT, "copies", || {
        fakes.telegram.visible_in(TG).len() == 1 && fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    let (tg, dc) = (copy_id(&fakes.telegram, TG), copy_id(&fakes.discord, DC));

    let m = &fakes.matrix;
    act(m, STAFF, ("@a", "A"), "r1", add("👍", "$s1", Some("$r1"))).await;
    act(m, STAFF, ("@b", "B"), "r2", add("👍", "$s1", Some("$r2"))).await;
    act(m, STAFF, ("@c", "C"), "r3", add("❤️", "$s1", Some("$r3"))).await;
    // The same person and key again (a replay under another event id) counts once.
    act(
        m,
        STAFF,
        ("@c", "C"),
        "r3again",
        add("❤️", "$s1", Some("$r3")),
    )
    .await;
    shows(&fakes.discord, &dc, &["👍", "❤️"], "both keys on Discord").await;
    // Telegram shows one: the most frequent, written as Telegram writes it.
    shows(&fakes.telegram, &tg, &["👍"], "👍 on Telegram").await;

    // Someone else's redaction of @c's reaction, by a member, changes nothing.
    act(m, STAFF, ("@x", "X"), "red-x", redaction("$r3")).await;
    // @a and @b take theirs back: 👍 goes, ❤ takes Telegram's one place.
    act(m, STAFF, ("@a", "A"), "red1", redaction("$r1")).await;
    act(m, STAFF, ("@b", "B"), "red2", redaction("$r2")).await;
    shows(&fakes.discord, &dc, &["❤️"], "only ❤️ left on Discord").await;
    shows(&fakes.telegram, &tg, &["❤"], "❤ replaces 👍 on Telegram").await;
    // Staff's own room never gets the bot's echo of their reactions.
    assert!(fakes.matrix.reactions_on("$s1").is_empty());
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn residents_reactions_cross_between_public_rooms_and_reach_staff_only_when_the_rules_say_so()
{
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "7", "The bridge is closed"),
    )
    .await;
    wait_until(WAIT, "copies", || {
        fakes.matrix.visible_in(STAFF).len() == 1 && fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    let (staff, dc) = (copy_id(&fakes.matrix, STAFF), copy_id(&fakes.discord, DC));

    act(
        &fakes.telegram,
        TG,
        ("43", "Bob"),
        "r1",
        add("🔥", "7", None),
    )
    .await;
    shows(&fakes.discord, &dc, &["🔥"], "🔥 on the Discord copy").await;
    // A reaction on the Discord copy shows on the resident's own message on Telegram.
    act(
        &fakes.discord,
        DC,
        ("77", "Bea"),
        "r2",
        add("👍", &dc, None),
    )
    .await;
    shows(&fakes.telegram, "7", &["👍"], "👍 on the Telegram original").await;
    // Public → staff is off by default: nothing reached the staff room.
    assert!(
        !fakes
            .matrix
            .ops()
            .iter()
            .any(|o| matches!(o, FakeOp::React { .. })),
        "{:?}",
        fakes.matrix.ops()
    );

    store
        .set_rule(
            &LinkId::new("planning"),
            "reactions_public_to_staff",
            "auto",
            &AuditActor::Cli,
        )
        .unwrap();
    act(
        &fakes.telegram,
        TG,
        ("44", "Cy"),
        "r3",
        add("🔥", "7", None),
    )
    .await;
    shows(
        &fakes.matrix,
        &staff,
        &["🔥", "👍"],
        "residents' reactions in the staff room",
    )
    .await;

    // Bob takes his back; Cy's 🔥 still counts on Discord.
    act(&fakes.telegram, TG, ("43", "Bob"), "r4", removed("🔥", "7")).await;
    act(&fakes.telegram, TG, ("44", "Cy"), "r5", removed("🔥", "7")).await;
    shows(
        &fakes.discord,
        &dc,
        &[],
        "🔥 gone from Discord once nobody has it",
    )
    .await;
    shows(&fakes.matrix, &staff, &["👍"], "and from the staff room").await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn anonymous_counts_count_without_the_bots_own_reaction() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Road works")).await;
    wait_until(WAIT, "copies", || {
        fakes.telegram.visible_in(TG).len() == 1 && fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    let (tg, dc) = (copy_id(&fakes.telegram, TG), copy_id(&fakes.discord, DC));
    act(
        &fakes.matrix,
        STAFF,
        ("@a", "A"),
        "r1",
        add("👍", "$s1", Some("$r1")),
    )
    .await;
    shows(&fakes.telegram, &tg, &["👍"], "the bot's 👍 on Telegram").await;
    let counts = |thumbs: u32, fire: u32| EventKind::ReactionCounts {
        target: RemoteMsgId::new(&tg),
        counts: vec![
            ReactionCount {
                key: "👍".into(),
                count: thumbs,
            },
            ReactionCount {
                key: "🔥".into(),
                count: fire,
            },
        ],
    };
    // Telegram's totals include the bot's own 👍.
    act(&fakes.telegram, TG, ("-100", "Group"), "c1", counts(1, 2)).await;
    shows(
        &fakes.discord,
        &dc,
        &["👍", "🔥"],
        "🔥 joins @a's 👍 on Discord",
    )
    .await;
    // @a takes theirs back: 👍 leaves Discord, though Telegram's last totals still count one
    // (the bot's own, which it then takes back too).
    act(&fakes.matrix, STAFF, ("@a", "A"), "red1", redaction("$r1")).await;
    shows(&fakes.telegram, &tg, &[], "the bot's 👍 gone from Telegram").await;
    shows(
        &fakes.discord,
        &dc,
        &["🔥"],
        "only the residents' 🔥 on Discord",
    )
    .await;
    // Telegram's next totals no longer count the bot's 👍; the residents took 🔥 back.
    act(&fakes.telegram, TG, ("-100", "Group"), "c2", counts(0, 0)).await;
    shows(&fakes.discord, &dc, &[], "🔥 gone").await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_key_a_platform_refuses_is_not_tried_again_and_the_others_still_show() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Hello")).await;
    wait_until(WAIT, "copies", || fakes.discord.visible_in(DC).len() == 1).await;
    let dc = copy_id(&fakes.discord, DC);
    fakes
        .discord
        .fail_next([ConnectorError::Rejected("Unknown Emoji (10014)".into())]);
    act(
        &fakes.matrix,
        STAFF,
        ("@a", "A"),
        "r1",
        add("🦜", "$s1", Some("$r1")),
    )
    .await;
    act(
        &fakes.matrix,
        STAFF,
        ("@b", "B"),
        "r2",
        add("👍", "$s1", Some("$r2")),
    )
    .await;
    shows(&fakes.discord, &dc, &["👍"], "👍 shows, 🦜 was refused").await;
    act(
        &fakes.matrix,
        STAFF,
        ("@c", "C"),
        "r3",
        add("🦜", "$s1", Some("$r3")),
    )
    .await;
    act(
        &fakes.matrix,
        STAFF,
        ("@c", "C"),
        "r4",
        add("👀", "$s1", Some("$r4")),
    )
    .await;
    shows(&fakes.discord, &dc, &["👍", "👀"], "later keys still show").await;
    let parrots = fakes
        .discord
        .ops()
        .iter()
        .filter(|o| matches!(o, FakeOp::React { key, .. } if key == "🦜"))
        .count();
    assert_eq!(parrots, 1, "a refused key is asked for once");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_keys_are_cleaned_bounded_or_ignored() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Hello")).await;
    wait_until(WAIT, "copies", || fakes.discord.visible_in(DC).len() == 1).await;
    let dc = copy_id(&fakes.discord, DC);
    let m = &fakes.matrix;
    // Bidi and control characters go; an empty key, and a reaction on a message the bridge
    // never carried, are ignored.
    act(
        m,
        STAFF,
        ("@a", "A"),
        "r1",
        add("\u{202e}👍\u{0}\n", "$s1", Some("$r1")),
    )
    .await;
    act(
        m,
        STAFF,
        ("@a", "A"),
        "r2",
        add("\u{200f}\u{7}", "$s1", Some("$r2")),
    )
    .await;
    act(
        m,
        STAFF,
        ("@a", "A"),
        "r3",
        add("👍", "$unknown", Some("$r3")),
    )
    .await;
    shows(&fakes.discord, &dc, &["👍"], "the cleaned 👍").await;
    // Thirty different long keys: at most twenty are kept, each cut short.
    for i in 0..30 {
        let key = format!("{i}{}", "x".repeat(10_000));
        act(
            m,
            STAFF,
            ("@b", "B"),
            &format!("k{i}"),
            add(&key, "$s1", None),
        )
        .await;
    }
    let rec = store
        .reactions(
            store
                .mirror_of(
                    &civicbridge_api::RoomRef::new(Platform::new("matrix"), STAFF),
                    &RemoteMsgId::new("$s1"),
                )
                .unwrap()
                .unwrap(),
        )
        .unwrap()
        .unwrap();
    let staff = &rec.rooms[0];
    assert_eq!(staff.keys().len(), 20, "{:?}", staff.keys());
    assert!(staff.keys().iter().all(|k| k.chars().count() <= 32));
    assert!(!staff.keys().iter().any(|k| k.is_empty()));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_erased_persons_reactions_leave_the_other_rooms_when_the_bridge_starts_again() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Hello")).await;
    wait_until(WAIT, "copies", || fakes.discord.visible_in(DC).len() == 1).await;
    let dc = copy_id(&fakes.discord, DC);
    act(
        &fakes.matrix,
        STAFF,
        ("@a", "A"),
        "r1",
        add("👍", "$s1", Some("$r1")),
    )
    .await;
    shows(&fakes.discord, &dc, &["👍"], "👍 on Discord").await;
    daemon.shutdown().await.unwrap();

    // What `civicbridge erase` does, with the bridge stopped.
    let done = civicbridge_core::privacy::erase::erase(
        &store,
        &"matrix:@a".parse().unwrap(),
        &AuditActor::Cli,
    )
    .unwrap();
    assert_eq!(done.reactions_removed, 1);
    assert!(store
        .reactions_by(&"matrix:@a".parse().unwrap())
        .unwrap()
        .is_empty());
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    shows(&fakes.discord, &dc, &[], "the bot's 👍 removed").await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn someone_toggling_a_reaction_fast_costs_one_job_per_room_at_a_time() {
    let fakes = fakes();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.matrix.post(STAFF, STAFFER, "$s1", "Hello")).await;
    wait_until(WAIT, "copies", || {
        fakes.discord.visible_in(DC).len() == 1 && fakes.telegram.visible_in(TG).len() == 1
    })
    .await;
    let dc = copy_id(&fakes.discord, DC);
    // While the link is paused, the reaction jobs wait in the outbox: count them.
    store
        .set_rule(&LinkId::new("planning"), "paused", "true", &AuditActor::Cli)
        .unwrap();
    let m = &fakes.matrix;
    for i in 0..50 {
        let kind = if i % 2 == 0 {
            add("👍", "$s1", Some(&format!("$r{i}")))
        } else {
            redaction(&format!("$r{}", i - 1))
        };
        act(m, STAFF, ("@a", "A"), &format!("t{i}"), kind).await;
    }
    act(
        m,
        STAFF,
        ("@a", "A"),
        "last",
        add("👍", "$s1", Some("$last")),
    )
    .await;
    let waiting = store
        .outbox()
        .unwrap()
        .iter()
        .filter(|j| matches!(j.kind, civicbridge_core::store::JobKind::Reactions { .. }))
        .count();
    assert_eq!(waiting, 2, "one per public room, not one per toggle");
    store
        .set_rule(
            &LinkId::new("planning"),
            "paused",
            "false",
            &AuditActor::Cli,
        )
        .unwrap();
    shows(&fakes.discord, &dc, &["👍"], "the last state on Discord").await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn reactions_made_while_a_message_was_held_show_on_its_copies_once_approved() {
    let fakes = fakes();
    let store = Store::memory();
    let rules = civicbridge_core::moderation::rules::Rules {
        public_to_public: civicbridge_core::moderation::rules::DirectionRule::new(
            civicbridge_core::moderation::rules::Policy::Approve,
        ),
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "7", "Is the pool open?")).await;
    wait_until(WAIT, "the card", || {
        store
            .pending()
            .unwrap()
            .first()
            .is_some_and(|p| p.card.is_some())
    })
    .await;
    // Bob reacts on Telegram while the Discord copy waits for a moderator.
    act(
        &fakes.telegram,
        TG,
        ("43", "Bob"),
        "r1",
        add("🔥", "7", None),
    )
    .await;
    acked(fakes.matrix.post(MODS, MODERATOR, "$c1", "!approve #1")).await;
    wait_until(WAIT, "the Discord copy", || {
        fakes.discord.visible_in(DC).len() == 1
    })
    .await;
    let dc = copy_id(&fakes.discord, DC);
    shows(
        &fakes.discord,
        &dc,
        &["🔥"],
        "Bob's 🔥 on the approved copy",
    )
    .await;
    daemon.shutdown().await.unwrap();
}
