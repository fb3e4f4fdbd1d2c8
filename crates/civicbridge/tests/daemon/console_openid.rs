//! The console's OpenID sign-in (`POST /api/v1/session/openid`, the Element widget's), hostile
//! requests first: an untrusted homeserver is never contacted (a local listener proves no
//! connection was made), a trusted one may not vouch for another server's users, malformed and
//! oversized bodies are refused; then, against the real Synapse, a made-up token, a verified
//! user who moderates nothing, and a moderator whose real token opens a widget session that
//! reaches the queue, with its cross-site cookie.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::Platform;
use civicbridge_core::ops::console::openid::OpenIdTrust;
use civicbridge_core::store::prelude::*;
use civicbridge_testkit::synapse;
use common::console::*;
use common::{MODS, STAFF};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIFETIME: Duration = Duration::from_secs(300);
const MATRIX: Platform = Platform::new("matrix");

/// The console with `trusted` as its OpenID homeservers, and `moderators` added to the
/// `planning` link's moderators list.
async fn world(trusted: &[(&str, &str)], moderators: &[&str]) -> ConsoleWorld {
    let mut links = two_links();
    for m in moderators {
        links[0]
            .link
            .moderators
            .push(format!("matrix:{m}").parse().unwrap());
    }
    let trust = OpenIdTrust::of(MATRIX, trusted);
    start_console_configured(LIFETIME, links, move |c| {
        c.openid = trust.clone();
        c.frame_ancestors = vec!["https://app.element.io".into()];
    })
    .await
}

/// Posts `body` as JSON from the console's own origin: status, headers, JSON answer.
async fn post_token(w: &ConsoleWorld, body: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    post_raw(w, "application/json", body.as_bytes().to_vec()).await
}

async fn post_raw(
    w: &ConsoleWorld,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/session/openid", w.base))
        .header("content-type", content_type)
        .header("origin", &w.base)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn token(access_token: &str, server: &str) -> String {
    json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "matrix_server_name": server,
        "expires_in": 3600,
    })
    .to_string()
}

/// A homeserver's OpenID token for `user`, as Element's widget API would hand it over.
async fn openid_token(hs: &synapse::Synapse, user: &synapse::RegisteredUser) -> Value {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_matrix/client/v3/user/{}/openid/request_token",
            hs.url(),
            user.user_id
        ))
        .bearer_auth(&user.access_token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["matrix_server_name"], hs.server_name());
    t
}

/// A stand-in userinfo endpoint that answers every request with `sub` and counts requests.
async fn fake_userinfo(sub: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let body = json!({ "sub": sub }).to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    (url, asked)
}

#[tokio::test]
async fn openid_naming_an_untrusted_homeserver_is_refused_without_contacting_it() {
    // A listener that would see any connection: the kernel completes a TCP handshake before
    // anyone accepts, so a connection made at all is waiting in its queue.
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let trap_name = trap.local_addr().unwrap().to_string();
    let w = world(&[("trusted.example", "http://127.0.0.1:9")], &[]).await;
    for server in [trap_name.as_str(), "localhost", "evil.example"] {
        let (status, headers, answer) = post_token(&w, &token("abc", server)).await;
        assert_eq!(status, 403, "{server}: {answer}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("does not trust the homeserver"),
            "{answer}"
        );
        assert!(!headers.contains_key("set-cookie"));
    }
    match trap.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the untrusted host was contacted: {other:?}"),
    }
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_a_trusted_homeserver_vouching_for_another_servers_user_is_refused() {
    // `@mo:victim.example` even moderates a link: only the server mismatch refuses it.
    let (url, asked) = fake_userinfo("@mo:victim.example").await;
    let w = world(&[("fake.example", url.as_str())], &["@mo:victim.example"]).await;
    let (status, headers, answer) = post_token(&w, &token("abc", "fake.example")).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("only for its own users"),
        "{answer}"
    );
    assert!(!headers.contains_key("set-cookie"));
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "the trusted one was asked once"
    );
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_malformed_foreign_and_oversized_requests_are_refused_then_rate_limited() {
    let (url, asked) = fake_userinfo("@mo:fake.example").await;
    let w = world(&[("fake.example", url.as_str())], &["@mo:fake.example"]).await;
    let ok = token("abc", "fake.example");
    for (body, why) in [
        ("{".to_owned(), "not JSON"),
        ("[]".to_owned(), "not an object"),
        (r#"{"access_token":"abc"}"#.to_owned(), "fields missing"),
        (ok.replace("Bearer", "Basic"), "token_type"),
        (token("a&b=c", "fake.example"), "token characters"),
        (token("abc", "fake.example/x?y"), "server name"),
    ] {
        let (status, headers, answer) = post_token(&w, &body).await;
        assert_eq!(status, 400, "{why}: {answer}");
        assert!(answer["error"].is_string(), "{why}: {answer}");
        assert!(!headers.contains_key("set-cookie"));
    }
    let (status, _, _) = post_raw(&w, "application/json", vec![b' '; 8 * 1024]).await;
    assert_eq!(status, 413, "oversized");
    let (status, _, _) = post_raw(&w, "text/plain", ok.clone().into_bytes()).await;
    assert_eq!(
        status, 415,
        "a form or text body (no CORS preflight) is refused"
    );
    let foreign = reqwest::Client::new()
        .post(format!("{}/api/v1/session/openid", w.base))
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(ok.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403, "another site's page");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "nothing malformed was looked up"
    );
    // The attempts share the sign-in limit (10 a minute from one address): 8 so far.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(post_token(&w, "{").await.0);
    }
    assert_eq!(statuses, [400, 400, 429, 429]);
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_a_made_up_token_is_refused_by_synapse() {
    let hs = synapse::shared().await.unwrap();
    let w = world(&[("localhost", hs.url())], &[]).await;
    let (status, headers, answer) = post_token(&w, &token("MadeUpTokenXyz", "localhost")).await;
    assert_eq!(status, 401, "{answer}");
    assert!(!headers.contains_key("set-cookie"));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_a_verified_user_who_moderates_nothing_is_refused() {
    let hs = synapse::shared().await.unwrap();
    let outsider = hs.register_fresh("outsider").await.unwrap();
    let w = world(&[("localhost", hs.url())], &[]).await;
    let t = openid_token(hs, &outsider).await;
    let (status, headers, answer) = post_token(&w, &t.to_string()).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("moderates no link"),
        "{answer}"
    );
    assert!(!headers.contains_key("set-cookie"));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_a_moderators_real_token_opens_a_widget_session_that_reaches_the_queue() {
    let hs = synapse::shared().await.unwrap();
    let moderator = hs.register_fresh("openidmod").await.unwrap();
    let w = world(&[("localhost", hs.url())], &[moderator.user_id.as_str()]).await;
    let t = openid_token(hs, &moderator).await;
    let secret = t["access_token"].as_str().unwrap().to_owned();
    let (status, headers, answer) = post_token(&w, &t.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({ "location": "/console/queue" }));
    // Element frames the console from another site: the cookie must cross sites, so it is
    // SameSite=None, which needs Secure, and Partitioned keeps it to Element's site.
    let set = headers["set-cookie"].to_str().unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=None",
        "Secure",
        "Partitioned",
        "Path=/console",
    ] {
        assert!(
            set.split("; ").any(|a| a == attribute),
            "{attribute}: {set}"
        );
    }
    assert!(!set.contains("Strict") && !set.contains("Max-Age"), "{set}");

    let mut web = Web::new(&w.base);
    web.cookie = Some(set.split(';').next().unwrap().to_owned());
    let (status, headers, page) = web.get("/console/queue").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&moderator.user_id), "{page}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://app.element.io"),
        "{csp}"
    );

    // Audited like a !weblogin sign-in; the token is in no entry.
    let log = w.store.audit_log().unwrap();
    let entry = log
        .iter()
        .find(|e| e.detail["action"] == "signed_in" && e.detail["method"] == "openid")
        .expect("the sign-in is audited");
    assert_eq!(entry.detail["via"], "console");
    assert!(log
        .iter()
        .all(|e| !serde_json::to_string(e).unwrap().contains(&secret)));

    // Forms still need the session's CSRF token; signing out clears the partitioned cookie.
    let (status, _, _) = web.post("/console/logout", &[("csrf", "wrong")]).await;
    assert_eq!(status, 403);
    let csrf = web.csrf("/console/queue").await;
    let (status, headers, _) = web.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    let cleared = headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("SameSite=None; Secure; Partitioned") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _, _) = web.get("/console/queue").await;
    assert_eq!(status, 401);
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_widget_page_loads_its_vendored_script_under_the_strict_policy() {
    let w = world(&[], &[]).await;
    let web = Web::new(&w.base);
    let (status, headers, page) = web.get("/console/widget").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"<script src="/console/static/widget.js" defer></script>"#),
        "{page}"
    );
    assert!(
        // Autoescaped (`/` as `&#x2f;`); the browser's getAttribute reads the origin back.
        page.contains(r#"data-origins="https:&#x2f;&#x2f;app.element.io""#),
        "{page}"
    );
    assert_eq!(page.matches("<script").count(), 1, "no inline script");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    let (status, headers, js) = web.get("/console/static/widget.js").await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.contains("get_openid") && js.contains("/api/v1/session/openid"));
    assert!(!js.contains(r#", "*")"#), "never posts to any origin");
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn openid_a_moderator_by_power_level_signs_in_from_the_widgets_moderation_room_only() {
    let hs = synapse::shared().await.unwrap();
    let by_power = hs.register_fresh("plmod").await.unwrap();
    let w = world(&[("localhost", hs.url())], &[]).await;
    let post = |room: &'static str, token: Value| {
        let base = w.base.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("{base}/api/v1/session/openid?room={}", enc(room)))
                .header("content-type", "application/json")
                .header("origin", &base)
                .body(token.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let set_cookie = r.headers().contains_key("set-cookie");
            (status, set_cookie, r.text().await.unwrap())
        }
    };
    // In no list, and a plain member of the moderation room: refused, with no session.
    w.fakes.matrix.set_standing(
        MODS,
        &by_power.user_id,
        Some(civicbridge_api::Standing::Member),
    );
    let (status, cookie, body) = post(MODS, openid_token(hs, &by_power).await).await;
    assert_eq!((status, cookie), (403, false), "{body}");

    // Power level 50 there: the widget in that room signs them in, for that link only.
    w.fakes.matrix.set_standing(
        MODS,
        &by_power.user_id,
        Some(civicbridge_api::Standing::Moderator),
    );
    let (status, cookie, body) = post(MODS, openid_token(hs, &by_power).await).await;
    assert_eq!((status, cookie), (200, true), "{body}");

    // A standing is read only in a link's moderation room: a staff room governs nothing, and
    // without a room only the lists count.
    w.fakes.matrix.set_standing(
        STAFF,
        &by_power.user_id,
        Some(civicbridge_api::Standing::Admin),
    );
    let (status, cookie, body) = post(STAFF, openid_token(hs, &by_power).await).await;
    assert_eq!((status, cookie), (400, false), "{body}");
    assert!(body.contains("not a moderation room"), "{body}");
    let (status, _, answer) = post_token(&w, &openid_token(hs, &by_power).await.to_string()).await;
    assert_eq!(status, 403, "{answer}");
    w.daemon.shutdown().await.unwrap();
}
