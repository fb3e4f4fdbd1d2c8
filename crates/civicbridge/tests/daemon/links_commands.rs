//! Links changed from the moderation room (`!link`, `!unlink`, `!rooms`) and the admin API:
//! they take effect at once, are stored and audited, survive a restart until the config changes
//! that same link, and the bot says in the moderation room what it could not do. Rooms are named
//! on cards as their platforms name them.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{ConnectorError, LinkId, UserKey};
use civicbridge_core::moderation::audit::{AuditAction, AuditActor};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::Daemon;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

const BOSS: (&str, &str) = ("@boss", "Boss");
const LIB_STAFF: &str = "!library";
const LIB_TG: &str = "-200";
const LINK_LIBRARY: &str = "!link library staff=matrix:!library public=telegram:-200";

/// The test link, with an admin.
fn links() -> Vec<LinkSettings> {
    let mut l = link(open_rules());
    l[0].link.admins = vec!["matrix:@boss".parse().unwrap()];
    l
}

async fn start_with(store: Store, links: &[LinkSettings], fakes: &Fakes) -> Daemon {
    Daemon::start(store, links, fakes.all(), fast_retries())
        .await
        .unwrap()
}

/// Types `text` in the moderation room as `who`, and waits for the bridge's reply.
async fn say(fakes: &Fakes, who: (&str, &str), id: &str, text: &str) -> String {
    let before = fakes.matrix.texts_in(MODS).len();
    acked(fakes.matrix.post(MODS, who, id, text)).await;
    wait_until(WAIT, "a reply in the moderation room", || {
        fakes.matrix.texts_in(MODS).len() > before
    })
    .await;
    fakes.matrix.texts_in(MODS)[before].clone()
}

fn audited(store: &Store, action: AuditAction) -> Vec<AuditActor> {
    store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| e.actor)
        .collect()
}

#[tokio::test]
async fn an_admin_links_rooms_at_runtime_and_the_new_link_holds_for_approval_with_rooms_named() {
    let fakes = Fakes::new();
    fakes
        .telegram
        .name_room(LIB_TG, "Library friends\u{202e} (Matrix)");
    fakes.matrix.name_room(LIB_STAFF, "Library staff");
    let store = Store::memory();
    let daemon = start_with(store.clone(), &links(), &fakes).await;

    let reply = say(&fakes, BOSS, "m1", LINK_LIBRARY).await;
    assert!(reply.contains("Link library created"), "{reply}");
    assert_eq!(
        audited(&store, AuditAction::Linked),
        vec![AuditActor::Person(
            "matrix:@boss".parse::<UserKey>().unwrap()
        )]
    );
    wait_until(WAIT, "the bot to join the new rooms", || {
        fakes.telegram.joins().iter().any(|r| r.as_str() == LIB_TG)
            && fakes.matrix.joins().iter().any(|r| r.as_str() == LIB_STAFF)
    })
    .await;
    wait_until(WAIT, "the rooms' names to be kept", || {
        store
            .room_name(&civicbridge_api::RoomRef::new(
                civicbridge_api::Platform::new("telegram"),
                LIB_TG,
            ))
            .unwrap()
            .is_some()
    })
    .await;

    // A new link starts with the default rules: a resident's message waits for a moderator.
    acked(
        fakes
            .telegram
            .post(LIB_TG, RESIDENT, "t1", "when do you open?"),
    )
    .await;
    wait_until(WAIT, "a card", || {
        fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("when do you open?"))
    })
    .await;
    let card = fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .find(|t| t.contains("when do you open?"))
        .unwrap();
    // The name as its platform gave it, cleaned: the bidi override is gone and the fake
    // platform label cannot pass for the real one.
    assert!(
        card.contains("In Library friends [Matrix] (Telegram) → Library staff (Matrix)"),
        "{card}"
    );
    assert!(fakes.matrix.texts_in(LIB_STAFF).is_empty());
    let reply = say(&fakes, MODERATOR, "m2", "!approve #1").await;
    assert!(reply.contains("approved"), "{reply}");
    wait_until(WAIT, "the approved message in the new staff room", || {
        fakes.matrix.texts_in(LIB_STAFF).len() == 1
    })
    .await;

    // `!rooms` names every room and keeps the ids at hand.
    let rooms = say(&fakes, MODERATOR, "m3", "!rooms").await;
    assert!(rooms.contains("Link library:"), "{rooms}");
    assert!(
        rooms.contains("Library staff (Matrix) — matrix:!library"),
        "{rooms}"
    );
    assert!(rooms.contains("matrix:!staff"), "{rooms}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn unlink_stops_at_once_and_holds_across_restarts_until_the_config_changes_that_link() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start_with(store.clone(), &links(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "t1", "before")).await;
    wait_until(WAIT, "a relayed message", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;

    let reply = say(&fakes, BOSS, "m1", "!unlink planning").await;
    assert!(reply.contains("Link planning is unlinked"), "{reply}");
    assert!(
        reply.contains("the last link moderated from its moderation room"),
        "warns that the room goes deaf: {reply}"
    );
    wait_until(WAIT, "the bot to leave the rooms no link uses", || {
        fakes.telegram.leaves().iter().any(|r| r.as_str() == TG)
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "t2", "after unlink")).await;
    daemon.shutdown().await.unwrap();

    // The same config again: the runtime change stands.
    let daemon = start_with(store.clone(), &links(), &fakes).await;
    assert!(daemon.links().is_empty(), "{:?}", daemon.links());
    acked(fakes.telegram.post(TG, RESIDENT, "t3", "after restart")).await;
    daemon.shutdown().await.unwrap();
    assert_eq!(fakes.matrix.texts_in(STAFF), vec!["Ada (Telegram): before"]);

    // The config changes that link (a new moderator): the config's version is in force again.
    let mut changed = links();
    changed[0]
        .link
        .moderators
        .push("matrix:@new".parse().unwrap());
    let daemon = start_with(store.clone(), &changed, &fakes).await;
    assert_eq!(daemon.links().len(), 1);
    assert_eq!(audited(&store, AuditAction::LinkOverrideDropped).len(), 1);
    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "t4", "relinked by the config"),
    )
    .await;
    wait_until(WAIT, "relaying again", || {
        fakes.matrix.texts_in(STAFF).len() == 2
    })
    .await;
    assert!(store.link_overrides().unwrap().is_empty());
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_link_created_at_runtime_survives_a_restart_and_a_reload() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut daemon = start_with(store.clone(), &links(), &fakes).await;
    say(&fakes, BOSS, "m1", LINK_LIBRARY).await;
    wait_until(WAIT, "the link in force", || daemon.links().len() == 2).await;
    // A reload of the same config keeps it.
    let changes = daemon.apply_links(&links()).unwrap();
    assert!(changes.removed.is_empty(), "{changes}");
    assert_eq!(daemon.links().len(), 2);
    daemon.shutdown().await.unwrap();

    let daemon = start_with(store.clone(), &links(), &fakes).await;
    let ids: Vec<LinkId> = daemon.links().into_iter().map(|l| l.id).collect();
    assert_eq!(ids, vec![LinkId::new("planning"), LinkId::new("library")]);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn links_that_cannot_be_are_refused_with_a_reason_and_store_nothing() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start_with(store.clone(), &links(), &fakes).await;
    let cases = [
        // Not an admin: refused and audited.
        (MODERATOR, LINK_LIBRARY, "only admins"),
        (
            BOSS,
            "!link library staff=matrix:!library public=telegram:-100",
            "telegram:-100 is already used by link planning",
        ),
        (
            BOSS,
            "!link library staff=matrix:!library public=irc:#x",
            "irc has no connector",
        ),
        (
            BOSS,
            "!link library staff=matrix:!mod public=telegram:-200",
            "is the moderation room",
        ),
        (
            BOSS,
            "!link library staff=matrix:!library",
            "at least two rooms",
        ),
        (
            BOSS,
            "!link library staff=matrix:!library side=telegram:-200",
            "the side is staff or public",
        ),
        (
            BOSS,
            "!link library staff=matrix:!a staff=matrix:!a",
            "named twice",
        ),
        (
            BOSS,
            "!link ../x staff=matrix:!a public=telegram:-200",
            "cannot name a link",
        ),
        (
            BOSS,
            "!link library staff=matrix:!library public=telegram",
            "not of the form platform:room",
        ),
        (BOSS, "!unlink nosuch", "There is no link `nosuch`"),
    ];
    let long = format!(
        "!link library staff=matrix:!library public=telegram:-{}",
        "9".repeat(300)
    );
    let cases: Vec<((&str, &str), &str, &str)> = cases
        .into_iter()
        .chain([(BOSS, long.as_str(), "a room id is at most 255 bytes")])
        .collect();
    for (i, (who, text, expect)) in cases.iter().enumerate() {
        let reply = say(&fakes, *who, &format!("m{i}"), text).await;
        assert!(reply.contains(expect), "{text}: {reply}");
    }
    assert!(store.link_overrides().unwrap().is_empty());
    assert!(audited(&store, AuditAction::Linked).is_empty());
    assert_eq!(audited(&store, AuditAction::Refused).len(), 1);
    assert_eq!(daemon.links().len(), 1);
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_room_the_bot_cannot_join_is_reported_tried_again_and_the_fix_is_confirmed() {
    let fakes = Fakes::new();
    fakes.telegram.refuse_room(
        LIB_TG,
        Some(ConnectorError::Rejected(
            "the bot is not in this chat: add it to the group".into(),
        )),
    );
    let store = Store::memory();
    let daemon = start_with(store.clone(), &links(), &fakes).await;
    say(&fakes, BOSS, "m1", LINK_LIBRARY).await;
    wait_until(WAIT, "the notice", || {
        fakes.matrix.texts_in(MODS).iter().any(|t| {
            t.contains("Link library: the bot cannot take part in telegram:-200")
                && t.contains("add it to the group")
        })
    })
    .await;
    // Someone adds the bot: it notices by itself, and says so.
    fakes.telegram.name_room(LIB_TG, "Library friends");
    fakes.telegram.refuse_room(LIB_TG, None);
    wait_until(WAIT, "the all-clear", || {
        fakes.matrix.texts_in(MODS).iter().any(|t| {
            t.contains("✓ Link library: the bot now takes part in Library friends (Telegram)")
        })
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_link_made_again_under_an_old_name_starts_on_the_default_rules() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start_with(store.clone(), &links(), &fakes).await;
    say(&fakes, BOSS, "m1", LINK_LIBRARY).await;
    wait_until(WAIT, "the link in force", || daemon.links().len() == 2).await;
    let reply = say(
        &fakes,
        BOSS,
        "m2",
        "!set library public_to_staff.policy auto",
    )
    .await;
    assert!(reply.contains("is now auto"), "{reply}");
    let reply = say(&fakes, BOSS, "m3", "!unlink library").await;
    assert!(
        reply.contains("unlinked") && !reply.contains("last link"),
        "{reply}"
    );
    wait_until(WAIT, "the link out of force", || daemon.links().len() == 1).await;
    let reply = say(&fakes, BOSS, "m4", LINK_LIBRARY).await;
    assert!(reply.contains("created"), "{reply}");
    wait_until(WAIT, "the link in force again", || {
        daemon.links().len() == 2
    })
    .await;
    acked(fakes.telegram.post(LIB_TG, RESIDENT, "t1", "held again?")).await;
    wait_until(
        WAIT,
        "a card: the earlier `auto` did not carry over",
        || {
            fakes
                .matrix
                .texts_in(MODS)
                .iter()
                .any(|t| t.contains("held again?"))
        },
    )
    .await;
    assert!(fakes.matrix.texts_in(LIB_STAFF).is_empty());
    daemon.shutdown().await.unwrap();
}
