//! The outbox on its own: many lanes share a bounded number of requests per platform.
#![allow(clippy::unwrap_used)]

use civicbridge::outbox::{Outbox, RetryPolicy, IN_FLIGHT_PER_PLATFORM};
use civicbridge::store::{JobKind, Store};
use civicbridge_api::testing::{wait_until, FakeConnector};
use civicbridge_api::{Connector, LinkId, Platform, RichText, RoomRef};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[tokio::test(start_paused = true)]
async fn lanes_to_many_rooms_share_a_bounded_number_of_requests_per_platform() {
    let rooms = 3 * IN_FLIGHT_PER_PLATFORM;
    let telegram = FakeConnector::new(Platform::Telegram);
    let discord = FakeConnector::new(Platform::Discord);
    for fake in [&telegram, &discord] {
        fake.send_delay(Duration::from_millis(200));
    }
    let store = Store::memory();
    let link = LinkId::new("planning");
    let jobs = store
        .transact(|tx| {
            let mut jobs = Vec::new();
            for i in 0..rooms {
                for platform in [Platform::Telegram, Platform::Discord] {
                    let text = RichText::plain(format!("notice {i}"));
                    let room = RoomRef::new(platform, format!("room-{i}"));
                    jobs.push(tx.push_job(&link, &room, JobKind::Notice { text, card: None })?);
                }
            }
            Ok(jobs)
        })
        .unwrap();
    let connectors: HashMap<Platform, Arc<dyn Connector>> = HashMap::from([
        (Platform::Telegram, telegram.clone() as Arc<dyn Connector>),
        (Platform::Discord, discord.clone() as Arc<dyn Connector>),
    ]);
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let outbox = Outbox::new(
        store.clone(),
        connectors,
        HashMap::new(),
        RetryPolicy::default(),
        shutdown.clone(),
        tracker.clone(),
    );
    outbox.enqueue(&jobs);
    wait_until(Duration::from_secs(60), "every notice sent", || {
        telegram.posted_count() == rooms && discord.posted_count() == rooms
    })
    .await;
    for fake in [&telegram, &discord] {
        // The cap holds, and is used: the lanes did run side by side up to it.
        assert_eq!(fake.most_sends_in_flight(), IN_FLIGHT_PER_PLATFORM);
        for i in 0..rooms {
            assert_eq!(
                fake.texts_in(&format!("room-{i}")),
                vec![format!("notice {i}")]
            );
        }
    }
    wait_until(
        Duration::from_secs(10),
        "the jobs to leave the store",
        || jobs.iter().all(|j| store.job(j.id).unwrap().is_none()),
    )
    .await;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
}
