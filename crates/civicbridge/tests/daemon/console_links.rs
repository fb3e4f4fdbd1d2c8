//! The console's admin pages over HTTP with the real daemon on fake platforms: links and
//! rules (pause/resume, the rules form, its diff and its confirmation) and parked jobs. The
//! hostile cases first: a moderator who is no admin, forms without their CSRF token, a confirm
//! form edited to name another link, another link's parked item, an invalid value. Then the
//! paths themselves, each compared with the command typed in the room: the same store change,
//! the same audit entries, plus the console's own.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::LinkId;
use civicbridge_core::moderation::audit::{AuditAction, AuditActor, AuditEntry};
use civicbridge_core::moderation::rules::Rules;
use civicbridge_core::ops::config::LinkSettings;
use civicbridge_core::ops::status::Phase;
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{ParkedItem, ParkedWhat};
use common::console::*;
use common::*;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(300);

/// [`two_links`] with an admin each: `@mod` administers `planning`, `@other` `parks`.
pub(crate) fn admin_links() -> Vec<LinkSettings> {
    let mut links = two_links();
    links[0].link.admins = vec!["matrix:@mod".parse().unwrap()];
    links[1].link.admins = vec!["matrix:@other".parse().unwrap()];
    links
}

fn rules(w: &ConsoleWorld, link: &str) -> Rules {
    w.store.rules(&LinkId::new(link)).unwrap().unwrap()
}

fn log(w: &ConsoleWorld) -> Vec<AuditEntry> {
    w.store.audit_log().unwrap()
}

/// The console's `refused` entries so far.
fn refusals(w: &ConsoleWorld) -> Vec<AuditEntry> {
    log(w)
        .into_iter()
        .filter(|e| e.action == AuditAction::ConsoleAction && e.detail["action"] == "refused")
        .collect()
}

/// Undoes minijinja's HTML escaping.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every field of the form in `html` whose name starts with `prefix`, as a browser would
/// send it: inputs by their `value`, text areas by their text.
fn fields(html: &str, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    let needle = format!("name=\"{prefix}");
    while let Some(at) = rest.find(&needle) {
        let start = html.len() - rest.len() + at;
        let tag_start = html[..start].rfind('<').unwrap();
        let after = &html[start + 6..];
        let name = &after[..after.find('"').unwrap()];
        let tag_end = start + html[start..].find('>').unwrap();
        let tag = &html[tag_start..tag_end];
        let value = if tag.starts_with("<textarea") {
            let body = &html[tag_end + 1..];
            body[..body.find("</textarea>").unwrap()].to_owned()
        } else {
            let v = tag.find("value=\"").map(|i| &tag[i + 7..]).unwrap_or("\"");
            v[..v.find('"').unwrap()].to_owned()
        };
        out.push((unescape(name), unescape(&value)));
        rest = &html[tag_end..];
    }
    out
}

fn pairs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

/// The rules form of `link` as shown, with `changes` typed into it, ready to post.
async fn rules_form(web: &Web, link: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let (status, _, page) = web.get(&format!("/console/links/{link}")).await;
    assert_eq!(status, 200, "{page}");
    let mut form = fields(&page, "rule.");
    assert_eq!(form.len(), Rules::KEYS.len(), "every key is a field");
    for (k, v) in changes {
        let f = form
            .iter_mut()
            .find(|(name, _)| name == &format!("rule.{k}"))
            .unwrap();
        f.1 = (*v).to_owned();
    }
    form.push(("csrf".into(), value_of(&page, "csrf").unwrap()));
    form.push(("link".into(), link.to_owned()));
    form
}

/// The keys a diff page lists, in order.
fn diff_keys(page: &str) -> Vec<String> {
    page.split("<tr data-key=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_owned())
        .collect()
}

async fn signed_in(w: &ConsoleWorld, room: &str, who: (&str, &str), event: &str) -> Web {
    let mut web = Web::new(&w.base);
    assert_eq!(web.sign_in(&w.weblogin(room, who, event).await).await, 303);
    web
}

#[tokio::test]
async fn console_links_a_moderator_who_is_no_admin_is_refused_and_audited() {
    let w = start_console(LIFETIME).await;
    let web = signed_in(&w, MODS, MODERATOR, "$a1").await;
    let csrf = web.csrf("/console/queue").await;
    let before = refusals(&w).len();

    let (status, _, page) = web.get("/console/links").await;
    assert_eq!(status, 403, "{page}");
    let (status, _, _) = web.get("/console/links/planning").await;
    assert_eq!(status, 403);
    let (status, _, _) = web
        .post(
            "/console/links/planning/rules",
            &[
                ("csrf", &csrf),
                ("link", "planning"),
                ("rule.paused", "true"),
            ],
        )
        .await;
    assert_eq!(status, 403, "posting rules");
    let (status, _, _) = web
        .post(
            "/console/links/planning/rules/apply",
            &[
                ("csrf", &csrf),
                ("link", "planning"),
                ("key", "paused"),
                ("old.paused", "false"),
                ("new.paused", "true"),
            ],
        )
        .await;
    assert_eq!(status, 403, "applying rules");
    let (status, _, _) = web
        .post("/console/links/planning/pause", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 403, "pausing");

    assert!(!rules(&w, "planning").paused, "nothing changed");
    let refused = refusals(&w);
    assert_eq!(
        refused.len(),
        before + 5,
        "each refusal audited: {refused:?}"
    );
    let last = refused.last().unwrap();
    assert_eq!(
        last.actor,
        AuditActor::Person("matrix:@mod".parse().unwrap())
    );
    assert_eq!(last.detail["via"], "console");
    assert!(log(&w)
        .iter()
        .all(|e| e.action != AuditAction::RulesChanged));

    // Parked jobs are listed to moderators, without buttons.
    let (status, _, page) = web.get("/console/parked").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("aria-current=\"page\">Parked jobs"), "{page}");
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_links_rules_forms_without_csrf_or_for_another_link_are_refused() {
    let w = start_console_with(LIFETIME, admin_links()).await;
    let web = signed_in(&w, MODS, MODERATOR, "$c1").await;
    let (status, _, page) = web.get("/console/links").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-link=\"planning\""), "{page}");
    assert!(
        !page.contains("data-link=\"parks\""),
        "only their links: {page}"
    );
    let form = rules_form(&web, "planning", &[("slow_mode_secs", "30")]).await;
    let csrf = form.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    let before = refusals(&w).len();

    // No token, a forged one: refused before anything is read.
    let without: Vec<_> = form.iter().filter(|(k, _)| k != "csrf").cloned().collect();
    let (status, _, _) = web
        .post("/console/links/planning/rules", &pairs(&without))
        .await;
    assert_eq!(status, 403, "no CSRF token");
    let mut forged = without.clone();
    forged.push(("csrf".into(), "forged".into()));
    let (status, _, _) = web
        .post("/console/links/planning/rules", &pairs(&forged))
        .await;
    assert_eq!(status, 403, "a forged CSRF token");
    let confirm = [
        ("csrf", csrf.as_str()),
        ("key", "slow_mode_secs"),
        ("old.slow_mode_secs", "0"),
        ("new.slow_mode_secs", "30"),
    ];
    let (status, _, _) = web
        .post("/console/links/planning/rules/apply", &confirm[1..])
        .await;
    assert_eq!(status, 403, "confirming without a token");

    // Another link: by the path, and by the hidden field of a confirm form.
    let (status, _, _) = web.get("/console/links/parks").await;
    assert_eq!(status, 403);
    let (status, _, _) = web
        .post(
            "/console/links/parks/rules",
            &[("csrf", &csrf), ("link", "parks")],
        )
        .await;
    assert_eq!(status, 403);
    let mut tampered = confirm.to_vec();
    tampered.push(("link", "parks"));
    let (status, _, page) = web
        .post("/console/links/planning/rules/apply", &tampered)
        .await;
    assert_eq!(status, 403, "the hidden link names another: {page}");
    let (status, _, _) = web
        .post("/console/links/parks/rules/apply", &tampered)
        .await;
    assert_eq!(status, 403, "a link they do not administer");
    let (status, _, _) = web
        .post("/console/links/parks/pause", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 403, "pausing another's link");
    for bad in ["..%2F..%2Fetc", "%00", &"x".repeat(5000)] {
        let (status, _, _) = web.get(&format!("/console/links/{bad}")).await;
        assert_eq!(status, 403, "{bad}");
    }

    assert_eq!(rules(&w, "planning").slow_mode_secs, 0);
    assert!(!rules(&w, "parks").paused);
    assert!(log(&w)
        .iter()
        .all(|e| e.action != AuditAction::RulesChanged));
    let refused = refusals(&w);
    // The CSRF refusals are not console actions (as everywhere in the console); the five of
    // another link and the three garbage links are.
    assert_eq!(refused.len(), before + 8, "{refused:?}");
    assert!(refused
        .iter()
        .any(|e| e.link.as_ref().map(LinkId::as_str) == Some("parks")));
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_links_the_diff_shows_the_changed_keys_and_applying_is_set() {
    let w = start_console_with(LIFETIME, admin_links()).await;
    let web = signed_in(&w, MODS, MODERATOR, "$d1").await;
    let start = rules(&w, "planning");
    let (status, _, page) = web.get("/console/links").await;
    assert_eq!(status, 200);
    let form = rules_form(
        &web,
        "planning",
        &[
            ("slow_mode_secs", "30"),
            ("blocked_patterns", r#"["(?i)cheap pills"]"#),
            ("max_length", "500"),
        ],
    )
    .await;
    let _ = page;

    // The diff: exactly the changed keys, with the dry run; nothing changed yet.
    let before = log(&w).len();
    let (status, _, page) = web
        .post("/console/links/planning/rules", &pairs(&form))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        diff_keys(&page),
        ["blocked_patterns", "max_length", "slow_mode_secs"]
    );
    assert!(page.contains("Dry run on link planning"), "{page}");
    assert_eq!(rules(&w, "planning"), start, "reviewing changes nothing");
    assert_eq!(log(&w).len(), before, "nor writes to the log");

    // The form as shown, unchanged: nothing to review.
    let same = rules_form(&web, "planning", &[]).await;
    let (status, headers, _) = web
        .post("/console/links/planning/rules", &pairs(&same))
        .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/console/links/planning");

    // Confirming applies each changed key as `!set` does, and only those.
    let confirm = fields(&page, "");
    let confirm: Vec<_> = confirm
        .into_iter()
        .filter(|(k, _)| {
            k == "csrf"
                || k == "link"
                || k == "key"
                || k.starts_with("old.")
                || k.starts_with("new.")
        })
        .collect();
    let (status, headers, page) = web
        .post("/console/links/planning/rules/apply", &pairs(&confirm))
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(headers["location"], "/console/links/planning");
    let mut want = start.clone();
    want.set("blocked_patterns", r#"["(?i)cheap pills"]"#)
        .unwrap();
    want.set("max_length", "500").unwrap();
    want.set("slow_mode_secs", "30").unwrap();
    assert_eq!(rules(&w, "planning"), want);
    let by_page: Vec<AuditEntry> = log(&w)[before..].to_vec();
    let changed: Vec<&AuditEntry> = by_page
        .iter()
        .filter(|e| e.action == AuditAction::RulesChanged)
        .collect();
    let subjects: Vec<_> = changed.iter().map(|e| e.subject.clone().unwrap()).collect();
    assert_eq!(
        subjects,
        ["blocked_patterns", "max_length", "slow_mode_secs"]
    );
    let console: Vec<&AuditEntry> = by_page
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction)
        .collect();
    assert_eq!(console.len(), 1, "{by_page:?}");
    assert_eq!(console[0].detail["action"], "rules");
    assert_eq!(by_page.len(), 4, "nothing else: {by_page:?}");

    // The same in the room: an entry of the same shape.
    let mark = log(&w).len();
    w.command(MODS, MODERATOR, "$d2", "!set planning claim_minutes 20")
        .await;
    wait_until(WAIT, "the room's !set is applied", || {
        rules(&w, "planning").claim_minutes == 20
    })
    .await;
    let by_room: Vec<AuditEntry> = log(&w)[mark..]
        .iter()
        .filter(|e| e.action == AuditAction::RulesChanged)
        .cloned()
        .collect();
    assert_eq!(by_room.len(), 1);
    let shape = |e: &AuditEntry| {
        let mut keys: Vec<_> = e.detail.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (e.action, e.actor.clone(), e.link.clone(), keys)
    };
    assert_eq!(shape(changed[2]), shape(&by_room[0]));

    // The same confirm form again: the values it reviewed are gone, so nothing is applied.
    let (status, _, page) = web
        .post("/console/links/planning/rules/apply", &pairs(&confirm))
        .await;
    assert_eq!(status, 409, "{page}");
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_links_an_invalid_value_is_refused_naming_the_key_and_changes_nothing() {
    let w = start_console_with(LIFETIME, admin_links()).await;
    let web = signed_in(&w, MODS, MODERATOR, "$i1").await;
    let start = rules(&w, "planning");
    let before = log(&w).len();
    let form = rules_form(
        &web,
        "planning",
        &[("paused", "true"), ("slow_mode_secs", "soon")],
    )
    .await;
    let (status, _, page) = web
        .post("/console/links/planning/rules", &pairs(&form))
        .await;
    assert_eq!(status, 422, "{page}");
    assert_eq!(diff_keys(&page), ["slow_mode_secs", "paused"]);
    assert!(page.contains("Refused: slow_mode_secs"), "{page}");
    assert!(!page.contains("rules/apply"), "no confirm button: {page}");

    // A confirm form made by hand: checked whole before the first key is set.
    let csrf = form.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    let (status, _, page) = web
        .post(
            "/console/links/planning/rules/apply",
            &[
                ("csrf", &csrf),
                ("link", "planning"),
                ("key", "paused"),
                ("old.paused", "false"),
                ("new.paused", "true"),
                ("key", "slow_mode_secs"),
                ("old.slow_mode_secs", "0"),
                ("new.slow_mode_secs", "soon"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("slow_mode_secs"), "names the key: {page}");
    for (key, old) in [("owner", "x"), ("paused", "true")] {
        let (status, _, _) = web
            .post(
                "/console/links/planning/rules/apply",
                &[
                    ("csrf", &csrf),
                    ("link", "planning"),
                    ("key", key),
                    (&format!("old.{key}"), old),
                    (&format!("new.{key}"), "false"),
                ],
            )
            .await;
        assert!(status == 400 || status == 409, "{key}: {status}");
    }
    assert_eq!(rules(&w, "planning"), start, "nothing changed");
    assert_eq!(log(&w).len(), before, "nothing logged");
    w.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_links_pause_and_resume_hold_and_release_copies_and_are_audited() {
    let w = start_console_with(LIFETIME, admin_links()).await;
    let web = signed_in(&w, MODS, MODERATOR, "$p1").await;
    wait_until(WAIT, "every connector is up", || {
        let r = w.daemon.status().readiness();
        !r.connectors.is_empty() && r.connectors.iter().all(|c| c.state == Phase::Up)
    })
    .await;
    let (status, _, page) = web.get("/console/links").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("state-up"), "the connectors' state: {page}");
    assert!(page.contains("Relaying"), "{page}");
    let csrf = value_of(&page, "csrf").unwrap();

    let before = log(&w).len();
    let (status, headers, page) = web
        .post("/console/links/planning/pause", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(headers["location"], "/console/links");
    assert!(rules(&w, "planning").paused);
    let by_page: Vec<AuditEntry> = log(&w)[before..].to_vec();
    let (_, _, page) = web.get("/console/links").await;
    assert!(
        page.contains("Paused") && page.contains("Resume planning"),
        "{page}"
    );

    // While paused, a copy waits in the outbox.
    acked(w.fakes.matrix.post(STAFF, STAFFER, "$p2", "Held back")).await;
    assert!(
        !w.store.outbox().unwrap().is_empty(),
        "the copy waits in the outbox"
    );
    assert!(!w
        .fakes
        .discord
        .texts_in(DC)
        .iter()
        .any(|t| t.contains("Held back")));
    let mark = log(&w).len();
    let (status, _, _) = web
        .post("/console/links/planning/resume", &[("csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    wait_until(WAIT, "the copy goes once resumed", || {
        w.fakes
            .discord
            .texts_in(DC)
            .iter()
            .any(|t| t.contains("Held back"))
    })
    .await;
    assert!(!rules(&w, "planning").paused);
    let resumed: Vec<AuditEntry> = log(&w)[mark..].to_vec();

    // `!pause` in the room writes the same entries, without the console's own.
    let mark = log(&w).len();
    w.command(MODS, MODERATOR, "$p3", "!pause planning").await;
    wait_until(WAIT, "the room's !pause", || rules(&w, "planning").paused).await;
    let by_room: Vec<AuditEntry> = log(&w)[mark..].to_vec();
    let shape = |es: &[AuditEntry]| -> Vec<_> {
        es.iter()
            .filter(|e| e.action != AuditAction::ConsoleAction)
            .map(|e| (e.action, e.actor.clone(), e.link.clone(), e.subject.clone()))
            .collect()
    };
    assert_eq!(shape(&by_page), shape(&by_room));
    assert_eq!(shape(&by_page)[0].0, AuditAction::RulesChanged);
    assert_eq!(shape(&by_page)[0].3.as_deref(), Some("paused"));
    for (entries, action) in [(&by_page, "pause"), (&resumed, "resume")] {
        let console: Vec<_> = entries
            .iter()
            .filter(|e| e.action == AuditAction::ConsoleAction)
            .collect();
        assert_eq!(console.len(), 1, "{entries:?}");
        assert_eq!(console[0].detail["action"], action);
        assert_eq!(console[0].link.as_ref().unwrap().as_str(), "planning");
    }
    w.daemon.shutdown().await.unwrap();
}

/// The parked item of the job that sends `text`'s copy.
fn parked_for(w: &ConsoleWorld, link: &str, text: &str) -> ParkedItem {
    let m = w
        .store
        .mirrors_older_than(&LinkId::new(link), u64::MAX)
        .unwrap()
        .into_iter()
        .find(|m| w.store.mirror(*m).unwrap().unwrap().text.to_plain() == text)
        .unwrap();
    w.store
        .parked()
        .unwrap()
        .into_iter()
        .find(|p| matches!(&p.what, ParkedWhat::Job { about: Some(a), .. } if *a == m))
        .unwrap_or_else(|| panic!("{text:?} is not parked"))
}

#[tokio::test]
async fn console_parked_retry_and_drop_take_the_rooms_path_and_another_links_item_is_refused() {
    let w = start_console_with(LIFETIME, admin_links()).await;
    w.fakes.discord.panic_on("Boom");
    for (room, id, text) in [
        (STAFF, "$b1", "Boom one"),
        (STAFF, "$b2", "Boom two"),
        (STAFF, "$b3", "Boom three"),
        (STAFF2, "$b4", "Boom parks"),
    ] {
        acked(w.fakes.matrix.post(room, STAFFER, id, text)).await;
    }
    wait_until(WAIT, "the four copies to Discord are parked", || {
        w.store.parked().unwrap().len() == 4
    })
    .await;
    let [one, two, three, parks] = ["Boom one", "Boom two", "Boom three", "Boom parks"].map(|t| {
        parked_for(
            &w,
            if t == "Boom parks" {
                "parks"
            } else {
                "planning"
            },
            t,
        )
        .id
        .to_string()
    });

    // Why it was parked, as the store keeps it (the audit entries of a retry or drop quote it).
    let reason = w.store.parked().unwrap()[0].reason.clone();
    assert!(reason.contains("panicked"), "{reason}");
    let web = signed_in(&w, MODS, MODERATOR, "$b5").await;
    let (status, _, page) = web.get("/console/parked").await;
    assert_eq!(status, 200, "{page}");
    for p in [&one, &two, &three] {
        assert!(
            page.contains(&format!("data-parked=\"{p}\"")),
            "{p}: {page}"
        );
    }
    assert!(
        !page.contains(&format!("data-parked=\"{parks}\"")),
        "only their links"
    );
    assert!(page.contains(&reason), "why: {page}");
    assert!(
        page.contains(&civicbridge_core::moderation::audit::rfc3339(
            w.store.parked().unwrap()[0].at_ms
        )),
        "when: {page}"
    );
    let csrf = value_of(&page, "csrf").unwrap();
    // The link filter, written with the other pages' filter macros: one of theirs, or 403.
    assert!(page.contains("id=\"f-link\""), "the filter form: {page}");
    let (status, _, filtered) = web.get("/console/parked?link=planning").await;
    assert_eq!(status, 200, "{filtered}");
    assert!(filtered.contains(&format!("data-parked=\"{one}\"")));
    assert!(
        filtered.contains("<option value=\"planning\" selected>"),
        "{filtered}"
    );
    let (status, _, _) = web.get("/console/parked?link=parks").await;
    assert_eq!(status, 403, "another link as the filter");

    // Hostile: another link's item alone or among theirs, no token, garbage.
    let before = refusals(&w).len();
    let (status, _, _) = web
        .post(
            "/console/parked",
            &[("csrf", &csrf), ("item", &parks), ("action", "drop")],
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, _) = web
        .post(
            "/console/parked",
            &[
                ("csrf", &csrf),
                ("item", &one),
                ("item", &parks),
                ("action", "retry"),
            ],
        )
        .await;
    assert_eq!(status, 403, "one of another link refuses the whole form");
    assert_eq!(refusals(&w).len(), before + 2);
    let (status, _, _) = web
        .post("/console/parked", &[("item", &one), ("action", "drop")])
        .await;
    assert_eq!(status, 403, "no CSRF token");
    for (item, action, want) in [
        ("P0", "drop", 400),
        ("../x", "drop", 400),
        (one.as_str(), "burn", 400),
        ("P999", "drop", 404),
    ] {
        let (status, _, _) = web
            .post(
                "/console/parked",
                &[("csrf", &csrf), ("item", item), ("action", action)],
            )
            .await;
        assert_eq!(status, want, "{item} {action}");
    }
    assert_eq!(w.store.parked().unwrap().len(), 4, "nothing was done");

    // Two retried at once once the bug is gone, one dropped: the rooms' entries.
    w.fakes.discord.clear_faults();
    let mark = log(&w).len();
    let (status, headers, page) = web
        .post(
            "/console/parked",
            &[
                ("csrf", &csrf),
                ("item", &one),
                ("item", &two),
                ("action", "retry"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(headers["location"], "/console/parked");
    wait_until(WAIT, "both retried copies arrive", || {
        let dc = w.fakes.discord.texts_in(DC).join("\n");
        dc.contains("Boom one") && dc.contains("Boom two")
    })
    .await;
    let (status, _, _) = web
        .post(
            "/console/parked",
            &[("csrf", &csrf), ("item", &three), ("action", "drop")],
        )
        .await;
    assert_eq!(status, 303);
    let left: Vec<String> = w
        .store
        .parked()
        .unwrap()
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(left, std::slice::from_ref(&parks));
    let entries: Vec<AuditEntry> = log(&w)[mark..].to_vec();
    let of = |action: AuditAction| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.action == action)
            .map(|e| {
                assert_eq!(e.actor, AuditActor::Person("matrix:@mod".parse().unwrap()));
                assert_eq!(e.link.as_ref().unwrap().as_str(), "planning");
                assert_eq!(e.detail["reason"], reason.as_str());
                e.subject.clone().unwrap()
            })
            .collect()
    };
    assert_eq!(of(AuditAction::ParkedRetried), [one.clone(), two.clone()]);
    assert_eq!(of(AuditAction::ParkedDropped), std::slice::from_ref(&three));
    let console: Vec<_> = entries
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction)
        .map(|e| e.detail["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(console, ["retry", "drop"]);

    // `!drop` typed by the other link's admin writes the same kind of entry.
    let mark = log(&w).len();
    w.command(MODS2, OTHER_MODERATOR, "$b6", &format!("!drop {parks}"))
        .await;
    wait_until(WAIT, "the room's !drop", || {
        w.store.parked().unwrap().is_empty()
    })
    .await;
    let room: Vec<_> = log(&w)[mark..]
        .iter()
        .filter(|e| e.action == AuditAction::ParkedDropped)
        .map(|e| (e.subject.clone(), e.detail.clone()))
        .collect();
    assert_eq!(
        room,
        [(Some(parks.clone()), serde_json::json!({ "reason": reason }))]
    );
    w.daemon.shutdown().await.unwrap();
}
