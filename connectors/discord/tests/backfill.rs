//! Messages posted while the bridge was away (a restart, a new gateway session) are fetched from
//! the channel history after the stored cursor; cursors only move once the core acknowledged.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, ConnectorState, EventKind, EventSink, MemoryState, Submission};
use civicbridge_discord::{cursor_key, DiscordConnector};
use civicbridge_testkit::discord::ServerOptions;
use common::WAIT;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Running {
    rx: mpsc::Receiver<Submission>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), civicbridge_api::ConnectorError>>,
    connector: Arc<DiscordConnector>,
}

fn start(cfg: civicbridge_discord::DiscordConfig, state: Arc<MemoryState>) -> Running {
    let connector = Arc::new(DiscordConnector::new(cfg).unwrap());
    let (tx, rx) = mpsc::channel(64);
    let stop = CancellationToken::new();
    let task = {
        let (c, s) = (connector.clone(), stop.clone());
        tokio::spawn(async move { c.run(EventSink::new(tx), state, s).await })
    };
    Running {
        rx,
        stop,
        task,
        connector,
    }
}

impl Running {
    /// The next message event (acknowledged), skipping others.
    async fn next_message(&mut self) -> (String, Option<String>) {
        loop {
            let s = tokio::time::timeout(WAIT, self.rx.recv())
                .await
                .unwrap()
                .unwrap();
            let _ = s.ack.send(());
            if let EventKind::Message(m) = s.event.kind {
                return (
                    m.id.as_str().to_owned(),
                    m.thread.map(|t| t.as_str().to_owned()),
                );
            }
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        assert!(matches!(
            tokio::time::timeout(WAIT, self.task).await,
            Ok(Ok(Ok(())))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_while_away_arrive_after_a_restart() {
    let (server, _guild, channel, _forum, ada, bob) =
        common::server_world(ServerOptions::default()).await;
    let root = server.post_as_user(channel, ada, "before the thread");
    let thread = server.start_thread_as_user(channel, root, ada, "topic");
    let state = Arc::new(MemoryState::default());

    let mut first = start(common::config(&server), state.clone());
    let c = first.connector.clone();
    civicbridge_api::testing::wait_until(WAIT, "GUILD_CREATE handled", || {
        c.handler_counts().contains_key("GUILD_CREATE")
    })
    .await;
    let a = server.post_as_user(channel, ada, "seen live");
    let t = server.post_as_user(thread, bob, "seen live in the thread");
    assert_eq!(first.next_message().await.0, a.to_string());
    assert_eq!(first.next_message().await.0, t.to_string());
    let st = state.clone();
    civicbridge_api::testing::wait_until(WAIT, "the cursors moved", || {
        st.get(&cursor_key(channel)) == Some(a.to_string())
            && st.get(&cursor_key(thread)) == Some(t.to_string())
    })
    .await;
    first.stop().await;

    // While the bridge is down.
    let b = server.post_as_user(channel, ada, "posted while away");
    let c2 = server.post_as_user(channel, bob, "also while away");
    let t2 = server.post_as_user(thread, bob, "in the thread while away");

    let mut second = start(common::config(&server), state.clone());
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(second.next_message().await);
    }
    got.sort();
    let mut want = vec![
        (b.to_string(), None),
        (c2.to_string(), None),
        (t2.to_string(), Some(thread.to_string())),
    ];
    want.sort();
    assert_eq!(got, want, "each missed message once, nothing seen before");
    // And live traffic continues after the catch-up.
    let d = server.post_as_user(channel, ada, "live again");
    assert_eq!(second.next_message().await.0, d.to_string());
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_does_not_move_past_an_unacknowledged_message() {
    let (server, _guild, channel, _forum, ada, _bob) =
        common::server_world(ServerOptions::default()).await;
    let state = Arc::new(MemoryState::default());
    let mut run = start(common::config(&server), state.clone());
    let c = run.connector.clone();
    civicbridge_api::testing::wait_until(WAIT, "GUILD_CREATE handled", || {
        c.handler_counts().contains_key("GUILD_CREATE")
    })
    .await;
    let a = server.post_as_user(channel, ada, "acked");
    assert_eq!(run.next_message().await.0, a.to_string());
    let st = state.clone();
    civicbridge_api::testing::wait_until(WAIT, "cursor at a", || {
        st.get(&cursor_key(channel)) == Some(a.to_string())
    })
    .await;
    // The next message is received but its ack is held back.
    let b = server.post_as_user(channel, ada, "not acked yet");
    let held = tokio::time::timeout(WAIT, run.rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(&held.event.kind, EventKind::Message(m) if m.id.as_str() == b.to_string()));
    let marker = server.post_as_user(channel, ada, "marker");
    let next = tokio::time::timeout(WAIT, run.rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&next.event.kind, EventKind::Message(m) if m.id.as_str() == marker.to_string())
    );
    let _ = next.ack.send(());
    assert_eq!(
        state.get(&cursor_key(channel)),
        Some(a.to_string()),
        "still at a: b is not durable"
    );
    let _ = held.ack.send(());
    civicbridge_api::testing::wait_until(WAIT, "cursor past b and the marker", || {
        st.get(&cursor_key(channel)) == Some(marker.to_string())
    })
    .await;
    run.stop().await;
}
