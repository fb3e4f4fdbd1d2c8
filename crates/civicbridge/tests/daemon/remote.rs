//! Moderation commands from outside the rooms while the bridge runs (what the admin API calls):
//! the same code, permissions and audit entries as in the moderation room.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::LinkId;
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::commands::permissions::{Actor, Role};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::ops::remote::RemoteError;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

fn token(name: &str, role: Role) -> Actor {
    Actor::Token {
        name: name.into(),
        role,
    }
}

#[tokio::test]
async fn a_token_decides_a_held_item_like_a_moderator_and_is_audited_by_name() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    let remote = daemon.remote_commands();
    let link = LinkId::new("planning");

    acked(
        fakes
            .telegram
            .post(TG, RESIDENT, "t1", "When are the bins collected?"),
    )
    .await;
    assert_eq!(store.pending().unwrap().len(), 1);
    let out = remote
        .run(&link, "!approve #1", token("helpdesk", Role::Moderator))
        .await
        .unwrap();
    assert!(!out.refused, "{}", out.reply);
    assert!(out.reply.contains("#1 approved"), "{}", out.reply);
    wait_until(WAIT, "the approved message in the staff room", || {
        fakes.matrix.texts_in(STAFF) == vec!["Ada (Telegram): When are the bins collected?"]
    })
    .await;
    let log = store.audit_log().unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == AuditAction::Approved && e.actor == "token:helpdesk"));
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_moderator_token_cannot_change_rules_and_the_refusal_is_audited() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    let remote = daemon.remote_commands();
    let link = LinkId::new("planning");

    let out = remote
        .run(
            &link,
            "!set planning links drop",
            token("helpdesk", Role::Moderator),
        )
        .await
        .unwrap();
    assert!(out.refused, "{}", out.reply);
    let log = store.audit_log().unwrap();
    assert!(log
        .iter()
        .any(|e| e.action == AuditAction::Refused && e.actor == "token:helpdesk"));
    assert!(!log.iter().any(|e| e.action == AuditAction::RulesChanged));

    let out = remote
        .run(&link, "!set planning links drop", token("ops", Role::Admin))
        .await
        .unwrap();
    assert!(!out.refused, "{}", out.reply);
    assert!(store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::RulesChanged && e.actor == "token:ops"));

    // Hostile input: not a command, a broken one, an unknown link.
    for text in [
        "approve everything",
        "!approve",
        "!frobnicate",
        "",
        "!\u{202e}set",
    ] {
        let e = remote.run(&link, text, token("ops", Role::Admin)).await;
        assert!(
            matches!(e, Err(RemoteError::NotACommand(_))),
            "{text:?}: {e:?}"
        );
    }
    let e = remote
        .run(&LinkId::new("nope"), "!queue", token("ops", Role::Admin))
        .await;
    assert!(matches!(e, Err(RemoteError::Store(_))), "{e:?}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_paused_link_holds_new_copies_in_order_and_resuming_sends_them() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    let remote = daemon.remote_commands();
    let link = LinkId::new("planning");
    let admin = || token("ops", Role::Admin);

    acked(fakes.telegram.post(TG, RESIDENT, "t0", "before the pause")).await;
    wait_until(WAIT, "the first copy", || {
        fakes.matrix.texts_in(STAFF).len() == 1
    })
    .await;

    // A moderator may not pause; an admin may.
    let out = remote
        .run(&link, "!pause planning", token("desk", Role::Moderator))
        .await
        .unwrap();
    assert!(out.refused, "{}", out.reply);
    let out = remote.run(&link, "!pause planning", admin()).await.unwrap();
    assert!(!out.refused && !out.declined, "{}", out.reply);

    for (id, text) in [("t1", "first while paused"), ("t2", "second while paused")] {
        acked(fakes.telegram.post(TG, RESIDENT, id, text)).await;
    }
    // Decided and queued (durable), not sent.
    assert_eq!(
        store.outbox().unwrap().len(),
        4,
        "two copies each to Matrix and Discord"
    );
    assert_eq!(
        fakes.matrix.texts_in(STAFF).len(),
        1,
        "nothing crossed while paused"
    );
    assert!(fakes.discord.texts_in(DC).len() == 1);

    let out = remote
        .run(&link, "!resume planning", admin())
        .await
        .unwrap();
    assert!(!out.refused, "{}", out.reply);
    wait_until(WAIT, "the held copies, in order", || {
        fakes.matrix.texts_in(STAFF)
            == vec![
                "Ada (Telegram): before the pause",
                "Ada (Telegram): first while paused",
                "Ada (Telegram): second while paused",
            ]
    })
    .await;
    let changed = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::RulesChanged && e.actor == "token:ops")
        .count();
    assert_eq!(changed, 2, "pause and resume are audited");
    daemon.shutdown().await.unwrap();
}
