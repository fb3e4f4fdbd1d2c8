//! Erasure end to end, with the shipped binary and all three real connectors (a real Synapse,
//! the local Telegram Bot API server, the local Discord server): a resident's messages are
//! relayed (shown to staff by pseudonym), the bridge is stopped, `civicbridge erase` runs, and at
//! the next start every copy is deleted on Matrix (redacted) and Discord, the originals on
//! Telegram, and the store keeps no trace of the words; the audit export verifies, and a tampered
//! one does not.
#![allow(clippy::unwrap_used)]

use crate::bridge_process;

use bridge_process::{civicbridge, wait_for, Bridge, WAIT};
use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{self, AuditAction};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;

#[tokio::test]
async fn erase_removes_a_residents_messages_from_every_platform_and_the_store() {
    let w = bridge_process::world_for_run(
        civicbridge_core::moderation::rules::Rules {
            resident_names: civicbridge_core::moderation::rules::ResidentNames::Pseudonym,
            ..bridge_process::residents_cross()
        },
        "",
    )
    .await;
    let (staff, staff_room, tg, chat, dc, channel) = (
        &w.staff,
        &w.staff_room,
        &w.telegram,
        w.tg_chat,
        &w.discord,
        w.dc_channel,
    );
    let config_path = w.config_path.clone();
    let cfg = config_path.to_str().unwrap();

    // ---- a resident's messages cross ---------------------------------------------------------
    let bridge = Bridge::start(&config_path).await;
    let ada = (42, "Ada");
    let q1 = tg
        .post_as_user(chat, ada, "Is the library open late on Thursday?")
        .unwrap();
    let q2 = tg
        .post_as_user(chat, ada, "My flat is 4B, the lift is broken")
        .unwrap();
    tg.post_as_user(chat, (43, "Bob"), "Bins on Tuesday?")
        .unwrap();
    wait_for(WAIT, "three staff copies", || async {
        staff.bodies(staff_room).await.unwrap().len() == 3
    })
    .await;
    let bodies = staff.bodies(staff_room).await.unwrap();
    assert!(
        bodies[0].starts_with("Resident ")
            && bodies[0].ends_with("(Telegram): Is the library open late on Thursday?"),
        "staff see a pseudonym: {bodies:?}"
    );
    let pseudonym = bodies[0].split(" (").next().unwrap().to_owned();
    assert!(bodies[1].starts_with(&pseudonym), "stable: {bodies:?}");
    assert!(!bodies.iter().any(|b| b.contains("Ada")), "{bodies:?}");
    wait_until(WAIT, "three Discord copies", || {
        dc.webhook_messages(channel).len() == 3
    })
    .await;
    assert!(
        dc.webhook_messages(channel)[0].username.contains("Ada"),
        "residents see each other by name"
    );
    bridge.stop().await;

    // ---- erase with the bridge stopped ---------------------------------------------------------
    let o = civicbridge(&["erase", "--config", cfg, "--user", "telegram:42"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(said.contains("erased telegram:42: 2 message(s)"), "{said}");
    assert!(
        said.contains("6 delete job(s)"),
        "two copies and the original, twice: {said}"
    );

    // ---- the next start carries the deletes out --------------------------------------------------
    let bridge = Bridge::start(&config_path).await;
    wait_for(WAIT, "the staff copies redacted", || async {
        staff.redacted(staff_room).await.unwrap() == 2
    })
    .await;
    let left = staff.bodies(staff_room).await.unwrap();
    assert!(
        left.len() == 1 && left[0].ends_with("(Telegram): Bins on Tuesday?"),
        "{left:?}"
    );
    wait_until(
        WAIT,
        "the Discord copies and Telegram originals deleted",
        || {
            dc.webhook_messages(channel).len() == 1
                && [q1, q2]
                    .iter()
                    .all(|id| tg.message(chat, *id).is_some_and(|m| m.deleted))
        },
    )
    .await;
    assert!(dc.webhook_messages(channel)[0].content.contains("Bins"));
    let log_text = bridge.log();
    bridge.stop().await;
    assert!(
        !log_text.contains("library") && !log_text.contains("lift is broken"),
        "the log does not keep the words either"
    );

    // ---- the store keeps no trace; the audit log records it and verifies --------------------------
    {
        let store = Store::open(&w.store_path()).unwrap();
        assert!(store.outbox().unwrap().is_empty(), "every delete ran");
        assert!(store
            .mirrors_by(&"telegram:42".parse().unwrap())
            .unwrap()
            .is_empty());
        let log = store.audit_log().unwrap();
        let erased: Vec<_> = log
            .iter()
            .filter(|e| e.action == AuditAction::Erased)
            .collect();
        assert_eq!(erased.len(), 1);
        assert_eq!(erased[0].actor, "cli");
        assert_eq!(erased[0].detail["messages"], 2);
        let everything = serde_json::to_string(&log).unwrap();
        for secret in ["library", "lift is broken", "telegram:42"] {
            assert!(!everything.contains(secret), "`{secret}` in the audit log");
        }
        assert!(audit::verify(&log, Some(audit::GENESIS)).is_ok());
    }
    let export = w.config_path.with_file_name("audit.jsonl");
    let out = export.to_str().unwrap();
    let o = civicbridge(&["audit", "--config", cfg, "export", "--out", out]);
    assert!(o.status.success());
    let o = civicbridge(&["audit", "--config", cfg, "verify", "--file", out]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&export).unwrap();
    let tampered = text.replacen("\"actor\":\"cli\"", "\"actor\":\"matrix:@someone:else\"", 1);
    assert_ne!(tampered, text);
    std::fs::write(&export, tampered).unwrap();
    let o = civicbridge(&["audit", "--config", cfg, "verify", "--file", out]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let seq = audit::parse_jsonl(&text)
        .unwrap()
        .into_iter()
        .find(|e| e.actor == "cli")
        .unwrap()
        .seq;
    assert!(
        err.contains(&format!("entry {seq}: its hash does not match")),
        "{err}"
    );
}
