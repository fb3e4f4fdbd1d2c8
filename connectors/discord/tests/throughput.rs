//! Rough figures over loopback (debug build): an inbound burst and sequential sends. Asserts
//! order and completeness; prints the timings for the record.
#![allow(clippy::unwrap_used)]

mod common;

use civicbridge_api::{Connector, EventKind, Outgoing, Persona, RoomId};
use common::world;
use std::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_messages_arrives_complete_and_in_order() {
    let mut w = world().await;
    let started = Instant::now();
    let posted: Vec<u64> = (0..1000)
        .map(|i| {
            w.server
                .post_as_user(w.channel, w.ada, &format!("message {i} with **bold**"))
        })
        .collect();
    let mut seen = Vec::with_capacity(posted.len());
    while seen.len() < posted.len() {
        if let EventKind::Message(m) = w.next().await.kind {
            seen.push(m.id.as_str().parse::<u64>().unwrap());
        }
    }
    let took = started.elapsed();
    assert_eq!(seen, posted);
    eprintln!(
        "inbound: 1000 messages in {took:?} ({:.0}/s)",
        1000.0 / took.as_secs_f64()
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_sends_take_a_few_milliseconds_each() {
    let w = world().await;
    let room = RoomId::new(w.channel.to_string());
    for persona in [false, true] {
        let started = Instant::now();
        for i in 0..200 {
            let mut out =
                Outgoing::text(room.clone(), format!("{persona}-{i}"), "a relayed message");
            if persona {
                out.persona = Some(Persona {
                    display_name: "Ada".into(),
                    avatar_url: None,
                    platform_label: "Telegram".into(),
                });
            }
            w.connector.send(&out).await.unwrap();
        }
        let took = started.elapsed();
        eprintln!(
            "outbound ({}): 200 sends in {took:?} ({:.2} ms each)",
            if persona { "webhook" } else { "bot" },
            took.as_secs_f64() * 1000.0 / 200.0
        );
    }
    assert_eq!(w.server.bot_messages(w.channel).len(), 200);
    assert_eq!(w.server.webhook_messages(w.channel).len(), 200);
    // Nobody read the 400 echoes: the sink is full and the connector is blocked on it. Shutdown
    // must still stop it promptly.
    w.stop().await;
}
