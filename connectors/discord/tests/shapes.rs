//! Every kind of dispatch the local Discord gateway sends, checked against `discord-api-types`
//! (see `civicbridge_testkit::shapes`): residents and the bridge do what they do (messages,
//! replies, files, edits, deletions, reactions added and removed, threads, forum posts, webhook
//! posts), the real client reads it all, and each frame the server sent becomes a TypeScript
//! constant typed `GatewayDispatchPayload`, which `tsc --strict` must accept.
//!
//! And every REST answer the server sends (`DiscordServer::responses`, recorded by
//! `rest/recorder.rs` in the server), typed as the route's `REST…Result` or `RESTError`.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, Outgoing, Persona, RoomId};
use civicbridge_testkit::shapes::check;
use common::world;

/// A 3×2 PNG, so the server reports an image attachment's width and height.
const PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0,
    0, 0, 18, 22, 241, 77, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 56, 33, 39, 7, 65, 12, 112,
    22, 0, 65, 0, 6, 25, 60, 69, 65, 150, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gateway_dispatch_matches_discord_api_types() {
    let w = world().await;
    let root = w.server.post_as_user(w.channel, w.ada, "Hello council");
    w.server.reply_as_user(w.channel, w.bob, root, "an answer");
    w.server
        .upload_as_user(w.channel, w.ada, "the map", "map.png", "image/png", &PNG);
    w.server.edit_as_user(root, "Hello council, edited");
    w.server.react_as_user(root, w.bob, "👍");
    w.server.unreact_as_user(root, w.bob, "👍");
    let thread = w
        .server
        .start_thread_as_user(w.channel, root, w.ada, "Roads");
    w.server.post_as_user(thread, w.bob, "in the thread");
    w.server
        .forum_post_as_user(w.forum, w.ada, "Parks", "more benches");
    let gone = w.server.post_as_user(w.channel, w.bob, "oops");
    w.server.delete_as_user(gone);
    // The bridge posts, as a persona (webhook) and as itself.
    let room = RoomId::new(w.channel.to_string());
    let mut out = Outgoing::text(
        room.clone(),
        "shape-1",
        "Sam (Matrix): the hall opens at nine",
    );
    out.persona = Some(Persona {
        display_name: "Sam".into(),
        avatar_url: None,
        platform_label: "Matrix".into(),
    });
    w.connector.send(&out).await.unwrap();
    w.connector
        .send(&Outgoing::text(room.clone(), "shape-2", "a notice"))
        .await
        .unwrap();
    // The bot reacts and takes its reaction back.
    let root_id = civicbridge_api::RemoteMsgId::new(root.to_string());
    w.connector.react(&room, &root_id, "✅").await.unwrap();
    w.connector.unreact(&room, &root_id, "✅").await.unwrap();
    w.all_dispatches_handled().await;

    let frames = w.server.dispatch_frames();
    let mut kinds: Vec<String> = Vec::new();
    // Each frame's `d` is checked as the typings' data of its `t`. The typings use TypeScript
    // enums (`t`, `op`, every flags field, locales), which JSON text cannot be typed as, so enum
    // types are read as the numbers or strings they stand for (`Loose`); field names, required
    // fields and primitive types are checked as written. `_trace` is left out: Discord sends it
    // in READY, the typings do not list it.
    let mut ts = String::from(
        "import type { GatewayDispatchPayload } from \"discord-api-types/v10\";\n\
         type Loose<T> = T extends string ? string : T extends number ? number : T extends boolean | null | undefined ? T \
           : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;\n\
         type Data = { [P in GatewayDispatchPayload as `${P[\"t\"]}`]: Loose<P[\"d\"]> };\n",
    );
    for (i, f) in frames.iter().enumerate() {
        let t = f["t"].as_str().unwrap_or_default().to_owned();
        let mut d = f["d"].clone();
        if let Some(m) = d.as_object_mut() {
            m.remove("_trace");
        }
        ts.push_str(&format!("export const d{i}: Data[\"{t}\"] = {d};\n"));
        if !kinds.contains(&t) {
            kinds.push(t);
        }
    }
    for expected in [
        "READY",
        "GUILD_CREATE",
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "THREAD_CREATE",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "no {expected} in {kinds:?}"
        );
    }
    check("discord_gateway", &ts);
}

/// The typing of a REST answer to `method path` in `discord-api-types`, by route. Panics on a
/// route it does not know, so a new route of the server gets its typing here.
fn answer_type(method: &str, path: &str, query: Option<&str>) -> &'static str {
    let rest = path.strip_prefix("/api/v10").unwrap_or(path);
    let mut template = Vec::new();
    let mut prev = "";
    for (i, seg) in rest.split('/').enumerate() {
        let t = if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            "#"
        } else if prev == "#" && i == 3 && rest.starts_with("/webhooks/") {
            "TOKEN"
        } else {
            seg
        };
        template.push(t);
        prev = t;
    }
    let template = template.join("/");
    let wait = query.is_some_and(|q| q.split('&').any(|p| p == "wait=true"));
    match (method, template.as_str()) {
        ("GET", "/gateway") => "RESTGetAPIGatewayResult",
        ("GET", "/gateway/bot") => "RESTGetAPIGatewayBotResult",
        ("GET", "/users/@me") => "RESTGetAPICurrentUserResult",
        ("POST", "/users/@me/channels") => "RESTPostAPICurrentUserCreateDMChannelResult",
        ("GET", "/channels/#") => "RESTGetAPIChannelResult",
        ("GET", "/channels/#/messages") => "RESTGetAPIChannelMessagesResult",
        ("POST", "/channels/#/messages") => "RESTPostAPIChannelMessageResult",
        ("GET", "/channels/#/messages/#") => "RESTGetAPIChannelMessageResult",
        ("PATCH", "/channels/#/messages/#") => "RESTPatchAPIChannelMessageResult",
        ("POST", "/channels/#/messages/#/threads") => "RESTPostAPIChannelMessagesThreadsResult",
        // Discord documents "a channel, with a nested message object" for a forum post; the
        // typings leave the message out.
        ("POST", "/channels/#/threads") => {
            "RESTPostAPIChannelThreadsResult & { message: APIMessage }"
        }
        ("GET", "/channels/#/webhooks") => "RESTGetAPIChannelWebhooksResult",
        ("POST", "/channels/#/webhooks") => "RESTPostAPIChannelWebhookResult",
        ("GET", "/webhooks/#") => "RESTGetAPIWebhookResult",
        ("GET", "/webhooks/#/TOKEN") => "RESTGetAPIWebhookWithTokenResult",
        ("POST", "/webhooks/#/TOKEN") if wait => "RESTPostAPIWebhookWithTokenWaitResult",
        ("GET", "/webhooks/#/TOKEN/messages/#") => "RESTGetAPIWebhookWithTokenMessageResult",
        ("PATCH", "/webhooks/#/TOKEN/messages/#") => "RESTPatchAPIWebhookWithTokenMessageResult",
        _ => panic!("no typing for the answer to {method} {template}"),
    }
}

/// Every REST answer of the local Discord, in a scenario the real client drives (the connector
/// sending, editing, threading, posting to a forum, reacting, fetching, refused; serenity's
/// `Http` for the reads the connector does not make), checked against `discord-api-types`: each
/// JSON body is typed as the route's `REST…Result`, an error as `RESTError` (a 429 as
/// `RESTRateLimit`), and `tsc --strict` must accept them all. 204s have no body to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_answer_matches_discord_api_types() {
    use civicbridge_api::ThreadTarget;
    use serenity::all::{ChannelId, MessageId, WebhookId};
    let mut w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let sam = Persona {
        display_name: "Sam".into(),
        avatar_url: None,
        platform_label: "Matrix".into(),
    };
    w.connector.join(&room).await.unwrap();
    assert!(w.connector.join(&RoomId::new("1")).await.is_err());
    // As the bot and as a persona (webhook): post, edit.
    let notice = w
        .connector
        .send(&Outgoing::text(room.clone(), "rest-1", "a notice"))
        .await
        .unwrap()
        .ids[0]
        .clone();
    let edited = Outgoing::text(room.clone(), "rest-1e", "a notice, edited");
    w.connector.edit(&room, &notice, &edited).await.unwrap();
    let mut out = Outgoing::text(room.clone(), "rest-2", "the hall opens at nine");
    out.persona = Some(sam.clone());
    let relayed = w.connector.send(&out).await.unwrap().ids[0].clone();
    let mut edit = Outgoing::text(room.clone(), "rest-2e", "the hall opens at ten");
    edit.persona = Some(sam);
    w.connector.edit(&room, &relayed, &edit).await.unwrap();
    // A thread from the notice, a forum post.
    let mut threaded = Outgoing::text(room.clone(), "rest-3", "in a thread");
    threaded.thread = Some(ThreadTarget::StartFrom(notice.clone()));
    w.connector.send(&threaded).await.unwrap();
    let forum = RoomId::new(w.forum.to_string());
    w.connector
        .send(&Outgoing::text(forum, "rest-4", "a post"))
        .await
        .unwrap();
    // Reactions, and one Discord refuses.
    w.connector.react(&room, &notice, "✅").await.unwrap();
    w.connector.unreact(&room, &notice, "✅").await.unwrap();
    assert!(w.connector.react(&room, &notice, "a").await.is_err());
    // An attachment fetched after its link expired: the message is read again.
    let up = w
        .server
        .upload_as_user(w.channel, w.ada, "the map", "map.png", "image/png", &PNG);
    let e = w.message(up).await;
    let civicbridge_api::EventKind::Message(m) = &e.kind else {
        panic!("{e:?}")
    };
    w.server.expire_attachment_urls();
    w.connector.fetch(&m.attachments[0]).await.unwrap();

    // Reads the connector does not make, through serenity's Http.
    let http = serenity::http::HttpBuilder::new(w.server.token())
        .proxy(w.server.api_base())
        .ratelimiter_disabled(true)
        .build();
    let channel = ChannelId::new(w.channel);
    http.get_gateway().await.unwrap();
    http.get_bot_gateway().await.unwrap();
    http.get_current_user().await.unwrap();
    http.get_messages(channel, None, Some(10)).await.unwrap();
    http.get_message(channel, MessageId::new(up)).await.unwrap();
    assert!(http.get_message(channel, MessageId::new(1)).await.is_err());
    http.get_channel_webhooks(channel).await.unwrap();
    let (hook, url) = w.server.create_foreign_webhook(w.channel, "Partner", w.ada);
    let token = url.rsplit('/').next().unwrap().to_owned();
    http.get_webhook(WebhookId::new(hook)).await.unwrap();
    http.get_webhook_with_token(WebhookId::new(hook), &token)
        .await
        .unwrap();
    let posted = http
        .execute_webhook(
            WebhookId::new(hook),
            None,
            &token,
            true,
            Vec::new(),
            &serde_json::json!({"content": "from a partner"}),
        )
        .await
        .unwrap()
        .unwrap();
    http.get_webhook_message(WebhookId::new(hook), None, &token, posted.id)
        .await
        .unwrap();
    // Direct messages: one that lands (opening the DM channel), one refused (DMs closed).
    let tell = |to: u64, txn: &str| civicbridge_api::Private {
        to: civicbridge_api::RemoteUserId::new(to.to_string()),
        met_in: room.clone(),
        txn_id: txn.into(),
        text: "Your message was held.".into(),
        files: Vec::new(),
    };
    w.connector.tell(&tell(w.ada, "rest-5")).await.unwrap();
    w.server.close_dms(w.bob);
    assert!(w.connector.tell(&tell(w.bob, "rest-6")).await.is_err());
    // A form error: a reply to a message that does not exist.
    let bad = serde_json::json!({"content": "x", "message_reference": {"message_id": "1"}});
    assert!(http.send_message(channel, Vec::new(), &bad).await.is_err());

    let mut ts = String::from(
        "import type * as D from \"discord-api-types/v10\";\n\
         type Loose<T> = T extends string ? string : T extends number ? number : T extends boolean | null | undefined ? T \
           : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;\n",
    );
    let mut routes: Vec<String> = Vec::new();
    for (i, r) in w.server.responses().iter().enumerate() {
        if r.body.is_null() {
            continue;
        }
        let ty = match r.status {
            429 => "RESTRateLimit".to_owned(),
            400.. => "RESTError".to_owned(),
            _ => answer_type(&r.method, &r.path, r.query.as_deref()).to_owned(),
        };
        let qualified = ty
            .split(' ')
            .map(|t| {
                if t.starts_with("REST") || t.starts_with("API") {
                    format!("D.{t}")
                } else {
                    t.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        ts.push_str(&format!(
            "// {} {} → {}\nexport const r{i}: Loose<{qualified}> = {};\n",
            r.method, r.path, r.status, r.body
        ));
        if !routes.contains(&ty) {
            routes.push(ty);
        }
    }
    for expected in [
        "RESTPostAPIChannelMessageResult",
        "RESTPatchAPIChannelMessageResult",
        "RESTPostAPIWebhookWithTokenWaitResult",
        "RESTPatchAPIWebhookWithTokenMessageResult",
        "RESTGetAPIChannelResult",
        "RESTGetAPIChannelMessageResult",
        "RESTPostAPIChannelMessagesThreadsResult",
        "RESTPostAPICurrentUserCreateDMChannelResult",
        "RESTError",
    ] {
        assert!(
            routes.iter().any(|r| r == expected),
            "no {expected} answer in {routes:?}"
        );
    }
    check("discord_rest", &ts);
    w.stop().await;
}
