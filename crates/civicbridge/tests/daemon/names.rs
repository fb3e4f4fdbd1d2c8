//! Look-alike names, on fake platforms: a resident whose name imitates a staff member or a
//! protected word, or carried control or bidi characters, shows as unverified on every copy
//! and card, and the moderation room is told once per sender.
#![allow(clippy::unwrap_used)]

use crate::common;

use civicbridge_api::testing::wait_until;
use civicbridge_api::Capabilities;
use civicbridge_core::moderation::rules::{DirectionRule, Policy, Rules};
use civicbridge_core::store::prelude::*;
use civicbridge_core::store::Store;
use common::*;

fn told(fakes: &Fakes) -> Vec<String> {
    fakes
        .matrix
        .texts_in(MODS)
        .into_iter()
        .filter(|t| t.contains("unverified name"))
        .collect()
}

#[tokio::test]
async fn names_that_imitate_staff_or_a_protected_word_show_as_unverified_everywhere() {
    let fakes = Fakes {
        discord: civicbridge_api::testing::FakeConnector::with_capabilities(
            civicbridge_api::Platform::new("discord"),
            Capabilities {
                personas: true,
                ..Capabilities::default()
            },
        ),
        ..Fakes::new()
    };
    let store = Store::memory();
    let daemon = start(store.clone(), open_rules(), &fakes).await;
    acked(
        fakes
            .matrix
            .post(STAFF, ("@sam", "Sam Jones"), "$s1", "Hello all"),
    )
    .await;
    // A Cyrillic "а" and "о": the same skeleton as the staff member's name.
    acked(
        fakes
            .telegram
            .post(TG, ("43", "Sаm Jоnes"), "1", "bins are late"),
    )
    .await;
    acked(
        fakes
            .telegram
            .post(TG, ("43", "Sаm Jоnes"), "2", "still late"),
    )
    .await;
    acked(
        fakes
            .telegram
            .post(TG, ("44", "Council Officer"), "3", "pay here"),
    )
    .await;
    acked(fakes.telegram.post(TG, ("45", "Eve\u{202e}"), "4", "hi")).await;
    acked(fakes.telegram.post(TG, RESIDENT, "5", "thanks")).await;
    wait_until(WAIT, "every copy in the staff room", || {
        fakes.matrix.texts_in(STAFF).len() == 5 && fakes.discord.visible_in(DC).len() == 6
    })
    .await;
    wait_until(WAIT, "the moderators told", || told(&fakes).len() == 3).await;
    daemon.shutdown().await.unwrap();

    let staff = fakes.matrix.texts_in(STAFF);
    assert_eq!(
        staff[0],
        "Sаm Jоnes (Telegram, unverified name): bins are late"
    );
    assert_eq!(
        staff[1],
        "Sаm Jоnes (Telegram, unverified name): still late"
    );
    assert_eq!(
        staff[2],
        "Council Officer (Telegram, unverified name): pay here"
    );
    assert_eq!(staff[3], "Eve (Telegram, unverified name): hi");
    assert_eq!(
        staff[4], "Ada (Telegram): thanks",
        "an ordinary name as it is"
    );
    // On Discord the persona carries the label.
    let personas: Vec<_> = fakes
        .discord
        .visible_in(DC)
        .iter()
        .map(|p| p.out.persona.clone().unwrap().platform_label)
        .collect();
    assert_eq!(personas[0], "Matrix", "staff are never checked");
    assert_eq!(personas[3], "Telegram, unverified name");
    assert_eq!(personas[5], "Telegram");
    // Told once per sender, saying why.
    let told = told(&fakes);
    assert!(
        told[0].contains("looks like the staff member \"Sam Jones\""),
        "{told:?}"
    );
    assert!(told[1].contains("protected word \"council\""), "{told:?}");
    assert!(
        told[2].contains("control or direction characters"),
        "{told:?}"
    );
}

#[tokio::test]
async fn a_held_card_says_the_name_is_unverified_and_why() {
    let fakes = Fakes::new();
    let store = Store::memory();
    let rules = Rules {
        public_to_staff: DirectionRule::new(Policy::Approve),
        protected_names: vec!["Riverside Council".into()],
        ..open_rules()
    };
    let daemon = start(store.clone(), rules, &fakes).await;
    acked(
        fakes
            .telegram
            .post(TG, ("44", "riverside council (official)"), "3", "pay here"),
    )
    .await;
    wait_until(WAIT, "the card", || {
        store
            .pending()
            .unwrap()
            .first()
            .is_some_and(|p| p.card.is_some())
    })
    .await;
    let card = store.pending().unwrap()[0].card.clone().unwrap().1;
    let text = fakes.matrix.get(&card).unwrap().out.text.to_plain();
    daemon.shutdown().await.unwrap();
    assert!(
        text.contains(
            "on Telegram (unverified name: it contains the protected word \"Riverside Council\")"
        ),
        "{text}"
    );
    assert!(text.contains("(Telegram, unverified name):"), "{text}");
}
