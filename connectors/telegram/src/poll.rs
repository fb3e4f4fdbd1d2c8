//! Long polling: `getUpdates` in a loop, each batch submitted to the core, and the offset stored
//! in `ConnectorState` only once every event of the batch is acknowledged (see the crate doc).
//!
//! The batch is read as JSON values and each update parsed on its own (`inbound::parse_update`):
//! one update the connector cannot read is skipped with a warning rather than failing the whole
//! `getUpdates` answer again and again, which would stall the bridge on it.

use crate::{error, inbound, pause, TelegramConnector, OFFSET_KEY};
use civicbridge_api::{ConnectorError, ConnectorState, EventSink};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::requests::{JsonRequest, Payload};
use teloxide::types::{AllowedUpdate, UpdateKind};
use tokio_util::sync::CancellationToken;

/// `getUpdates` answered as raw JSON values (teloxide's own payload parses the whole batch at
/// once, so one unreadable update would fail every poll).
#[derive(Debug, Clone, serde::Serialize)]
struct GetUpdatesRaw {
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i32>,
    limit: u8,
    timeout: u32,
    allowed_updates: Vec<AllowedUpdate>,
}

impl Payload for GetUpdatesRaw {
    type Output = Vec<serde_json::Value>;
    const NAME: &'static str = "GetUpdates";

    fn timeout_hint(&self) -> Option<Duration> {
        Some(Duration::from_secs(self.timeout.into()))
    }
}

impl TelegramConnector {
    async fn poll_once(
        &self,
        offset: Option<i32>,
    ) -> Result<Vec<serde_json::Value>, ConnectorError> {
        let payload = GetUpdatesRaw {
            offset,
            limit: 100,
            timeout: self.config.poll_timeout_secs,
            allowed_updates: inbound::ALLOWED_UPDATES.to_vec(),
        };
        JsonRequest::new(self.bot.clone(), payload)
            .send()
            .await
            .map_err(|e| error::classify(&e, &self.config.token))
    }

    /// `getMe` once at start: a wrong token fails `run` at once with `Auth`, and a bot in privacy
    /// mode (which sees only commands and replies to it in groups) is reported in the log.
    async fn check_bot(
        &self,
        sink: &EventSink,
        shutdown: &CancellationToken,
    ) -> Result<(), ConnectorError> {
        let mut backoff = Duration::from_millis(500);
        loop {
            let me = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                r = self.bot.get_me().send() => r,
            };
            match me.map_err(|e| error::classify(&e, &self.config.token)) {
                Ok(me) => {
                    if !me.can_read_all_group_messages {
                        tracing::warn!(
                            bot = %me.username(),
                            "telegram: the bot is in privacy mode and sees only commands and replies in groups \
                             unless it is an admin; turn privacy off with @BotFather /setprivacy"
                        );
                    }
                    return Ok(());
                }
                Err(e @ ConnectorError::Auth(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: getMe failed; retrying");
                    sink.down(format!("getMe failed: {e}"));
                    if !pause(backoff, shutdown).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }

    pub(crate) async fn run_impl(
        &self,
        sink: EventSink,
        state: Arc<dyn ConnectorState>,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        self.check_bot(&sink, &shutdown).await?;
        if let Some(hook) = &self.config.webhook {
            return self.run_webhook(hook, sink, shutdown).await;
        }
        // Polling and a webhook exclude each other (getUpdates answers 409 while one is set):
        // drop a webhook left from an earlier webhook-mode run. Updates it holds are kept.
        if let Err(e) = self.bot.delete_webhook().send().await {
            match error::classify(&e, &self.config.token) {
                ConnectorError::Auth(why) => return Err(ConnectorError::Auth(why)),
                other => tracing::warn!(error = %other, "telegram: deleteWebhook failed"),
            }
        }
        let mut offset: Option<i32> = state.get(OFFSET_KEY).and_then(|s| s.parse().ok());
        let mut backoff = Duration::from_millis(500);
        loop {
            let polled = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                r = self.poll_once(offset) => r,
            };
            let updates = match polled {
                Ok(u) => {
                    backoff = Duration::from_millis(500);
                    sink.up();
                    u
                }
                Err(ConnectorError::Auth(why)) => return Err(ConnectorError::Auth(why)),
                Err(ConnectorError::RateLimited { retry_after }) => {
                    if !pause(retry_after, &shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: getUpdates failed; retrying");
                    sink.down(format!("getUpdates failed: {e}"));
                    if !pause(backoff, &shutdown).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            // Update ids only grow; the highest one readable confirms the batch.
            let Some(last) = updates
                .iter()
                .filter_map(|u| u.get("update_id")?.as_u64())
                .filter_map(|id| u32::try_from(id).ok())
                .max()
            else {
                if !updates.is_empty() {
                    tracing::warn!("telegram: a getUpdates batch without a readable update_id");
                    if !pause(backoff, &shutdown).await {
                        return Ok(());
                    }
                }
                continue;
            };
            let mut acks = Vec::new();
            for raw in &updates {
                let u = match inbound::parse_update(raw) {
                    Ok(u) => u,
                    Err(why) => {
                        tracing::warn!(update_id = ?raw.get("update_id"), %why, "telegram: skipping an update that cannot be read");
                        continue;
                    }
                };
                if let UpdateKind::Error(raw) = &u.kind {
                    tracing::warn!(update_id = u.id.0, %raw, "telegram: skipping an update teloxide cannot parse");
                    continue;
                }
                for event in inbound::to_events(&u, self.bot_id) {
                    let submitted = tokio::select! {
                        _ = shutdown.cancelled() => return Ok(()),
                        s = sink.submit(event) => s,
                    };
                    match submitted {
                        Ok(ack) => acks.push(ack),
                        Err(_) => return Ok(()),
                    }
                }
            }
            for ack in acks {
                let done = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    r = ack.wait() => r,
                };
                if done.is_err() {
                    return Ok(());
                }
            }
            // Every event of the batch is durable: confirm the batch to Telegram from now on.
            let next = i32::try_from(i64::from(last) + 1).unwrap_or(i32::MAX);
            match state.put(OFFSET_KEY, &next.to_string()).await {
                Ok(()) => offset = Some(next),
                Err(e) => {
                    // Keep the old offset: the batch comes again and the core drops the replays.
                    tracing::warn!(error = %e, "telegram: could not store the update offset");
                    if !pause(backoff, &shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}
