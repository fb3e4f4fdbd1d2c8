//! Failures are classified for the outbox, and sends are paced to Telegram's limits.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, ConnectorError, MemoryState, Outgoing, RichText, RoomId};
use civicbridge_telegram::{PacingConfig, TelegramConnector};
use civicbridge_testkit::telegram::{Fault, TelegramServer};
use common::{config, connector, ADA};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

fn out(chat: i64, text: &str) -> Outgoing {
    Outgoing::text(RoomId::new(chat.to_string()), "t", RichText::plain(text))
}

#[tokio::test]
async fn three_429s_then_success_delivers_exactly_once_after_the_advertised_waits() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);
    server.fail_next(3, Fault::TooManyRequests { retry_after: 1 });

    // Act as the outbox: on RateLimited, wait what Telegram said, then retry the same job.
    let start = Instant::now();
    let mut waits = Vec::new();
    let mut attempts = Vec::new();
    let receipt = loop {
        attempts.push(Instant::now());
        match conn.send(&out(chat, "burst")).await {
            Ok(r) => break r,
            Err(ConnectorError::RateLimited { retry_after }) => {
                waits.push(retry_after);
                assert!(
                    server.bot_messages(chat).is_empty(),
                    "nothing posted by a 429"
                );
                tokio::time::sleep(retry_after).await;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    };
    assert_eq!(waits, vec![Duration::from_secs(1); 3]);
    for pair in attempts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_secs(1),
            "retried before retry_after"
        );
    }
    assert!(start.elapsed() >= Duration::from_secs(3));
    let shown = server.bot_messages(chat);
    assert_eq!(shown.len(), 1, "delivered exactly once");
    assert_eq!(receipt.ids.len(), 1);
    assert_eq!(receipt.ids[0].as_str(), shown[0].id.to_string());
}

#[tokio::test]
async fn permanent_failures_are_rejected_with_telegrams_description() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);

    let e = conn.send(&out(-100_999, "x")).await.unwrap_err();
    assert_eq!(
        e,
        ConnectorError::Rejected("Bad Request: chat not found".into())
    );

    let r = conn.send(&out(chat, "old")).await.unwrap();
    server.age_message(chat, r.ids[0].as_str().parse().unwrap(), 49 * 3600);
    let e = conn
        .delete(&RoomId::new(chat.to_string()), &r.ids[0])
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ConnectorError::Rejected("Bad Request: message can't be deleted".into())
    );

    server.kick_bot(chat);
    let e = conn.send(&out(chat, "x")).await.unwrap_err();
    assert_eq!(
        e,
        ConnectorError::Rejected("Forbidden: bot was kicked from the supergroup chat".into())
    );
}

#[tokio::test]
async fn network_failures_and_server_errors_are_transient() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    let conn = connector(&server);

    server.fail_next(1, Fault::DropConnection);
    let e = conn.send(&out(chat, "x")).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Transient(_)), "{e:?}");
    assert!(
        !e.to_string().contains(server.token()),
        "errors never carry the token: {e}"
    );

    // teloxide itself waits 10 s before reading a 5xx answer.
    server.fail_next(1, Fault::ServerError);
    let e = conn.send(&out(chat, "x")).await.unwrap_err();
    assert_eq!(e, ConnectorError::Transient("Internal Server Error".into()));

    server.fail_next(1, Fault::Slow(Duration::from_millis(300)));
    let t = Instant::now();
    conn.send(&out(chat, "slow but fine")).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        server.bot_messages(chat).len(),
        1,
        "only the successful send posted"
    );
}

#[tokio::test]
async fn a_wrong_token_stops_run_with_auth() {
    let server = TelegramServer::start().await;
    let mut c = config(&server);
    c.token = "123:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into();
    let conn = Arc::new(TelegramConnector::new(c).unwrap());
    let r = common::run(conn, Arc::new(MemoryState::default()));
    let res = tokio::time::timeout(common::WAIT, r.task)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(res, Err(ConnectorError::Auth(_))), "{res:?}");
}

#[tokio::test]
async fn polling_rides_out_faults_without_losing_updates() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    server.fail_method("getUpdates", 1, Fault::DropConnection);
    server.fail_method("getUpdates", 1, Fault::TooManyRequests { retry_after: 1 });
    let id = server.post_as_user(chat, ADA, "still here").unwrap();
    let mut r = common::run(connector(&server), Arc::new(MemoryState::default()));
    let s = r.next("the message after two failed polls").await;
    assert!(
        matches!(&s.event.kind, civicbridge_api::EventKind::Message(m) if m.id.as_str() == id.to_string())
    );
    s.ack.send(()).unwrap();
    r.stop().await;
}

#[tokio::test]
async fn a_burst_is_paced_instead_of_drawing_429s() {
    let server = TelegramServer::start().await;
    let chat = server.create_group("Residents");
    // The server enforces a flood limit; unpaced, the second post is refused.
    server.set_flood_interval(Some(Duration::from_secs(5)));
    let unpaced = connector(&server);
    unpaced.send(&out(chat, "a")).await.unwrap();
    let e = unpaced.send(&out(chat, "b")).await.unwrap_err();
    assert!(matches!(e, ConnectorError::RateLimited { .. }), "{e:?}");

    // Paced a little slower than the server's limit (the margin absorbs request jitter), a
    // burst goes through without a single 429.
    server.set_flood_interval(Some(Duration::from_millis(250)));
    let other = server.create_group("Other");
    let mut c = config(&server);
    c.pacing = PacingConfig {
        per_chat_interval_ms: 400,
        group_per_minute: 20,
    };
    let paced = TelegramConnector::new(c).unwrap();
    let start = Instant::now();
    for i in 0..4 {
        paced.send(&out(other, &format!("m{i}"))).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(1200),
        "three waits of 400 ms"
    );
    let shown = server.bot_messages(other);
    assert_eq!(shown.len(), 4);
    for pair in shown.windows(2) {
        assert!(
            pair[1].at - pair[0].at >= Duration::from_millis(290),
            "{:?}",
            pair[1].at - pair[0].at
        );
    }
}
