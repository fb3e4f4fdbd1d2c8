//! Webhook mode: `setWebhook` with a secret token, then an HTTP endpoint that takes Telegram's
//! POSTs. An update is answered 200 only once the core has acknowledged its events; until then
//! (or if the core is shutting down: 503) Telegram keeps it and delivers it again, so no update
//! is lost and Telegram itself is the cursor (`ConnectorState` is not used in this mode).
//! Requests without the right `X-Telegram-Bot-Api-Secret-Token` get 401 and are not read.
//! On shutdown the webhook stays registered: Telegram holds new updates until the bridge is back
//! (polling mode removes it on start).

use crate::config::WebhookConfig;
use crate::{error, inbound, pause, TelegramConnector};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use civicbridge_api::{ConnectorError, EventSink};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::UpdateKind;
use tokio_util::sync::CancellationToken;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

struct Ctx {
    sink: EventSink,
    secret: String,
    bot: UserId,
    shutdown: CancellationToken,
}

impl TelegramConnector {
    pub(crate) async fn run_webhook(
        &self,
        hook: &WebhookConfig,
        sink: EventSink,
        shutdown: CancellationToken,
    ) -> Result<(), ConnectorError> {
        let url: url::Url = hook
            .url
            .parse()
            .map_err(|e: url::ParseError| ConnectorError::Rejected(e.to_string()))?;
        let mut backoff = Duration::from_millis(500);
        // Listen first, so Telegram's first delivery finds us.
        let listener = loop {
            match tokio::net::TcpListener::bind(hook.listen).await {
                Ok(l) => break l,
                Err(e) => {
                    tracing::warn!(listen = %hook.listen, error = %e, "telegram: cannot listen for the webhook; retrying");
                    if !pause(backoff, &shutdown).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        };
        loop {
            let set = self
                .bot
                .set_webhook(url.clone())
                .secret_token(hook.secret_token.clone())
                .allowed_updates(inbound::ALLOWED_UPDATES)
                .send()
                .await;
            match set.map_err(|e| error::classify(&e, &self.config.token)) {
                Ok(_) => break,
                Err(e @ (ConnectorError::Auth(_) | ConnectorError::Rejected(_))) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "telegram: setWebhook failed; retrying");
                    if !pause(backoff, &shutdown).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        let ctx = Arc::new(Ctx {
            sink,
            secret: hook.secret_token.clone(),
            bot: self.bot_id,
            shutdown: shutdown.clone(),
        });
        let app = Router::new().fallback(receive).with_state(ctx);
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .map_err(|e| ConnectorError::Transient(format!("webhook server failed: {e}")))
    }
}

async fn receive(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret_ok = headers
        .get(SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == ctx.secret);
    if !secret_ok {
        return StatusCode::UNAUTHORIZED;
    }
    // An update that will never parse is answered 200: an error would make Telegram resend it
    // forever.
    let update = match serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|raw| inbound::parse_update(&raw))
    {
        Ok(u) if !matches!(u.kind, UpdateKind::Error(_)) => u,
        Ok(_) => {
            tracing::warn!("telegram: skipping a webhook update teloxide cannot parse");
            return StatusCode::OK;
        }
        Err(why) => {
            tracing::warn!(%why, "telegram: skipping a webhook update that cannot be read");
            return StatusCode::OK;
        }
    };
    let events = inbound::to_events(&update, ctx.bot);
    if events.is_empty() {
        return StatusCode::OK;
    }
    // 200 only once every event of the update is durable; otherwise Telegram sends the whole
    // update again and the core drops the events it already has (same ids).
    let durable = async {
        let mut acks = Vec::with_capacity(events.len());
        for event in events {
            acks.push(ctx.sink.submit(event).await.ok()?);
        }
        for ack in acks {
            ack.wait().await.ok()?;
        }
        Some(())
    };
    tokio::select! {
        _ = ctx.shutdown.cancelled() => StatusCode::SERVICE_UNAVAILABLE,
        done = durable => match done {
            Some(()) => StatusCode::OK,
            None => StatusCode::SERVICE_UNAVAILABLE,
        },
    }
}
