//! `setWebhook`, `deleteWebhook` and `getWebhookInfo`. Delivery to the webhook is
//! `telegram::webhook`.

use crate::telegram::error::{ApiError, ApiResult};
use crate::telegram::params::Params;
use crate::telegram::world::{Webhook, World};
use serde_json::{json, Value};

pub(super) fn set_webhook(w: &mut World, p: &Params) -> ApiResult {
    let url = p.string("url").unwrap_or_default();
    if url.is_empty() {
        w.set_allowed_updates(p.json("allowed_updates").ok().flatten().as_ref());
        w.webhook = None;
        return Ok(json!(true));
    }
    // The local Bot API server (which this stands in for) accepts plain http and any port.
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ApiError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    if let Some(s) = p.string("secret_token") {
        let ok = s.len() <= 256
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(ApiError::bad_request(
                "secret token contains unallowed characters",
            ));
        }
    }
    if p.bool("drop_pending_updates") {
        w.updates.clear();
    }
    w.set_allowed_updates(p.json("allowed_updates").ok().flatten().as_ref());
    w.webhook_error = None;
    w.webhook = Some(Webhook {
        url,
        secret_token: p.string("secret_token"),
    });
    Ok(json!(true))
}

pub(super) fn delete_webhook(w: &mut World, p: &Params) -> Value {
    if p.bool("drop_pending_updates") {
        w.updates.clear();
    }
    w.webhook = None;
    json!(true)
}

pub(super) fn get_webhook_info(w: &World) -> Value {
    let mut info = json!({
        "url": w.webhook.as_ref().map(|h| h.url.clone()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": w.updates.len(),
    });
    if let (Some(_), Some((at, why))) = (&w.webhook, &w.webhook_error) {
        info["last_error_date"] = json!(at);
        info["last_error_message"] = json!(why);
    }
    if let Some(kinds) = &w.allowed_updates {
        info["allowed_updates"] = json!(kinds);
    }
    info
}
