//! Webhook delivery: while a webhook is set, every queued update is POSTed to it, one at a time
//! and in order, with the `X-Telegram-Bot-Api-Secret-Token` header when a secret was given. An
//! update counts as delivered only on a 2xx answer; otherwise it is tried again (sooner than
//! Telegram would, to keep tests quick) and `getWebhookInfo` reports the last error.

use super::server::Shared;
use super::world::now_secs;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const RETRY: Duration = Duration::from_millis(200);

/// Runs until `stop`.
pub(crate) async fn deliver(shared: Arc<Shared>, stop: CancellationToken) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let mut changed = shared.subscribe();
    loop {
        let next = {
            let w = shared.world();
            match (&w.webhook, w.updates.front()) {
                (Some(h), Some((id, u))) => {
                    Some((h.url.clone(), h.secret_token.clone(), *id, u.clone()))
                }
                _ => None,
            }
        };
        let Some((url, secret, id, update)) = next else {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = changed.changed() => continue,
            }
        };
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            r = post(&client, &url, secret.as_deref(), &update) => r,
        };
        match outcome {
            Ok(()) => {
                let mut w = shared.world();
                if w.updates.front().is_some_and(|(f, _)| *f == id) {
                    w.updates.pop_front();
                }
            }
            Err(why) => {
                {
                    let mut w = shared.world();
                    w.webhook_error = Some((now_secs(), why));
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    update: &Value,
) -> Result<(), String> {
    let mut req = client.post(url).json(update);
    if let Some(s) = secret {
        req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("Wrong response from the webhook: {}", r.status())),
        Err(e) if e.is_connect() => Err("Connection refused".into()),
        Err(e) if e.is_timeout() => Err("Read timeout expired".into()),
        Err(_) => Err("Connection reset by peer".into()),
    }
}
