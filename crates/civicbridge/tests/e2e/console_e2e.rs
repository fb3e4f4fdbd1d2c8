//! The moderation console in a real headless Chromium on the real world: a real Synapse
//! (moderators by power level), the local Telegram and Discord servers, the daemon with the
//! three real connectors, the console on its admin listener.
//!
//! - Signing in: the moderator types `!weblogin` in the moderation room; the bot sends the link
//!   in an encrypted direct room, which the moderator's own device (`phone.rs`, matrix-sdk)
//!   joins and decrypts; Chromium opens the link and signs in.
//! - The queue: two held items approved at once reach the other platforms and their cards in
//!   the moderation room show the decision; one rejected with a reason reaches nobody.
//! - An open queue page loses an item a ✅ in Matrix approved, without a reload.
//! - The published page takes down messages: every copy on Telegram, Discord and Matrix goes.
//! - Refusals: an expired link, a reused link, another link's item (403).
//!
//! Every page visited passes axe-core (WCAG 2.2 AA). The browser helpers, and when these tests
//! skip themselves (no Chromium, outside CI), are `common/browser.rs`'s.
#![allow(clippy::unwrap_used)]

use crate::common::browser::*;
use crate::phone::Phone;
use crate::world::{World, WAIT};

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::AuditAction;
use civicbridge_core::moderation::rules::Rules;
use civicbridge_core::ops::admin::AdminSettings;
use civicbridge_core::ops::console::ConsoleSettings;
use civicbridge_core::ops::daemon::{Daemon, DaemonError, Options};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use civicbridge_demo::matrix::RoomMessage;
use civicbridge_demo::world::demo_rules;
use civicbridge_demo::DemoError;
use fantoccini::{Client, Locator};
use std::time::Duration;

/// Sign-in links' lifetime where they should work (the daemon's default).
const LIFETIME: Duration = Duration::from_secs(300);

/// What a refused sign-in link shows (the same for every reason, by design).
const REFUSED: &str = "This sign-in link does not work";

/// Starts the daemon on `config` with the console on a free port of its own; returns it and
/// the console's base URL (`http://127.0.0.1:PORT`). `lifetime`: of sign-in links.
async fn start(w: &World, store: &Store, config: &str, lifetime: Duration) -> (Daemon, String) {
    // The public URL names the port, so it is chosen first; taken in between, another is tried.
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let options = Options {
            admin: Some(AdminSettings {
                listen: format!("127.0.0.1:{port}").parse().unwrap(),
                tokens: Default::default(),
                console: Some(ConsoleSettings::local(&base)),
            }),
            sign_in_lifetime: lifetime,
            ..crate::common::fast_retries()
        };
        match w.start_daemon_on(store.clone(), config, options).await {
            Ok(daemon) => return (daemon, base),
            Err(DemoError::Daemon(DaemonError::Admin(_))) => continue,
            Err(e) => panic!("the daemon did not start: {e}"),
        }
    }
    panic!("no free port for the console");
}

/// The moderator's own device (not the bot's): reads the bot's encrypted direct messages.
async fn moderators_phone(w: &World) -> Phone {
    Phone::login(
        w.homeserver_url(),
        w.moderator.user_id(),
        &w.moderator.account.password,
    )
    .await
}

/// The sign-in links the phone has read, oldest first, with the room each came in.
fn links_read(phone: &Phone, base: &str) -> Vec<(String, String)> {
    let prefix = format!("{base}/console/login?token=");
    phone
        .seen
        .lock()
        .unwrap()
        .iter()
        .flat_map(|m| {
            m.body
                .split_whitespace()
                .filter(|w| w.starts_with(&prefix))
                .map(|w| (w.to_owned(), m.room.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The moderator types `!weblogin` in the moderation room; the bot invites them to an
/// encrypted direct room (the phone accepts) and sends the link there. Returns the link, as
/// the phone decrypted it.
async fn weblogin(w: &World, phone: &Phone, base: &str) -> String {
    let before = links_read(phone, base).len();
    w.moderator
        .say(&w.moderation_room, "!weblogin")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let (link, room) = loop {
        phone.accept_invites().await;
        if let Some(l) = links_read(phone, base).into_iter().nth(before) {
            break l;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sign-in link reached the moderator's phone"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // In a direct room of its own, encrypted by the bot's device; the room only hears that it
    // was sent.
    assert_ne!(
        room, w.moderation_room,
        "the link went to the moderation room"
    );
    let dm = phone
        .seen
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.body.contains(&link))
        .cloned()
        .unwrap();
    assert!(dm.device.is_some(), "the link arrived in the clear");
    w.in_mod_room("the answer to !weblogin", |m| {
        m.body
            .contains("I sent you a sign-in link in a direct message")
    })
    .await;
    let in_mods = w.moderator.bodies(&w.moderation_room).await.unwrap();
    assert!(
        !in_mods.iter().any(|b| b.contains("/console/login")),
        "{in_mods:?}"
    );
    link
}

/// Opens a sign-in link and presses its button; `shot` names the page's screenshot.
async fn open_link(c: &Client, link: &str, shot: &str) {
    c.goto(link).await.unwrap();
    until_page(c, "the sign-in page", |h| h.contains("id=\"sign-in\"")).await;
    axe(c, shot).await;
    click(c, Locator::Id("sign-in")).await;
}

/// Signs in with `link`; returns on the queue page.
async fn sign_in(c: &Client, link: &str, shot: &str) {
    open_link(c, link, shot).await;
    until_page(c, "the queue after signing in", |h| {
        h.contains("Signed in as") && h.contains("<h1>Held items</h1>")
    })
    .await;
}

async fn click(c: &Client, l: Locator<'_>) {
    c.find(l).await.unwrap().click().await.unwrap();
}

/// The checkbox of the table row showing `text`.
fn row_box(text: &str) -> String {
    format!("//tr[td[contains(., '{text}')]]//input[@type='checkbox']")
}

/// The held card about `text` in the moderation room.
async fn card(w: &World, text: &str) -> RoomMessage {
    w.in_mod_room("the card", |m| {
        m.body.starts_with("Held #") && m.body.contains(text)
    })
    .await
}

/// Waits until the moderation room shows the message `event_id` (edits applied) satisfying
/// `f`; returns its body.
async fn card_shows(w: &World, event_id: &str, what: &str, f: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = w.moderator.shown(&w.moderation_room).await.unwrap();
        if let Some(m) = shown.iter().find(|m| m.event_id == event_id) {
            if f(&m.body) {
                return m.body.clone();
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {shown:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Live messages on the world's Discord channel (webhook personas and the bot's own).
fn on_discord(w: &World) -> Vec<String> {
    w.discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .map(|m| m.content)
        .collect()
}

/// Live messages the bot posted in the world's Telegram group.
fn on_telegram(w: &World) -> Vec<String> {
    w.telegram_bot_posts()
        .into_iter()
        .filter(|m| !m.deleted)
        .map(|m| m.text)
        .collect()
}

/// What the staff room shows (edits applied, redactions left out).
async fn in_staff_room(w: &World) -> Vec<String> {
    w.staff
        .shown(&w.staff_room)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

/// The status of a same-origin request the page makes: `method` on `path`, with the page's
/// CSRF token and `form` as the body of a POST.
async fn status_from_page(c: &Client, method: &str, path: &str, form: &[(&str, &str)]) -> u64 {
    let form: serde_json::Map<String, serde_json::Value> = form
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let status = c
        .execute_async(
            "const [method, path, form, done] = arguments;
             const init = { method, redirect: 'manual' };
             if (method === 'POST') {
               const body = new URLSearchParams(form);
               body.set('csrf', document.querySelector('input[name=csrf]').value);
               init.body = body;
             }
             fetch(path, init).then(r => done(r.status)).catch(e => done('error: ' + e));",
            vec![method.into(), path.into(), form.into()],
        )
        .await
        .unwrap();
    status
        .as_u64()
        .unwrap_or_else(|| panic!("{method} {path}: {status}"))
}

#[tokio::test]
async fn console_e2e_signs_in_by_the_weblogin_dm_approves_two_at_once_and_rejects_one_with_a_reason(
) {
    if !available() {
        return;
    }
    let w = World::new().await;
    let store = Store::memory();
    let phone = moderators_phone(&w).await;
    let (daemon, base) = start(&w, &store, &w.config_text(&demo_rules()).unwrap(), LIFETIME).await;
    // Three residents: Ada on Telegram and Bea on Discord ask; Cy on Telegram advertises.
    w.ask_on_telegram((42, "Ada"), "Is the hall free on Friday?")
        .unwrap();
    let bea = w.discord.create_user("bea", Some("Bea"));
    w.discord
        .post_as_user(w.dc_channel, bea, "Where do I park for the hall?");
    w.ask_on_telegram((43, "Cy"), "Cheap watches here, DM me")
        .unwrap();
    let card_ada = card(&w, "Is the hall free on Friday?").await;
    let card_bea = card(&w, "Where do I park for the hall?").await;
    let card_cy = card(&w, "Cheap watches here").await;

    let d = driver().await;
    let c = browser(&d).await;
    let link = weblogin(&w, &phone, &base).await;
    sign_in(&c, &link, "e2e sign-in").await;
    until_page(&c, "three items", |h| h.contains("3 held items")).await;
    axe(&c, "e2e queue").await;

    // The item page: the message as each room will show it.
    click(
        &c,
        Locator::XPath("//tr[td[contains(., 'Is the hall free on Friday?')]]//a"),
    )
    .await;
    until_page(&c, "the item page", |h| {
        h.contains("As each room will show it") && h.contains("Is the hall free on Friday?")
    })
    .await;
    axe(&c, "e2e item").await;
    click(&c, Locator::LinkText("Held items")).await;
    until_page(&c, "the queue again", |h| h.contains("3 held items")).await;

    // Ada's and Bea's questions, approved at once.
    click(&c, Locator::XPath(&row_box("Is the hall free on Friday?"))).await;
    click(
        &c,
        Locator::XPath(&row_box("Where do I park for the hall?")),
    )
    .await;
    click(&c, Locator::Id("approve")).await;
    until_page(&c, "the notice", |h| {
        h.contains("approved by") && h.contains("1 held item,")
    })
    .await;
    axe(&c, "e2e queue after approving two").await;
    // Each reaches the platforms it was not posted on: Ada's Telegram question Discord and the
    // staff room, Bea's Discord question Telegram and the staff room.
    wait_until(WAIT, "Ada's question on Discord, Bea's on Telegram", || {
        on_discord(&w)
            .iter()
            .any(|t| t.contains("Is the hall free on Friday?"))
            && on_telegram(&w)
                .iter()
                .any(|t| t.contains("Where do I park for the hall?"))
    })
    .await;
    w.in_staff_room("Ada's question", |m| {
        m.body.contains("Is the hall free on Friday?")
    })
    .await;
    w.in_staff_room("Bea's question", |m| {
        m.body.contains("Where do I park for the hall?")
    })
    .await;
    // Both cards in the moderation room now show the decision, taken in the console.
    for card in [&card_ada, &card_bea] {
        card_shows(&w, &card.event_id, "the card shows the approval", |b| {
            b.starts_with("✅ Approved") && b.contains(" by ")
        })
        .await;
    }

    // Cy's advert, rejected with a reason in the moderator's words.
    click(&c, Locator::XPath(&row_box("Cheap watches here"))).await;
    c.find(Locator::Id("reason-text"))
        .await
        .unwrap()
        .send_keys("advertising")
        .await
        .unwrap();
    click(&c, Locator::Id("reject")).await;
    until_page(&c, "the rejection", |h| {
        h.contains("rejected by") && h.contains("Nothing is waiting")
    })
    .await;
    axe(&c, "e2e empty queue").await;
    let shown = card_shows(&w, &card_cy.event_id, "the card shows the rejection", |b| {
        b.starts_with("❌ Rejected")
    })
    .await;
    assert!(shown.contains("reason: advertising"), "{shown}");
    let log = store.audit_log().unwrap();
    let rejected: Vec<_> = log
        .iter()
        .filter(|e| e.action == AuditAction::Rejected)
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].detail["reason"], "advertising");
    assert_eq!(
        log.iter()
            .filter(|e| e.action == AuditAction::Approved)
            .count(),
        2
    );
    assert!(log.iter().any(|e| e.action == AuditAction::ConsoleAction
        && e.detail["action"] == "reject"
        && e.detail["via"] == "console"));
    assert!(store.pending().unwrap().is_empty());
    // Nothing of it was delivered: a staff message sent after the rejection crosses to
    // Telegram and Discord (every lane keeps its order), and the advert is on neither.
    w.staff
        .say(&w.staff_room, "The hall is free on Friday evening.")
        .await
        .unwrap();
    wait_until(WAIT, "the staff answer on Telegram and Discord", || {
        on_discord(&w)
            .iter()
            .any(|t| t.contains("free on Friday evening"))
            && on_telegram(&w)
                .iter()
                .any(|t| t.contains("free on Friday evening"))
    })
    .await;
    let everywhere = [on_discord(&w), on_telegram(&w), in_staff_room(&w).await].concat();
    assert!(
        !everywhere.iter().any(|t| t.contains("Cheap watches")),
        "{everywhere:?}"
    );
    c.close().await.unwrap();
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_e2e_a_reaction_in_matrix_updates_an_open_queue_and_a_takedown_removes_every_copy()
{
    if !available() {
        return;
    }
    let w = World::new().await;
    let store = Store::memory();
    let phone = moderators_phone(&w).await;
    let (daemon, base) = start(&w, &store, &w.config_text(&demo_rules()).unwrap(), LIFETIME).await;
    let ada = w
        .ask_on_telegram((42, "Ada"), "Is the pool open on Sunday?")
        .unwrap();
    let card_ada = card(&w, "Is the pool open on Sunday?").await;

    let d = driver().await;
    let c = browser(&d).await;
    let link = weblogin(&w, &phone, &base).await;
    sign_in(&c, &link, "e2e sign-in for the reaction").await;
    until_page(&c, "the held question", |h| {
        h.contains("Is the pool open on Sunday?") && h.contains("1 held item,")
    })
    .await;
    mark_loaded_once(&c).await;

    // A ✅ on the card in Matrix decides it; the open page follows without a reload.
    w.moderator
        .react(&w.moderation_room, &card_ada.event_id, "✅")
        .await
        .unwrap();
    until_page(&c, "the row to go", |h| {
        !h.contains("Is the pool open on Sunday?") && h.contains("Nothing is waiting")
    })
    .await;
    assert!(still_loaded_once(&c).await, "the page was reloaded");
    axe(&c, "e2e queue after a reaction in Matrix").await;
    card_shows(&w, &card_ada.event_id, "the card shows the approval", |b| {
        b.starts_with("✅ Approved")
    })
    .await;
    w.in_staff_room("Ada's question", |m| {
        m.body.contains("Is the pool open on Sunday?")
    })
    .await;
    wait_until(WAIT, "Ada's question on Discord", || {
        on_discord(&w)
            .iter()
            .any(|t| t.contains("Is the pool open on Sunday?"))
    })
    .await;

    // A staff answer crosses to Telegram and Discord at once.
    w.staff
        .say(&w.staff_room, "The pool reopens on Monday.")
        .await
        .unwrap();
    wait_until(WAIT, "the answer on Telegram and Discord", || {
        on_discord(&w)
            .iter()
            .any(|t| t.contains("The pool reopens on Monday."))
            && on_telegram(&w)
                .iter()
                .any(|t| t.contains("The pool reopens on Monday."))
    })
    .await;

    // Both taken down from the published page: every copy on every platform goes.
    click(&c, Locator::LinkText("Published")).await;
    until_page(&c, "the published page", |h| {
        h.contains("Is the pool open on Sunday?") && h.contains("The pool reopens on Monday.")
    })
    .await;
    axe(&c, "e2e published").await;
    click(&c, Locator::XPath(&row_box("Is the pool open on Sunday?"))).await;
    click(&c, Locator::XPath(&row_box("The pool reopens on Monday."))).await;
    click(&c, Locator::Id("takedown-selected")).await;
    until_page(&c, "the notice and the rows gone", |h| {
        h.contains("taken down by")
            && !h.contains("Is the pool open on Sunday?")
            && !h.contains("The pool reopens on Monday.")
    })
    .await;
    axe(&c, "e2e published after a takedown").await;
    wait_until(WAIT, "the copies on Discord and Telegram deleted", || {
        let live = [on_discord(&w), on_telegram(&w)].concat();
        !live
            .iter()
            .any(|t| t.contains("pool open on Sunday") || t.contains("pool reopens"))
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while in_staff_room(&w)
        .await
        .iter()
        .any(|b| b.contains("Is the pool open on Sunday?"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the staff room's copy is still shown"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(w.staff.redacted(&w.staff_room).await.unwrap() >= 1);
    // The telegram copy was deleted (not just hidden from the list above).
    assert!(w
        .telegram_bot_posts()
        .iter()
        .filter(|m| m.text.contains("The pool reopens on Monday."))
        .all(|m| m.deleted));
    // The originals stay in their authors' rooms, as the page says.
    assert!(!w.telegram.message(w.tg_chat, ada).unwrap().deleted);
    assert!(in_staff_room(&w)
        .await
        .iter()
        .any(|b| b.contains("The pool reopens on Monday.")));
    assert_eq!(
        store
            .audit_log()
            .unwrap()
            .iter()
            .filter(|e| e.action == AuditAction::Takedown)
            .count(),
        2
    );

    click(&c, Locator::LinkText("Audit log")).await;
    until_page(&c, "the audit page", |h| {
        h.contains("Chain check:") && h.contains("takedown")
    })
    .await;
    axe(&c, "e2e audit").await;
    c.close().await.unwrap();
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn console_e2e_refuses_an_expired_or_reused_link_and_another_links_item() {
    if !available() {
        return;
    }
    let w = World::new().await;
    let store = Store::memory();
    // A second link, `parks`, with a moderation room of its own that the moderator is not in.
    let pat = w.person("parks").await.unwrap();
    let parks_staff = pat
        .create_room("Parks staff", &[&w.bot.user_id])
        .await
        .unwrap();
    let parks_mods = pat
        .create_room("Parks moderation", &[&w.bot.user_id])
        .await
        .unwrap();
    let parks_group = w.telegram.create_group("Parks residents");
    let rules: Rules = demo_rules();
    let config = format!(
        "{}\n[links.parks]\nmoderation_room = \"matrix:{parks_mods}\"\nrooms = [\n  \
         {{ room = \"matrix:{parks_staff}\", side = \"staff\" }},\n  \
         {{ room = \"telegram:{parks_group}\", side = \"public\" }},\n]\n\n{}",
        w.config_text(&rules).unwrap(),
        civicbridge_demo::rules_toml("parks", &rules).unwrap()
    );
    let phone = moderators_phone(&w).await;
    let d = driver().await;
    let c = browser(&d).await;

    // Expired: links live for no time at all on this daemon.
    let (daemon, base) = start(&w, &store, &config, Duration::ZERO).await;
    let expired = weblogin(&w, &phone, &base).await;
    open_link(&c, &expired, "e2e sign-in with an expired link").await;
    until_page(&c, "the refusal", |h| h.contains(REFUSED)).await;
    axe(&c, "e2e expired link refused").await;
    c.goto(&format!("{base}/console/queue")).await.unwrap();
    until_page(&c, "not signed in", |h| h.contains("Not signed in")).await;
    assert!(!store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::ConsoleAction && e.detail["action"] == "signed_in"));
    daemon.shutdown().await.unwrap();

    // On a daemon whose links work: an item held on each link.
    let (daemon, base) = start(&w, &store, &config, LIFETIME).await;
    for room in [&parks_staff, &parks_mods] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !pat
            .joined_members(room)
            .await
            .unwrap()
            .contains(&w.bot.user_id)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot joins the parks rooms"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    w.ask_on_telegram((42, "Ada"), "Planning matter: the new library")
        .unwrap();
    w.telegram
        .post_as_user(parks_group, (44, "Pia"), "Parks matter: the broken swing")
        .unwrap();
    card(&w, "Planning matter").await;
    pat.wait_for_message(&parks_mods, WAIT, "the parks card", |m| {
        m.body.contains("Parks matter")
    })
    .await
    .unwrap();
    let parks_item = store
        .pending()
        .unwrap()
        .into_iter()
        .find(|i| i.link.as_str() == "parks")
        .unwrap();
    let parks_value = format!("{}v{}", parks_item.id, parks_item.revision.max(1));

    let link = weblogin(&w, &phone, &base).await;
    sign_in(&c, &link, "e2e sign-in with two links").await;
    until_page(&c, "their link's item", |h| h.contains("Planning matter")).await;
    let queue = c.source().await.unwrap();
    assert!(
        !queue.contains("Parks matter"),
        "another link's item is listed: {queue}"
    );
    axe(&c, "e2e queue of one link").await;
    // Neither seen nor decided: 403, and it stays held.
    let item = format!("/console/items/{}", parks_item.id.0);
    assert_eq!(status_from_page(&c, "GET", &item, &[]).await, 403);
    assert_eq!(
        status_from_page(
            &c,
            "POST",
            "/console/queue/decide",
            &[("item", &parks_value), ("action", "approve")]
        )
        .await,
        403
    );
    c.goto(&format!("{base}{item}")).await.unwrap();
    until_page(&c, "the refusal", |h| {
        h.contains("Only moderators of link parks") && !h.contains("broken swing")
    })
    .await;
    axe(&c, "e2e another links item").await;
    assert!(store
        .pending()
        .unwrap()
        .iter()
        .any(|i| i.id == parks_item.id));
    assert!(!store
        .audit_log()
        .unwrap()
        .iter()
        .any(|e| e.action == AuditAction::Approved));

    // Reused: signed out, the same link does not sign in again.
    click(&c, Locator::LinkText("Held items")).await;
    until_page(&c, "the queue", |h| h.contains("Planning matter")).await;
    click(&c, Locator::Css("form[action='/console/logout'] button")).await;
    until_page(&c, "signed out", |h| h.contains("You are signed out")).await;
    axe(&c, "e2e signed out").await;
    open_link(&c, &link, "e2e sign-in with a used link").await;
    until_page(&c, "the refusal", |h| h.contains(REFUSED)).await;
    axe(&c, "e2e used link refused").await;
    c.goto(&format!("{base}/console/queue")).await.unwrap();
    until_page(&c, "not signed in", |h| h.contains("Not signed in")).await;
    let signed_in = store
        .audit_log()
        .unwrap()
        .iter()
        .filter(|e| e.action == AuditAction::ConsoleAction && e.detail["action"] == "signed_in")
        .count();
    assert_eq!(signed_in, 1);
    c.close().await.unwrap();
    daemon.shutdown().await.unwrap();
}
