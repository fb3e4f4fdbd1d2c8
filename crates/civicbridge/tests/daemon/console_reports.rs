//! The console's reports page and claims over HTTP with the real daemon on fake platforms:
//! residents' `/report` replies listed as their card shows them (a hostile reporter's name and
//! reason escaped, without its control and bidi characters), taken down (every copy deleted,
//! `!takedown`'s entries) and dismissed (hidden copies sent again, `!dismiss`'s entries) from
//! the page; another link's report refusing the whole form (403, audited), a closed report 409,
//! garbage and too many ids 400; a report closed with ❌ in the room heard by an open event
//! stream; claims shown on the queue and the item page, and another moderator's claim refused
//! with the claimant's name.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::testing::FakeConnector;
use civicbridge_api::{EventKind, LinkId, Message, RemoteMsgId};
use civicbridge_core::moderation::audit::{AuditAction, AuditEntry};
use civicbridge_core::store::prelude::*;
use common::console::*;
use common::*;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);
/// A second moderator of `planning`.
const MAX: (&str, &str) = ("@max", "Max");
/// A reporter whose name carries markup, a right-to-left override and a bell.
const EVE: (&str, &str) = ("46", "<b>Eve</b>\u{202E}\u{7}evil");
const EVIL_REASON: &str = "<script>alert(1)</script>";

/// `planning` hides a message's copies after three reports, and has a second moderator.
fn links() -> Vec<civicbridge_core::ops::config::LinkSettings> {
    let mut links = two_links();
    links[0].rules.hide_after_reports = 3;
    links[0]
        .link
        .moderators
        .push(format!("matrix:{}", MAX.0).parse().unwrap());
    links
}

fn reply(id: &str, to: &RemoteMsgId, text: &str) -> Message {
    Message {
        reply_to: Some(to.clone()),
        ..Message::text(id, text)
    }
}

/// The copy of the message whose text contains `text` in `room`.
fn copy(fake: &FakeConnector, room: &str, text: &str) -> RemoteMsgId {
    fake.visible_in(room)
        .into_iter()
        .find(|p| p.out.text.to_plain().contains(text))
        .unwrap_or_else(|| panic!("no copy of {text:?} in {room}"))
        .id
}

/// The bridged message (`m7`) of `link` whose text is `text`.
fn mirror(w: &ConsoleWorld, link: &str, text: &str) -> String {
    w.store
        .mirrors_older_than(&LinkId::new(link), u64::MAX)
        .unwrap()
        .into_iter()
        .find(|m| w.store.mirror(*m).unwrap().unwrap().text.to_plain() == text)
        .unwrap_or_else(|| panic!("no message {text:?}"))
        .to_string()
}

/// How many people reported `m` (0: no open report).
fn open_reports(w: &ConsoleWorld, m: &str) -> usize {
    w.store
        .open_reports()
        .unwrap()
        .into_iter()
        .find(|r| r.mirror.to_string() == m)
        .map_or(0, |r| r.reports.len())
}

fn shows(fake: &FakeConnector, room: &str, text: &str) -> bool {
    fake.texts_in(room).iter().any(|t| t.contains(text))
}

/// Staff posts `text` in `staff`; waits until its copies are in `tg` and `dc`.
async fn published(w: &ConsoleWorld, staff: &str, id: &str, text: &str, tg: &str, dc: &str) {
    acked(w.fakes.matrix.post(staff, STAFFER, id, text)).await;
    wait_until(WAIT, "the message crosses", || {
        shows(&w.fakes.telegram, tg, text) && shows(&w.fakes.discord, dc, text)
    })
    .await;
}

/// `who` replies `/report …` to the Telegram copy of `text` in `chat`.
async fn report(w: &ConsoleWorld, chat: &str, who: (&str, &str), id: &str, text: &str, why: &str) {
    let tg = &w.fakes.telegram;
    let to = copy(tg, chat, text);
    acked(tg.inject(tg.message_event(chat, who, reply(id, &to, &format!("/report {why}"))))).await;
}

/// Reads the event stream until it has said `want`.
async fn heard(events: &mut reqwest::Response, want: &str) {
    let mut seen = String::new();
    let read = async {
        while !seen.contains(want) {
            let chunk = events
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    if tokio::time::timeout(WAIT, read).await.is_err() {
        panic!("{want:?} not heard in time: {seen}");
    }
}

fn console_entries<'a>(log: &'a [AuditEntry], action: &str) -> Vec<&'a AuditEntry> {
    log.iter()
        .filter(|e| e.action == AuditAction::ConsoleAction && e.detail["action"] == action)
        .collect()
}

#[tokio::test]
async fn reports_are_listed_taken_down_and_dismissed_through_the_rooms_path() {
    let w = start_console_with(LIFETIME, links()).await;
    let f = &w.fakes;
    published(&w, STAFF, "$p1", "Notice one", TG, DC).await;
    published(&w, STAFF, "$p2", "Notice two", TG, DC).await;
    published(&w, STAFF2, "$q1", "Parks notice", TG2, DC2).await;
    let one = mirror(&w, "planning", "Notice one");
    let two = mirror(&w, "planning", "Notice two");
    let parks = mirror(&w, "parks", "Parks notice");
    // Three people report the first (its copies are hidden), Eve the second, Bob the parks one.
    report(&w, TG, ("43", "Bob"), "r1", "Notice one", "spam please").await;
    report(&w, TG, ("44", "Cy"), "r2", "Notice one", "").await;
    report(&w, TG, ("45", "Dee"), "r3", "Notice one", "rude").await;
    report(&w, TG, EVE, "r4", "Notice two", EVIL_REASON).await;
    report(&w, TG2, ("43", "Bob"), "r5", "Parks notice", "wrong").await;
    wait_until(WAIT, "the reports are filed", || {
        open_reports(&w, &one) == 3 && open_reports(&w, &two) == 1 && open_reports(&w, &parks) == 1
    })
    .await;
    wait_until(WAIT, "the first one's copies are hidden", || {
        !shows(&f.telegram, TG, "Notice one") && !shows(&f.discord, DC, "Notice one")
    })
    .await;

    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$l1").await).await,
        303
    );
    let (status, _, page) = web.get("/console/reports").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("aria-current=\"page\">Reports"), "in the nav");
    assert!(
        page.contains(&format!("value=\"{one}\"")) && page.contains(&format!("value=\"{two}\""))
    );
    assert!(!page.contains("Parks notice") && !page.contains(&format!("value=\"{parks}\"")));
    assert!(
        page.contains("3 people") && page.contains("1 person"),
        "{page}"
    );
    assert!(page.contains("Bob (Telegram): spam please") && page.contains("Cy (Telegram)"));
    assert!(page.contains("Hidden pending a decision since"), "{page}");
    assert!(
        page.contains("Sam"),
        "the author as the moderation room sees them"
    );
    // The hostile reporter: escaped, without its control and bidi characters.
    assert!(
        !page.contains("<script>") && !page.contains("<b>Eve"),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;") && page.contains("&lt;b&gt;Eve"),
        "{page}"
    );
    assert!(
        !page.contains('\u{202E}') && !page.contains('\u{7}'),
        "{page}"
    );
    // The second one's copies link to where they are.
    let hrefs = page.replace("&#x2f;", "/");
    for href in [
        format!(
            "https://telegram.example/{TG}/{}",
            copy(&f.telegram, TG, "Notice two")
        ),
        format!(
            "https://discord.example/{DC}/{}",
            copy(&f.discord, DC, "Notice two")
        ),
    ] {
        assert!(
            hrefs.contains(&format!("href=\"{href}\"")),
            "{href} in {page}"
        );
    }
    let csrf = value_of(&page, "csrf").unwrap();

    // Hostile forms: nothing is done.
    let before = w.store.audit_log().unwrap().len();
    let (status, _, body) = web
        .post(
            "/console/reports/decide",
            &[
                ("csrf", &csrf),
                ("action", "takedown"),
                ("report", &two),
                ("report", &parks),
            ],
        )
        .await;
    assert_eq!(
        status, 403,
        "another link's report refuses the whole form: {body}"
    );
    assert!(
        body.contains(&format!("{parks} is of link parks")),
        "{body}"
    );
    let log = w.store.audit_log().unwrap();
    let refused = console_entries(&log[before..], "refused");
    assert_eq!(refused.len(), 1, "the refusal is audited");
    assert_eq!(refused[0].link.as_ref().unwrap().as_str(), "parks");
    assert_eq!(log.len(), before + 1, "and nothing else happened");
    let (status, _, _) = web
        .post(
            "/console/reports/decide",
            &[("action", "dismiss"), ("report", &one)],
        )
        .await;
    assert_eq!(status, 403, "no CSRF token");
    for bad in ["m-1", "../etc", "m99999999999999999999999", "\u{202E}m1"] {
        let (status, _, _) = web
            .post(
                "/console/reports/decide",
                &[("csrf", &csrf), ("action", "dismiss"), ("report", bad)],
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    let many: Vec<(&str, &str)> = std::iter::once(("csrf", csrf.as_str()))
        .chain(std::iter::once(("action", "dismiss")))
        .chain(std::iter::repeat_n(("report", one.as_str()), 501))
        .collect();
    let (status, _, body) = web.post("/console/reports/decide", &many).await;
    assert_eq!(status, 400, "more than 500: {body}");
    let (status, _, _) = web
        .post(
            "/console/reports/decide",
            &[("csrf", &csrf), ("action", "erase"), ("report", &one)],
        )
        .await;
    assert_eq!(status, 400, "an unknown action");
    let (status, _, _) = web
        .post(
            "/console/reports/decide",
            &[("csrf", &csrf), ("action", "dismiss"), ("report", "m999")],
        )
        .await;
    assert_eq!(status, 404, "no report on it");
    let (status, _, _) = web.get("/console/reports?link=parks").await;
    assert_eq!(status, 403, "another link as the filter");
    assert_eq!(open_reports(&w, &one), 3);
    assert_eq!(open_reports(&w, &two), 1);
    assert_eq!(open_reports(&w, &parks), 1);

    // Dismiss the first: its hidden copies are sent again.
    let before = w.store.audit_log().unwrap().len();
    let (status, headers, body) = web
        .post(
            "/console/reports/decide",
            &[
                ("csrf", &csrf),
                ("action", "dismiss"),
                ("report", &one),
                ("back", "/console/reports"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], "/console/reports");
    wait_until(WAIT, "the hidden copies are back", || {
        shows(&f.telegram, TG, "Notice one") && shows(&f.discord, DC, "Notice one")
    })
    .await;
    let log = w.store.audit_log().unwrap();
    let new = &log[before..];
    assert!(new
        .iter()
        .any(|e| e.action == AuditAction::ReportDismissed && e.actor == "matrix:@mod"));
    assert_eq!(console_entries(new, "dismiss").len(), 1);
    assert_eq!(open_reports(&w, &one), 0);
    // Again: already closed, said so, nothing done.
    let (status, _, body) = web
        .post(
            "/console/reports/decide",
            &[("csrf", &csrf), ("action", "dismiss"), ("report", &one)],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already closed"), "{body}");

    // Take down the second with its row's own button: every copy goes, as `!takedown`.
    let before = w.store.audit_log().unwrap().len();
    let (status, _, body) = web
        .post(
            "/console/reports/decide",
            &[("csrf", &csrf), ("one", &format!("takedown {two}"))],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    wait_until(WAIT, "every copy of the second is deleted", || {
        !shows(&f.telegram, TG, "Notice two") && !shows(&f.discord, DC, "Notice two")
    })
    .await;
    let log = w.store.audit_log().unwrap();
    let new = &log[before..];
    assert!(new
        .iter()
        .any(|e| e.action == AuditAction::Takedown && e.actor == "matrix:@mod"));
    let console = console_entries(new, "takedown");
    assert_eq!(console.len(), 1);
    assert_eq!(console[0].detail["reports"][0], two.as_str());
    assert_eq!(open_reports(&w, &two), 0);

    // The page says what was done and lists nothing of theirs; the parks report stays open.
    let (_, _, page) = web.get("/console/reports").await;
    assert!(page.contains("taken down by Mo"), "the notice: {page}");
    assert!(page.contains("No open reports."), "{page}");
    assert_eq!(open_reports(&w, &parks), 1);
    assert!(shows(&f.discord, DC2, "Parks notice"));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_report_dismissed_in_the_room_reaches_an_open_reports_page() {
    let w = start_console_with(LIFETIME, links()).await;
    published(&w, STAFF, "$p1", "Report me", TG, DC).await;
    let m = mirror(&w, "planning", "Report me");
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$l1").await).await,
        303
    );
    let mut events = web
        .http
        .get(format!("{}/console/events", w.base))
        .header("cookie", web.cookie.clone().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(events.status().as_u16(), 200);
    report(&w, TG, ("43", "Bob"), "r1", "Report me", "spam").await;
    heard(&mut events, "event: reports\ndata: 1").await;
    let (_, _, rows) = web.get("/console/reports/rows").await;
    assert!(rows.contains(&format!("value=\"{m}\"")), "{rows}");
    // ❌ on the card in the moderation room closes it; the open page hears it.
    wait_until(WAIT, "the report card is posted", || {
        w.store
            .report(m.parse().unwrap())
            .unwrap()
            .is_some_and(|r| r.card.is_some())
    })
    .await;
    let card = w
        .store
        .report(m.parse().unwrap())
        .unwrap()
        .unwrap()
        .card
        .unwrap()
        .1;
    let cross = EventKind::Reaction {
        target: card,
        key: "❌".into(),
        id: None,
    };
    acked(
        w.fakes.matrix.inject(
            w.fakes
                .matrix
                .event(MODS, MODERATOR, "matrix:x".into(), cross),
        ),
    )
    .await;
    heard(&mut events, "event: reports\ndata: 0").await;
    let (_, _, rows) = web.get("/console/reports/rows").await;
    assert!(
        rows.contains("No open reports.") && !rows.contains(&m),
        "{rows}"
    );
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn claims_show_on_the_queue_and_item_and_another_moderators_claim_is_refused() {
    let w = start_console_with(LIFETIME, links()).await;
    w.held(TG, "1", "Claim me").await;
    let (_, n) = w.item("Claim me");
    let mut mo = Web::new(&w.base);
    assert_eq!(
        mo.sign_in(&w.weblogin(MODS, MODERATOR, "$l1").await).await,
        303
    );
    let mut max = Web::new(&w.base);
    assert_eq!(max.sign_in(&w.weblogin(MODS, MAX, "$l2").await).await, 303);
    let mut oz = Web::new(&w.base);
    assert_eq!(
        oz.sign_in(&w.weblogin(MODS2, OTHER_MODERATOR, "$l3").await)
            .await,
        303
    );
    let item = format!("/console/items/{n}");
    let claim = format!("/console/items/{n}/claim");

    let (_, _, page) = mo.get(&item).await;
    assert!(page.contains("Nobody has claimed it."), "{page}");
    let csrf = value_of(&page, "csrf").unwrap();
    let (status, headers, body) = mo
        .post(&claim, &[("csrf", &csrf), ("action", "claim")])
        .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(headers["location"], item.as_str());
    let (_, _, page) = mo.get(&item).await;
    assert!(
        page.contains(&format!("#{n} claimed by Mo")),
        "the reply: {page}"
    );
    assert!(page.contains("Claimed by Mo until"), "{page}");
    let (_, _, queue) = max.get("/console/queue").await;
    assert!(queue.contains("Claimed by Mo until"), "{queue}");
    // Audited as `!claim` in the room is.
    assert!(w
        .store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Claimed && e.actor == "matrix:@mod"));

    // Max cannot take it over, nor release it: told who has it.
    let csrf_max = max.csrf(&item).await;
    let (status, _, body) = max
        .post(&claim, &[("csrf", &csrf_max), ("action", "claim")])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("claimed by Mo until"), "{body}");
    let (status, _, body) = max
        .post(&claim, &[("csrf", &csrf_max), ("action", "release")])
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("not claimed by you"), "{body}");
    // A moderator of another link: 403 before anything runs, audited.
    let before = w.store.audit_log().unwrap().len();
    let csrf_oz = oz.csrf("/console/queue").await;
    let (status, _, _) = oz
        .post(&claim, &[("csrf", &csrf_oz), ("action", "claim")])
        .await;
    assert_eq!(status, 403);
    let log = w.store.audit_log().unwrap();
    assert_eq!(console_entries(&log[before..], "refused").len(), 1);
    // Garbage.
    let (status, _, _) = mo
        .post(&claim, &[("csrf", &csrf), ("action", "steal")])
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = mo
        .post(
            "/console/items/zzz/claim",
            &[("csrf", &csrf), ("action", "claim")],
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = mo.post(&claim, &[("action", "release")]).await;
    assert_eq!(status, 403, "no CSRF token");

    // Mo releases it; then Max may claim it.
    let (status, _, _) = mo
        .post(&claim, &[("csrf", &csrf), ("action", "release")])
        .await;
    assert_eq!(status, 303);
    let (_, _, page) = mo.get(&item).await;
    assert!(page.contains("Nobody has claimed it."), "{page}");
    let (status, _, _) = max
        .post(&claim, &[("csrf", &csrf_max), ("action", "claim")])
        .await;
    assert_eq!(status, 303);
    let (_, _, queue) = mo.get("/console/queue").await;
    assert!(queue.contains("Claimed by Max until"), "{queue}");
    w.daemon.shutdown().await.unwrap();
}
