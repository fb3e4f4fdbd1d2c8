//! Rate limits: the local Discord's buckets over raw HTTP, and the production path, serenity's
//! rate limiter on, which always calls https://discord.com. A proxy plays discord.com for the
//! local Discord (TLS with a test CA the client trusts), and the local Discord enforces its rate
//! limits, so this shows serenity waiting out a bucket instead of drawing a 429.
#![allow(clippy::unwrap_used)]

use civicbridge_api::{Connector, Outgoing, RoomId};
use civicbridge_discord::{DiscordConfig, DiscordConnector};
use civicbridge_testkit::discord::proxy::TEST_CA_PEM;
use civicbridge_testkit::discord::{DiscordServer, ServerOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenitys_rate_limiter_waits_out_a_bucket_instead_of_drawing_a_429() {
    let server = DiscordServer::start_with(ServerOptions {
        enforce_rate_limits: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let guild = server.create_guild("Council");
    let channel = server.create_channel(guild, "general");
    let proxy = server.start_proxy().await.unwrap();
    let client = reqwest::Client::builder()
        .proxy(reqwest::Proxy::https(proxy.url()).unwrap())
        .add_root_certificate(reqwest::Certificate::from_pem(TEST_CA_PEM.as_bytes()).unwrap())
        .build()
        .unwrap();
    // The production settings: discord.com, serenity's rate limiter on.
    let mut cfg = DiscordConfig::new(server.token());
    assert!(cfg.ratelimiter && cfg.api_base.is_none());
    cfg.use_webhooks = false;
    let connector = DiscordConnector::with_client(cfg, client).unwrap();

    // Seven messages into a bucket of five per five seconds.
    let room = RoomId::new(channel.to_string());
    for n in 0..7 {
        let out = Outgoing::text(room.clone(), format!("t{n}"), format!("message {n}"));
        connector.send(&out).await.unwrap();
    }
    let requests = server.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .collect();
    assert_eq!(posts.len(), 7, "{requests:?}");
    assert!(
        requests.iter().all(|r| r.status != 429),
        "serenity waited for the bucket to reset: {requests:?}"
    );
    let texts: Vec<String> = server
        .bot_messages(channel)
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(texts.len(), 7);
    assert_eq!(texts[6], "message 6");
}

#[tokio::test]
async fn buckets_count_down_and_an_exhausted_one_answers_429() {
    let server = DiscordServer::start_with(ServerOptions {
        enforce_rate_limits: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let guild = server.create_guild("G");
    let (a, b) = (
        server.create_channel(guild, "a"),
        server.create_channel(guild, "b"),
    );
    let client = reqwest::Client::new();
    let post = |channel: u64| {
        client
            .post(format!(
                "{}/api/v10/channels/{channel}/messages",
                server.api_base()
            ))
            .header("authorization", format!("Bot {}", server.token()))
            .header("content-type", "application/json")
            .body(r#"{"content":"hi"}"#)
            .send()
    };
    let header = |r: &reqwest::Response, k: &str| {
        r.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut bucket = None;
    for left in (0..5).rev() {
        let r = post(a).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit"), "5");
        assert_eq!(header(&r, "x-ratelimit-remaining"), left.to_string());
        let after: f64 = header(&r, "x-ratelimit-reset-after").parse().unwrap();
        assert!(after > 0.0 && after <= 5.0, "{after}");
        let reset: f64 = header(&r, "x-ratelimit-reset").parse().unwrap();
        assert!(reset > 1.7e9, "{reset}");
        let id = header(&r, "x-ratelimit-bucket");
        assert_eq!(bucket.get_or_insert(id.clone()), &id, "one bucket");
    }
    let r = post(a).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-scope"), "user");
    assert_eq!(header(&r, "x-ratelimit-remaining"), "0");
    let retry: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    let body: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(body["message"], "You are being rate limited.");
    assert_eq!(body["global"], false);
    let retry_after = body["retry_after"].as_f64().unwrap();
    assert!(retry_after > 0.0 && retry_after <= 5.0, "{retry_after}");
    // Another channel is another bucket (with the same id), and nothing was posted by the 429.
    let r = post(b).await.unwrap();
    assert_eq!(
        (r.status().as_u16(), header(&r, "x-ratelimit-remaining")),
        (200, "4".to_owned())
    );
    assert_eq!(server.messages_in(a).len(), 5);
}
