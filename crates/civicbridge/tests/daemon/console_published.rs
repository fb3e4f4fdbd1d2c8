//! The console's published page over HTTP with the real daemon: a takedown from the page
//! removes every copy and writes the same entries as `!takedown` in the room (plus the
//! console's own), another link's messages are neither listed nor taken down, a form without
//! its CSRF token is refused, and garbage filters are answered 400/403.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::testing::FakeConnector;
use civicbridge_api::LinkId;
use civicbridge_core::moderation::audit::{AuditAction, AuditEntry};
use civicbridge_core::moderation::rules::ResidentNames;
use civicbridge_core::store::prelude::*;
use common::console::*;
use common::*;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);

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

/// What an entry says, without when, who sealed it or which message: to compare two paths.
fn shape(e: &AuditEntry) -> (AuditAction, String, Option<String>) {
    (
        e.action,
        e.actor.to_string(),
        e.link.as_ref().map(ToString::to_string),
    )
}

/// Whether `text` is visible in each of `rooms`.
fn shows(text: &str, rooms: &[(&FakeConnector, &str)]) -> Vec<bool> {
    rooms
        .iter()
        .map(|(f, r)| f.texts_in(r).iter().any(|t| t.contains(text)))
        .collect()
}

#[tokio::test]
async fn takedown_from_the_published_page_is_the_rooms_takedown() {
    let w = start_console(LIFETIME).await;
    for (id, text) in [
        ("$p1", "Notice one"),
        ("$p2", "Notice two"),
        ("$p3", "Notice three"),
    ] {
        acked(w.fakes.matrix.post(STAFF, STAFFER, id, text)).await;
    }
    acked(w.fakes.matrix.post(STAFF2, STAFFER, "$q1", "Parks notice")).await;
    let f = &w.fakes;
    wait_until(WAIT, "every notice crosses", || {
        f.discord.texts_in(DC).len() == 3
            && f.telegram.texts_in(TG).len() == 3
            && f.discord.texts_in(DC2).len() == 1
    })
    .await;
    let one = mirror(&w, "planning", "Notice one");
    let two = mirror(&w, "planning", "Notice two");
    let parks = mirror(&w, "parks", "Parks notice");

    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$l1").await).await,
        303
    );
    let (status, _, page) = web.get("/console/published").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Notice one") && page.contains("Notice three"));
    assert!(!page.contains("Parks notice"), "only their links: {page}");
    assert!(page.contains(&format!("value=\"{one}\"")));
    assert!(page.contains("aria-current=\"page\">Published"));
    // Every copy, and the original, links to where it can be seen on its platform.
    let hrefs = page.replace("&#x2f;", "/");
    let copy_of = |fake: &FakeConnector, room: &str| {
        let p = fake.visible_in(room);
        let p = p
            .iter()
            .find(|p| p.out.text.to_plain().contains("Notice one"));
        p.expect("the copy").id.clone()
    };
    for href in [
        "https://matrix.example/!staff/$p1".to_owned(),
        format!("https://telegram.example/{TG}/{}", copy_of(&f.telegram, TG)),
        format!("https://discord.example/{DC}/{}", copy_of(&f.discord, DC)),
    ] {
        assert!(
            hrefs.contains(&format!("href=\"{href}\"")),
            "{href} in {page}"
        );
    }
    let csrf = value_of(&page, "csrf").unwrap();

    // Hostile: another link's message, no token, garbage ids and filters.
    let (status, _, _) = web
        .post(
            "/console/published/takedown",
            &[("csrf", &csrf), ("message", &one), ("message", &parks)],
        )
        .await;
    assert_eq!(status, 403, "one of another link refuses the whole form");
    let (status, _, _) = web
        .post("/console/published/takedown", &[("message", &one)])
        .await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, _, _) = web
        .post(
            "/console/published/takedown",
            &[("csrf", "forged"), ("message", &one)],
        )
        .await;
    assert_eq!(status, 403, "a wrong CSRF token");
    for bad in ["m-1", "../etc", "m99999999999999999999999"] {
        let (status, _, _) = web
            .post(
                "/console/published/takedown",
                &[("csrf", &csrf), ("message", bad)],
            )
            .await;
        assert_eq!(status, 400, "{bad}");
    }
    for (q, want) in [
        ("link=parks", 403),
        ("from=soon", 400),
        ("to=99999999999999999999999999999999999999999999999", 400),
        ("before=zzz", 400),
        ("before=m99999999999999999999999", 400),
    ] {
        let (status, _, page) = web.get(&format!("/console/published?{q}")).await;
        assert_eq!(status, want, "{q}: {page}");
    }
    assert!(
        shows("Notice one", &[(&f.discord, DC), (&f.telegram, TG)])
            .iter()
            .all(|s| *s),
        "nothing was taken down"
    );
    assert!(f
        .discord
        .texts_in(DC2)
        .iter()
        .any(|t| t.contains("Parks notice")));

    // From the page, then the same in the room: the same entries, plus the console's own.
    let before = w.store.audit_log().unwrap().len();
    let (status, headers, page) = web
        .post(
            "/console/published/takedown",
            &[
                ("csrf", &csrf),
                ("message", &one),
                ("back", "/console/published"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(headers["location"], "/console/published");
    wait_until(WAIT, "every copy of the first is deleted", || {
        shows("Notice one", &[(&f.discord, DC), (&f.telegram, TG)])
            .iter()
            .all(|s| !*s)
    })
    .await;
    let log = w.store.audit_log().unwrap();
    let by_page: Vec<AuditEntry> = log[before..].to_vec();
    let before = log.len();
    acked(
        f.matrix
            .post(MODS, MODERATOR, "$t1", &format!("!takedown {two}")),
    )
    .await;
    wait_until(WAIT, "every copy of the second is deleted", || {
        shows("Notice two", &[(&f.discord, DC), (&f.telegram, TG)])
            .iter()
            .all(|s| !*s)
    })
    .await;
    let by_room: Vec<AuditEntry> = w.store.audit_log().unwrap()[before..].to_vec();
    let page_shapes: Vec<_> = by_page
        .iter()
        .filter(|e| e.action != AuditAction::ConsoleAction)
        .map(shape)
        .collect();
    let room_shapes: Vec<_> = by_room.iter().map(shape).collect();
    assert_eq!(page_shapes, room_shapes);
    assert!(page_shapes.iter().any(|s| s.0 == AuditAction::Takedown));
    let console: Vec<&AuditEntry> = by_page
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction)
        .collect();
    assert_eq!(console.len(), 1);
    assert_eq!(console[0].detail["via"], "console");
    assert_eq!(console[0].detail["action"], "takedown");
    assert_eq!(console[0].detail["messages"][0], one.as_str());

    // The page no longer lists them; the other link's message is still everywhere.
    let (_, _, page) = web.get("/console/published").await;
    assert!(page.contains("taken down by Mo"), "the notice: {page}");
    assert!(!page.contains("Notice one") && !page.contains("Notice two"));
    assert!(page.contains("Notice three"));
    assert!(f
        .discord
        .texts_in(DC2)
        .iter()
        .any(|t| t.contains("Parks notice")));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pseudonymised_resident_is_never_named_on_the_published_page() {
    let mut links = two_links();
    links[0].rules.resident_names = ResidentNames::Pseudonym;
    let w = start_console_with(LIFETIME, links).await;
    w.held(TG, "1", "My street floods").await;
    let (item, _) = w.item("My street floods");
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$n1").await).await,
        303
    );
    let csrf = web.csrf("/console/queue").await;
    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[("csrf", &csrf), ("item", &item), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    wait_until(WAIT, "it crosses", || {
        w.fakes
            .discord
            .texts_in(DC)
            .iter()
            .any(|t| t.contains("My street floods"))
    })
    .await;
    let (status, _, page) = web.get("/console/published").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("My street floods"), "{page}");
    assert!(page.contains("Resident "), "the pseudonym: {page}");
    assert!(!page.contains(RESIDENT.1), "never the real name: {page}");
    w.daemon.shutdown().await.unwrap();
}
