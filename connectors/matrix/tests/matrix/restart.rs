//! Restarts: catch-up from the acknowledged sync token, one device across restarts, login
//! failures at start.

use crate::common::{
    bot, hs, is_message, memory_state, run, scene, until_fast_path, CountingState, Running,
};
use civicbridge_api::{ConnectorState, EventKind};
use civicbridge_matrix::{MatrixConfig, MatrixConnector, MatrixError, SINCE_KEY};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// More than the sync filter's timeline limit (100), so catch-up needs the gap fill.
const WHILE_DOWN: usize = 130;

#[tokio::test]
async fn messages_sent_while_stopped_arrive_after_restart_once_each_in_order() {
    let s = scene(false, None).await;
    let state = Arc::new(CountingState::default());
    let device_before = s.connector.device_id().expect("device");

    let mut r = run(s.connector.clone(), state.clone());
    let before = s.staff.post(&s.room, "before the restart").await;
    ack_until_stored(&mut r, &state, &before).await;
    r.stop().await;
    let config = s.bot.config.clone();
    drop(s.connector);

    let mut sent = Vec::new();
    for i in 0..WHILE_DOWN {
        sent.push(s.staff.post(&s.room, &format!("while down {i}")).await);
    }

    let connector = Arc::new(MatrixConnector::connect(config).await.expect("reconnects"));
    assert_eq!(
        connector.device_id().expect("device"),
        device_before,
        "a restart keeps the device (and its keys)"
    );
    let mut r = run(connector.clone(), state.clone());
    let last = sent.last().cloned().expect("sent some");
    let mut got = Vec::new();
    let mut seen = HashSet::new();
    r.until(|e| {
        if let EventKind::Message(m) = &e.kind {
            assert!(seen.insert(m.id.clone()), "{} delivered twice", m.id);
            assert_ne!(m.id.as_str(), before, "an acknowledged message came again");
            got.push(m.id.to_string());
        }
        is_message(e, &last)
    })
    .await;
    assert_eq!(got, sent, "every message, once, in order");
    r.stop().await;
}

/// Plain responses (`sync/plain.rs`) never reach the SDK, yet a restart must resume from the
/// last acknowledged one without repeats or losses, and an unacknowledged event read on the
/// fast path must come again.
#[tokio::test]
async fn a_restart_after_plain_responses_resumes_without_loss_or_repeats() {
    let s = scene(false, None).await;
    let state = memory_state();
    let mut r = run(s.connector.clone(), state.clone());
    until_fast_path(&s, &mut r).await;
    let acked = s.staff.post(&s.room, "acknowledged").await;
    r.until(|e| is_message(e, &acked)).await;
    let unacked = s.staff.post(&s.room, "received, never acknowledged").await;
    r.receive_without_ack(&unacked).await;
    r.stop().await;
    assert!(state.get(SINCE_KEY).is_some());
    let config = s.bot.config.clone();
    drop(s.connector);

    let mut sent = vec![unacked.clone()];
    for i in 0..5 {
        sent.push(s.staff.post(&s.room, &format!("while down {i}")).await);
    }
    let connector = Arc::new(MatrixConnector::connect(config).await.expect("reconnects"));
    let mut r = run(connector, state);
    let last = sent.last().cloned().expect("sent some");
    let mut got = Vec::new();
    r.until(|e| {
        if let EventKind::Message(m) = &e.kind {
            got.push(m.id.to_string());
        }
        is_message(e, &last)
    })
    .await;
    assert_eq!(
        got, sent,
        "every unacknowledged message once, in order, no others"
    );
    r.stop().await;
}

/// After plain responses the SDK's stored token is written every few seconds, not per response
/// (`SyncLoop::plain_token`), so a crash leaves it behind our cursor. The restart then reads
/// from the older token: what comes again the core drops as replays, and nothing is lost.
#[tokio::test]
async fn a_crash_on_the_fast_path_loses_nothing() {
    let s = scene(false, None).await;
    let state = Arc::new(CountingState::default());
    let mut r = run(s.connector.clone(), state.clone());
    let mut posted = HashSet::new();
    until_fast_path(&s, &mut r).await;
    // Within seconds of the last token written: this one's is held back.
    let acked = s.staff.post(&s.room, "acknowledged, token held").await;
    posted.insert(acked.clone());
    ack_until_stored(&mut r, &state, &acked).await;
    let unacked = s.staff.post(&s.room, "received, never acknowledged").await;
    posted.insert(unacked.clone());
    r.receive_without_ack(&unacked).await;
    r.crash().await;
    let config = s.bot.config.clone();
    drop(s.connector);

    let connector = Arc::new(MatrixConnector::connect(config).await.expect("reconnects"));
    let mut r = run(connector, state);
    let after = s.staff.post(&s.room, "after the crash").await;
    posted.insert(after.clone());
    let mut got = Vec::new();
    r.until(|e| {
        if let EventKind::Message(m) = &e.kind {
            got.push((m.id.to_string(), m.text.to_plain()));
        }
        is_message(e, &after)
    })
    .await;
    let unacked_at = got.iter().position(|(id, _)| *id == unacked);
    assert!(
        unacked_at.is_some_and(|i| i + 1 < got.len()),
        "the unacknowledged message comes again, before the next: {got:?}"
    );
    // What else comes is what was read before the crash (the core drops those as replays).
    assert!(
        got.iter()
            .all(|(id, body)| posted.contains(id) || body.starts_with("warm-up ")),
        "{got:?}"
    );
    r.stop().await;
}

/// The core's store is gone (wiped, or a new one) but the Matrix data directory is kept: the
/// connector resumes from the SDK's own token. After plain responses, which the SDK never
/// processed, that token must still be the last one read, or the restart would deliver every
/// message since the SDK's last own sync again, as new, to a store that knows none of them
/// (the demo's second run did: a staff answer from the first run crossed again, outside its
/// thread).
#[tokio::test]
async fn a_wiped_core_store_resumes_from_the_last_response_not_an_older_one() {
    let s = scene(false, None).await;
    let state = Arc::new(CountingState::default());
    let mut r = run(s.connector.clone(), state.clone());
    until_fast_path(&s, &mut r).await;
    let old = s
        .staff
        .post(&s.room, "read before the store was wiped")
        .await;
    ack_until_stored(&mut r, &state, &old).await;
    r.stop().await;
    let config = s.bot.config.clone();
    drop(s.connector);

    let connector = Arc::new(MatrixConnector::connect(config).await.expect("reconnects"));
    let mut r = run(connector, memory_state());
    let new = s.staff.post(&s.room, "after the wipe").await;
    let mut got = Vec::new();
    r.until(|e| {
        if let EventKind::Message(m) = &e.kind {
            got.push(m.id.to_string());
        }
        is_message(e, &new)
    })
    .await;
    assert_eq!(got, vec![new], "only what came after the restart");
    r.stop().await;
}

/// In an encrypted room every response goes through the SDK, which stores its token before the
/// events are acknowledged: the start's replay (`/messages`, decrypted) must bring them back.
#[tokio::test]
async fn unacknowledged_events_are_delivered_again_after_restart() {
    for encrypted in [false, true] {
        unacknowledged_comes_again(encrypted).await;
    }
}

async fn unacknowledged_comes_again(encrypted: bool) {
    let s = scene(encrypted, None).await;
    let state = memory_state();
    let mut r = run(s.connector.clone(), state.clone());
    let id = s.staff.post(&s.room, "not yet durable").await;
    // Receive it but never acknowledge it, then stop.
    r.receive_without_ack(&id).await;
    r.stop().await;
    drop(s.connector);

    let connector = Arc::new(
        MatrixConnector::connect(s.bot.config.clone())
            .await
            .unwrap(),
    );
    let mut r = run(connector, state);
    let e = r.until(|e| is_message(e, &id)).await;
    let EventKind::Message(m) = &e.kind else {
        unreachable!()
    };
    assert_eq!(
        m.text.to_plain(),
        "not yet durable",
        "encrypted: {encrypted}"
    );
    r.stop().await;
}

#[tokio::test]
async fn wrong_password_fails_at_start_with_a_clear_error() {
    let hs = hs().await;
    let b = bot(hs).await;
    let mut cfg = b.config.clone();
    cfg.password = Some("not the password".into());
    let err = MatrixConnector::connect(cfg).await.expect_err("refused");
    assert!(matches!(err, MatrixError::Login { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("wrong user id or password"), "{text}");
    assert!(
        !text.contains("not the password"),
        "the error leaks the password"
    );
    assert!(matches!(
        civicbridge_api::ConnectorError::from(err),
        civicbridge_api::ConnectorError::Auth(_)
    ));
}

#[tokio::test]
async fn access_token_login_uses_the_tokens_device_and_bad_tokens_fail() {
    let hs = hs().await;
    let b = bot(hs).await;
    let mut cfg = MatrixConfig::with_password(hs.url(), &b.user.user_id, "unused");
    cfg.password = None;
    cfg.access_token = Some(b.user.access_token.clone());
    cfg.data_dir = Some(b.dir.path().join("token-login"));
    let c = MatrixConnector::connect(cfg.clone())
        .await
        .expect("token login");
    assert_eq!(c.device_id().as_deref(), Some(b.user.device_id.as_str()));
    drop(c);

    let mut bad = cfg.clone();
    bad.access_token = Some("syt_not_a_token".into());
    bad.data_dir = Some(b.dir.path().join("bad-token"));
    let err = MatrixConnector::connect(bad).await.expect_err("refused");
    assert!(matches!(err, MatrixError::Login { .. }), "{err:?}");
    assert!(!err.to_string().contains("syt_not_a_token"));
}

#[tokio::test]
async fn a_revoked_session_logs_in_again_on_the_same_device() {
    let s = scene(false, None).await;
    let device = s.connector.device_id().expect("device");
    // Revoke the bot's token behind its back (as an admin would), keeping its local session.
    let http = matrix_sdk::reqwest::Client::new();
    let resp = http
        .post(format!("{}/_matrix/client/v3/logout", hs().await.url()))
        .bearer_auth(
            s.connector
                .client()
                .access_token()
                .expect("the bot has a token"),
        )
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("logout");
    assert!(resp.status().is_success());
    // M_UNKNOWN_TOKEN is `Auth`.
    let room = civicbridge_api::RoomId::new(s.room.to_string());
    use civicbridge_api::Connector;
    let err = s
        .connector
        .send(&civicbridge_api::Outgoing::text(
            room.clone(),
            "revoked",
            "x",
        ))
        .await
        .expect_err("the token is gone");
    assert!(
        matches!(&err, civicbridge_api::ConnectorError::Auth(m) if m.contains("M_UNKNOWN_TOKEN")),
        "{err:?}"
    );
    drop(s.connector);
    let session_path = s
        .bot
        .config
        .data_dir
        .clone()
        .expect("data dir")
        .join("session.json");
    assert!(session_path.exists());
    let c = MatrixConnector::connect(s.bot.config.clone())
        .await
        .expect("reconnects");
    assert_eq!(c.device_id().expect("device"), device);
    c.send(&civicbridge_api::Outgoing::text(
        room,
        "after-relogin",
        "still here",
    ))
    .await
    .expect("the new token works");
}

#[tokio::test]
async fn a_malformed_room_id_in_the_config_fails_at_start() {
    let hs = hs().await;
    let b = bot(hs).await;
    let mut cfg = b.config.clone();
    cfg.rooms = vec!["#not-a-room-id:localhost".into()];
    let err = MatrixConnector::connect(cfg).await.expect_err("refused");
    assert!(matches!(err, MatrixError::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("#not-a-room-id:localhost"),
        "{err}"
    );
}

/// Acknowledges events until the message `id`, then waits until the loop has stored the cursor
/// of the batch holding it (after the SDK's token, on the fast path).
async fn ack_until_stored(r: &mut Running, state: &CountingState, id: &str) {
    loop {
        let sub = r.next().await;
        let hit = is_message(&sub.event, id);
        // No write can happen between receiving and acknowledging (the loop waits for acks),
        // so a write after this count is the cursor of the batch holding `id`.
        let puts = state.puts.load(Ordering::SeqCst);
        let _ = sub.ack.send(());
        if hit {
            civicbridge_api::testing::wait_until(crate::common::WAIT, "cursor stored", || {
                state.puts.load(Ordering::SeqCst) > puts
            })
            .await;
            return;
        }
    }
}
