//! Faults a test can inject into the next call of a REST route.

/// The REST routes faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultRoute {
    /// Whatever REST call comes next.
    Any,
    /// `POST /channels/{id}/messages`
    CreateMessage,
    /// `PATCH /channels/{id}/messages/{id}`
    EditMessage,
    /// `DELETE /channels/{id}/messages/{id}`
    DeleteMessage,
    /// `POST /webhooks/{id}/{token}`
    ExecuteWebhook,
    /// `PATCH /webhooks/{id}/{token}/messages/{id}`
    EditWebhookMessage,
    /// `DELETE /webhooks/{id}/{token}/messages/{id}`
    DeleteWebhookMessage,
    /// `POST /channels/{id}/webhooks`
    CreateWebhook,
    /// `POST /channels/{id}/messages/{id}/threads` and `POST /channels/{id}/threads`
    StartThread,
    /// `GET /gateway` and `GET /gateway/bot`
    Gateway,
    /// `POST /users/@me/channels` (opening a DM)
    CreateDm,
}

/// What the faulted call answers instead of doing its work.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After`, `X-RateLimit-*` headers and a body `{message, retry_after, global}`
    /// (`retry_after` in seconds, fractional, as Discord sends it).
    RateLimited { retry_after: f64, global: bool },
    /// 500 Internal Server Error.
    ServerError,
    /// The call does its work, then answers 502 Bad Gateway: a response lost after Discord acted
    /// (the case idempotent retries exist for).
    LostResponse,
    /// Any status with a Discord JSON error body `{code, message}`, e.g. 403 / 50013
    /// "Missing Permissions" or 400 / 50035 "Invalid Form Body".
    Api {
        status: u16,
        code: u32,
        message: String,
    },
}
