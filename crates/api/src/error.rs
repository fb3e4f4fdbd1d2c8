//! `ConnectorError`: every failure a connector reports, classified by what to do next.

use std::time::Duration;

/// A connector's failure, classified so that the outbox knows what to do without parsing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The platform asked us to wait. The outbox retries the same job after `retry_after`,
    /// holding back later jobs for the same room so order is kept.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// A failure that may pass (5xx, network, timeout). Retried with capped exponential backoff.
    #[error("transient failure: {0}")]
    Transient(String),
    /// The platform refused this request for good (chat not found, no permission, invalid body).
    /// Not retried; the moderators are told.
    #[error("rejected by the platform: {0}")]
    Rejected(String),
    /// Our credentials are wrong or revoked. Not retried until the connector is restarted.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The platform or this connector cannot do this (e.g. edits on a platform without them).
    #[error("not supported: {0}")]
    Unsupported(String),
}

impl ConnectorError {
    /// The kind alone, as a fixed word (`rate_limited`, `transient`, `rejected`, `auth`,
    /// `unsupported`): for records that must not keep the platform's own words.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::Transient(_) => "transient",
            ConnectorError::Rejected(_) => "rejected",
            ConnectorError::Auth(_) => "auth",
            ConnectorError::Unsupported(_) => "unsupported",
        }
    }

    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited { .. } | ConnectorError::Transient(_)
        )
    }
}
