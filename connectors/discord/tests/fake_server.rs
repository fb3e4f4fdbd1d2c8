//! The local Discord itself, over raw HTTP and websocket (no serenity): the protocol details
//! serenity hides, so the fake is checked against the reference, not only against one client.
#![allow(clippy::unwrap_used)]

use civicbridge_testkit::discord::{DiscordServer, Fault, FaultRoute, ServerOptions};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

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

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Ws::Text(v.to_string())).await.unwrap();
}

fn identify(token: &str) -> Value {
    json!({"op": 2, "d": {"token": token, "intents": 1 | (1 << 9) | (1 << 15), "properties": {}}})
}

async fn dispatch(ws: &mut Socket) -> (String, u64, Value) {
    let f = recv(ws).await.unwrap();
    assert_eq!(f["op"], 0, "{f}");
    (
        f["t"].as_str().unwrap().to_owned(),
        f["s"].as_u64().unwrap(),
        f["d"].clone(),
    )
}

#[tokio::test]
async fn hello_identify_ready_guild_create_and_heartbeat_ack() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let mut ws = connect(&server).await;
    let hello = recv(&mut ws).await.unwrap();
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 41_250);
    send(&mut ws, identify(&server.token())).await;
    let (t, s, ready) = dispatch(&mut ws).await;
    assert_eq!((t.as_str(), s), ("READY", 1));
    assert_eq!(ready["v"], 10);
    assert!(ready["resume_gateway_url"]
        .as_str()
        .unwrap()
        .starts_with("ws://127.0.0.1:"));
    assert_eq!(ready["application"]["flags"], 0);
    let (t, s, g) = dispatch(&mut ws).await;
    assert_eq!((t.as_str(), s), ("GUILD_CREATE", 2));
    assert_eq!(g["channels"][0]["id"], channel.to_string());
    send(&mut ws, json!({"op": 1, "d": 2})).await;
    assert_eq!(recv(&mut ws).await.unwrap()["op"], 11);
    // A person posts: MESSAGE_CREATE with the next sequence number.
    let user = server.create_user("ada", None);
    let m = server.post_as_user(channel, user, "hi");
    let (t, s, d) = dispatch(&mut ws).await;
    assert_eq!((t.as_str(), s), ("MESSAGE_CREATE", 3));
    assert_eq!(
        (d["id"].as_str(), d["content"].as_str()),
        (Some(m.to_string().as_str()), Some("hi"))
    );
    assert_eq!(d["member"]["roles"], json!([]));
}

#[tokio::test]
async fn close_codes_for_bad_token_unknown_opcode_and_early_payloads() {
    let server = DiscordServer::start().await.unwrap();
    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, identify("wrong")).await;
    assert_eq!(recv(&mut ws).await, Err(4004), "authentication failed");

    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, json!({"op": 3, "d": {}})).await;
    assert_eq!(recv(&mut ws).await, Err(4003), "not authenticated");

    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, identify(&server.token())).await;
    dispatch(&mut ws).await;
    send(&mut ws, json!({"op": 99, "d": null})).await;
    assert_eq!(recv(&mut ws).await, Err(4001), "unknown opcode");

    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, identify(&server.token())).await;
    dispatch(&mut ws).await;
    send(&mut ws, identify(&server.token())).await;
    assert_eq!(recv(&mut ws).await, Err(4005), "already authenticated");
}

#[tokio::test]
async fn a_connection_that_stops_heartbeating_is_closed() {
    let server = DiscordServer::start_with(ServerOptions {
        heartbeat_ms: 200,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, identify(&server.token())).await;
    dispatch(&mut ws).await;
    let started = tokio::time::Instant::now();
    assert_eq!(recv(&mut ws).await, Err(4009), "session timed out");
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn resume_replays_exactly_what_was_missed_and_bad_sessions_are_invalid() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let user = server.create_user("ada", None);
    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(&mut ws, identify(&server.token())).await;
    let (_, _, ready) = dispatch(&mut ws).await;
    let session = ready["session_id"].as_str().unwrap().to_owned();
    dispatch(&mut ws).await; // GUILD_CREATE, s = 2
    let first = server.post_as_user(channel, user, "one");
    let (_, s, _) = dispatch(&mut ws).await;
    assert_eq!(s, 3);
    server.drop_gateway();
    assert_eq!(recv(&mut ws).await, Err(0), "dropped without a close frame");
    let missed: Vec<u64> = (0..3)
        .map(|i| server.post_as_user(channel, user, &format!("m{i}")))
        .collect();

    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": server.token(), "session_id": session, "seq": 3}}),
    )
    .await;
    let mut got = Vec::new();
    for expect_seq in 4..=6 {
        let (t, s, d) = dispatch(&mut ws).await;
        assert_eq!((t.as_str(), s), ("MESSAGE_CREATE", expect_seq));
        got.push(d["id"].as_str().unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(got, missed);
    assert!(!got.contains(&first));
    let (t, s, _) = dispatch(&mut ws).await;
    assert_eq!((t.as_str(), s), ("RESUMED", 7));
    assert_eq!(server.replayed(), 3);

    let mut ws = connect(&server).await;
    recv(&mut ws).await.unwrap();
    send(
        &mut ws,
        json!({"op": 6, "d": {"token": server.token(), "session_id": "nope", "seq": 1}}),
    )
    .await;
    let f = recv(&mut ws).await.unwrap();
    assert_eq!((f["op"].as_u64(), f["d"].as_bool()), (Some(9), Some(false)));
}

#[tokio::test]
async fn rest_errors_rate_limits_and_headers_look_like_discords() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v10/channels/{channel}/messages", server.api_base());
    let auth = format!("Bot {}", server.token());

    let r = client
        .post(&url)
        .body(r#"{"content":"x"}"#)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = client
        .post(&url)
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(r#"{"content":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(r.headers().contains_key(h), "missing {h}");
    }
    let m: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let id: u64 = m["id"].as_str().unwrap().parse().unwrap();
    assert!((id >> 22) > 0, "a snowflake");
    assert_eq!(m["author"]["id"], server.bot_id().to_string());

    server.fail_next(
        FaultRoute::CreateMessage,
        Fault::RateLimited {
            retry_after: 2.5,
            global: true,
        },
    );
    let r = client
        .post(&url)
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(r#"{"content":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "3");
    assert_eq!(r.headers()["x-ratelimit-global"], "true");
    assert_eq!(r.headers()["x-ratelimit-scope"], "global");
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        b,
        json!({"message": "You are being rate limited.", "retry_after": 2.5, "global": true})
    );

    let long = "x".repeat(2001);
    let r = client
        .post(&url)
        .header("authorization", &auth)
        .header("content-type", "application/json")
        .body(json!({"content": long}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(b["code"], 50035);
    assert_eq!(
        b["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );

    let r = client
        .get(format!(
            "{}/api/v10/channels/{channel}/messages/1",
            server.api_base()
        ))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(b, json!({"code": 10008, "message": "Unknown Message"}));

    let r = client
        .get(format!("{}/api/v10/gateway", server.api_base()))
        .send()
        .await
        .unwrap();
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(b["url"].as_str().unwrap().starts_with("ws://"));
}

#[tokio::test]
async fn the_http_control_api_acts_as_a_resident_and_reads_the_channel() {
    let server = DiscordServer::start().await.unwrap();
    let client = reqwest::Client::new();
    let base = server.api_base();
    let post = |path: &str, body: Value| {
        let req = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string());
        async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).unwrap_or(Value::Null)
        }
    };
    let g = post("/_control/guilds", json!({"name": "Council"})).await["id"].clone();
    let c = post("/_control/channels", json!({"guild": g, "name": "general"})).await["id"].clone();
    let u = post(
        "/_control/users",
        json!({"username": "ada", "global_name": "Ada"}),
    )
    .await["id"]
        .clone();
    let m = post(
        "/_control/messages",
        json!({"channel": c, "user": u, "text": "**hi** \\@everyone"}),
    )
    .await["id"]
        .clone();
    let r = client
        .get(format!(
            "{base}/_control/channels/{}/messages",
            c.as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    let list: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        list[0]["id"].as_u64().map(|i| i.to_string()),
        m.as_str().map(str::to_owned)
    );
    assert_eq!(list[0]["shown"], "hi @everyone");
    assert_eq!(list[0]["pings_everyone"], false);
    let m_id: u64 = m.as_str().unwrap().parse().unwrap();
    assert_eq!(server.message(m_id).unwrap().content, "**hi** \\@everyone");
}

/// Edits and webhook executions as Discord reads them: an edit may leave out `content` (the
/// text stays) but may not empty a message without attachments (50006, nothing changes), and
/// `?wait=` takes `true` or `1` in any case.
#[tokio::test]
async fn edits_keep_or_refuse_like_discord_and_wait_reads_booleans_like_discord() {
    let server = DiscordServer::start().await.unwrap();
    let guild = server.create_guild("G");
    let channel = server.create_channel(guild, "c");
    let client = reqwest::Client::new();
    let api = format!("{}/api/v10", server.api_base());
    let auth = format!("Bot {}", server.token());
    let call = |method: reqwest::Method, url: String, body: Value| {
        client
            .request(method, url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let r = call(
        reqwest::Method::POST,
        format!("{api}/channels/{channel}/messages"),
        json!({"content": "hi"}),
    )
    .await
    .unwrap();
    let m: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let msg = format!(
        "{api}/channels/{channel}/messages/{}",
        m["id"].as_str().unwrap()
    );

    let r = call(reqwest::Method::PATCH, msg.clone(), json!({"content": ""}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(
        b,
        json!({"code": 50006, "message": "Cannot send an empty message"})
    );
    let r = call(reqwest::Method::PATCH, msg.clone(), json!({"flags": 4}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(b["content"], "hi", "an edit without content keeps the text");

    let r = call(
        reqwest::Method::POST,
        format!("{api}/channels/{channel}/webhooks"),
        json!({"name": "bridge"}),
    )
    .await
    .unwrap();
    let w: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let hook = format!(
        "{api}/webhooks/{}/{}",
        w["id"].as_str().unwrap(),
        w["token"].as_str().unwrap()
    );
    for (wait, status) in [
        ("1", 200),
        ("True", 200),
        ("true", 200),
        ("0", 204),
        ("false", 204),
    ] {
        let r = client
            .post(format!("{hook}?wait={wait}"))
            .header("content-type", "application/json")
            .body(json!({"content": format!("wait={wait}")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "wait={wait}");
    }
    let r = client
        .post(&hook)
        .header("content-type", "application/json")
        .body(json!({"content": "no wait"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

#[tokio::test]
async fn the_http_control_api_closes_dms_and_reads_what_the_bot_sent() {
    let server = DiscordServer::start().await.unwrap();
    // A server in common: the bot may write to Ada until she closes her DMs.
    server.create_guild("Council");
    let ada = server.create_user("ada", None);
    let client = reqwest::Client::new();
    let base = server.api_base();
    let api = |path: &str, body: Value| {
        client
            .post(format!("{base}/api/v10{path}"))
            .header("authorization", format!("Bot {}", server.token()))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let dm: Value = api(
        "/users/@me/channels",
        json!({"recipient_id": ada.to_string()}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let messages = format!("/channels/{}/messages", dm["id"].as_str().unwrap());
    assert_eq!(
        api(&messages, json!({"content": "hello"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let close = client
        .post(format!("{base}/_control/users/{ada}/dms"))
        .header("content-type", "application/json")
        .body(json!({"open": false}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(close.status(), 204);
    assert_eq!(
        api(&messages, json!({"content": "again"}))
            .await
            .unwrap()
            .status(),
        403
    );
    let list: Value = client
        .get(format!("{base}/_control/users/{ada}/dms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["content"], "hello");
}
