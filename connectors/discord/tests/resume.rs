//! Dropped connections: serenity resumes and the server replays what was missed, so nothing is
//! lost or repeated; an invalid session makes it identify again; heartbeats keep it alive.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{EventKind, Health};
use civicbridge_testkit::discord::ServerOptions;
use common::{world, world_with, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_websocket_mid_burst_loses_and_duplicates_nothing() {
    let mut w = world().await;
    let mut posted = Vec::new();
    for i in 0..30 {
        posted.push(
            w.server
                .post_as_user(w.channel, w.ada, &format!("burst {i}")),
        );
    }
    // Cut the connection while the first half may still be in flight, and keep the network
    // down while the second half is posted.
    w.server.hold_gateway(true);
    w.server.drop_gateway();
    let server = &w.server;
    civicbridge_api::testing::wait_until(WAIT, "the connection is gone", || {
        server.live_connections() == 0
    })
    .await;
    for i in 30..60 {
        posted.push(
            w.server
                .post_as_user(w.channel, w.ada, &format!("burst {i}")),
        );
    }
    w.server.hold_gateway(false);
    let mut seen = Vec::new();
    while seen.len() < posted.len() {
        let e = w.next().await;
        if let EventKind::Message(m) = &e.kind {
            seen.push(m.id.as_str().parse::<u64>().unwrap());
        }
    }
    assert_eq!(seen, posted, "every message once, in order");
    let (connections, identifies, resumes, _) = w.server.gateway_counts();
    assert_eq!((identifies, resumes), (1, 1), "resumed, not re-identified");
    assert_eq!(connections, 2);
    assert!(
        w.server.replayed() >= 30,
        "the messages posted after the drop were replayed: {}",
        w.server.replayed()
    );
    // Nothing more is pending: the next event is a fresh marker, not a duplicate.
    let marker = w.server.post_as_user(w.channel, w.ada, "marker");
    let e = w.next().await;
    assert!(
        matches!(&e.kind, EventKind::Message(m) if m.id.as_str() == marker.to_string()),
        "{e:?}"
    );
    w.all_dispatches_handled().await;
    w.stop().await;
}

/// The next health report that is `Up` (with `up`) or not.
async fn next_health(w: &mut common::World, up: bool) -> Health {
    loop {
        let h = tokio::time::timeout(WAIT, w.health.recv())
            .await
            .expect("a health report in time")
            .expect("the connector keeps its sink");
        if (h == Health::Up) == up {
            return h;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_gateway_is_reported_down_until_it_is_back() {
    // Heartbeats every second: a dead connection shows within a couple of them.
    let opts = ServerOptions {
        heartbeat_ms: 1000,
        ..ServerOptions::default()
    };
    let mut w = world_with(opts, |_| {}).await;
    while let Ok(h) = w.health.try_recv() {
        assert_eq!(h, Health::Up, "a first connection is no outage");
    }
    w.server.hold_gateway(true);
    w.server.drop_gateway();
    let down = next_health(&mut w, false).await;
    assert!(
        matches!(&down, Health::Down(why) if why.starts_with("the gateway connection dropped")),
        "{down:?}"
    );
    w.server.hold_gateway(false);
    next_health(&mut w, true).await;
    let m = w.server.post_as_user(w.channel, w.ada, "after the outage");
    w.message(m).await;
    // Not `stop`: with heartbeats this short serenity may give up a resume for a new session,
    // and what the server sent on the abandoned connection never reaches a handler.
    w.shutdown.cancel();
    let r = tokio::time::timeout(WAIT, w.run).await;
    assert!(matches!(r, Ok(Ok(Ok(())))), "run stops cleanly: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_code_that_allows_resuming_resumes() {
    let mut w = world().await;
    w.server.close_gateway(4000);
    let m = w
        .server
        .post_as_user(w.channel, w.ada, "while reconnecting");
    let e = w.message(m).await;
    assert!(!e.sender.is_bridge);
    let (_, identifies, resumes, _) = w.server.gateway_counts();
    assert_eq!((identifies, resumes), (1, 1));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_session_makes_serenity_identify_again() {
    let mut w = world().await;
    w.server.invalid_session();
    let server = &w.server;
    civicbridge_api::testing::wait_until(WAIT, "a second IDENTIFY", || {
        server.gateway_counts().1 >= 2
    })
    .await;
    let m = w
        .server
        .post_as_user(w.channel, w.ada, "after the new session");
    let e = w.message(m).await;
    assert_eq!(e.room.room.as_str(), w.channel.to_string());
    let c = w.connector.clone();
    civicbridge_api::testing::wait_until(WAIT, "a second READY handled", || {
        c.handler_counts().get("READY").copied() == Some(2)
    })
    .await;
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_the_connection_alive() {
    let w = world_with(
        ServerOptions {
            heartbeat_ms: 250,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let server = &w.server;
    civicbridge_api::testing::wait_until(WAIT, "six heartbeats", || server.gateway_counts().3 >= 6)
        .await;
    let (connections, identifies, resumes, _) = w.server.gateway_counts();
    assert_eq!(
        (connections, identifies, resumes),
        (1, 1, 0),
        "never timed out"
    );
    w.stop().await;
}
