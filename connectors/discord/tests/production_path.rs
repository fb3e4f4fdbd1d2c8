//! The production path: serenity's rate limiter on, which always calls https://discord.com. A
//! proxy plays discord.com for the local Discord (TLS with a test CA the client trusts), and the
//! local Discord enforces its rate limits, so this shows serenity waiting out a bucket instead
//! of drawing a 429.
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
