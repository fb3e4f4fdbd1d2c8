//! A burst against a Synapse with a strict `rc_message`: the connector reports
//! `M_LIMIT_EXCEEDED` as `RateLimited` with the server's delay, and an outbox that waits that
//! long and retries the same job (same transaction id) delivers the whole burst exactly once.

use crate::common::scene_on;
use civicbridge_api::{Connector, ConnectorError, Outgoing, RoomId};
use civicbridge_testkit::synapse;
use matrix_sdk::room::MessagesOptions;
use std::time::Duration;

const BURST: usize = 10;

#[tokio::test]
async fn a_burst_over_the_rate_limit_is_delivered_completely_once() {
    let hs = synapse::shared_strict().await.expect("strict synapse");
    let s = scene_on(hs, false, None).await;
    let room = RoomId::new(s.room.to_string());
    let mut limited = 0usize;
    let mut ids = Vec::new();
    for i in 0..BURST {
        let out = Outgoing::text(room.clone(), format!("burst-{i}"), format!("burst {i}"));
        loop {
            match s.connector.send(&out).await {
                Ok(receipt) => {
                    ids.push(receipt.ids[0].to_string());
                    break;
                }
                Err(ConnectorError::RateLimited { retry_after }) => {
                    limited += 1;
                    assert!(
                        retry_after > Duration::ZERO && retry_after < Duration::from_secs(30),
                        "retry_after comes from the server: {retry_after:?}"
                    );
                    // What the outbox does: wait as the server asked, retry the same job.
                    tokio::time::sleep(retry_after).await;
                }
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
    }
    assert!(limited > 0, "the burst never hit M_LIMIT_EXCEEDED");

    // Staff see each message once, in order.
    let mut opts = MessagesOptions::backward();
    opts.limit = 100u32.into();
    let page = s.staff.room(&s.room).messages(opts).await.unwrap();
    let mut shown: Vec<(String, String)> = page
        .chunk
        .iter()
        .filter_map(|ev| {
            let json: serde_json::Value = ev.raw().deserialize_as().ok()?;
            (json["sender"] == s.connector.user_id() && json["type"] == "m.room.message").then(
                || {
                    (
                        json["event_id"].as_str().unwrap_or_default().to_owned(),
                        json["content"]["body"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                },
            )
        })
        .collect();
    shown.reverse();
    let expected: Vec<String> = (0..BURST).map(|i| format!("burst {i}")).collect();
    assert_eq!(
        shown.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        shown.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        ids
    );
}
