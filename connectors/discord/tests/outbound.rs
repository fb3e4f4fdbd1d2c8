//! What the bridge posts: personas through a webhook, inert mentions and markdown, splitting,
//! replies, threads, edits and deletes of webhook and bot messages, attachments, fallbacks.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{
    AttachmentKind, Connector, Outgoing, OutgoingFile, Persona, RemoteMsgId, RichText, RoomId,
    Span, ThreadTarget,
};
use common::world;
use serde_json::json;

fn persona(name: &str) -> Persona {
    Persona {
        display_name: name.into(),
        avatar_url: Some("https://example.org/ada.png".into()),
        platform_label: "Telegram".into(),
    }
}

fn id(r: &RemoteMsgId) -> u64 {
    r.as_str().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridged_message_arrives_through_the_webhook_as_its_author() {
    let w = world().await;
    let mut out = Outgoing::text(
        RoomId::new(w.channel.to_string()),
        "j1",
        "hello from Telegram",
    );
    out.persona = Some(persona("Ada"));
    let r = w.connector.send(&out).await.unwrap();
    assert_eq!(r.ids.len(), 1);
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert!(m.webhook_id.is_some(), "posted through a webhook");
    assert_eq!(m.username, "Ada (Telegram)");
    assert_eq!(m.avatar_url.as_deref(), Some("https://example.org/ada.png"));
    assert_eq!(m.shown, "hello from Telegram");
    assert_eq!(m.allowed_mentions, Some(json!({"parse": []})));
    // The bot created one webhook, named as configured, and reuses it.
    let hooks = w.server.webhooks_in(w.channel);
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].1.as_str(), hooks[0].2),
        ("civicbridge", w.server.bot_id())
    );
    out.txn_id = "j2".into();
    w.connector.send(&out).await.unwrap();
    assert_eq!(w.server.webhooks_in(w.channel).len(), 1);
    assert_eq!(w.server.webhook_messages(w.channel).len(), 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_and_markdown_from_a_mirrored_message_arrive_inert() {
    let w = world().await;
    let evil = format!(
        "@everyone @here <@{}> <@&1> **bold?** __u__ `c` > q ||s|| [x](https://e.x)",
        w.ada
    );
    for (n, persona_on) in [(0, true), (1, false)] {
        let mut out = Outgoing::text(
            RoomId::new(w.channel.to_string()),
            format!("e{n}"),
            evil.as_str(),
        );
        if persona_on {
            out.persona = Some(persona("Eve"));
        }
        let r = w.connector.send(&out).await.unwrap();
        let m = w.server.message(id(&r.ids[0])).unwrap();
        assert!(m.shown.ends_with(&evil), "shown literally: {}", m.shown);
        assert!(!m.pings_everyone, "no @everyone ping: {}", m.content);
        assert!(m.pinged_users.is_empty(), "no user ping");
        assert_eq!(m.allowed_mentions, Some(json!({"parse": []})));
    }
    // A notice from the bridge itself goes out without notifications.
    let mut notice = Outgoing::text(RoomId::new(w.channel.to_string()), "n", "bridge notice");
    notice.notice = true;
    let r = w.connector.send(&notice).await.unwrap();
    assert_eq!(w.server.message(id(&r.ids[0])).unwrap().flags, 4096);
    // Formatting the bridge means is kept.
    let text = RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
            Span::Text(" hi".into()),
        ],
    };
    let r = w
        .connector
        .send(&Outgoing::text(
            RoomId::new(w.channel.to_string()),
            "f",
            text,
        ))
        .await
        .unwrap();
    assert_eq!(
        w.server.message(id(&r.ids[0])).unwrap().content,
        "**Ada (Telegram):** hi"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2500_character_message_arrives_as_two() {
    let w = world().await;
    let words: String = (0..500).map(|i| format!("w{:03} ", i % 1000)).collect();
    let text: String = words.chars().take(2500).collect();
    assert_eq!(text.chars().count(), 2500);
    let mut out = Outgoing::text(RoomId::new(w.channel.to_string()), "long", text.as_str());
    out.persona = Some(persona("Ada"));
    let r = w.connector.send(&out).await.unwrap();
    assert_eq!(r.ids.len(), 2, "split in two");
    let shown: Vec<String> = r
        .ids
        .iter()
        .map(|i| w.server.message(id(i)).unwrap().shown)
        .collect();
    assert!(shown.iter().all(|s| s.chars().count() <= 2000));
    let rejoined: Vec<&str> = shown.iter().flat_map(|s| s.split_whitespace()).collect();
    assert_eq!(
        rejoined,
        text.split_whitespace().collect::<Vec<_>>(),
        "no word lost"
    );

    // Escaping can push a text under max_text_len over 2,000: it is split further.
    let starry = "*".repeat(1500);
    let r = w
        .connector
        .send(&Outgoing::text(
            RoomId::new(w.channel.to_string()),
            "stars",
            starry.as_str(),
        ))
        .await
        .unwrap();
    assert_eq!(r.ids.len(), 2);
    let joined: String = r
        .ids
        .iter()
        .map(|i| w.server.message(id(i)).unwrap().shown)
        .collect();
    assert_eq!(joined, starry);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_reach_the_right_message() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let mut hooked = Outgoing::text(room.clone(), "a", "first");
    hooked.persona = Some(persona("Ada"));
    let h = w.connector.send(&hooked).await.unwrap().ids[0].clone();
    let b = w
        .connector
        .send(&Outgoing::text(room.clone(), "b", "second"))
        .await
        .unwrap()
        .ids[0]
        .clone();
    let other = w
        .connector
        .send(&Outgoing::text(room.clone(), "c", "third"))
        .await
        .unwrap()
        .ids[0]
        .clone();

    let mut edit = hooked.clone();
    edit.text = RichText::plain("first, edited **really**");
    w.connector.edit(&room, &h, &edit).await.unwrap();
    w.connector
        .edit(
            &room,
            &b,
            &Outgoing::text(room.clone(), "b2", "second, edited"),
        )
        .await
        .unwrap();
    assert_eq!(
        w.server.message(id(&h)).unwrap().shown,
        "first, edited **really**"
    );
    assert!(w.server.message(id(&h)).unwrap().edited);
    assert_eq!(w.server.message(id(&b)).unwrap().shown, "second, edited");
    assert_eq!(
        w.server.message(id(&other)).unwrap().shown,
        "third",
        "untouched"
    );

    w.connector.delete(&room, &h).await.unwrap();
    w.connector.delete(&room, &b).await.unwrap();
    assert!(w.server.message(id(&h)).unwrap().deleted);
    assert!(w.server.message(id(&b)).unwrap().deleted);
    assert!(!w.server.message(id(&other)).unwrap().deleted);
    // Deleting again succeeds, and so does an edit by a fresh connector (nothing remembered).
    w.connector.delete(&room, &h).await.unwrap();
    let fresh = civicbridge_discord::DiscordConnector::new(common::config(&w.server)).unwrap();
    fresh
        .edit(
            &room,
            &other,
            &Outgoing::text(room.clone(), "c2", "third, edited"),
        )
        .await
        .unwrap();
    assert_eq!(w.server.message(id(&other)).unwrap().shown, "third, edited");
    fresh.delete(&room, &other).await.unwrap();
    assert!(w.server.message(id(&other)).unwrap().deleted);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_threads() {
    let mut w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let root = w
        .server
        .post_as_user(w.channel, w.ada, "Should we plant trees?");
    let root_id = RemoteMsgId::new(root.to_string());

    // Bot reply: native reference.
    let mut reply = Outgoing::text(room.clone(), "r1", "yes");
    reply.reply_to = Some(root_id.clone());
    let r = w.connector.send(&reply).await.unwrap();
    assert_eq!(
        w.server.message(id(&r.ids[0])).unwrap().reference,
        Some(root)
    );

    // Webhook reply: a quote line with a jump link, then the text.
    reply.persona = Some(persona("Tom"));
    reply.txn_id = "r2".into();
    let r = w.connector.send(&reply).await.unwrap();
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(m.reference, None);
    let link = format!(
        "https://discord.com/channels/{}/{}/{}",
        w.guild, w.channel, root
    );
    assert!(
        m.content.starts_with(&format!("> ↪ [reply]({link})\n")),
        "{}",
        m.content
    );
    assert!(m.shown.ends_with("\nyes"));

    // Start a thread from the root, then post into it.
    let mut first = Outgoing::text(room.clone(), "t1", "first in thread");
    first.persona = Some(persona("Tom"));
    first.thread = Some(ThreadTarget::StartFrom(root_id.clone()));
    let r = w.connector.send(&first).await.unwrap();
    let thread = r.thread.clone().unwrap();
    assert_eq!(
        thread.as_str(),
        root.to_string(),
        "a thread from a message has its id"
    );
    assert_eq!(w.server.thread_parent(root), Some(w.channel));
    assert_eq!(w.server.message(id(&r.ids[0])).unwrap().channel_id, root);
    // Starting it again (a retry) finds the existing thread.
    first.txn_id = "t1b".into();
    assert_eq!(
        w.connector.send(&first).await.unwrap().thread,
        Some(thread.clone())
    );

    let mut next = Outgoing::text(room.clone(), "t2", "second in thread");
    next.thread = Some(ThreadTarget::Existing(thread.clone()));
    let r = w.connector.send(&next).await.unwrap();
    assert_eq!(r.thread, Some(thread.clone()));
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!((m.channel_id, m.webhook_id), (root, None));
    // Edit and delete a webhook message inside the thread.
    let hooked = w.server.webhook_messages(root)[0].id;
    let hid = RemoteMsgId::new(hooked.to_string());
    let mut e = first.clone();
    e.text = RichText::plain("edited in thread");
    w.connector.edit(&room, &hid, &e).await.unwrap();
    assert_eq!(w.server.message(hooked).unwrap().shown, "edited in thread");
    w.connector.delete(&room, &hid).await.unwrap();
    assert!(w.server.message(hooked).unwrap().deleted);

    // After a restart (nothing remembered), the thread messages are still found for takedown.
    let fresh = std::sync::Arc::new(
        civicbridge_discord::DiscordConnector::new(common::config(&w.server)).unwrap(),
    );
    let (tx, _rx) = tokio::sync::mpsc::channel(64);
    let stop = tokio_util::sync::CancellationToken::new();
    let running = {
        let (c, s) = (fresh.clone(), stop.clone());
        let state = std::sync::Arc::new(civicbridge_api::MemoryState::default());
        tokio::spawn(async move { c.run(civicbridge_api::EventSink::new(tx), state, s).await })
    };
    let f = fresh.clone();
    civicbridge_api::testing::wait_until(common::WAIT, "GUILD_CREATE seen", || {
        f.handler_counts().contains_key("GUILD_CREATE")
    })
    .await;
    let in_thread = w.server.bot_messages(root)[0].id;
    fresh
        .delete(&room, &RemoteMsgId::new(in_thread.to_string()))
        .await
        .unwrap();
    stop.cancel();
    running.await.unwrap().unwrap();
    w.extra_fired = fresh.handler_counts();
    assert!(
        w.server.message(in_thread).unwrap().deleted,
        "found in the thread via the channel's threads"
    );

    // A forum: a message opens a post.
    let forum = RoomId::new(w.forum.to_string());
    let r = w
        .connector
        .send(&Outgoing::text(forum, "f1", "A new idea\nwith details"))
        .await
        .unwrap();
    let post = r.thread.unwrap();
    assert_eq!(
        w.server.thread_parent(post.as_str().parse().unwrap()),
        Some(w.forum)
    );
    assert_eq!(r.ids[0].as_str(), post.as_str());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_uploaded() {
    let w = world().await;
    let mut out = Outgoing::text(RoomId::new(w.channel.to_string()), "a1", "two files");
    out.persona = Some(persona("Ada"));
    out.attachments = vec![
        OutgoingFile {
            kind: AttachmentKind::Image,
            name: "a.png".into(),
            mime: Some("image/png".into()),
            data: b"png!".to_vec(),
        },
        OutgoingFile {
            kind: AttachmentKind::File,
            name: "b.txt".into(),
            mime: None,
            data: b"text".to_vec(),
        },
    ];
    let r = w.connector.send(&out).await.unwrap();
    assert_eq!(
        r.ids.len(),
        2,
        "text with the first file, then the second file"
    );
    let first = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(first.shown, "two files");
    assert_eq!(
        first.attachments,
        vec![("a.png".to_owned(), b"png!".to_vec())]
    );
    let second = w.server.message(id(&r.ids[1])).unwrap();
    assert_eq!(
        second.attachments,
        vec![("b.txt".to_owned(), b"text".to_vec())]
    );
    // Files alone, from the bot.
    let mut bare = Outgoing::text(RoomId::new(w.channel.to_string()), "a2", "");
    bare.attachments = vec![out.attachments[1].clone()];
    let r = w.connector.send(&bare).await.unwrap();
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(
        (m.content.as_str(), m.attachments.len(), m.webhook_id),
        ("", 1, None)
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webhook_permission_the_bot_posts_with_a_name_prefix_or_uses_a_configured_url() {
    let w = world().await;
    w.server.set_can_manage_webhooks(false);
    let mut out = Outgoing::text(RoomId::new(w.channel.to_string()), "p1", "hello");
    out.persona = Some(persona("Ada"));
    let r = w.connector.send(&out).await.unwrap();
    let m = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(m.webhook_id, None);
    assert_eq!(m.content, "**Ada (Telegram):** hello");
    assert_eq!(m.allowed_mentions, Some(json!({"parse": []})));
    w.stop().await;

    // With a configured webhook URL, the persona works without the permission.
    let w2 = common::world_with(Default::default(), |_| {}).await;
    w2.server.set_can_manage_webhooks(false);
    let (hook, url) = w2
        .server
        .create_foreign_webhook(w2.channel, "Configured", w2.ada);
    let mut cfg = common::config(&w2.server);
    cfg.webhook_urls.insert(w2.channel.to_string(), url);
    let c = civicbridge_discord::DiscordConnector::new(cfg).unwrap();
    let mut out = Outgoing::text(RoomId::new(w2.channel.to_string()), "p2", "via url");
    out.persona = Some(persona("Ada"));
    let r = c.send(&out).await.unwrap();
    let m = w2.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(
        (m.webhook_id, m.username.as_str()),
        (Some(hook), "Ada (Telegram)")
    );
    w2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_message_to_a_forum_opens_a_post_under_its_author() {
    let w = world().await;
    let forum = RoomId::new(w.forum.to_string());
    let long: String = "idea ".repeat(500);
    let mut out = Outgoing::text(forum.clone(), "fp", format!("Plant trees\n{long}").trim());
    out.persona = Some(persona("Ada"));
    let r = w.connector.send(&out).await.unwrap();
    let post: u64 = r.thread.clone().unwrap().as_str().parse().unwrap();
    assert_eq!(w.server.thread_parent(post), Some(w.forum));
    assert_eq!(
        r.ids.len(),
        2,
        "2,500 characters: the post and a follow-up in it"
    );
    let starter = w.server.message(id(&r.ids[0])).unwrap();
    assert_eq!(
        (starter.id, starter.channel_id),
        (post, post),
        "the starter has the post's id"
    );
    assert_eq!(starter.username, "Ada (Telegram)");
    let second = w.server.message(id(&r.ids[1])).unwrap();
    assert_eq!(
        (second.channel_id, second.username.as_str()),
        (post, "Ada (Telegram)")
    );
    // A reply into the post, as the thread it is.
    let mut next = Outgoing::text(forum, "fp2", "me too");
    next.persona = Some(persona("Bo"));
    next.thread = Some(ThreadTarget::Existing(r.thread.clone().unwrap()));
    let r2 = w.connector.send(&next).await.unwrap();
    assert_eq!(w.server.message(id(&r2.ids[0])).unwrap().channel_id, post);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_reacts_and_its_reaction_is_an_echo() {
    let mut w = world().await;
    let m = w.server.post_as_user(w.channel, w.ada, "approve me");
    w.message(m).await;
    let room = RoomId::new(w.channel.to_string());
    w.connector
        .react(&room, &RemoteMsgId::new(m.to_string()), "✅")
        .await
        .unwrap();
    let (e, _) = w
        .until(|e| matches!(e.kind, civicbridge_api::EventKind::Reaction { .. }))
        .await;
    assert!(e.sender.is_bridge, "the bot's own reaction");
    let reacted = w
        .server
        .requests()
        .into_iter()
        .any(|r| r.method == "PUT" && r.path.contains("/reactions/") && r.status == 204);
    assert!(reacted);
    w.stop().await;
}

/// `unreact` takes the bot's reaction away (Delete Own Reaction), and its removal comes back as
/// the bridge's own; removing one that is not there, or from a message that is gone, succeeds;
/// an emoji Discord does not know is refused. Keycaps (`#️⃣`) reach Discord URL-encoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_removes_its_reaction_and_the_removal_is_an_echo() {
    use civicbridge_api::{ConnectorError, EventKind};
    let mut w = world().await;
    let m = w.server.post_as_user(w.channel, w.ada, "approve me");
    w.message(m).await;
    let room = RoomId::new(w.channel.to_string());
    let id = RemoteMsgId::new(m.to_string());
    let bot = w.server.bot_id();
    let keycap = "#\u{fe0f}\u{20e3}";
    w.connector.react(&room, &id, "✅").await.unwrap();
    w.connector.react(&room, &id, keycap).await.unwrap();
    w.server.react_as_user(m, w.bob, "✅");
    assert_eq!(
        w.server.reactions(m),
        vec![
            ("✅".to_owned(), bot),
            (keycap.to_owned(), bot),
            ("✅".to_owned(), w.bob)
        ]
    );

    w.connector.unreact(&room, &id, "✅").await.unwrap();
    w.connector.unreact(&room, &id, keycap).await.unwrap();
    assert_eq!(
        w.server.reactions(m),
        vec![("✅".to_owned(), w.bob)],
        "only the bot's reactions went"
    );
    let (e, _) = w
        .until(|e| matches!(e.kind, EventKind::ReactionRemoved { .. }))
        .await;
    assert_eq!(
        e.kind,
        EventKind::ReactionRemoved {
            target: id.clone(),
            key: "✅".into()
        }
    );
    assert!(e.sender.is_bridge, "the bot's own removal");
    assert_eq!(e.sender.id.as_str(), bot.to_string());

    // Not there (never made, or already removed): Discord answers 204, and so do we.
    w.connector.unreact(&room, &id, "✅").await.unwrap();
    w.connector.unreact(&room, &id, "🎉").await.unwrap();
    let deletes = w
        .server
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/reactions/"))
        .map(|r| (r.path.ends_with("/@me"), r.status))
        .collect::<Vec<_>>();
    assert_eq!(deletes, vec![(true, 204); 4]);
    // Unknown to Discord: refused, as `react` is.
    let refused = w.connector.unreact(&room, &id, "a").await;
    assert!(
        matches!(&refused, Err(ConnectorError::Rejected(m)) if m.contains("10014")),
        "{refused:?}"
    );
    // The message is gone, and the bot's reactions with it.
    w.server.delete_as_user(m);
    w.connector.unreact(&room, &id, "✅").await.unwrap();
    w.stop().await;
}
