//! The moderation team's tools end to end: claims, reports from every side, look-alike names,
//! dry runs, subject access and the transparency report. A real Synapse (moderators by power
//! level), the local Telegram and Discord servers, the daemon with the three real connectors.
#![allow(clippy::unwrap_used)]

use crate::bridge_process::residents_cross;
use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{report, AuditAction, AuditActor};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use world::{World, WAIT};

/// Waits for a message in the moderation room, as the moderator sees it (edits applied).
async fn shown_in_mods(w: &World, what: &str, f: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = w.moderator.shown(&w.moderation_room).await.unwrap();
        if let Some(m) = shown.iter().find(|m| f(&m.body)) {
            return m.body.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {shown:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn held() -> Rules {
    Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        public_to_public: DirectionRule::new(Policy::Approve),
        ..Rules::default()
    }
}

#[tokio::test]
async fn a_claimed_card_shows_the_claim_and_refuses_another_moderators_claim() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), held()).await;
    w.telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "Is the hall free?")
        .unwrap();
    let card = w
        .in_mod_room("the card", |m| m.body.starts_with("Held #1"))
        .await;
    w.moderator
        .say(&w.moderation_room, "!claim #1")
        .await
        .unwrap();
    shown_in_mods(&w, "the claim on the card", |b| {
        b.starts_with("Held #1") && b.contains("Claimed by")
    })
    .await;
    // A second moderator, by power level.
    w.moderator
        .set_power_level(&w.moderation_room, w.outsider.user_id(), 50)
        .await
        .unwrap();
    w.outsider
        .say(&w.moderation_room, "!claim #1")
        .await
        .unwrap();
    w.outsider
        .react(&w.moderation_room, &card.event_id, "🙋")
        .await
        .unwrap();
    let refused = shown_in_mods(&w, "the refusal", |b| b.starts_with("#1 is claimed by")).await;
    assert!(refused.contains("leave it to them"), "{refused}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn names_that_imitate_the_council_show_as_unverified_in_the_staff_room_and_on_discord() {
    let w = World::new().await;
    let daemon = w.start(Store::memory(), residents_cross()).await;
    w.telegram
        .post_as_user(w.tg_chat, (51, "Council Officer"), "Pay your fine here")
        .unwrap();
    // A Cyrillic "о" in both words.
    w.telegram
        .post_as_user(w.tg_chat, (52, "Cоuncil Оfficer"), "Or here")
        .unwrap();
    w.in_staff_room("the second copy", |m| m.body.ends_with("Or here"))
        .await;
    let bodies = w.staff.bodies(&w.staff_room).await.unwrap();
    for tail in ["Pay your fine here", "Or here"] {
        let b = bodies.iter().find(|b| b.ends_with(tail)).unwrap();
        assert!(b.contains("(Telegram, unverified name)"), "{b}");
    }
    wait_until(WAIT, "both copies on Discord", || {
        w.discord.webhook_messages(w.dc_channel).len() + w.discord.bot_messages(w.dc_channel).len()
            == 2
    })
    .await;
    let on_discord: Vec<_> = w
        .discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .map(|m| format!("{} {}", m.username, m.shown))
        .chain(
            w.discord
                .bot_messages(w.dc_channel)
                .into_iter()
                .map(|m| m.shown),
        )
        .collect();
    assert!(
        on_discord.iter().all(|t| t.contains("unverified name")),
        "{on_discord:?}"
    );
    let told = shown_in_mods(&w, "the moderators told", |b| b.contains("protected word")).await;
    assert!(told.contains("council"), "{told}");
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn three_reports_hide_a_message_everywhere_and_a_dismissal_brings_it_back() {
    let w = World::new().await;
    let rules = Rules {
        hide_after_reports: 3,
        ..residents_cross()
    };
    let daemon = w.start(Store::memory(), rules).await;
    let msg = w
        .telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "Cheap watches, DM me")
        .unwrap();
    w.in_staff_room("the copy", |m| m.body.ends_with("DM me"))
        .await;
    wait_until(WAIT, "the Discord copy", || {
        w.discord.webhook_messages(w.dc_channel).len() + w.discord.bot_messages(w.dc_channel).len()
            == 1
    })
    .await;
    let dc = w
        .discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .next()
        .unwrap()
        .id;
    // From every side: a Telegram reply, a Discord reply, a 🚩 on Telegram.
    w.telegram
        .reply(w.tg_chat, (43, "Bob"), msg, "/report spam")
        .unwrap();
    let bea = w.discord.create_user("bea", Some("Bea"));
    w.discord
        .reply_as_user(w.dc_channel, bea, dc, "!report scam");
    shown_in_mods(&w, "two reports", |b| b.contains("2 report(s)")).await;
    w.telegram
        .react(w.tg_chat, (44, "Cy"), msg, &["🔥"])
        .unwrap();
    w.telegram
        .react(w.tg_chat, (45, "Di"), msg, &["👎"])
        .unwrap();
    // 🔥 and 👎 are reactions, not reports; the flag is.
    let flagger = w.discord.create_user("fay", Some("Fay"));
    w.discord.react_as_user(dc, flagger, "🚩");
    let card = w
        .in_mod_room("three reports", |m| m.body.starts_with("🚩 Reported"))
        .await;
    shown_in_mods(&w, "three reports, hidden", |b| {
        b.contains("3 report(s)") && b.contains("hidden pending a decision")
    })
    .await;
    wait_until(WAIT, "the Discord copy hidden", || {
        w.discord.webhook_messages(w.dc_channel).is_empty()
            && w.discord.bot_messages(w.dc_channel).is_empty()
    })
    .await;
    // No report crossed as a message.
    let bodies = w.staff.bodies(&w.staff_room).await.unwrap();
    assert!(
        !bodies
            .iter()
            .any(|b| b.contains("/report") || b.contains("!report")),
        "{bodies:?}"
    );
    w.moderator
        .react(&w.moderation_room, &card.event_id, "❌")
        .await
        .unwrap();
    wait_until(WAIT, "the Discord copy back", || {
        w.discord.webhook_messages(w.dc_channel).len() + w.discord.bot_messages(w.dc_channel).len()
            == 1
    })
    .await;
    shown_in_mods(&w, "the card dismissed", |b| b.contains("dismissed by")).await;
    daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dry_run_counts_right_over_a_replayed_history_and_changes_nothing_and_an_export_and_a_report_follow(
) {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), residents_cross()).await;
    for (who, text) in [
        ((42, "Ada"), "watches for sale"),
        ((43, "Bob"), "When is the bin day?"),
        ((42, "Ada"), "more WATCHES"),
    ] {
        w.telegram.post_as_user(w.tg_chat, who, text).unwrap();
    }
    w.in_staff_room("the last copy", |m| m.body.ends_with("more WATCHES"))
        .await;
    w.moderator
        .say(
            &w.moderation_room,
            &format!(
                r#"!set --dry-run {} blocked_patterns ["(?i)watch"]"#,
                civicbridge_demo::world::LINK
            ),
        )
        .await
        .unwrap();
    let answer = shown_in_mods(&w, "the dry run", |b| b.starts_with("Dry run")).await;
    assert!(answer.contains("over the last 3 message(s)"), "{answer}");
    assert!(
        answer.contains("2 now relayed, would be dropped"),
        "{answer}"
    );
    // Nothing changed: a fourth watch message still crosses.
    w.telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "last watch offer")
        .unwrap();
    w.in_staff_room("the fourth copy", |m| m.body.ends_with("last watch offer"))
        .await;
    daemon.shutdown().await.unwrap();

    // Subject access: Ada's three messages and nobody else's.
    let ada = "telegram:42".parse().unwrap();
    let e =
        civicbridge_core::privacy::export::export_audited(&store, &ada, &AuditActor::Cli).unwrap();
    let texts: Vec<_> = e.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(
        texts,
        ["watches for sale", "more WATCHES", "last watch offer"]
    );
    let json = serde_json::to_string(&e).unwrap();
    assert!(!json.contains("bin day") && !json.contains("Bob"), "{json}");
    // The transparency report matches the log: nothing was held or decided here.
    let log = store.audit_log().unwrap();
    let rows = report::report(&log, &store.links().unwrap(), 0, u64::MAX);
    let held = rows
        .iter()
        .filter(|r| r.outcome == "held")
        .map(|r| r.count)
        .sum::<u64>();
    assert_eq!(
        held as usize,
        log.iter().filter(|e| e.action == AuditAction::Held).count()
    );
}

/// Telling residents why, on the real platforms' stand-ins: a rejected Discord resident gets a
/// DM from the bot with the reason's label (and none of the moderator's words); a Telegram
/// resident who never started the bot gets a reply to their message in the group, quoting
/// nothing, which the bot deletes after `tell_reply_secs`; one who started it is told in their
/// private chat instead.
#[tokio::test]
async fn rejected_residents_are_told_by_discord_dm_or_by_a_telegram_reply_that_disappears() {
    use civicbridge_core::moderation::rules::TellResidents;
    let w = World::new().await;
    let store = Store::memory();
    let rules = Rules {
        tell_residents: TellResidents::Rejected,
        tell_reply_secs: 3,
        ..held()
    };
    let daemon = w.start(store.clone(), rules).await;
    let bea = w.discord.create_user("bea", Some("Bea"));
    w.discord
        .post_as_user(w.dc_channel, bea, "Buy followers, cheap, DM me");
    w.in_mod_room("Bea's card", |m| m.body.contains("Buy followers"))
        .await;
    let ada = w
        .telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "My neighbour's number is 0123")
        .unwrap();
    w.in_mod_room("Ada's card", |m| m.body.contains("0123"))
        .await;
    w.telegram.start_bot((43, "Cy")).unwrap();
    w.telegram
        .post_as_user(w.tg_chat, (43, "Cy"), "Free crypto for all")
        .unwrap();
    w.in_mod_room("Cy's card", |m| m.body.contains("Free crypto"))
        .await;
    for cmd in [
        "!reject #1 spam she again",
        "!reject #2 personal",
        "!reject #3 scam",
    ] {
        w.moderator.say(&w.moderation_room, cmd).await.unwrap();
    }
    wait_until(WAIT, "Bea's DM", || !w.discord.dm_messages(bea).is_empty()).await;
    let dm = w.discord.dm_messages(bea)[0].content.clone();
    assert!(
        dm.contains("did not share your message") && dm.contains("Spam or advertising"),
        "{dm}"
    );
    assert!(!dm.contains("she again"), "no moderator's words: {dm}");
    wait_until(WAIT, "Cy told privately", || {
        !w.telegram.private_messages(43).is_empty()
    })
    .await;
    assert!(w.telegram.private_messages(43)[0]
        .text
        .contains("A scam or fraud"));
    // Ada never started the bot: a reply to her message in the group, then gone.
    wait_until(WAIT, "the reply to Ada", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.reply_to == Some(ada))
    })
    .await;
    let reply = w
        .telegram
        .bot_messages(w.tg_chat)
        .into_iter()
        .find(|m| m.reply_to == Some(ada))
        .unwrap();
    assert!(
        reply.text.contains("did not share this message")
            && reply.text.contains("personal information")
            && !reply.text.contains("0123"),
        "{}",
        reply.text
    );
    wait_until(WAIT, "the reply deleted", || {
        w.telegram
            .message(w.tg_chat, reply.id)
            .is_some_and(|m| m.deleted)
    })
    .await;
    // Only the reply to Ada was posted in the group: the others were told privately.
    assert_eq!(w.telegram.bot_messages(w.tg_chat).len(), 1);
    daemon.shutdown().await.unwrap();
    let via: Vec<String> = store
        .audit_log()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == AuditAction::Told)
        .map(|e| e.detail["via"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(via.len(), 3);
    assert_eq!(via.iter().filter(|v| *v == "room").count(), 1);
}

/// `!export` from an admin of the moderation room (its creator, power 100) is answered in a new
/// encrypted direct room with the admin: the text and two files arrive there (encrypted, so
/// this client sees their ciphertext; the Matrix connector's own tests decrypt them), nothing
/// of it in the moderation room, and the export is audited once handed over.
#[tokio::test]
async fn an_admins_export_arrives_in_an_encrypted_direct_room_and_nowhere_else() {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), held()).await;
    w.telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "Is the library open on Sunday?")
        .unwrap();
    w.in_mod_room("Ada's card", |m| m.body.contains("library open"))
        .await;
    w.moderator
        .say(&w.moderation_room, "!export telegram:42")
        .await
        .unwrap();
    w.in_mod_room("the answer", |m| {
        m.body.contains("send you the export in a direct message")
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let (room, state) = loop {
        let invites = w.moderator.invites().await.unwrap();
        if let Some(i) = invites.into_iter().next() {
            break i;
        }
        assert!(tokio::time::Instant::now() < deadline, "no invite");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        state.iter().any(|e| e["type"] == "m.room.encryption"),
        "{state:?}"
    );
    w.moderator.join(&room).await.unwrap();
    wait_until(WAIT, "the export audited", || {
        store
            .audit_log()
            .unwrap()
            .iter()
            .any(|e| e.action == AuditAction::Exported)
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let from_bot = w
            .moderator
            .history(&room)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e["type"] == "m.room.encrypted" && e["sender"] == w.bot.user_id.as_str())
            .count();
        if from_bot == 3 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{from_bot} events");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let in_mods = w.moderator.bodies(&w.moderation_room).await.unwrap();
    assert!(
        !in_mods.iter().any(|b| b.contains("export-telegram-42")),
        "{in_mods:?}"
    );
    daemon.shutdown().await.unwrap();
    let e = store
        .audit_log()
        .unwrap()
        .into_iter()
        .find(|e| e.action == AuditAction::Exported)
        .unwrap();
    assert_eq!(e.detail["via"], "direct message");
    assert_eq!(e.detail["messages"], 1);
}
