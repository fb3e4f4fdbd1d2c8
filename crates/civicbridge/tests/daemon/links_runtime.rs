//! Links changed while the bridge runs (what a config reload does): added, removed and changed
//! links take effect at once, nothing in flight is dropped, and a set of links the process
//! cannot serve changes nothing.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{LinkId, Platform, RoomRef};
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules, Side};
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::daemon::DaemonError;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{LinkRoom, Store};
use common::*;

const LIB_STAFF: &str = "!library";
const LIB_TG: &str = "-200";

/// A second link: a library staff room and a Telegram group, no moderation room.
fn library(rules: Rules) -> LinkSettings {
    let mut l = link(rules).remove(0);
    l.link.id = LinkId::new("library");
    l.link.rooms = vec![
        LinkRoom {
            room: RoomRef::new(Platform::new("matrix"), LIB_STAFF),
            side: Side::Staff,
        },
        LinkRoom {
            room: RoomRef::new(Platform::new("telegram"), LIB_TG),
            side: Side::Public,
        },
    ];
    l.link.moderation_room = None;
    l
}

fn audited(store: &Store, action: AuditAction, link: &str) -> usize {
    store
        .audit_log()
        .unwrap()
        .iter()
        .filter(|e| e.action == action && e.link.as_ref().map(LinkId::as_str) == Some(link))
        .count()
}

#[tokio::test]
async fn a_link_added_while_running_relays_at_once_and_one_removed_stops_at_once() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut daemon = start(store.clone(), open_rules(), &fakes).await;

    // Before: the library's rooms belong to no link; their events are acknowledged and dropped.
    acked(fakes.telegram.post(LIB_TG, RESIDENT, "t0", "anyone there?")).await;

    let mut links = link(open_rules());
    links.push(library(open_rules()));
    let changes = daemon.apply_links(&links).unwrap();
    assert_eq!(changes.added, vec![LinkId::new("library")]);
    assert!(changes.removed.is_empty() && changes.changed.is_empty());
    assert_eq!(audited(&store, AuditAction::LinkChanged, "library"), 1);

    acked(
        fakes
            .telegram
            .post(LIB_TG, RESIDENT, "t1", "is the library open?"),
    )
    .await;
    wait_until(WAIT, "the question in the library's staff room", || {
        fakes.matrix.texts_in(LIB_STAFF) == vec!["Ada (Telegram): is the library open?"]
    })
    .await;
    // The first link is untouched.
    acked(fakes.telegram.post(TG, RESIDENT, "t2", "and the bins?")).await;
    wait_until(WAIT, "the first link still relays", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;

    let changes = daemon.apply_links(&link(open_rules())).unwrap();
    assert_eq!(changes.removed, vec![LinkId::new("library")]);
    assert_eq!(audited(&store, AuditAction::LinkRemoved, "library"), 1);
    // Acknowledged without a worker: dropped, nothing queued for it.
    acked(fakes.telegram.post(LIB_TG, RESIDENT, "t3", "hello?")).await;
    assert_eq!(
        fakes.matrix.texts_in(LIB_STAFF).len(),
        1,
        "nothing more crossed"
    );
    assert!(store.outbox().unwrap().is_empty(), "nothing waits to cross");
    assert!(
        store
            .mirrors_by(&"telegram:42".parse().unwrap())
            .unwrap()
            .len()
            == 2
    );

    // The same link again comes back with a fresh worker.
    links = link(open_rules());
    links.push(library(open_rules()));
    assert_eq!(
        daemon.apply_links(&links).unwrap().added,
        vec![LinkId::new("library")]
    );
    acked(fakes.telegram.post(LIB_TG, RESIDENT, "t4", "back again")).await;
    wait_until(WAIT, "the library relays again", || {
        fakes.matrix.texts_in(LIB_STAFF).len() == 2
    })
    .await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_changed_link_takes_its_new_room_and_rules_for_the_next_message() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut daemon = start(store.clone(), open_rules(), &fakes).await;

    // A second Discord channel joins the link.
    let mut links = link(open_rules());
    links[0].link.rooms.push(LinkRoom {
        room: RoomRef::new(Platform::new("discord"), "201"),
        side: Side::Public,
    });
    let changes = daemon.apply_links(&links).unwrap();
    assert_eq!(changes.changed, vec![LinkId::new("planning")]);
    assert!(changes.rules.is_empty(), "the rules did not change");
    acked(fakes.telegram.post(TG, RESIDENT, "t1", "hello all")).await;
    wait_until(WAIT, "the message in both Discord channels", || {
        fakes.discord.texts_in(DC).len() == 1 && fakes.discord.texts_in("201").len() == 1
    })
    .await;

    // Then the config holds residents' messages for approval.
    links[0].rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };
    let changes = daemon.apply_links(&links).unwrap();
    assert_eq!(changes.rules, vec![LinkId::new("planning")]);
    assert!(changes.changed.is_empty());
    acked(fakes.telegram.post(TG, RESIDENT, "t2", "second question")).await;
    assert_eq!(store.pending().unwrap().len(), 1, "held, by the new rules");
    assert_eq!(
        fakes.matrix.texts_in(STAFF).len(),
        1,
        "only the first crossed"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn links_the_process_cannot_serve_are_refused_whole_and_change_nothing() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut daemon = start(store.clone(), open_rules(), &fakes).await;
    let audit_before = store.audit_log().unwrap().len();

    // A room on a platform this process has no connector for, next to a valid new link.
    let mut slack = library(open_rules());
    slack.link.id = LinkId::new("slack");
    slack.link.rooms[1].room = RoomRef::new(Platform::new("slack"), "C123");
    let mut links = link(open_rules());
    links.push(library(open_rules()));
    links.push(slack);
    let err = daemon.apply_links(&links).unwrap_err();
    assert!(
        matches!(&err, DaemonError::MissingConnector { link, .. } if link == "slack"),
        "{err}"
    );

    // The same link twice.
    let mut twice = link(open_rules());
    twice.push(twice[0].clone());
    let err = daemon.apply_links(&twice).unwrap_err();
    assert!(
        matches!(&err, DaemonError::DuplicateLink(l) if l == "planning"),
        "{err}"
    );

    assert_eq!(daemon.links().len(), 1);
    assert_eq!(
        store.audit_log().unwrap().len(),
        audit_before,
        "nothing was stored"
    );
    acked(fakes.telegram.post(LIB_TG, RESIDENT, "t1", "library?")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "t2", "still bridged")).await;
    wait_until(WAIT, "the link in force still relays", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;
    assert!(fakes.matrix.texts_in(LIB_STAFF).is_empty());
    daemon.shutdown().await.unwrap();
}

/// The systemd watchdog is fed from these beats: the router and every link's worker are
/// watched, a removed link's worker no longer is, and a running pipeline is not stalled.
#[tokio::test]
async fn the_router_and_each_link_worker_are_watched_while_they_run() {
    use std::time::Duration;
    let fakes = Fakes::new();
    let store = Store::memory();
    let mut daemon = start(store.clone(), open_rules(), &fakes).await;
    let live = daemon.liveness();
    assert_eq!(live.watched(), 2, "the router and one link");

    let mut links = link(open_rules());
    links.push(library(open_rules()));
    daemon.apply_links(&links).unwrap();
    assert_eq!(live.watched(), 3);
    daemon.apply_links(&link(open_rules())).unwrap();
    wait_until(WAIT, "the removed link's worker to end", || {
        live.watched() == 2
    })
    .await;
    acked(fakes.telegram.post(TG, RESIDENT, "t1", "still moving")).await;
    assert!(live.stalled(Duration::from_secs(10)).is_empty());

    daemon.shutdown().await.unwrap();
    assert_eq!(live.watched(), 0, "every loop ended");
}

/// A reload that changes one platform's section restarts that connector alone: the old one
/// stops reading before the new one starts, what the outbox sends next goes through the new
/// one, and the other platforms never stop. A replacement that cannot be built leaves the old
/// connector running.
#[tokio::test]
async fn one_connector_is_replaced_alone_and_a_failed_replacement_keeps_the_old_one() {
    use civicbridge_api::testing::FakeConnector;
    use std::sync::Arc;
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(fakes.telegram.post(TG, RESIDENT, "t1", "before")).await;

    let fresh = FakeConnector::new(Platform::new("telegram"));
    let replaced = daemon
        .replace_connector(Platform::new("telegram"), async {
            Ok::<_, String>(fresh.clone() as Arc<dyn civicbridge_api::Connector>)
        })
        .await
        .unwrap();
    assert!(replaced);
    wait_until(WAIT, "the new connector to run", || fresh.runs() == 1).await;
    // The old one no longer reads: its injected events stay undelivered.
    let old = fakes.telegram.post(TG, RESIDENT, "t2", "to the old one");
    acked(fresh.post(TG, RESIDENT, "t3", "to the new one")).await;
    // What crosses to Telegram now goes out through the new connector.
    acked(fakes.matrix.post(STAFF, STAFFER, "m1", "staff answer")).await;
    wait_until(WAIT, "the staff answer on the new connector", || {
        fresh
            .texts_in(TG)
            .iter()
            .any(|t| t.contains("staff answer"))
    })
    .await;
    assert!(!fakes
        .telegram
        .texts_in(TG)
        .iter()
        .any(|t| t.contains("staff answer")));
    wait_until(WAIT, "the new connector's message relayed", || {
        fakes.matrix.texts_in(STAFF).len() == 2
    })
    .await;
    assert_eq!(fakes.discord.runs(), 1, "the other platforms never stopped");

    // A replacement that cannot be built: the current one runs again.
    let err = daemon
        .replace_connector(Platform::new("telegram"), async {
            Err::<Arc<dyn civicbridge_api::Connector>, _>("login refused".to_owned())
        })
        .await
        .unwrap_err();
    assert_eq!(err, "login refused");
    wait_until(WAIT, "the current connector to run again", || {
        fresh.runs() == 2
    })
    .await;
    acked(fresh.post(TG, RESIDENT, "t4", "still here")).await;
    // A connector for another platform is refused the same way.
    let wrong = FakeConnector::new(Platform::new("discord"));
    let err = daemon
        .replace_connector(Platform::new("telegram"), async {
            Ok::<_, String>(wrong as Arc<dyn civicbridge_api::Connector>)
        })
        .await
        .unwrap_err();
    assert!(err.contains("cannot replace"), "{err}");
    acked(fresh.post(TG, RESIDENT, "t5", "and here")).await;
    wait_until(WAIT, "every message through the current connector", || {
        fakes.matrix.texts_in(STAFF).len() == 4
    })
    .await;
    drop(old);
    daemon.shutdown().await.unwrap();
}
