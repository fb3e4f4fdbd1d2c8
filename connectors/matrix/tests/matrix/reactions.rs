//! The bot's own reactions: `react` adds one annotation however often it is called, `unreact`
//! redacts it (and is done when there is none), and a reaction removed can be made again; in
//! plain and encrypted rooms, as a second client (the staff member) sees them.

use crate::common::{scene, Scene};
use civicbridge_api::{Connector, ConnectorError, Outgoing, RemoteMsgId, RoomId};
use matrix_sdk::room::{IncludeRelations, RelationsOptions};
use matrix_sdk::ruma::events::relation::RelationType;
use matrix_sdk::ruma::OwnedEventId;
use serde_json::{json, Value};

/// Every annotation of `id` that the server still lists (redacted ones it drops), as the staff
/// client reads them, every page: (sender, key, event id).
async fn annotations(s: &Scene, id: &RemoteMsgId) -> Vec<(String, String, String)> {
    let room = s.staff.room(&s.room);
    let mut out = Vec::new();
    let mut from = None;
    loop {
        let page = room
            .relations(
                OwnedEventId::try_from(id.as_str()).unwrap(),
                RelationsOptions {
                    from,
                    limit: Some(50u32.into()),
                    include_relations: IncludeRelations::RelationsOfType(RelationType::Annotation),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for ev in &page.chunk {
            let json: Value = ev.raw().deserialize_as().unwrap();
            out.push((
                json["sender"].as_str().unwrap().to_owned(),
                json["content"]["m.relates_to"]["key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                json["event_id"].as_str().unwrap().to_owned(),
            ));
        }
        match page.next_batch_token {
            Some(t) => from = Some(t),
            None => return out,
        }
    }
}

/// The ids of the bot's annotations of `id` with `key`.
async fn bots(s: &Scene, id: &RemoteMsgId, key: &str) -> Vec<String> {
    annotations(s, id)
        .await
        .into_iter()
        .filter(|(sender, k, _)| sender == s.connector.user_id() && k == key)
        .map(|(_, _, id)| id)
        .collect()
}

async fn react_unreact_round_trip(encrypted: bool) {
    let s = scene(encrypted, None).await;
    let room = RoomId::new(s.room.to_string());
    let c = &s.connector;
    let mut card = Outgoing::text(room.clone(), "card", "Approve #3? React ✅");
    card.notice = true;
    let card_id = c.send(&card).await.unwrap().ids[0].clone();
    // The staff member's own ✅: the bot's unreact must leave it alone.
    let staff_reaction = s
        .staff
        .send_json(
            &s.room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": card_id.as_str(), "key": "✅"}}),
        )
        .await;

    // Nothing to remove is done already.
    c.unreact(&room, &card_id, "✅").await.unwrap();
    assert_eq!(annotations(&s, &card_id).await.len(), 1);

    // Twice (a retry after a crash) reacts once.
    c.react(&room, &card_id, "✅").await.unwrap();
    c.react(&room, &card_id, "✅").await.unwrap();
    let first = bots(&s, &card_id, "✅").await;
    assert_eq!(first.len(), 1, "one annotation, not two");
    let ev = s.staff.event_json(&s.room, &first[0]).await;
    assert_eq!(ev["type"], "m.reaction");
    assert_eq!(ev["content"]["m.relates_to"]["key"], "✅");
    assert_eq!(ev["content"]["m.relates_to"]["event_id"], card_id.as_str());

    // Unreact redacts it, as the staff client sees, and only it.
    c.unreact(&room, &card_id, "✅").await.unwrap();
    assert!(bots(&s, &card_id, "✅").await.is_empty());
    let gone = s.staff.event_json(&s.room, &first[0]).await;
    assert!(
        gone["unsigned"].get("redacted_because").is_some(),
        "the reaction is redacted: {gone}"
    );
    let left = annotations(&s, &card_id).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].2, staff_reaction);
    c.unreact(&room, &card_id, "✅").await.unwrap();

    // A reaction removed can be made again: a new annotation, not the redacted one back.
    c.react(&room, &card_id, "✅").await.unwrap();
    let again = bots(&s, &card_id, "✅").await;
    assert_eq!(again.len(), 1);
    assert_ne!(again, first);

    // Other keys are other reactions; removing one leaves the rest.
    c.react(&room, &card_id, "👀").await.unwrap();
    c.unreact(&room, &card_id, "✅").await.unwrap();
    assert!(bots(&s, &card_id, "✅").await.is_empty());
    assert_eq!(bots(&s, &card_id, "👀").await.len(), 1);

    // A message that is not there has no reaction to remove; one cannot react to it.
    let unknown = RemoteMsgId::new("$doesnotexist");
    c.unreact(&room, &unknown, "✅").await.unwrap();
    let err = c.react(&room, &unknown, "✅").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "{err:?}");
    // A room the bot is not in is refused.
    let err = c
        .unreact(&RoomId::new("!nowhere:localhost"), &card_id, "✅")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn react_is_idempotent_and_unreact_redacts_in_a_plain_room() {
    react_unreact_round_trip(false).await;
}

#[tokio::test]
async fn react_is_idempotent_and_unreact_redacts_in_an_encrypted_room() {
    react_unreact_round_trip(true).await;
}

/// On a popular message the bot's reaction is pages back in the relations: `react` and
/// `unreact` read every page.
#[tokio::test]
async fn reactions_are_found_past_the_first_page() {
    let s = scene(false, None).await;
    let room = RoomId::new(s.room.to_string());
    let c = &s.connector;
    let id = RemoteMsgId::new(s.staff.post(&s.room, "free ice cream").await);
    c.react(&room, &id, "✅").await.unwrap();
    // 120 newer annotations: the connector reads 100 a page, newest first.
    for i in 0..120 {
        s.staff
            .send_json(
                &s.room,
                "m.reaction",
                json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": id.as_str(), "key": format!("k{i}")}}),
            )
            .await;
    }
    c.react(&room, &id, "✅").await.unwrap();
    assert_eq!(bots(&s, &id, "✅").await.len(), 1);
    c.unreact(&room, &id, "✅").await.unwrap();
    assert!(bots(&s, &id, "✅").await.is_empty());
    assert_eq!(annotations(&s, &id).await.len(), 120);
}
