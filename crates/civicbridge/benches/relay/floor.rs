//! The floor: the least a Matrix → Matrix relay can do, written here so the bench can set
//! civicbridge's figures against it in the same run. One account long-polls `/sync` for the
//! source room's messages and sends each to the target room with reqwest: no store, no rules,
//! no retries, no encryption, nothing durable (it loses what is in flight when stopped).
//!
//! It runs as a child process (this bench binary again, with [`ENV`] set), so `/proc` gives
//! its CPU time and memory apart from the bench's.

use serde_json::{json, Value};
use std::io::Write;

/// Set to `HOMESERVER_URL TOKEN SOURCE_ROOM TARGET_ROOM` to run as the floor relay.
pub const ENV: &str = "CIVICBRIDGE_BENCH_FLOOR";

/// The floor relay's whole life: prints `ready` once it has synced past the rooms' history,
/// then relays until killed.
pub fn main(spec: &str) {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [hs, token, source, target] = parts[..] else {
        panic!("{ENV} must be `HOMESERVER TOKEN SOURCE TARGET`")
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(relay(hs, token, source, target));
}

async fn relay(hs: &str, token: &str, source: &str, target: &str) {
    let http = reqwest::Client::new();
    let filter = json!({
        "presence": { "types": [] },
        "account_data": { "types": [] },
        "room": {
            "rooms": [source],
            "timeline": { "limit": 1000, "types": ["m.room.message"] },
            "state": { "lazy_load_members": true, "types": [] },
            "ephemeral": { "types": [] },
            "account_data": { "types": [] },
        },
    })
    .to_string();
    let sync = |since: Option<String>, timeout: u32| {
        let mut q = vec![("filter", filter.clone()), ("timeout", timeout.to_string())];
        q.extend(since.map(|s| ("since", s)));
        http.get(format!("{hs}/_matrix/client/v3/sync"))
            .bearer_auth(token)
            .query(&q)
            .send()
    };
    let first: Value = sync(None, 0).await.unwrap().json().await.unwrap();
    let mut since = first["next_batch"].as_str().unwrap().to_owned();
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut txn = 0u64;
    loop {
        let Ok(r) = sync(Some(since.clone()), 30_000).await else {
            continue;
        };
        let Ok(body) = r.json::<Value>().await else {
            continue;
        };
        let events = body["rooms"]["join"][source]["timeline"]["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for e in events {
            let Some(text) = e["content"]["body"].as_str() else {
                continue;
            };
            txn += 1;
            let _ = http
                .put(format!(
                    "{hs}/_matrix/client/v3/rooms/{target}/send/m.room.message/floor{txn}"
                ))
                .bearer_auth(token)
                .json(&json!({ "msgtype": "m.text", "body": text }))
                .send()
                .await;
        }
        if let Some(next) = body["next_batch"].as_str() {
            since = next.to_owned();
        }
    }
}
