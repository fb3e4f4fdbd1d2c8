//! The moderation console over HTTP on fake platforms, with the real daemon: sign-in through a
//! `!weblogin` link sent privately (single use, expiry, never stored), sessions and logout,
//! CSRF, a moderator of one link refused another's items, bulk decisions through the rooms'
//! own path, the event stream hearing a decision taken in the room, and hostile requests.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{AuditAction, AuditActor};
use civicbridge_core::store::prelude::*;
use common::console::*;
use common::*;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);

fn audit_text(w: &ConsoleWorld) -> String {
    w.store
        .audit_log()
        .unwrap()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn weblogin_sends_a_single_use_link_privately_and_signs_in_once() {
    let w = start_console(LIFETIME).await;
    let url = w.weblogin(MODS, MODERATOR, "$w1").await;
    let token = url.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 64);
    wait_until(WAIT, "the room hears that a link was sent", || {
        w.fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("sent you a sign-in link in a direct message"))
    })
    .await;
    // The link is a secret: in no room, no audit entry, no outbox job.
    for f in [&w.fakes.matrix, &w.fakes.telegram, &w.fakes.discord] {
        assert!(f
            .posted()
            .iter()
            .all(|p| !p.out.text.to_plain().contains(&token)));
    }
    assert!(!audit_text(&w).contains(&token));
    assert!(w
        .store
        .outbox()
        .unwrap()
        .iter()
        .all(|j| !format!("{j:?}").contains(&token)));

    let mut web = Web::new(&w.base);
    assert_eq!(web.sign_in(&url).await, 303);
    let cookie = web.cookie.clone().unwrap();
    let (status, headers, page) = web.get("/console/queue").await;
    assert_eq!(status, 200, "{page}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(page.contains("Signed in as Mo"), "{page}");
    assert!(audit_text(&w).contains("\"via\":\"console\""));

    // The same link again: refused, and it opens no session.
    let mut again = Web::new(&w.base);
    let path = url.strip_prefix(&w.base).unwrap();
    let (status, _, _) = again.get(path).await;
    assert_eq!(status, 200, "opening the page spends nothing");
    assert_eq!(again.sign_in(&url).await, 403);
    assert!(again.cookie.is_none());

    // Logout ends the session for good.
    let csrf = web.csrf("/console/queue").await;
    let (status, headers, _) = web.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (status, _, _) = web.get("/console/queue").await;
    assert_eq!(status, 401);
    let _ = cookie;
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn only_a_moderator_gets_a_link_and_the_cookie_is_strict() {
    let w = start_console(LIFETIME).await;
    acked(w.fakes.matrix.post(MODS, STAFFER, "$s1", "!weblogin")).await;
    wait_until(WAIT, "the refusal is answered", || {
        w.fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("only moderators"))
    })
    .await;
    assert!(w.fakes.matrix.told().is_empty(), "nobody was sent a link");
    assert!(w
        .store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused && e.detail["attempted"] == "weblogin"));

    // Someone whose direct messages are closed hears why, in the room.
    w.fakes.matrix.unreachable(
        MODERATOR.0,
        Some(civicbridge_api::ConnectorError::Rejected("closed".into())),
    );
    acked(w.fakes.matrix.post(MODS, MODERATOR, "$s2", "!weblogin")).await;
    wait_until(WAIT, "the moderator hears the DM failed", || {
        w.fakes
            .matrix
            .texts_in(MODS)
            .iter()
            .any(|t| t.contains("could not send you a direct message"))
    })
    .await;
    w.fakes.matrix.unreachable(MODERATOR.0, None);

    let url = w.weblogin(MODS, MODERATOR, "$s3").await;
    let web = Web::new(&w.base);
    let path = url.strip_prefix(&w.base).unwrap().to_owned();
    let (_, _, page) = web.get(&path).await;
    let token = value_of(&page, "token").unwrap();
    let (status, headers, _) = web.post("/console/login", &[("token", &token)]).await;
    assert_eq!(status, 303);
    let set = headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain http here: {set}");
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_link_is_refused() {
    let w = start_console(Duration::ZERO).await;
    let url = w.weblogin(MODS, MODERATOR, "$e1").await;
    let mut web = Web::new(&w.base);
    assert_eq!(web.sign_in(&url).await, 403);
    assert!(web.cookie.is_none());
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn bulk_decisions_take_the_rooms_path_and_are_delivered() {
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "First question").await;
    w.held(TG, "2", "Second question").await;
    w.held(TG, "3", "Buy cheap pills").await;
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$b1").await).await,
        303
    );
    let (_, _, page) = web.get("/console/queue").await;
    assert!(page.contains("3 held items"), "{page}");
    assert!(page.contains("First question") && page.contains("Buy cheap pills"));
    let (a, _) = w.item("First question");
    let (b, _) = w.item("Second question");
    let (c, _) = w.item("Buy cheap pills");
    let csrf = value_of(&page, "csrf").unwrap();

    let (status, headers, _) = web
        .post(
            "/console/queue/decide",
            &[
                ("csrf", &csrf),
                ("item", &a),
                ("item", &b),
                ("action", "approve"),
                ("back", "/console/queue"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/console/queue");
    wait_until(
        WAIT,
        "both are delivered to Discord and the staff room",
        || {
            let dc = w.fakes.discord.texts_in(DC).join("\n");
            let staff = w.fakes.matrix.texts_in(STAFF).join("\n");
            ["First question", "Second question"]
                .iter()
                .all(|t| dc.contains(t) && staff.contains(t))
        },
    )
    .await;
    let (_, _, page) = web.get("/console/queue").await;
    assert!(
        page.contains("approved by Mo"),
        "the notice says what happened: {page}"
    );
    assert!(page.contains("1 held item,"), "{page}");

    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[
                ("csrf", &csrf),
                ("item", &c),
                ("action", "reject"),
                ("reason", ""),
                ("reason_text", "advertising pills"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert!(w.store.pending().unwrap().is_empty());
    assert!(!w.fakes.discord.texts_in(DC).join("\n").contains("pills"));

    let log = w.store.audit_log().unwrap();
    let by_mo = |action| {
        log.iter()
            .filter(|e| {
                e.action == action && e.actor == AuditActor::Person("matrix:@mod".parse().unwrap())
            })
            .count()
    };
    assert_eq!(by_mo(AuditAction::Approved), 2, "the rooms' own entries");
    assert_eq!(by_mo(AuditAction::Rejected), 1);
    let rejected = log
        .iter()
        .find(|e| e.action == AuditAction::Rejected)
        .unwrap();
    assert_eq!(rejected.detail["reason"], "advertising pills");
    let console: Vec<_> = log
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction)
        .map(|e| e.detail["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(console, ["signed_in", "approve", "reject"]);
    assert!(log
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction)
        .all(|e| e.detail["via"] == "console"));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Hello").await;
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$c1").await).await,
        303
    );
    let (a, n) = w.item("Hello");
    let csrf = web.csrf("/console/queue").await;
    for form in [
        vec![("item", a.as_str()), ("action", "approve")],
        vec![("csrf", ""), ("item", a.as_str()), ("action", "approve")],
        vec![
            ("csrf", &"0".repeat(64)),
            ("item", a.as_str()),
            ("action", "approve"),
        ],
    ] {
        let (status, _, _) = web.post("/console/queue/decide", &form).await;
        assert_eq!(status, 403, "{form:?}");
    }
    let edit = format!("/console/items/{n}/edit");
    let (status, _, _) = web.post(&edit, &[("revision", "1"), ("text", "x")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = web.post("/console/logout", &[]).await;
    assert_eq!(status, 403);
    // Another site's page posting with a stolen token: its Origin gives it away.
    let r = web
        .http
        .post(format!("{}/console/queue/decide", w.base))
        .header("cookie", web.cookie.clone().unwrap())
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&item={}&action=approve", enc(&a)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(w.store.pending().unwrap().len(), 1, "nothing was decided");
    // With its token, from here, it works.
    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[("csrf", &csrf), ("item", &a), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(w.store.pending().unwrap().is_empty());
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_moderator_of_one_link_gets_403_on_another_links_item() {
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Planning matter").await;
    w.held(TG2, "2", "Parks matter").await;
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$o1").await).await,
        303
    );
    let (_, _, page) = web.get("/console/queue").await;
    assert!(page.contains("Planning matter"));
    assert!(
        !page.contains("Parks matter"),
        "only their links' items: {page}"
    );
    let (theirs, n_theirs) = w.item("Parks matter");
    let (_, n_mine) = w.item("Planning matter");
    let (status, _, page) = web.get(&format!("/console/items/{n_mine}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("As each room will show it"));
    let (status, _, _) = web.get(&format!("/console/items/{n_theirs}")).await;
    assert_eq!(status, 403);
    let csrf = web.csrf("/console/queue").await;
    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[("csrf", &csrf), ("item", &theirs), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = web
        .post(
            &format!("/console/items/{n_theirs}/edit"),
            &[("csrf", &csrf), ("revision", "1"), ("text", "hijacked")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(w.store.pending().unwrap().len(), 2, "nothing was decided");
    assert!(w
        .store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Refused
            && e.link.as_ref().is_some_and(|l| l.as_str() == "parks")));

    // Its own moderator, signed in from their room, decides it.
    let mut oz = Web::new(&w.base);
    assert_eq!(
        oz.sign_in(&w.weblogin(MODS2, OTHER_MODERATOR, "$o2").await)
            .await,
        303
    );
    let csrf = oz.csrf("/console/queue").await;
    let (status, _, _) = oz
        .post(
            "/console/queue/decide",
            &[("csrf", &csrf), ("item", &theirs), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    wait_until(WAIT, "parks' message crosses", || {
        w.fakes
            .discord
            .texts_in(DC2)
            .iter()
            .any(|t| t.contains("Parks matter"))
    })
    .await;
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_decision_in_the_room_reaches_an_open_event_stream() {
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Stream me").await;
    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$v1").await).await,
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
    assert!(events.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (a, _) = w.item("Stream me");
    w.command(MODS, MODERATOR, "$v2", &format!("!approve {a}"))
        .await;
    let mut seen = String::new();
    tokio::time::timeout(WAIT, async {
        while !seen.contains("event: queue") {
            let chunk = events
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("the stream tells the page in time");
    assert!(seen.contains("data: 0"), "{seen}");
    // A new held message is heard too.
    w.held(TG, "2", "And me").await;
    seen.clear();
    tokio::time::timeout(WAIT, async {
        while !seen.contains("data: 1") {
            let chunk = events
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .expect("a new item is heard in time");
    let (_, _, rows) = web.get("/console/queue/rows").await;
    assert!(
        rows.contains("And me") && !rows.contains("Stream me"),
        "{rows}"
    );
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_requests_are_answered_and_change_nothing() {
    let w = start_console(LIFETIME).await;
    w.held(TG, "1", "Keep me").await;
    let anon = Web::new(&w.base);
    for path in [
        "/console/queue",
        "/console/items/1",
        "/console/events",
        "/console/queue/rows",
    ] {
        let (status, _, _) = anon.get(path).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _, _) = anon
        .post(
            "/console/queue/decide",
            &[("item", "#1v1"), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 401);
    for path in [
        "/console/static/..%2F..%2FCargo.toml",
        "/console/static/../mod.rs",
        "/console/static/%2e%2e/templates/base.html",
        "/console/static/",
    ] {
        let (status, _, _) = anon.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, headers, js) = anon.get("/console/static/console.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("EventSource"));
    for path in [
        "/console/login",
        "/console/login?token=",
        "/console/login?token=<script>",
        &format!("/console/login?token={}", "z".repeat(64)),
    ] {
        let (status, _, page) = anon.get(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(!page.contains("<script>"), "escaped: {page}");
    }
    let (status, _, _) = anon
        .post("/console/login", &[("token", &"a".repeat(64))])
        .await;
    assert_eq!(status, 403);
    // A sign-in posted from another site is refused, and does not spend the link.
    let url = w.weblogin(MODS, MODERATOR, "$h0").await;
    let token = url.split("token=").nth(1).unwrap();
    let r = anon
        .http
        .post(format!("{}/console/login", w.base))
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let mut fine = Web::new(&w.base);
    assert_eq!(
        fine.sign_in(&url).await,
        303,
        "the link still works from the console"
    );

    let mut web = Web::new(&w.base);
    assert_eq!(
        web.sign_in(&w.weblogin(MODS, MODERATOR, "$h1").await).await,
        303
    );
    let csrf = web.csrf("/console/queue").await;
    for path in [
        "/console/items/x",
        "/console/items/99999",
        "/console/items/-1",
        "/console/items/%00",
    ] {
        let (status, _, _) = web.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    let huge = "x".repeat(200_000);
    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[
                ("csrf", &csrf),
                ("reason_text", &huge),
                ("action", "reject"),
            ],
        )
        .await;
    assert_eq!(status, 413);
    for form in [
        vec![
            ("csrf", csrf.as_str()),
            ("item", "#1v1"),
            ("action", "burn"),
        ],
        vec![
            ("csrf", csrf.as_str()),
            ("item", "../../1"),
            ("action", "approve"),
        ],
        vec![
            ("csrf", csrf.as_str()),
            ("item", "#99999999999999999999"),
            ("action", "approve"),
        ],
    ] {
        let (status, _, _) = web.post("/console/queue/decide", &form).await;
        assert_eq!(status, 400, "{form:?}");
    }
    // A filter full of markup is shown escaped.
    let (status, _, page) = web
        .get("/console/queue?sender=%3Cscript%3Ealert(1)%3C/script%3E&age=zzz")
        .await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script>alert"), "{page}");
    // An outdated revision is refused as in the room, not decided.
    let (status, _, _) = web
        .post(
            "/console/queue/decide",
            &[("csrf", &csrf), ("item", "#1v2"), ("action", "approve")],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(w.store.pending().unwrap().len(), 1);
    let (status, _, _) = web.get("/console/queue").await;
    assert_eq!(status, 200);
    w.daemon.shutdown().await.unwrap();
}
