//! `DiscordError` and its classification into `ConnectorError`.

use civicbridge_api::ConnectorError;
use std::time::Duration;

/// Everything that can go wrong in the Discord connector.
#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("`{id}` is not a Discord {kind} id")]
    BadId { kind: &'static str, id: String },
    /// Discord answered with an error status and (usually) a JSON body.
    #[error("Discord answered {status} (code {code}): {message}")]
    Api {
        status: u16,
        code: i64,
        message: String,
        /// From a 429: how long to wait, from the body's `retry_after` or `Retry-After`.
        retry_after: Option<Duration>,
        global: bool,
    },
    /// The request never got an answer (connect, timeout, TLS).
    #[error("network: {0}")]
    Network(String),
    /// Discord answered 2xx with a body we could not read.
    #[error("unexpected response: {0}")]
    Decode(String),
    #[error("gateway: {0}")]
    Gateway(String),
    #[error("{0}")]
    Unsupported(String),
    /// A request the connector refuses before asking Discord (nothing to post).
    #[error("{0}")]
    Refused(String),
}

/// Discord's JSON error codes for "what you asked for is gone or not allowed".
const UNKNOWN_CHANNEL: i64 = 10003;
const UNKNOWN_MESSAGE: i64 = 10008;
const UNKNOWN_WEBHOOK: i64 = 10015;

impl DiscordError {
    pub fn api_code(&self) -> Option<i64> {
        match self {
            DiscordError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            DiscordError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the target (message, webhook, channel) no longer exists.
    pub fn is_gone(&self) -> bool {
        matches!(
            self.api_code(),
            Some(UNKNOWN_MESSAGE | UNKNOWN_WEBHOOK | UNKNOWN_CHANNEL)
        ) || self.status() == Some(404)
    }
}

impl From<DiscordError> for ConnectorError {
    /// 429 → `RateLimited` (with Discord's `retry_after`), 5xx and network failures →
    /// `Transient`, 401 → `Auth`, other 4xx (403 Missing Permissions, 404 Unknown …, 50035
    /// Invalid Form Body) → `Rejected` carrying Discord's message.
    fn from(e: DiscordError) -> Self {
        match &e {
            DiscordError::Api {
                status: 429,
                retry_after,
                ..
            } => ConnectorError::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            DiscordError::Api { status, .. } if *status >= 500 => {
                ConnectorError::Transient(e.to_string())
            }
            DiscordError::Api { status: 401, .. } => ConnectorError::Auth(e.to_string()),
            DiscordError::Api { .. }
            | DiscordError::BadId { .. }
            | DiscordError::Config(_)
            | DiscordError::Refused(_) => ConnectorError::Rejected(e.to_string()),
            DiscordError::Network(_) | DiscordError::Gateway(_) | DiscordError::Decode(_) => {
                ConnectorError::Transient(e.to_string())
            }
            DiscordError::Unsupported(m) => ConnectorError::Unsupported(m.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: i64, retry: Option<f64>) -> DiscordError {
        DiscordError::Api {
            status,
            code,
            message: "m".into(),
            retry_after: retry.map(Duration::from_secs_f64),
            global: false,
        }
    }

    #[test]
    fn classification() {
        assert_eq!(
            ConnectorError::from(api(429, 0, Some(2.5))),
            ConnectorError::RateLimited {
                retry_after: Duration::from_millis(2500)
            }
        );
        assert!(matches!(
            ConnectorError::from(api(502, 0, None)),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            ConnectorError::from(api(401, 0, None)),
            ConnectorError::Auth(_)
        ));
        for (s, c) in [(403, 50013), (404, 10008), (400, 50035)] {
            let e = ConnectorError::from(api(s, c, None));
            assert!(
                matches!(&e, ConnectorError::Rejected(m) if m.contains('m')),
                "{e:?}"
            );
        }
        assert!(api(404, 10008, None).is_gone());
    }
}
