//! A reader's `/sync` loop on the rooms where relayed and direct messages land: every message
//! body with the moment it arrived. The timeline limit is large so a burst is never cut short
//! (a `limited` timeline would hide messages and the bench would wait for them forever).

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub type Seen = mpsc::UnboundedReceiver<(String, Instant)>;

/// Starts reading `rooms` as the account with `token`, from now on.
pub async fn start(hs: &str, token: &str, rooms: &[&str]) -> Seen {
    let http = reqwest::Client::new();
    let filter = json!({
        "presence": { "types": [] },
        "account_data": { "types": [] },
        "room": {
            "rooms": rooms,
            "timeline": { "limit": 2000, "types": ["m.room.message"] },
            "state": { "lazy_load_members": true, "types": [] },
            "ephemeral": { "types": [] },
            "account_data": { "types": [] },
        },
    })
    .to_string();
    let url = format!("{hs}/_matrix/client/v3/sync");
    let token = token.to_owned();
    let get = move |since: Option<String>, timeout: u32| {
        let mut q = vec![("filter", filter.clone()), ("timeout", timeout.to_string())];
        q.extend(since.map(|s| ("since", s)));
        http.get(&url)
            .bearer_auth(token.to_owned())
            .query(&q)
            .send()
    };
    let first: Value = get(None, 0).await.unwrap().json().await.unwrap();
    let mut since = first["next_batch"].as_str().unwrap().to_owned();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let body = match get(Some(since.clone()), 30_000).await {
                Ok(r) => r.json::<Value>().await.unwrap_or_default(),
                Err(_) => Value::Null,
            };
            let now = Instant::now();
            let Some(next) = body["next_batch"].as_str() else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            for room in body["rooms"]["join"].as_object().into_iter().flatten() {
                for e in room.1["timeline"]["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let text = e["content"]["body"].as_str().unwrap_or_default();
                    if tx.send((text.to_owned(), now)).is_err() {
                        return;
                    }
                }
            }
            since = next.to_owned();
        }
    });
    rx
}

/// Waits until a message containing `label` arrives; when it arrived.
pub async fn seen(rx: &mut Seen, label: &str, patience: Duration) -> Instant {
    tokio::time::timeout(patience, async {
        loop {
            let (body, at) = rx.recv().await.unwrap();
            if body.contains(label) {
                return at;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{label} never arrived"))
}

/// Waits until every one of `labels` has arrived (each body names one); panics after
/// `patience`, saying how many are missing: the bench measures a relay that loses nothing.
pub async fn all(rx: &mut Seen, labels: &[String], patience: Duration) {
    let mut left: std::collections::HashSet<&str> = labels.iter().map(String::as_str).collect();
    let done = tokio::time::timeout(patience, async {
        while !left.is_empty() {
            let (body, _) = rx.recv().await.unwrap();
            // Labels are `prefix-NNNN`, one per body; find it after the sender's name.
            if let Some(l) = labels.iter().find(|l| body.ends_with(l.as_str())) {
                left.remove(l.as_str());
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "{} of {} never arrived",
        left.len(),
        labels.len()
    );
}
