//! Runs REST requests built with serenity's typed routes, keeping what serenity's own error type
//! drops: a 429's `retry_after` and `global` flag.
//!
//! With the rate limiter on (production), requests go through `Http::request`, so serenity's
//! per-bucket limiter paces them and waits out 429s itself. With it off (a custom `api_base`,
//! which serenity only honours that way), requests are built by serenity with the same proxy
//! rewrite and sent on our own client, so a 429 reaches the outbox as `RateLimited` with the
//! server's `retry_after`.

use crate::error::DiscordError;
use serde::de::DeserializeOwned;
use serenity::http::{Http, HttpError, Request};
use std::sync::Arc;
use std::time::Duration;

pub struct Rest {
    pub http: Arc<Http>,
    client: reqwest::Client,
    ratelimiter: bool,
    proxy: Option<String>,
}

impl std::fmt::Debug for Rest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rest")
            .field("ratelimiter", &self.ratelimiter)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl Rest {
    pub fn new(
        http: Arc<Http>,
        ratelimiter: bool,
        proxy: Option<String>,
        client: Option<reqwest::Client>,
    ) -> Result<Rest, DiscordError> {
        let client = match client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .map_err(network)?,
        };
        Ok(Rest {
            http,
            client,
            ratelimiter,
            proxy,
        })
    }

    /// A plain client for downloads (attachments): no token is sent with them.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `req`; `Ok` carries the response body of a 2xx.
    pub async fn call(&self, req: Request<'_>) -> Result<Vec<u8>, DiscordError> {
        let resp = if self.ratelimiter {
            self.http.request(req).await.map_err(from_serenity)?
        } else {
            let built = req
                .build(&self.client, self.http.token(), self.proxy.as_deref())
                .map_err(from_serenity)?;
            let resp = built.send().await.map_err(network)?;
            if !resp.status().is_success() {
                return Err(api_error(resp).await);
            }
            resp
        };
        resp.bytes().await.map(|b| b.to_vec()).map_err(network)
    }

    /// Sends `req` and reads the 2xx body as `T`.
    pub async fn json<T: DeserializeOwned>(&self, req: Request<'_>) -> Result<T, DiscordError> {
        let body = self.call(req).await?;
        serde_json::from_slice(&body).map_err(|e| DiscordError::Decode(e.to_string()))
    }
}

/// Reads Discord's error body (`code`, `message`, and for 429 `retry_after`, `global`) and the
/// `Retry-After` / `X-RateLimit-Global` headers.
pub async fn api_error(resp: reqwest::Response) -> DiscordError {
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let header_retry = header("retry-after").and_then(|v| v.parse::<f64>().ok());
    let header_global = header("x-ratelimit-global").is_some_and(|v| v == "true");
    let body: serde_json::Value = match resp.bytes().await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    };
    let retry_after = seconds(
        body.get("retry_after")
            .and_then(serde_json::Value::as_f64)
            .or(header_retry),
    );
    DiscordError::Api {
        status,
        code: body
            .get("code")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0),
        message: body
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no error message")
            .to_owned(),
        retry_after,
        global: header_global
            || body.get("global").and_then(serde_json::Value::as_bool) == Some(true),
    }
}

/// A failed request, without its URL: a webhook's URL carries the webhook's token, and error
/// texts reach the log, parked items and the moderation room.
pub fn network(e: reqwest::Error) -> DiscordError {
    DiscordError::Network(e.without_url().to_string())
}

/// A number of seconds from a reply, as a duration: `None` for anything that is not one
/// (negative, NaN, infinite, or past what a `Duration` holds; `from_secs_f64` would panic).
fn seconds(s: Option<f64>) -> Option<Duration> {
    s.and_then(|s| Duration::try_from_secs_f64(s).ok())
}

pub fn from_serenity(e: serenity::Error) -> DiscordError {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => DiscordError::Api {
            status: r.status_code.as_u16(),
            code: r.error.code as i64,
            message: r.error.message,
            retry_after: None,
            global: false,
        },
        serenity::Error::Http(HttpError::Request(e)) => network(e),
        serenity::Error::Json(e) => DiscordError::Decode(e.to_string()),
        other => DiscordError::Network(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A 429's `retry_after` is the platform's word, read from JSON: any number must be safe.
    #[test]
    fn retry_after_values_never_panic() {
        assert_eq!(super::seconds(Some(2.5)), Some(Duration::from_millis(2500)));
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e20, f64::MAX] {
            assert_eq!(super::seconds(Some(bad)), None, "{bad}");
        }
        assert!(
            super::seconds(Some(1e15)).is_some(),
            "huge but valid: the outbox caps it"
        );
    }

    /// A webhook's URL carries its token: a failed request to it must not put the token in
    /// the error text (which reaches the log, parked items and the moderation room).
    #[tokio::test]
    async fn a_failed_webhook_request_names_no_token() {
        let token = "wh_token_abcdefghijklmnopqrstuvwxyz0123456789";
        // Port 1 on loopback: refused at once.
        let url = format!("http://127.0.0.1:1/api/v10/webhooks/123/{token}?wait=true");
        let e = reqwest::Client::new()
            .post(&url)
            .send()
            .await
            .expect_err("nothing listens on port 1");
        assert!(
            e.to_string().contains(token),
            "reqwest's own text has the URL"
        );
        let ours = super::network(e).to_string();
        assert!(!ours.contains(token), "{ours}");
    }
}
