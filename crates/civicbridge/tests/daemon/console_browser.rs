//! The moderation console in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven through WebDriver with fantoccini), against the real daemon on
//! fake platforms: sign in through the `!weblogin` link from the direct message, approve two
//! held items at once and see them delivered, reject one with a reason, watch an open queue
//! page lose an item decided in the moderation room without a reload, work the queue with the
//! keyboard, and check every page with axe-core (WCAG 2.2 AA): zero violations.
//!
//! The browser's helpers, and when the tests skip themselves, are `common/browser.rs`'s.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::store::prelude::*;
use common::browser::*;
use common::console::*;
use common::*;
use fantoccini::{Client, Locator};
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);

async fn sign_in(c: &Client, w: &ConsoleWorld, event: &str) {
    let url = w.weblogin(MODS, MODERATOR, event).await;
    c.goto(&url).await.unwrap();
    axe(c, "sign-in").await;
    c.find(Locator::Id("sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(c, "the queue", |h| h.contains("Signed in as Mo")).await;
}

#[tokio::test]
async fn in_chromium_sign_in_approve_two_at_once_reject_one_with_a_reason_and_pass_axe() {
    if !available() {
        return;
    }
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Is the hall free on Friday?").await;
    w.held(TG, "2", "Where do I park?").await;
    w.held(TG, "3", "Cheap watches here").await;
    let d = driver().await;
    let c = browser(&d).await;
    sign_in(&c, &w, "$b1").await;
    until_page(&c, "three items", |h| h.contains("3 held items")).await;
    axe(&c, "queue").await;

    let (a, n) = w.item("Is the hall free on Friday?");
    let (b, _) = w.item("Where do I park?");
    let (x, _) = w.item("Cheap watches here");
    // The item page: the message as each room will show it.
    c.goto(&format!("{}/console/items/{n}", w.base))
        .await
        .unwrap();
    until_page(&c, "the item page", |h| {
        h.contains("As each room will show it")
    })
    .await;
    axe(&c, "item").await;
    c.goto(&format!("{}/console/queue", w.base)).await.unwrap();

    for v in [&a, &b] {
        c.find(Locator::Css(&format!("input[value='{v}']")))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    c.find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the notice", |h| {
        h.contains("approved by Mo") && h.contains("1 held item,")
    })
    .await;
    axe(&c, "queue after a decision").await;
    wait_until(
        WAIT,
        "both are delivered to Telegram's other side and Discord",
        || {
            let dc = w.fakes.discord.texts_in(DC).join("\n");
            let staff = w.fakes.matrix.texts_in(STAFF).join("\n");
            ["Is the hall free on Friday?", "Where do I park?"]
                .iter()
                .all(|t| dc.contains(t) && staff.contains(t))
        },
    )
    .await;

    c.find(Locator::Css(&format!("input[value='{x}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("reason-text"))
        .await
        .unwrap()
        .send_keys("advertising")
        .await
        .unwrap();
    c.find(Locator::Id("reject"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the rejection", |h| {
        h.contains("rejected by Mo") && h.contains("Nothing is waiting")
    })
    .await;
    assert!(w.store.pending().unwrap().is_empty());
    let rejected = w
        .store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::Rejected)
        .unwrap();
    assert_eq!(rejected.detail["reason"], "advertising");
    assert!(!w.fakes.discord.texts_in(DC).join("\n").contains("watches"));
    axe(&c, "empty queue").await;

    // Signing out ends the session; the page that says so passes too.
    c.find(Locator::Css("form[action='/console/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "signed out", |h| h.contains("You are signed out")).await;
    axe(&c, "signed out").await;
    c.goto(&format!("{}/console/queue", w.base)).await.unwrap();
    until_page(&c, "not signed in", |h| h.contains("Not signed in")).await;
    axe(&c, "not signed in").await;
    c.close().await.unwrap();
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn in_chromium_a_decision_in_the_room_leaves_an_open_queue_page_without_reload() {
    if !available() {
        return;
    }
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Decided in Matrix").await;
    w.held(TG, "2", "Decided by keyboard").await;
    let d = driver().await;
    let c = browser(&d).await;
    sign_in(&c, &w, "$r1").await;
    until_page(&c, "two items", |h| {
        h.contains("Decided in Matrix") && h.contains("Decided by keyboard")
    })
    .await;
    // Marks the page: a reload would lose it.
    mark_loaded_once(&c).await;

    let (a, _) = w.item("Decided in Matrix");
    w.command(MODS, MODERATOR, "$r2", &format!("!approve {a}"))
        .await;
    until_page(&c, "the row to go", |h| !h.contains("Decided in Matrix")).await;
    assert!(still_loaded_once(&c).await, "the page was not reloaded");

    // A new held item appears the same way.
    w.held(TG, "3", "Arrived while open").await;
    until_page(&c, "the new row", |h| h.contains("Arrived while open")).await;

    // The keyboard: j to the first row, a to approve it.
    press(&c, "j").await;
    press(&c, "a").await;
    until_page(&c, "the keyboard approval", |h| {
        h.contains("approved by Mo") && !h.contains("Decided by keyboard")
    })
    .await;
    wait_until(WAIT, "it is delivered", || {
        w.fakes
            .discord
            .texts_in(DC)
            .iter()
            .any(|t| t.contains("Decided by keyboard"))
    })
    .await;
    c.close().await.unwrap();
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn in_chromium_take_down_from_the_published_page_and_pass_axe_on_it_and_the_audit_page() {
    if !available() {
        return;
    }
    let w = start_console(LIFETIME).await;
    acked(
        w.fakes
            .matrix
            .post(STAFF, STAFFER, "$p1", "Hall closed Friday"),
    )
    .await;
    acked(
        w.fakes
            .matrix
            .post(STAFF, STAFFER, "$p2", "Hall open Saturday"),
    )
    .await;
    wait_until(WAIT, "both cross", || {
        w.fakes.discord.texts_in(DC).len() == 2 && w.fakes.telegram.texts_in(TG).len() == 2
    })
    .await;
    let d = driver().await;
    let c = browser(&d).await;
    sign_in(&c, &w, "$p3").await;
    // Reached from the navigation, by keyboard-usable links.
    c.find(Locator::LinkText("Published"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the published page", |h| {
        h.contains("Hall closed Friday") && h.contains("Hall open Saturday")
    })
    .await;
    axe(&c, "published").await;

    let one = w
        .store
        .mirrors_older_than(&civicbridge_api::LinkId::new("planning"), u64::MAX)
        .unwrap()
        .into_iter()
        .find(|m| w.store.mirror(*m).unwrap().unwrap().text.to_plain() == "Hall closed Friday")
        .unwrap();
    c.find(Locator::Css(&format!("input[value='{one}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("takedown-selected"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the notice and the row gone", |h| {
        h.contains("taken down by Mo") && !h.contains("Hall closed Friday")
    })
    .await;
    wait_until(WAIT, "every copy is deleted", || {
        [&w.fakes.discord, &w.fakes.telegram]
            .iter()
            .zip([DC, TG])
            .all(|(f, r)| f.texts_in(r).iter().all(|t| !t.contains("Hall closed")))
    })
    .await;
    assert!(w
        .fakes
        .discord
        .texts_in(DC)
        .iter()
        .any(|t| t.contains("Hall open Saturday")));
    axe(&c, "published after a takedown").await;

    c.find(Locator::LinkText("Audit log"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the audit page", |h| {
        h.contains("Chain check:") && h.contains("takedown")
    })
    .await;
    axe(&c, "audit").await;
    c.close().await.unwrap();
    w.daemon.shutdown().await.unwrap();
}

/// A resident (`who`) replies `/report why` to the Telegram copy of `text`.
async fn report_copy(w: &ConsoleWorld, who: (&str, &str), id: &str, text: &str, why: &str) {
    let tg = &w.fakes.telegram;
    let copy = tg
        .visible_in(TG)
        .into_iter()
        .find(|p| p.out.text.to_plain().contains(text))
        .unwrap()
        .id;
    let msg = civicbridge_api::Message {
        reply_to: Some(copy),
        ..civicbridge_api::Message::text(id, format!("/report {why}").as_str())
    };
    acked(tg.inject(tg.message_event(TG, who, msg))).await;
}

#[tokio::test]
async fn in_chromium_the_reports_page_dismisses_follows_the_room_and_passes_axe() {
    if !available() {
        return;
    }
    let w = start_console(LIFETIME).await;
    for (id, text) in [("$p1", "Bins on Monday"), ("$p2", "Bins on Tuesday")] {
        acked(w.fakes.matrix.post(STAFF, STAFFER, id, text)).await;
    }
    wait_until(WAIT, "both cross", || {
        w.fakes.telegram.texts_in(TG).len() == 2
    })
    .await;
    report_copy(&w, ("43", "Bob"), "r1", "Bins on Monday", "wrong day").await;
    report_copy(&w, ("44", "Cy"), "r2", "Bins on Tuesday", "spam").await;
    wait_until(WAIT, "both reported", || {
        w.store.open_reports().unwrap().len() == 2
    })
    .await;
    let d = driver().await;
    let c = browser(&d).await;
    sign_in(&c, &w, "$p3").await;
    c.find(Locator::LinkText("Reports"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the reports page", |h| {
        h.contains("Bob (Telegram): wrong day") && h.contains("Cy (Telegram): spam")
    })
    .await;
    axe(&c, "reports").await;
    // Dismissed with its row's own button.
    let monday = w
        .store
        .open_reports()
        .unwrap()
        .into_iter()
        .find(|r| r.reports[0].name == "Bob")
        .unwrap()
        .mirror;
    c.find(Locator::Css(&format!("button[value='dismiss {monday}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the notice and the row gone", |h| {
        h.contains(&format!("Reports on {monday} dismissed by Mo")) && !h.contains("wrong day")
    })
    .await;
    axe(&c, "reports after a dismissal").await;
    // ✅ on the other one's card in the room: the open page loses it without a reload.
    let rec = w.store.open_reports().unwrap().pop().unwrap();
    wait_until(WAIT, "its card is posted", || {
        w.store.report(rec.mirror).unwrap().unwrap().card.is_some()
    })
    .await;
    let card = w.store.report(rec.mirror).unwrap().unwrap().card.unwrap().1;
    let tick = civicbridge_api::EventKind::Reaction {
        target: card,
        key: "✅".into(),
        id: None,
    };
    acked(
        w.fakes.matrix.inject(
            w.fakes
                .matrix
                .event(MODS, MODERATOR, "matrix:t".into(), tick),
        ),
    )
    .await;
    until_page(&c, "the row gone without a reload", |h| {
        h.contains("data-refreshed") && h.contains("No open reports.")
    })
    .await;
    axe(&c, "reports emptied from the room").await;
    c.close().await.unwrap();
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn in_chromium_links_rules_and_parked_pages_work_and_pass_axe() {
    if !available() {
        return;
    }
    let w = start_console_with(LIFETIME, crate::console_links::admin_links()).await;
    w.fakes.discord.panic_on("Boom");
    acked(w.fakes.matrix.post(STAFF, STAFFER, "$k1", "Boom today")).await;
    wait_until(WAIT, "the copy to Discord is parked", || {
        w.store.parked().unwrap().len() == 1
    })
    .await;
    let d = driver().await;
    let c = browser(&d).await;
    sign_in(&c, &w, "$k2").await;

    c.find(Locator::LinkText("Links and rules"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the links page", |h| h.contains("Rooms of planning")).await;
    axe(&c, "links").await;
    c.find(Locator::Id("pause-1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the link paused", |h| h.contains("Resume planning")).await;
    axe(&c, "links paused").await;
    assert!(
        w.store
            .rules(&civicbridge_api::LinkId::new("planning"))
            .unwrap()
            .unwrap()
            .paused
    );

    c.find(Locator::LinkText("Rules of planning"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the rules form", |h| h.contains("Review changes")).await;
    axe(&c, "rules").await;
    let field = c.find(Locator::Id("r-slow_mode_secs")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("30").await.unwrap();
    c.find(Locator::Id("review"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the diff", |h| h.contains("Review changes to planning")).await;
    axe(&c, "rules diff").await;
    c.find(Locator::Id("apply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the rules applied", |h| {
        h.contains("slow_mode_secs is now 30")
    })
    .await;
    assert_eq!(
        w.store
            .rules(&civicbridge_api::LinkId::new("planning"))
            .unwrap()
            .unwrap()
            .slow_mode_secs,
        30
    );

    c.find(Locator::LinkText("Parked jobs"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the parked page", |h| h.contains("data-parked=\"P1\"")).await;
    axe(&c, "parked").await;
    c.find(Locator::Id("sel-P1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("drop-selected"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until_page(&c, "the item dropped", |h| h.contains("P1: dropped")).await;
    axe(&c, "parked after a drop").await;
    assert!(w.store.parked().unwrap().is_empty());
    assert!(w
        .store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::ParkedDropped));
    // The widget's page, opened outside Element: it says it waits for Element, accessibly.
    c.goto(&format!("{}/console/widget?room=%21mod", w.base))
        .await
        .unwrap();
    until_page(&c, "the widget page", |h| h.contains("widget-status")).await;
    axe(&c, "widget").await;
    c.close().await.unwrap();
    w.daemon.shutdown().await.unwrap();
}
