//! Residents' messages become the right `Event`s: author, text, reply, thread, attachments,
//! edits, deletes, reactions; the bridge's own posts are marked as echoes.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{AttachmentKind, Connector, EventKind, Outgoing, Persona, RoomId, Span};
use common::world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_residents_message_has_author_text_reply_and_thread() {
    let mut w = world().await;
    w.server
        .set_avatar(w.ada, "a1b2c3d4e5f60718293a4b5c6d7e8f90");
    let root = w.server.post_as_user(
        w.channel,
        w.ada,
        "Hello **council** <@BOB>"
            .replace("BOB", &w.bob.to_string())
            .as_str(),
    );
    let e = w.message(root).await;
    assert_eq!(e.room.room.as_str(), w.channel.to_string());
    assert_eq!(e.sender.id.as_str(), w.ada.to_string());
    assert_eq!(
        e.sender.display_name, "Ada Lovelace",
        "global_name wins over the username"
    );
    let avatar = e.sender.avatar_url.as_deref().unwrap();
    assert!(
        avatar.starts_with(&format!(
            "https://cdn.discordapp.com/avatars/{}/a1b2c3d4e5f60718293a4b5c6d7e8f90",
            w.ada
        )),
        "{avatar}"
    );
    assert!(!e.sender.is_bridge);
    let EventKind::Message(m) = &e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(m.text.to_plain(), "Hello council @bob");
    assert!(matches!(&m.text.spans[1], Span::Bold(_)), "{:?}", m.text);
    assert!(m.thread.is_none() && m.reply_to.is_none());

    // A reply, by a member with a server nickname.
    let reply = w.server.reply_as_user(w.channel, w.bob, root, "agreed");
    let e = w.message(reply).await;
    assert_eq!(e.sender.display_name, "Bobby", "the server nickname wins");
    let EventKind::Message(m) = &e.kind else {
        panic!()
    };
    assert_eq!(
        m.reply_to.as_ref().map(|r| r.as_str().to_owned()),
        Some(root.to_string())
    );

    // A thread started from the root: messages in it belong to it; the room is the channel.
    let thread = w
        .server
        .start_thread_as_user(w.channel, root, w.ada, "Topic");
    let inside = w.server.post_as_user(thread, w.bob, "in the thread");
    let e = w.message(inside).await;
    assert_eq!(e.room.room.as_str(), w.channel.to_string());
    let EventKind::Message(m) = &e.kind else {
        panic!()
    };
    assert_eq!(
        m.thread.as_ref().map(|t| t.as_str().to_owned()),
        Some(thread.to_string())
    );

    // A forum post: the starter is the thread's root (no thread), later posts are in it.
    let post = w
        .server
        .forum_post_as_user(w.forum, w.ada, "Idea", "plant trees");
    let e = w.message(post).await;
    assert_eq!(e.room.room.as_str(), w.forum.to_string());
    let EventKind::Message(m) = &e.kind else {
        panic!()
    };
    assert!(
        m.thread.is_none(),
        "a forum post's first message is the root"
    );
    let answer = w.server.post_as_user(post, w.bob, "yes");
    let e = w.message(answer).await;
    let EventKind::Message(m) = &e.kind else {
        panic!()
    };
    assert_eq!(
        m.thread.as_ref().map(|t| t.as_str().to_owned()),
        Some(post.to_string())
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_deletes_reactions_and_attachments_arrive() {
    let mut w = world().await;
    let m = w.server.upload_as_user(
        w.channel,
        w.ada,
        "see file",
        "plan.png",
        "image/png",
        b"\x89PNG data",
    );
    let e = w.message(m).await;
    let EventKind::Message(msg) = &e.kind else {
        panic!()
    };
    assert_eq!(msg.attachments.len(), 1);
    let a = &msg.attachments[0];
    assert_eq!(
        (a.kind, a.name.as_str(), a.size),
        (AttachmentKind::Image, "plan.png", Some(9))
    );
    // The outbox fetches it through this connector,
    assert_eq!(w.connector.fetch(a).await.unwrap(), b"\x89PNG data");
    // also after Discord's signed CDN link expired (a message held a day for approval),
    w.server.expire_attachment_urls();
    assert_eq!(w.connector.fetch(a).await.unwrap(), b"\x89PNG data");
    // and never from anywhere else.
    let mut elsewhere = a.clone();
    elsewhere.url = "http://169.254.169.254/attachments/1/2/x#message=3".into();
    assert!(matches!(
        w.connector.fetch(&elsewhere).await,
        Err(civicbridge_api::ConnectorError::Unsupported(_))
    ));

    w.server.edit_as_user(m, "see the file, please");
    let (e, _) = w.until(|e| matches!(e.kind, EventKind::Edit { .. })).await;
    let EventKind::Edit { target, new } = &e.kind else {
        panic!()
    };
    assert_eq!(target.as_str(), m.to_string());
    assert_eq!(new.text.to_plain(), "see the file, please");
    assert!(e.id.as_str().starts_with("discord:edit:"));

    w.server.react_as_user(m, w.bob, "✅");
    let (e, _) = w
        .until(|e| matches!(e.kind, EventKind::Reaction { .. }))
        .await;
    assert_eq!(
        e.kind,
        EventKind::Reaction {
            target: civicbridge_api::RemoteMsgId::new(m.to_string()),
            key: "✅".into(),
            id: None,
        }
    );
    assert_eq!(e.sender.id.as_str(), w.bob.to_string());

    w.server.delete_as_user(m);
    let (e, _) = w
        .until(|e| matches!(e.kind, EventKind::Delete { .. }))
        .await;
    assert_eq!(
        e.kind,
        EventKind::Delete {
            target: civicbridge_api::RemoteMsgId::new(m.to_string())
        }
    );
    assert!(!e.sender.is_bridge);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_ignores_its_own_bot_and_webhook_posts_but_not_a_partners_webhook() {
    let mut w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let mut out = Outgoing::text(room.clone(), "t1", "relayed through the webhook");
    out.persona = Some(Persona {
        display_name: "Tom".into(),
        avatar_url: None,
        platform_label: "Telegram".into(),
    });
    let hooked = w.connector.send(&out).await.unwrap().ids[0].clone();
    let bot = w
        .connector
        .send(&Outgoing::text(room, "t2", "a notice from the bot"))
        .await
        .unwrap()
        .ids[0]
        .clone();
    let (partner_hook, _) = w.server.create_foreign_webhook(w.channel, "Partner", w.ada);
    let partner =
        w.server
            .post_as_webhook(w.channel, partner_hook, "Partner Org", "from a partner");

    let (e, before) = w
        .until(|e| matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == partner.to_string()))
        .await;
    assert!(
        !e.sender.is_bridge,
        "a partner's webhook is a person to the bridge"
    );
    assert_eq!(e.sender.display_name, "Partner Org");
    let echoes: Vec<_> = before
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some((m.id.clone(), e.sender.is_bridge)),
            _ => None,
        })
        .collect();
    assert_eq!(
        echoes,
        vec![(hooked, true), (bot, true)],
        "both echoes arrive, marked as the bridge's"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_messages_are_not_relayed() {
    let mut w = world().await;
    w.server.post_system(w.channel, w.bob, 7); // "Bob joined the server"
    w.server.post_system(w.channel, w.ada, 6); // "Ada pinned a message"
    let marker = w.server.post_as_user(w.channel, w.ada, "a real message");
    let e = w.next().await;
    assert!(
        matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == marker.to_string()),
        "the first event is the real message: {e:?}"
    );
    w.stop().await;
}

/// A resident's add, removal and add again of the same reaction are three events, each with an
/// id of its own (the core drops a repeated id as a replay); a custom emoji is `:name:` in both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_added_removed_and_added_again_is_three_events() {
    let mut w = world().await;
    let m = w.server.post_as_user(w.channel, w.ada, "vote");
    w.message(m).await;
    let target = civicbridge_api::RemoteMsgId::new(m.to_string());
    let reacting = |e: &civicbridge_api::Event| {
        matches!(
            e.kind,
            EventKind::Reaction { .. } | EventKind::ReactionRemoved { .. }
        )
    };

    w.server.react_as_user(m, w.bob, "👍");
    assert!(w.server.unreact_as_user(m, w.bob, "👍"));
    assert!(
        !w.server.unreact_as_user(m, w.bob, "👍"),
        "nothing left to remove: no dispatch"
    );
    w.server.react_as_user(m, w.bob, "👍");
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(w.until(reacting).await.0);
    }
    let kinds: Vec<_> = got.iter().map(|e| e.kind.clone()).collect();
    let added = EventKind::Reaction {
        target: target.clone(),
        key: "👍".into(),
        id: None,
    };
    let removed = EventKind::ReactionRemoved {
        target: target.clone(),
        key: "👍".into(),
    };
    assert_eq!(kinds, vec![added.clone(), removed, added]);
    let ids: std::collections::HashSet<_> = got.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 3, "distinct ids: {got:?}");
    for e in &got {
        assert_eq!(e.sender.id.as_str(), w.bob.to_string());
        assert!(!e.sender.is_bridge);
        assert_eq!(e.room.room.as_str(), w.channel.to_string());
    }
    assert_eq!(
        got[0].sender.display_name, "Bobby",
        "an add carries the member, with the server nickname"
    );

    // A custom emoji: `:name:` when added and when removed.
    let party = w.server.create_emoji(w.guild, "party");
    w.server.react_as_user(m, w.ada, &format!("party:{party}"));
    w.server
        .unreact_as_user(m, w.ada, &format!("party:{party}"));
    let a = w.until(reacting).await.0;
    let r = w.until(reacting).await.0;
    assert_eq!(
        (a.kind, r.kind),
        (
            EventKind::Reaction {
                target: target.clone(),
                key: ":party:".into(),
                id: None
            },
            EventKind::ReactionRemoved {
                target,
                key: ":party:".into()
            }
        )
    );
    assert_eq!(r.sender.id.as_str(), w.ada.to_string());
    w.stop().await;
}
