//! The connector conformance suite: what every connector must do, checked the same way against
//! the fake, the local Telegram and Discord servers, and a real Synapse.
//!
//! A connector's test provides a [`PlatformHarness`] that can act as a person on the platform and
//! read what the platform shows, then calls [`run_suite`].

use crate::connector::{Connector, EventSink, MemoryState, Submission};
use crate::event::EventKind;
use crate::ids::{RemoteMsgId, RoomId};
use crate::outgoing::Outgoing;
use crate::rich_text::{RichText, Span};
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(30);

/// The platform side of the suite: a person in a room the bot is in, and a way to read the room.
#[async_trait]
pub trait PlatformHarness: Send + Sync {
    /// A room the connector's bot can read and post in.
    fn room(&self) -> RoomId;
    /// Posts `text` as a person (not the bot) in `room()` and returns its platform id.
    async fn post_as_person(&self, text: &str) -> RemoteMsgId;
    /// The plain text the platform now shows for a message the bot posted (as a person would read
    /// it, markup rendered), or `None` if it was deleted.
    async fn shown_text(&self, id: &RemoteMsgId) -> Option<String>;
}

/// Runs every check; panics naming the first one that fails.
pub async fn run_suite(connector: Arc<dyn Connector>, harness: &dyn PlatformHarness) {
    let (tx, mut rx) = mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let run = {
        let c = connector.clone();
        let sink = EventSink::new(tx);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            c.run(sink, Arc::new(MemoryState::default()), shutdown)
                .await
        })
    };

    inbound_message_reaches_the_sink(harness, &mut rx).await;
    sent_text_is_shown(&*connector, harness).await;
    markup_characters_arrive_verbatim(&*connector, harness).await;
    formatting_keeps_the_words(&*connector, harness).await;
    a_full_length_message_is_one_message(&*connector, harness).await;
    own_messages_are_never_reported_as_a_person(&*connector, harness, &mut rx).await;
    if connector.capabilities().edits {
        edits_replace_the_text(&*connector, harness).await;
    }
    if connector.capabilities().deletes {
        deletes_remove_and_repeat_safely(&*connector, harness).await;
    }

    shutdown.cancel();
    let stopped = tokio::time::timeout(WAIT, run).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "conformance: run() must return Ok soon after shutdown, got {stopped:?}"
    );
}

fn outgoing(harness: &dyn PlatformHarness, text: RichText) -> Outgoing {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Outgoing::text(
        harness.room(),
        format!("conformance-{}-{n}", std::process::id()),
        text,
    )
}

async fn next_submission(rx: &mut mpsc::Receiver<Submission>, what: &str) -> Submission {
    match tokio::time::timeout(WAIT, rx.recv()).await {
        Ok(Some(s)) => s,
        Ok(None) => panic!("conformance: the connector dropped its sink while waiting for {what}"),
        Err(_) => panic!("conformance: no event within {WAIT:?} while waiting for {what}"),
    }
}

/// Receives events until one is the person's message with `id`, acknowledging everything.
async fn wait_for_message(
    rx: &mut mpsc::Receiver<Submission>,
    id: &RemoteMsgId,
    mut each: impl FnMut(&Submission),
) -> Submission {
    loop {
        let s = next_submission(rx, &format!("message {id}")).await;
        each(&s);
        if matches!(&s.event.kind, EventKind::Message(m) if &m.id == id) {
            return s;
        }
        let _ = s.ack.send(());
    }
}

async fn inbound_message_reaches_the_sink(
    harness: &dyn PlatformHarness,
    rx: &mut mpsc::Receiver<Submission>,
) {
    let text = "conformance: hello from a person";
    let id = harness.post_as_person(text).await;
    let s = wait_for_message(rx, &id, |_| {}).await;
    let EventKind::Message(m) = &s.event.kind else {
        unreachable!("matched in wait_for_message")
    };
    assert_eq!(m.text.to_plain(), text, "conformance: inbound text");
    assert_eq!(
        s.event.room.room,
        harness.room(),
        "conformance: inbound room"
    );
    assert!(
        !s.event.sender.is_bridge,
        "conformance: a person's message is not the bridge's"
    );
    assert!(
        !s.event.sender.display_name.is_empty(),
        "conformance: sender has a display name"
    );
    let _ = s.ack.send(());
}

async fn send_text(c: &dyn Connector, h: &dyn PlatformHarness, text: RichText) -> RemoteMsgId {
    let receipt = c
        .send(&outgoing(h, text))
        .await
        .unwrap_or_else(|e| panic!("conformance: send failed: {e}"));
    assert!(
        !receipt.ids.is_empty(),
        "conformance: a receipt lists at least one id"
    );
    receipt.ids[0].clone()
}

async fn sent_text_is_shown(c: &dyn Connector, h: &dyn PlatformHarness) {
    let id = send_text(c, h, RichText::plain("conformance: plain text")).await;
    assert_eq!(
        h.shown_text(&id).await.as_deref(),
        Some("conformance: plain text")
    );
}

async fn markup_characters_arrive_verbatim(c: &dyn Connector, h: &dyn PlatformHarness) {
    let text = r"<b>not bold</b> **nor this** _x_ __u__ ~~s~~ `c` [l](http://e.x) @everyone @here &amp; \* > q # h |sp|";
    let id = send_text(c, h, RichText::plain(text)).await;
    assert_eq!(
        h.shown_text(&id).await.as_deref(),
        Some(text),
        "conformance: markup typed by a person must arrive as literal characters"
    );
}

async fn formatting_keeps_the_words(c: &dyn Connector, h: &dyn PlatformHarness) {
    let text = RichText {
        spans: vec![
            Span::Bold(vec![Span::Text("Ada (Telegram):".into())]),
            Span::Text(" a ".into()),
            Span::Italic(vec![Span::Text("b".into())]),
            Span::Text(" ".into()),
            Span::Code("c < d".into()),
            Span::Text(" ".into()),
            Span::Link {
                url: "https://example.org/".into(),
                children: vec![Span::Text("e".into())],
            },
        ],
    };
    let id = send_text(c, h, text.clone()).await;
    let shown = h.shown_text(&id).await.unwrap_or_default();
    assert_eq!(
        shown,
        text.to_plain(),
        "conformance: formatted text reads the same"
    );
}

async fn a_full_length_message_is_one_message(c: &dyn Connector, h: &dyn PlatformHarness) {
    let max = c.capabilities().max_text_len;
    let mut text = String::new();
    while text.chars().count() + 6 <= max {
        text.push_str("word* ");
    }
    let text = text.trim_end().to_owned();
    let receipt = c
        .send(&outgoing(h, RichText::plain(text.clone())))
        .await
        .unwrap_or_else(|e| panic!("conformance: send of {} chars failed: {e}", text.len()));
    assert_eq!(
        receipt.ids.len(),
        1,
        "conformance: a text of max_text_len ({max}) characters must fit one message"
    );
    assert_eq!(
        h.shown_text(&receipt.ids[0]).await.as_deref(),
        Some(text.as_str())
    );
}

async fn own_messages_are_never_reported_as_a_person(
    c: &dyn Connector,
    h: &dyn PlatformHarness,
    rx: &mut mpsc::Receiver<Submission>,
) {
    let own = send_text(c, h, RichText::plain("conformance: the bot speaks")).await;
    // Platforms deliver a room's events in order: once the marker arrives, any echo of `own`
    // has arrived before it.
    let marker = h.post_as_person("conformance: marker").await;
    let s = wait_for_message(rx, &marker, |s| {
        if let EventKind::Message(m) = &s.event.kind {
            if m.id == own {
                assert!(
                    s.event.sender.is_bridge,
                    "conformance: the bot's own message is an echo"
                );
            }
        }
    })
    .await;
    let _ = s.ack.send(());
}

async fn edits_replace_the_text(c: &dyn Connector, h: &dyn PlatformHarness) {
    let id = send_text(c, h, RichText::plain("conformance: before")).await;
    let mut out = outgoing(h, RichText::plain("conformance: after <i>"));
    out.txn_id.push_str("-edit");
    c.edit(&h.room(), &id, &out)
        .await
        .unwrap_or_else(|e| panic!("conformance: edit failed: {e}"));
    assert_eq!(
        h.shown_text(&id).await.as_deref(),
        Some("conformance: after <i>")
    );
}

async fn deletes_remove_and_repeat_safely(c: &dyn Connector, h: &dyn PlatformHarness) {
    let id = send_text(c, h, RichText::plain("conformance: to delete")).await;
    c.delete(&h.room(), &id)
        .await
        .unwrap_or_else(|e| panic!("conformance: delete failed: {e}"));
    assert_eq!(
        h.shown_text(&id).await,
        None,
        "conformance: a deleted message is gone"
    );
    c.delete(&h.room(), &id)
        .await
        .unwrap_or_else(|e| panic!("conformance: deleting twice must succeed, got {e}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Platform;
    use crate::testing::FakeConnector;

    struct FakeHarness(Arc<FakeConnector>);

    #[async_trait]
    impl PlatformHarness for FakeHarness {
        fn room(&self) -> RoomId {
            RoomId::new("room")
        }
        async fn post_as_person(&self, text: &str) -> RemoteMsgId {
            static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let id = format!("p{}", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            drop(self.0.post("room", ("u1", "Ursula"), &id, text));
            RemoteMsgId::new(id)
        }
        async fn shown_text(&self, id: &RemoteMsgId) -> Option<String> {
            let p = self.0.get(id)?;
            (!p.deleted).then(|| p.edits.last().unwrap_or(&p.out).text.to_plain())
        }
    }

    #[tokio::test]
    async fn the_fake_connector_passes_the_suite() {
        let fake = FakeConnector::new(Platform::new("telegram"));
        fake.echo_sends(true);
        run_suite(fake.clone(), &FakeHarness(fake)).await;
    }
}
