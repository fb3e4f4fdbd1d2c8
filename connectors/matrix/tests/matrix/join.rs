//! `join` and `leave` against Synapse: the bot joins rooms it may join and names them as people
//! do, is refused with a reason a moderator can act on, and from then on accepts (after `join`)
//! or declines (after `leave`) the room's invites.

use crate::common::{bot, hs, memory_state, run, scene, Staff, WAIT};
use civicbridge_api::{Connector, ConnectorError, RoomId};
use civicbridge_matrix::MatrixConnector;
use matrix_sdk::ruma::api::client::room::create_room::v3::{Request as CreateRoom, RoomPreset};
use matrix_sdk::ruma::api::client::state::get_state_event_for_key::v3::{
    Request as GetState, StateEventFormat,
};
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::{OwnedRoomId, OwnedUserId};
use matrix_sdk::RoomState;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn room(id: &OwnedRoomId) -> RoomId {
    RoomId::new(id.to_string())
}

/// A room made by `staff`: `invite` invited, with a name or alias if given, public or private.
async fn make_room(
    staff: &Staff,
    invite: Option<&str>,
    name: Option<&str>,
    alias: Option<&str>,
    public: bool,
) -> OwnedRoomId {
    let mut req = CreateRoom::new();
    req.invite = invite
        .map(|u| OwnedUserId::try_from(u).unwrap())
        .into_iter()
        .collect();
    req.name = name.map(str::to_owned);
    req.room_alias_name = alias.map(str::to_owned);
    req.preset = Some(if public {
        RoomPreset::PublicChat
    } else {
        RoomPreset::PrivateChat
    });
    staff
        .client
        .create_room(req)
        .await
        .unwrap()
        .room_id()
        .to_owned()
}

/// `user`'s membership event in `room`, as the server has it now (`Null` if none).
async fn member_event(staff: &Staff, room: &OwnedRoomId, user: &str) -> Value {
    let mut req = GetState::new(room.clone(), StateEventType::RoomMember, user.to_owned());
    req.format = StateEventFormat::Event;
    match staff.client.send(req).await {
        Ok(r) => serde_json::from_str(r.event_or_content.get()).unwrap(),
        Err(_) => Value::Null,
    }
}

/// Waits until `user`'s membership event in `room` satisfies `pred`; returns it.
pub(crate) async fn wait_member(
    staff: &Staff,
    room: &OwnedRoomId,
    user: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = member_event(staff, room, user).await;
        if pred(&ev) {
            return ev;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: last seen {ev}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn membership(ev: &Value) -> &str {
    ev["content"]["membership"].as_str().unwrap_or("")
}

#[tokio::test]
async fn join_joins_and_names_rooms_as_people_see_them() {
    let hs = hs().await;
    let staff = Staff::new(hs).await;
    let b = bot(hs).await;
    let bot_id = b.user.user_id.clone();
    let connector = MatrixConnector::connect(b.config.clone()).await.unwrap();

    let odd = " Résidents \u{7}\n🏠 ";
    let named = make_room(&staff, Some(&bot_id), Some(odd), None, false).await;
    // Aliases are server-wide: one derived from a fresh room id clashes with no other test.
    let alias_name = format!("tenants-{}", alnum(named.as_str()));
    let aliased = make_room(&staff, Some(&bot_id), None, Some(&alias_name), false).await;
    let bare = make_room(&staff, Some(&bot_id), None, None, false).await;
    let public = make_room(&staff, None, Some("Open forum"), None, true).await;

    let info = connector.join(&room(&named)).await.unwrap();
    assert_eq!(info.name.as_deref(), Some(odd), "the name as given");
    staff.wait_joined(&named, &bot_id).await;

    let info = connector.join(&room(&aliased)).await.unwrap();
    let server = bot_id.split_once(':').unwrap().1;
    assert_eq!(info.name, Some(format!("#{alias_name}:{server}")));

    let info = connector.join(&room(&bare)).await.unwrap();
    assert_eq!(info.name, None, "no invented display name");

    let info = connector.join(&room(&public)).await.unwrap();
    assert_eq!(
        info.name.as_deref(),
        Some("Open forum"),
        "public: no invite needed"
    );
    staff.wait_joined(&public, &bot_id).await;

    // Joining again is harmless and still names the room.
    let info = connector.join(&room(&named)).await.unwrap();
    assert_eq!(info.name.as_deref(), Some(odd));
}

fn alnum(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase()
}

#[tokio::test]
async fn a_room_the_bot_may_not_join_is_refused_and_its_invite_then_accepted() {
    let hs = hs().await;
    let staff = Staff::new(hs).await;
    let b = bot(hs).await;
    let bot_id = b.user.user_id.clone();
    let connector = Arc::new(MatrixConnector::connect(b.config.clone()).await.unwrap());
    let r = run(connector.clone(), memory_state());

    let private = make_room(&staff, None, Some("Staff only"), None, false).await;
    let e = connector.join(&room(&private)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m)
            if m.contains("invite the bot") && m.contains("not invited")),
        "{e:?}"
    );

    let server = bot_id.split_once(':').unwrap().1;
    let unknown = OwnedRoomId::try_from(format!("!doesnotexist:{server}")).unwrap();
    let e = connector.join(&room(&unknown)).await.unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("check the room id")),
        "{e:?}"
    );
    for bad in ["#alias:localhost", "", "not a room"] {
        let e = connector.join(&RoomId::new(bad)).await.unwrap_err();
        assert!(matches!(e, ConnectorError::Rejected(_)), "{bad}: {e:?}");
    }

    // The refusal told a moderator to invite the bot: the running connector accepts it.
    staff
        .room(&private)
        .invite_user_by_id(&OwnedUserId::try_from(bot_id.as_str()).unwrap())
        .await
        .unwrap();
    staff.wait_joined(&private, &bot_id).await;
    assert_eq!(
        connector
            .join(&room(&private))
            .await
            .unwrap()
            .name
            .as_deref(),
        Some("Staff only")
    );
    r.stop().await;
}

#[tokio::test]
async fn leave_leaves_and_later_invites_are_declined_until_joined_again() {
    let s = scene(false, None).await;
    let bot_id = s.bot.user.user_id.clone();
    let r = run(s.connector.clone(), memory_state());

    assert_eq!(s.connector.leave(&room(&s.room)).await, Ok(()));
    let local = s.connector.client().get_room(&s.room).map(|r| r.state());
    assert_eq!(local, Some(RoomState::Left), "the SDK knows at once");
    wait_member(&s.staff, &s.room, &bot_id, "the bot left", |ev| {
        membership(ev) == "leave"
    })
    .await;

    // An invite now is declined: the bot's leave follows the invite.
    let bot_user = OwnedUserId::try_from(bot_id.as_str()).unwrap();
    s.staff
        .room(&s.room)
        .invite_user_by_id(&bot_user)
        .await
        .unwrap();
    wait_member(&s.staff, &s.room, &bot_id, "invite declined", |ev| {
        membership(ev) == "leave"
            && ev["sender"] == bot_id.as_str()
            && ev["unsigned"]["prev_content"]["membership"] == "invite"
    })
    .await;

    // Leaving again, or leaving a room the bot never was in, is done already.
    assert_eq!(s.connector.leave(&room(&s.room)).await, Ok(()));
    let server = bot_id.split_once(':').unwrap().1;
    let unknown = OwnedRoomId::try_from(format!("!neverthere:{server}")).unwrap();
    assert_eq!(s.connector.leave(&room(&unknown)).await, Ok(()));
    assert!(matches!(
        s.connector.leave(&RoomId::new("#alias:x")).await,
        Err(ConnectorError::Rejected(_))
    ));

    // After `join` (refused: the invite was declined), the next invite is accepted.
    assert!(matches!(
        s.connector.join(&room(&s.room)).await,
        Err(ConnectorError::Rejected(_))
    ));
    s.staff
        .room(&s.room)
        .invite_user_by_id(&bot_user)
        .await
        .unwrap();
    s.staff.wait_joined(&s.room, &bot_id).await;
    r.stop().await;
}

#[tokio::test]
async fn standing_is_a_joined_members_power_level_and_nothing_for_others() {
    use civicbridge_api::{RemoteUserId, Standing};
    let hs = hs().await;
    let staff = Staff::new(hs).await;
    let b = bot(hs).await;
    let bot_id = b.user.user_id.clone();
    let connector = Arc::new(MatrixConnector::connect(b.config.clone()).await.unwrap());
    let r = make_room(&staff, Some(&bot_id), None, None, false).await;
    let staff_id = staff.client.user_id().unwrap().to_string();
    let stranger = hs.register_fresh("stranger").await.unwrap();
    connector.join(&room(&r)).await.unwrap();
    let _running = run(connector.clone(), memory_state());
    let who = |u: &str| RemoteUserId::new(u);

    // The room's creator holds power level 100 once the bot's sync has the room's state.
    let deadline = tokio::time::Instant::now() + WAIT;
    while connector
        .standing(&room(&r), &who(&staff_id))
        .await
        .unwrap()
        != Some(Standing::Admin)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the creator never showed as admin"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A member at the default power level.
    let member = Staff::new(hs).await;
    let member_id = member.client.user_id().unwrap().to_owned();
    staff.room(&r).invite_user_by_id(&member_id).await.unwrap();
    member.client.join_room_by_id(&r).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while connector
        .standing(&room(&r), &who(member_id.as_str()))
        .await
        .unwrap()
        != Some(Standing::Member)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the member never showed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Not a member, not a user id, not a room the bot is in: no standing, no error.
    for (rm, u) in [
        (room(&r), who(&stranger.user_id)),
        (room(&r), who("not a user id")),
        (RoomId::new("!nowhere:localhost"), who(&staff_id)),
        (RoomId::new("#alias:localhost"), who(&staff_id)),
    ] {
        assert_eq!(connector.standing(&rm, &u).await.unwrap(), None, "{rm} {u}");
    }
}
