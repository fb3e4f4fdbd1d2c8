//! The local Discord's gateway, over a raw websocket: what Discord sends (or refuses) depending
//! on the intents an IDENTIFY asks for.
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::discord::DiscordServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);
const GUILDS: u64 = 1;
const GUILD_MESSAGES: u64 = 1 << 9;
const MESSAGE_CONTENT: u64 = 1 << 15;

async fn connect(server: &DiscordServer) -> Socket {
    let url = format!(
        "{}/gateway?v=10&encoding=json",
        server.api_base().replacen("http", "ws", 1)
    );
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// The next frame: `Ok(json)` for text, `Err(close code)` for a close (0 if the stream ended).
async fn recv(ws: &mut Socket) -> Result<Value, u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Ws::Text(t))) => return Ok(serde_json::from_str(&t).unwrap()),
            Some(Ok(Ws::Close(f))) => return Err(f.map_or(0, |f| f.code.into())),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return Err(0),
        }
    }
}

/// Connects and identifies with `intents`; returns the socket after HELLO.
async fn identify(server: &DiscordServer, intents: u64) -> Socket {
    let mut ws = connect(server).await;
    assert_eq!(recv(&mut ws).await.unwrap()["op"], 10);
    let id = json!({"op": 2, "d": {"token": server.token(), "intents": intents, "properties": {}}});
    ws.send(Ws::Text(id.to_string())).await.unwrap();
    ws
}

/// The next dispatch named `t` (others are skipped).
async fn next_dispatch(ws: &mut Socket, t: &str) -> Value {
    loop {
        let f = recv(ws).await.unwrap();
        if f["op"] == 0 && f["t"] == t {
            return f["d"].clone();
        }
    }
}

#[tokio::test]
async fn without_message_content_only_mentions_and_own_messages_keep_their_content() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let ada = server.create_user("ada", None);
    let mut ws = identify(&server, GUILDS | GUILD_MESSAGES).await;
    next_dispatch(&mut ws, "GUILD_CREATE").await;

    server.upload_as_user(channel, ada, "secret", "a.txt", "text/plain", b"abc");
    let d = next_dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(
        (
            &d["content"],
            &d["attachments"],
            &d["embeds"],
            &d["components"]
        ),
        (&json!(""), &json!([]), &json!([]), &json!([]))
    );

    let bot = server.bot_id();
    server.post_as_user(channel, ada, &format!("<@{bot}> help"));
    let d = next_dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(
        d["content"],
        format!("<@{bot}> help"),
        "the bot is mentioned"
    );

    let client = reqwest::Client::new();
    let r = client
        .post(format!(
            "{}/api/v10/channels/{channel}/messages",
            server.api_base()
        ))
        .header("authorization", format!("Bot {}", server.token()))
        .header("content-type", "application/json")
        .body(json!({"content": "mine", "embeds": [{"title": "T"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d = next_dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(d["content"], "mine", "the bot's own message");
    assert_eq!(d["embeds"][0]["title"], "T");
}

#[tokio::test]
async fn embeds_are_dispatched_with_the_message() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let mut ws = identify(&server, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT).await;
    next_dispatch(&mut ws, "GUILD_CREATE").await;
    let (_, url) = server.create_foreign_webhook(channel, "Partner", server.bot_id());
    let r = reqwest::Client::new()
        .post(format!(
            "{}?wait=true",
            url.replacen("/api/", "/api/v10/", 1)
        ))
        .header("content-type", "application/json")
        .body(json!({"embeds": [{"description": "only an embed"}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let d = next_dispatch(&mut ws, "MESSAGE_CREATE").await;
    assert_eq!(d["content"], "");
    assert_eq!(
        d["embeds"],
        json!([{"description": "only an embed", "type": "rich"}])
    );
}

#[tokio::test]
async fn undefined_intents_close_4013_and_ungranted_privileged_ones_4014() {
    let server = DiscordServer::start().await.unwrap();
    let mut ws = identify(&server, GUILDS | (1 << 18)).await;
    assert_eq!(recv(&mut ws).await, Err(4013), "bit 18 is no intent");
    let mut ws = identify(&server, GUILDS | (1 << 40)).await;
    assert_eq!(recv(&mut ws).await, Err(4013));
    // The application was not granted Message Content.
    server.set_privileged_intents(1 << 1);
    let mut ws = identify(&server, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT).await;
    assert_eq!(recv(&mut ws).await, Err(4014));
    let mut ws = identify(&server, GUILDS | GUILD_MESSAGES).await;
    assert_eq!(next_dispatch(&mut ws, "READY").await["v"], 10);
    assert_eq!(server.gateway_counts().1, 1, "only the last one identified");
}

/// serenity identifies with `compress: true`: Discord then sends large payloads as zlib
/// streams in binary frames. GUILD_CREATE also names no Student Hub (`hub_type: null`).
#[tokio::test]
async fn payload_compression_sends_large_frames_as_zlib() {
    use std::io::Read;
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    for n in 0..20 {
        server.create_channel(guild, &format!("channel-{n}"));
    }
    let mut ws = connect(&server).await;
    assert_eq!(recv(&mut ws).await.unwrap()["op"], 10);
    let id = json!({"op": 2, "d": {"token": server.token(), "intents": GUILDS,
                    "properties": {}, "compress": true}});
    ws.send(Ws::Text(id.to_string())).await.unwrap();
    let guild_create = loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: Value = match frame {
            Ws::Binary(z) => {
                let mut text = String::new();
                flate2::read::ZlibDecoder::new(&z[..])
                    .read_to_string(&mut text)
                    .unwrap();
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["t"] == "GUILD_CREATE" {
                    break v;
                }
                v
            }
            Ws::Text(t) => serde_json::from_str(&t).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_ne!(v["t"], "GUILD_CREATE", "a large GUILD_CREATE is compressed");
    };
    assert_eq!(guild_create["d"]["hub_type"], Value::Null);
    assert!(guild_create["d"]
        .as_object()
        .unwrap()
        .contains_key("hub_type"));
    assert_eq!(guild_create["d"]["channels"].as_array().unwrap().len(), 20);
}

/// `compress=zlib-stream` in the URL: every frame is a piece of one zlib stream, ending in a
/// sync flush, which a client inflates with one context for the whole connection.
#[tokio::test]
async fn transport_compression_sends_one_zlib_stream() {
    let server = DiscordServer::start().await.unwrap();
    server.create_guild("G");
    let url = format!(
        "{}/gateway?v=10&encoding=json&compress=zlib-stream",
        server.api_base().replacen("http", "ws", 1)
    );
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let mut inflate = flate2::Decompress::new(true);
    let mut next = async |ws: &mut Socket| -> Value {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let Ws::Binary(z) = frame else {
            panic!("not binary: {frame:?}")
        };
        assert!(
            z.ends_with(&[0, 0, 0xff, 0xff]),
            "a sync flush ends each frame"
        );
        let mut out = Vec::with_capacity(z.len() * 20 + 1024);
        inflate
            .decompress_vec(&z, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        serde_json::from_slice(&out).unwrap()
    };
    assert_eq!(next(&mut ws).await["op"], 10);
    let id = json!({"op": 2, "d": {"token": server.token(), "intents": GUILDS, "properties": {}}});
    ws.send(Ws::Text(id.to_string())).await.unwrap();
    assert_eq!(next(&mut ws).await["t"], "READY");
    assert_eq!(next(&mut ws).await["t"], "GUILD_CREATE");
}

/// Reactions are dispatched only to sessions with GUILD_MESSAGE_REACTIONS (1 << 10): one
/// without it sees the messages around them but no MESSAGE_REACTION_ADD or _REMOVE.
#[tokio::test]
async fn reactions_reach_only_sessions_with_the_reactions_intent() {
    const GUILD_MESSAGE_REACTIONS: u64 = 1 << 10;
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let ada = server.create_user("ada", None);
    let base = GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT;
    let mut without = identify(&server, base).await;
    next_dispatch(&mut without, "GUILD_CREATE").await;
    let mut with = identify(&server, base | GUILD_MESSAGE_REACTIONS).await;
    next_dispatch(&mut with, "GUILD_CREATE").await;

    let m = server.post_as_user(channel, ada, "vote");
    server.react_as_user(m, ada, "👍");
    server.unreact_as_user(m, ada, "👍");
    let marker = server.post_as_user(channel, ada, "after the reactions");

    // With the intent: the add, then the removal, each naming the user and the emoji.
    let add = next_dispatch(&mut with, "MESSAGE_REACTION_ADD").await;
    let removed = next_dispatch(&mut with, "MESSAGE_REACTION_REMOVE").await;
    for d in [&add, &removed] {
        assert_eq!(d["user_id"], ada.to_string());
        assert_eq!(d["message_id"], m.to_string());
        assert_eq!(d["emoji"], json!({"id": null, "name": "👍"}));
    }
    assert_eq!(add["member"]["user"]["id"], ada.to_string());
    assert!(removed.get("member").is_none(), "a removal names no member");

    // Without: every dispatch up to the marker message is a message.
    let marker = marker.to_string();
    let mut seen = Vec::new();
    loop {
        let f = recv(&mut without).await.unwrap();
        if f["op"] != 0 {
            continue;
        }
        let t = f["t"].as_str().unwrap_or_default().to_owned();
        let done = t == "MESSAGE_CREATE" && f["d"]["id"] == marker.as_str();
        seen.push(t);
        if done {
            break;
        }
    }
    assert_eq!(seen, vec!["MESSAGE_CREATE", "MESSAGE_CREATE"]);
}

/// A DM reaches only sessions that asked for DIRECT_MESSAGES, as MESSAGE_CREATE without
/// `guild_id` or `member`, its content readable without MESSAGE_CONTENT (as Discord does for
/// DMs); the payload is checked against `discord-api-types`.
#[tokio::test]
async fn direct_messages_reach_only_sessions_with_the_direct_messages_intent() {
    const DIRECT_MESSAGES: u64 = 1 << 12;
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let ada = server.create_user("ada", None);
    let mut guild_only = identify(&server, GUILDS | GUILD_MESSAGES).await;
    next_dispatch(&mut guild_only, "GUILD_CREATE").await;
    let mut dms = identify(&server, GUILDS | DIRECT_MESSAGES).await;
    next_dispatch(&mut dms, "GUILD_CREATE").await;

    let dm = server.dm_as_user(ada, "a private word").unwrap();
    let marker = server.post_as_user(channel, ada, "in the room");

    let d = next_dispatch(&mut dms, "MESSAGE_CREATE").await;
    assert_eq!(d["id"], dm.to_string());
    assert_eq!(d["content"], "a private word");
    assert_eq!(d["channel_id"], server.dm_channel(ada).unwrap().to_string());
    assert!(
        d.get("guild_id").is_none() && d.get("member").is_none(),
        "{d}"
    );
    let first = next_dispatch(&mut guild_only, "MESSAGE_CREATE").await;
    assert_eq!(first["id"], marker.to_string(), "no DM without the intent");

    civicbridge_testkit::shapes::check(
        "discord_dm_dispatch",
        &format!(
            "import type {{ GatewayMessageCreateDispatchData }} from \"discord-api-types/v10\";\n\
             type Loose<T> = T extends string ? string : T extends number ? number : T extends boolean | null | undefined ? T \
               : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? {{ [K in keyof T]: Loose<T[K]> }} : T;\n\
             export const dm: Loose<GatewayMessageCreateDispatchData> = {d};\n"
        ),
    );
}
