//! One bad job never stops a room, end to end: a real Synapse, the local Telegram and Discord
//! servers, and the daemon with the three real connectors. Records the bridge cannot decode are
//! parked with a notice to the moderators; later messages to the same rooms still arrive. (The
//! send that panicked, a staff name whose lower case is longer, no longer panics: its end-to-end
//! test is `e2e_text.rs` defect 12; a panicking send is parked in `tests/daemon/outbox.rs`, with a
//! connector that panics on purpose.)
#![allow(clippy::unwrap_used)]

use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_api::{LinkId, Platform, RemoteMsgId, RichText, RoomRef};
use civicbridge_core::moderation::rules::{DirectionRule, LinkPolicy, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::{Author, JobKind, MirrorRecord, Store};
use world::{World, WAIT};

fn open_rules() -> Rules {
    Rules {
        staff_to_public: DirectionRule::new(Policy::Auto),
        public_to_staff: DirectionRule::new(Policy::Auto),
        public_to_public: DirectionRule::new(Policy::Auto),
        links: LinkPolicy::Allow,
        ..Rules::default()
    }
}

fn discord_texts(w: &World) -> Vec<String> {
    w.discord
        .webhook_messages(w.dc_channel)
        .into_iter()
        .chain(w.discord.bot_messages(w.dc_channel))
        .map(|m| m.content)
        .collect()
}

/// Records the bridge cannot decode (what a 70-level `<blockquote>` used to write): a send job
/// whose message is unreadable and a card whose own record is unreadable, queued before the
/// start. They are parked with a notice each, never retried in a loop, and every lane moves.
#[tokio::test]
async fn undecodable_records_are_parked_and_every_lane_keeps_moving() {
    let w = World::new().await;
    let store = Store::memory();
    let link = LinkId::new(civicbridge_demo::LINK);
    let discord = RoomRef::new(Platform::new("discord"), w.dc_channel.to_string());
    let mods = RoomRef::new(Platform::new("matrix"), w.moderation_room.as_str());
    let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
    // The link must exist for the records to belong to it: the daemon syncs it at start, and
    // these records are written first, as an older build left them.
    store
        .transact(|tx| {
            let m = MirrorRecord::new(
                tx.new_mirror_id()?,
                link.clone(),
                RoomRef::new(Platform::new("telegram"), w.tg_chat.to_string()),
                // An id the local server will not hand out in this test.
                RemoteMsgId::new("999999"),
                Author::new(Platform::new("telegram"), "42", "Ada"),
                RichText::plain("x"),
            );
            tx.insert_mirror(&m)?;
            tx.put_raw_mirror(m.id, format!(r#"{{"v":1,"d":{deep}}}"#).into_bytes())?;
            tx.push_job(
                &link,
                &discord,
                JobKind::Send {
                    mirror: m.id,
                    text: None,
                },
            )?;
            let card = tx.push_job(
                &link,
                &mods,
                JobKind::Notice {
                    text: RichText::plain("PLACEHOLDER"),
                    card: Some(civicbridge_api::PendingId(1)),
                    about: None,
                },
            )?;
            let mut v = serde_json::to_value(&card).unwrap();
            v["kind"]["text"] = serde_json::json!("PLACEHOLDER");
            let raw = serde_json::to_string(&serde_json::json!({ "v": 1, "d": v }))
                .unwrap()
                .replace("\"PLACEHOLDER\"", &deep);
            tx.put_raw_job(card.id, raw.into_bytes())?;
            Ok(())
        })
        .unwrap();
    let daemon = w.start(store.clone(), open_rules()).await;
    w.telegram
        .post_as_user(w.tg_chat, (42, "Ada"), "still flowing")
        .unwrap();
    w.in_staff_room("the new message", |s| s.body.contains("still flowing"))
        .await;
    wait_until(WAIT, "the new message on Discord", || {
        discord_texts(&w)
            .iter()
            .any(|t| t.contains("still flowing"))
    })
    .await;
    let card = w
        .in_mod_room("the card's notice", |s| s.body.contains("card job"))
        .await;
    assert!(card.body.contains("cannot be read"), "{}", card.body);
    w.in_mod_room("the send's notice", |s| s.body.contains("send job"))
        .await;
    daemon.shutdown().await.unwrap();
    assert_eq!(store.parked().unwrap().len(), 2);
    assert!(
        store.outbox().unwrap().is_empty(),
        "nothing retried forever"
    );
}
