//! Held means held, in the version shown; nothing crosses by reference that did not cross itself;
//! only the author edits or deletes; edits follow the direction's policy. End to end: a real
//! Synapse (people acting through the client-server API, moderators by power level), the local
//! Telegram and Discord servers, and the daemon with the three real connectors. Each test is what
//! a hostile resident or a careless colleague would try.
#![allow(clippy::unwrap_used)]

use crate::world;

use civicbridge_api::testing::wait_until;
use civicbridge_core::moderation::audit::{self, AuditAction};
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules, Scope};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use world::{World, WAIT};

/// Everything a resident writes waits for a moderator, on both the staff and the public side;
/// staff answers cross at once. Edits keep the defaults.
fn approve_everything() -> Rules {
    Rules {
        public_to_staff: DirectionRule {
            policy: Policy::Approve,
            scope: Scope::All,
            in_thread: Some(Policy::Approve),
        },
        public_to_public: DirectionRule::new(Policy::Approve),
        staff_to_public: DirectionRule::new(Policy::Auto),
        ..Rules::default()
    }
}

/// Audit entries of the action named `action` (as exported).
fn audited(store: &Store, action: &str) -> usize {
    store
        .audit_log()
        .unwrap()
        .iter()
        .filter(|e| serde_json::to_value(e.action).unwrap() == action)
        .count()
}

/// The revision a held item is at (as stored).
fn revision(item: &civicbridge_core::store::PendingItem) -> u64 {
    serde_json::to_value(item).unwrap()["revision"]
        .as_u64()
        .unwrap_or(1)
}

async fn refusals(w: &World, id: &str) -> usize {
    let prefix = format!("Not decided: {id} ");
    w.moderator
        .shown(&w.moderation_room)
        .await
        .unwrap()
        .iter()
        .filter(|m| m.body.starts_with(&prefix))
        .count()
}

async fn staff_bodies(w: &World) -> Vec<String> {
    w.staff
        .shown(&w.staff_room)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect()
}

/// Defect 1: a resident's held question is edited into a phishing link after the card is shown.
#[tokio::test]
async fn an_edit_while_held_gets_its_own_card_and_a_decision_on_the_old_version_is_refused() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let daemon = w.start(store.clone(), approve_everything()).await;
    let bea = w.discord.create_user("bea", Some("Bea"));

    let q = w
        .discord
        .post_as_user(w.dc_channel, bea, "harmless question");
    let card1 = w
        .in_mod_room("the card", |m| m.body.starts_with("Held #1"))
        .await;
    assert!(card1.body.contains("harmless question"), "{}", card1.body);

    // The resident rewrites it once the card is up.
    assert!(w.discord.edit_as_user(q, "visit http://evil.example/phish"));
    let card2 = w
        .in_mod_room("the card of the new version", |m| {
            m.event_id != card1.event_id
                && m.body.starts_with("Held #1")
                && m.body.contains("evil.example")
        })
        .await;
    assert!(
        card2.body.contains("revision 2") && card2.body.contains("edited"),
        "the card says the text changed after it was held: {}",
        card2.body
    );
    w.in_mod_room("the old card marked superseded", |m| {
        m.event_id == card1.event_id && m.body.contains("Superseded")
    })
    .await;

    // A ✅ on the card the moderator saw first is refused, naming the new version.
    w.moderator
        .react(&w.moderation_room, &card1.event_id, "✅")
        .await
        .unwrap();
    until_refusals(&w, "#1", 1).await;
    let said = w.moderator.shown(&w.moderation_room).await.unwrap();
    let refusal = said
        .iter()
        .find(|m| m.body.starts_with("Not decided: #1 "))
        .unwrap();
    assert!(refusal.body.contains("revision 2"), "{}", refusal.body);

    // A bare `!approve #1` means the version first held: refused the same way.
    w.moderator
        .say(&w.moderation_room, "!approve #1")
        .await
        .unwrap();
    until_refusals(&w, "#1", 2).await;
    assert_eq!(store.pending().unwrap().len(), 1, "still held");
    assert_eq!(revision(&store.pending().unwrap()[0]), 2);

    // The moderator reads the card of revision 2 and rejects it.
    w.moderator
        .react(&w.moderation_room, &card2.event_id, "❌")
        .await
        .unwrap();
    w.in_mod_room("the rejected card", |m| {
        m.event_id == card2.event_id && m.body.starts_with("❌ Rejected #1")
    })
    .await;

    // An item edited while held, approved by naming its version: exactly that version crosses,
    // to the staff room and to Telegram.
    let q2 = w
        .discord
        .post_as_user(w.dc_channel, bea, "When is the bin collection?");
    w.in_mod_room("the second card", |m| m.body.starts_with("Held #2"))
        .await;
    assert!(w
        .discord
        .edit_as_user(q2, "When is the bin collection on Friday?"));
    w.in_mod_room("the second card's revision", |m| {
        m.body.starts_with("Held #2") && m.body.contains("revision 2")
    })
    .await;
    w.moderator
        .say(&w.moderation_room, "!approve #2v2")
        .await
        .unwrap();
    w.in_staff_room("the approved version", |m| {
        m.body == "Bea (Discord): When is the bin collection on Friday?"
    })
    .await;
    wait_until(WAIT, "the approved version on Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("bin collection on Friday?"))
    })
    .await;
    // Nothing of #1 crossed: #2 was approved after it, and lanes run in order.
    let bodies = staff_bodies(&w).await;
    assert!(
        !bodies
            .iter()
            .any(|b| b.contains("evil.example") || b.contains("harmless")),
        "{bodies:?}"
    );
    assert!(!w
        .telegram
        .bot_messages(w.tg_chat)
        .iter()
        .any(|m| m.text.contains("evil.example") || m.text.contains("harmless")));
    assert_eq!(
        w.telegram.bot_messages(w.tg_chat).len(),
        1,
        "only the approved version, sent once"
    );

    // Deleting while held withdraws the item and marks its card.
    let q3 = w
        .discord
        .post_as_user(w.dc_channel, bea, "please call me back");
    let card3 = w
        .in_mod_room("the third card", |m| m.body.starts_with("Held #3"))
        .await;
    assert!(w.discord.delete_as_user(q3));
    w.in_mod_room("the withdrawn card", |m| {
        m.event_id == card3.event_id && m.body.contains("Withdrawn #3")
    })
    .await;
    wait_until(WAIT, "the item is withdrawn", || {
        store.pending().unwrap().is_empty()
    })
    .await;
    assert_eq!(audited(&store, "held_revised"), 2);
    assert_eq!(audited(&store, "withdrawn"), 1);
    daemon.shutdown().await.unwrap();
    assert!(audit::verify(store.audit_log().unwrap(), Some(audit::GENESIS)).is_ok());
}

/// Defect 1, the race: the resident edits while the moderator types `!approve` for what they
/// saw. Whichever arrives first, the rewritten text never crosses without a card of its own.
#[tokio::test]
async fn an_approve_racing_an_edit_never_sends_the_edit_unseen() {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), approve_everything()).await;
    let ada = (42, "Ada");
    let q = w
        .telegram
        .post_as_user(w.tg_chat, ada, "Is the hall free on Friday?")
        .unwrap();
    w.in_mod_room("the card", |m| m.body.starts_with("Held #1"))
        .await;
    // Both at once: the edit on Telegram, the approval in Matrix.
    let (edited, _) = tokio::join!(
        async {
            w.telegram.edit(
                w.tg_chat,
                q,
                "Pay the hall deposit at http://evil.example/pay",
            )
        },
        w.moderator.say(&w.moderation_room, "!approve #1")
    );
    edited.unwrap();
    // Either the approval came first (then the edit waits for approval of its own) or the
    // edit came first (then the approval is refused and the new version has a card).
    wait_until(WAIT, "the edit is held", || {
        store.pending().unwrap().iter().any(|p| {
            matches!(&p.kind, civicbridge_core::store::PendingKind::Edit { .. }) || revision(p) == 2
        })
    })
    .await;
    // A later message crosses, so anything queued before it has run.
    let staffer = w
        .staff
        .say(&w.staff_room, "Noted, thank you")
        .await
        .unwrap();
    let _ = staffer;
    wait_until(WAIT, "the staff answer on Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("Noted, thank you"))
    })
    .await;
    wait_until(WAIT, "the staff answer on Discord", || {
        w.discord
            .messages_in(w.dc_channel)
            .iter()
            .any(|m| m.content.contains("Noted, thank you"))
    })
    .await;
    let bodies = staff_bodies(&w).await;
    assert!(
        !bodies.iter().any(|b| b.contains("evil.example")),
        "{bodies:?}"
    );
    assert!(!w
        .discord
        .messages_in(w.dc_channel)
        .iter()
        .any(|m| m.content.contains("evil.example")));
    daemon.shutdown().await.unwrap();
}

/// Defects 2 and 3: replies to a rejected message and to a taken-down message.
#[tokio::test]
async fn replies_never_quote_a_rejected_or_taken_down_message() {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), approve_everything()).await;
    let ada = (42, "Ada");
    let bob = (43, "Bob");

    // A message rejected for what it says.
    let private = w
        .telegram
        .post_as_user(w.tg_chat, ada, "my phone is 07700 900123, call me")
        .unwrap();
    w.in_mod_room("the card", |m| m.body.starts_with("Held #1"))
        .await;
    w.moderator
        .say(&w.moderation_room, "!reject #1 private info")
        .await
        .unwrap();
    w.in_mod_room("the rejected card", |m| {
        m.body.starts_with("❌ Rejected #1")
    })
    .await;

    // A reply to it: the card shows what will be sent, a neutral placeholder for the parent.
    w.telegram
        .reply(w.tg_chat, bob, private, "I can help with that")
        .unwrap();
    let card = w
        .in_mod_room("the reply's card", |m| m.body.starts_with("Held #2"))
        .await;
    assert!(
        card.body.contains("↩ a message that was not shared") && !card.body.contains("07700"),
        "{}",
        card.body
    );
    w.moderator
        .react(&w.moderation_room, &card.event_id, "✅")
        .await
        .unwrap();
    let copy = w
        .in_staff_room("the reply", |m| m.body.contains("I can help with that"))
        .await;
    assert!(
        copy.body.contains("↩ a message that was not shared") && !copy.body.contains("07700"),
        "{}",
        copy.body
    );
    wait_until(WAIT, "the reply on Discord", || {
        w.discord
            .messages_in(w.dc_channel)
            .iter()
            .any(|m| m.content.contains("I can help with that"))
    })
    .await;
    assert!(!w
        .discord
        .messages_in(w.dc_channel)
        .iter()
        .any(|m| m.content.contains("07700")));

    // A message that crossed and was taken down.
    let cy = w.discord.create_user("cy", Some("Cy"));
    let dee = w.discord.create_user("dee", Some("Dee"));
    let slur = w
        .discord
        .post_as_user(w.dc_channel, cy, "the clerk is a crook, see his address");
    w.in_mod_room("the third card", |m| m.body.starts_with("Held #3"))
        .await;
    w.moderator
        .say(&w.moderation_room, "!approve #3")
        .await
        .unwrap();
    w.in_staff_room("the copy", |m| m.body.contains("the clerk is a crook"))
        .await;
    wait_until(WAIT, "the Telegram copy", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("the clerk is a crook") && !m.deleted)
    })
    .await;
    w.moderator
        .say(&w.moderation_room, "!takedown #3")
        .await
        .unwrap();
    wait_until(WAIT, "the Telegram copy is gone", || {
        !w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("the clerk is a crook") && !m.deleted)
    })
    .await;
    // The source stays on Discord (it is Cy's): someone answers it there.
    w.discord
        .reply_as_user(w.dc_channel, dee, slur, "agreed, totally");
    let card = w
        .in_mod_room("the answer's card", |m| m.body.starts_with("Held #4"))
        .await;
    assert!(!card.body.contains("crook"), "{}", card.body);
    w.moderator
        .say(&w.moderation_room, "!approve #4")
        .await
        .unwrap();
    let copy = w
        .in_staff_room("the answer", |m| m.body.contains("agreed, totally"))
        .await;
    assert!(
        !copy.body.contains("crook") && copy.body.contains("↩ a message that was not shared"),
        "{}",
        copy.body
    );
    wait_until(WAIT, "the answer on Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("agreed, totally"))
    })
    .await;
    let on_tg = w.telegram.bot_messages(w.tg_chat);
    let answer = on_tg
        .iter()
        .find(|m| m.text.contains("agreed, totally"))
        .unwrap();
    assert!(!answer.text.contains("crook"), "{}", answer.text);
    let bodies = staff_bodies(&w).await;
    assert!(!bodies.iter().any(|b| b.contains("crook")), "{bodies:?}");
    daemon.shutdown().await.unwrap();
}

/// Defect 4: another member of the staff room rewrites a colleague's published answer, and
/// removes it without the power to.
#[tokio::test]
async fn only_the_author_edits_and_only_a_room_moderator_removes_someone_elses_message() {
    let w = World::new().await;
    let store = Store::memory();
    let colleague = w.person("colleague").await.unwrap();
    w.staff
        .invite(&w.staff_room, colleague.user_id())
        .await
        .unwrap();
    colleague.join(&w.staff_room).await.unwrap();
    let daemon = w.start(store.clone(), approve_everything()).await;

    let answer = w
        .staff
        .say(&w.staff_room, "The library opens at 9 tomorrow")
        .await
        .unwrap();
    wait_until(WAIT, "the answer on Telegram and Discord", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("opens at 9"))
            && w.discord
                .messages_in(w.dc_channel)
                .iter()
                .any(|m| m.content.contains("opens at 9"))
    })
    .await;

    let tg_copy = w
        .telegram
        .bot_messages(w.tg_chat)
        .into_iter()
        .find(|m| m.text.contains("opens at 9"))
        .unwrap()
        .id;
    let dc_copy = w
        .discord
        .messages_in(w.dc_channel)
        .into_iter()
        .find(|m| m.content.contains("opens at 9"))
        .unwrap()
        .id;

    // The server accepts an m.replace from anyone; the bridge must not. (No link in it: under
    // these rules a link would hold the forged edit for other reasons.)
    colleague
        .edit(
            &w.staff_room,
            &answer,
            "FORGED: the library is closed for good, donate at the front desk",
        )
        .await
        .unwrap();
    // A redaction by someone without the power to redact others: Synapse refuses it itself, so
    // it never reaches the bridge. (A homeserver that let one through is the case of
    // `pipeline::only_the_author_edits_and_others_deletions_need_the_right_to_remove`.)
    let status = colleague.redact(&w.staff_room, &answer).await.unwrap();
    assert_eq!(status, 403, "Synapse refuses it");
    // The author's later message crosses after anything those two could have caused.
    w.staff.say(&w.staff_room, "See you there").await.unwrap();
    wait_until(WAIT, "the later message on Telegram and Discord", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("See you there"))
            && w.discord
                .messages_in(w.dc_channel)
                .iter()
                .any(|m| m.content.contains("See you there"))
    })
    .await;
    let copy = w.telegram.message(w.tg_chat, tg_copy).unwrap();
    assert!(
        !copy.deleted && copy.text.contains("opens at 9"),
        "redaction status {status}: {copy:?}"
    );
    assert!(
        copy.history
            .iter()
            .all(|h| !format!("{h:?}").contains("FORGED")),
        "{copy:?}"
    );
    let dcopy = w.discord.message(dc_copy).unwrap();
    assert!(!dcopy.deleted && !dcopy.edited, "{dcopy:?}");
    assert!(!w
        .discord
        .messages_in(w.dc_channel)
        .iter()
        .any(|m| m.content.contains("FORGED")));

    // The author's own edit still follows.
    w.staff
        .edit(&w.staff_room, &answer, "The library opens at 10 tomorrow")
        .await
        .unwrap();
    wait_until(WAIT, "the author's edit on Telegram", || {
        w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("opens at 10") && !m.deleted)
    })
    .await;

    // A member who may redact others in that room removes it: an audited takedown.
    w.staff
        .set_power_level(&w.staff_room, colleague.user_id(), 50)
        .await
        .unwrap();
    let status = colleague.redact(&w.staff_room, &answer).await.unwrap();
    assert_eq!(status, 200, "Synapse lets a moderator of the room redact");
    wait_until(WAIT, "every copy removed", || {
        !w.telegram
            .bot_messages(w.tg_chat)
            .iter()
            .any(|m| m.text.contains("opens at 10") && !m.deleted)
            && !w
                .discord
                .messages_in(w.dc_channel)
                .iter()
                .any(|m| m.content.contains("opens at 10") && !m.deleted)
    })
    .await;
    let actor = format!("matrix:{}", colleague.user_id());
    assert!(
        store
            .audit_log()
            .unwrap()
            .iter()
            .any(|e| e.action == AuditAction::Takedown && e.actor == actor),
        "the removal is audited as a takedown by {actor}"
    );
    daemon.shutdown().await.unwrap();
}

/// Defect 5: under rules that say everything a resident writes needs approval, a Telegram
/// resident rewrites their approved message.
#[tokio::test]
async fn an_edit_after_approval_waits_for_a_moderator_on_every_side() {
    let w = World::new().await;
    let store = Store::memory();
    let daemon = w.start(store.clone(), approve_everything()).await;
    let ada = (42, "Ada");
    let q = w
        .telegram
        .post_as_user(w.tg_chat, ada, "Is the pool open on Sunday?")
        .unwrap();
    let card = w
        .in_mod_room("the card", |m| m.body.starts_with("Held #1"))
        .await;
    w.moderator
        .react(&w.moderation_room, &card.event_id, "✅")
        .await
        .unwrap();
    w.in_staff_room("the staff copy", |m| m.body.contains("pool open on Sunday"))
        .await;
    wait_until(WAIT, "the Discord copy", || {
        w.discord
            .messages_in(w.dc_channel)
            .iter()
            .any(|m| m.content.contains("pool open on Sunday"))
    })
    .await;

    // No link, no mention: nothing but the edit policy can hold it.
    w.telegram
        .edit(
            w.tg_chat,
            q,
            "The pool is closed for good, the council sold it",
        )
        .unwrap();
    let edit_card = w
        .in_mod_room("the edit's card", |m| m.body.starts_with("Edit held #2"))
        .await;
    assert!(
        // Rooms are named as their platforms name them.
        edit_card.body.contains("ask-the-council (Discord)"),
        "the Discord copy waits too: {}",
        edit_card.body
    );

    // A later approved message reaches Discord; the first copy there is unchanged.
    w.telegram.post_as_user(w.tg_chat, ada, "Thanks!").unwrap();
    let card3 = w
        .in_mod_room("the third card", |m| m.body.starts_with("Held #3"))
        .await;
    w.moderator
        .react(&w.moderation_room, &card3.event_id, "✅")
        .await
        .unwrap();
    wait_until(WAIT, "the later message on Discord", || {
        w.discord
            .messages_in(w.dc_channel)
            .iter()
            .any(|m| m.content.contains("Thanks!"))
    })
    .await;
    let on_dc = w.discord.messages_in(w.dc_channel);
    let copy = on_dc
        .iter()
        .find(|m| m.content.contains("pool open"))
        .unwrap();
    assert!(
        !copy.edited && !copy.content.contains("sold it"),
        "{copy:?}"
    );
    let bodies = staff_bodies(&w).await;
    assert!(
        !bodies.iter().any(|b| b.contains("evil.example")),
        "{bodies:?}"
    );

    // Approved, the edit reaches both copies.
    w.moderator
        .react(&w.moderation_room, &edit_card.event_id, "✅")
        .await
        .unwrap();
    wait_until(WAIT, "the Discord copy edited", || {
        w.discord
            .messages_in(w.dc_channel)
            .iter()
            .any(|m| m.edited && m.content.contains("sold it"))
    })
    .await;
    w.in_staff_room("the staff copy edited", |m| m.body.contains("sold it"))
        .await;
    daemon.shutdown().await.unwrap();
}

/// Waits until the moderation room shows `n` refused decisions on `id`.
async fn until_refusals(w: &World, id: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while refusals(w, id).await < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never saw {n} refusals of {id}: {:#?}",
            w.moderator
                .shown(&w.moderation_room)
                .await
                .unwrap()
                .iter()
                .map(|m| &m.body)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
