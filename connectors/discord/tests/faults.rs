//! Errors map to what the outbox should do, with Discord's own numbers and messages; a 429 then a
//! retry delivers exactly once.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, ConnectorError, Outgoing, Persona, RemoteMsgId, RoomId};
use civicbridge_testkit::discord::{Fault, FaultRoute};
use common::world;
use std::time::Duration;

fn persona() -> Persona {
    Persona {
        display_name: "Ada".into(),
        avatar_url: None,
        platform_label: "Telegram".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_then_success_delivers_once() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    for (route, with_persona) in [
        (FaultRoute::CreateMessage, false),
        (FaultRoute::ExecuteWebhook, true),
    ] {
        let mut out = Outgoing::text(room.clone(), format!("rl-{with_persona}"), "once only");
        if with_persona {
            out.persona = Some(persona());
            // Make the webhook first, so the fault hits the execute call.
            let mut warm = out.clone();
            warm.text = "warm-up".into();
            w.connector.send(&warm).await.unwrap();
        }
        w.server.fail_next(
            route,
            Fault::RateLimited {
                retry_after: 1.25,
                global: false,
            },
        );
        let err = w.connector.send(&out).await.unwrap_err();
        assert_eq!(
            err,
            ConnectorError::RateLimited {
                retry_after: Duration::from_millis(1250)
            }
        );
        // The outbox retries after retry_after; here, right away.
        w.connector.send(&out).await.unwrap();
        let shown: Vec<String> = w
            .server
            .messages_in(w.channel)
            .into_iter()
            .filter(|m| !m.deleted)
            .map(|m| m.shown)
            .collect();
        assert_eq!(
            shown.iter().filter(|s| *s == "once only").count(),
            1,
            "{route:?}: {shown:?}"
        );
        let last = w.server.requests().into_iter().rev().nth(1).unwrap();
        assert_eq!(last.status, 429);
        // Clear for the next round.
        for m in w.server.messages_in(w.channel) {
            w.server.delete_as_user(m.id);
        }
    }
    // A global limit is a rate limit too.
    w.server.fail_next(
        FaultRoute::CreateMessage,
        Fault::RateLimited {
            retry_after: 0.5,
            global: true,
        },
    );
    let err = w
        .connector
        .send(&Outgoing::text(room, "g", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectorError::RateLimited {
            retry_after: Duration::from_millis(500)
        }
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_transient_and_refusals_are_rejections_with_discords_message() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    w.server
        .fail_next(FaultRoute::CreateMessage, Fault::ServerError);
    assert!(matches!(
        w.connector
            .send(&Outgoing::text(room.clone(), "a", "x"))
            .await,
        Err(ConnectorError::Transient(_))
    ));

    w.server.fail_next(
        FaultRoute::CreateMessage,
        Fault::Api {
            status: 403,
            code: 50013,
            message: "Missing Permissions".into(),
        },
    );
    let e = w
        .connector
        .send(&Outgoing::text(room.clone(), "b", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("Missing Permissions") && m.contains("50013")),
        "{e:?}"
    );

    // Real refusals from the server, not injected ones:
    // an unknown channel (404 / 10003),
    let e = w
        .connector
        .send(&Outgoing::text(RoomId::new("123456789"), "c", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("Unknown Channel")),
        "{e:?}"
    );
    // a reply to a message deleted meanwhile still posts (fail_if_not_exists = false),
    let mut out = Outgoing::text(room.clone(), "d", "answer to a deleted message");
    out.reply_to = Some(RemoteMsgId::new("42"));
    let r = w.connector.send(&out).await.unwrap();
    let m = w
        .server
        .message(r.ids[0].as_str().parse().unwrap())
        .unwrap();
    assert_eq!(m.reference, None);
    // an invalid form body (400 / 50035),
    w.server.fail_next(
        FaultRoute::CreateMessage,
        Fault::Api {
            status: 400,
            code: 50035,
            message: "Invalid Form Body".into(),
        },
    );
    let e = w
        .connector
        .send(&Outgoing::text(room.clone(), "d2", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("Invalid Form Body")),
        "{e:?}"
    );
    // an edit of someone else's message (403 / 50005).
    let theirs = w.server.post_as_user(w.channel, w.ada, "mine");
    let e = w
        .connector
        .edit(
            &room,
            &RemoteMsgId::new(theirs.to_string()),
            &Outgoing::text(room.clone(), "e", "hijack"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Rejected(m) if m.contains("authored by another user")),
        "{e:?}"
    );
    // A bad token is an auth failure.
    let mut cfg = common::config(&w.server);
    cfg.token = "wrong".into();
    let bad = civicbridge_discord::DiscordConnector::new(cfg).unwrap();
    assert!(matches!(
        bad.send(&Outgoing::text(room, "f", "x")).await,
        Err(ConnectorError::Auth(_))
    ));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_later_part_takes_back_the_earlier_ones() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let text: String = "word ".repeat(500);
    let out = Outgoing::text(room.clone(), "p", text.trim());
    // The first part posts, the second gets a 500.
    w.server
        .fail_after(FaultRoute::CreateMessage, 1, Fault::ServerError);
    let e = w.connector.send(&out).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Transient(_)));
    assert!(
        w.server.bot_messages(w.channel).is_empty(),
        "the first part was taken back"
    );
    // The outbox's retry then posts the whole message once.
    let r = w.connector.send(&out).await.unwrap();
    assert_eq!(r.ids.len(), 2);
    assert_eq!(w.server.bot_messages(w.channel).len(), 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_response_does_not_post_twice() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let out = Outgoing::text(room, "lost-1", "exactly once");
    w.server
        .fail_next(FaultRoute::CreateMessage, Fault::LostResponse);
    assert!(matches!(
        w.connector.send(&out).await,
        Err(ConnectorError::Transient(_))
    ));
    assert_eq!(
        w.server.bot_messages(w.channel).len(),
        1,
        "Discord did post it"
    );
    let r = w.connector.send(&out).await.unwrap();
    let live = w.server.bot_messages(w.channel);
    assert_eq!(
        live.len(),
        1,
        "the retry found the first message by its nonce"
    );
    assert_eq!(r.ids[0].as_str(), live[0].id.to_string());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_webhook_is_replaced_on_the_next_try() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    let mut out = Outgoing::text(room, "wh-1", "first");
    out.persona = Some(persona());
    w.connector.send(&out).await.unwrap();
    let (old, _, _) = w.server.webhooks_in(w.channel)[0].clone();
    w.server.delete_webhook(old);
    out.txn_id = "wh-2".into();
    let e = w.connector.send(&out).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    w.connector.send(&out).await.unwrap();
    let hooks = w.server.webhooks_in(w.channel);
    assert_eq!(hooks.len(), 1);
    assert_ne!(hooks[0].0, old, "a new webhook");
    assert_eq!(w.server.webhook_messages(w.channel).len(), 2);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_gateway_lookup_is_retried_against_the_local_server_only() {
    use civicbridge_testkit::discord::ServerOptions;
    let (server, _g, channel, _f, ada, _b) = common::server_world(ServerOptions::default()).await;
    // serenity falls back to wss://gateway.discord.gg when GET /gateway fails; with a local
    // api_base the connector must not go there, but retry here.
    server.fail_next(FaultRoute::Gateway, Fault::ServerError);
    let connector = std::sync::Arc::new(
        civicbridge_discord::DiscordConnector::new(common::config(&server)).unwrap(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let stop = tokio_util::sync::CancellationToken::new();
    let run = {
        let (c, s) = (connector.clone(), stop.clone());
        let state = std::sync::Arc::new(civicbridge_api::MemoryState::default());
        tokio::spawn(async move { c.run(civicbridge_api::EventSink::new(tx), state, s).await })
    };
    let s = &server;
    civicbridge_api::testing::wait_until(common::WAIT, "identified after the retry", || {
        s.gateway_counts().1 == 1
    })
    .await;
    let gets = server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v10/gateway")
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(gets, vec![500, 200]);
    let m = server.post_as_user(channel, ada, "hello");
    let sub = tokio::time::timeout(common::WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&sub.event.kind, civicbridge_api::EventKind::Message(x) if x.id.as_str() == m.to_string())
    );
    stop.cancel();
    run.await.unwrap().unwrap();
}
