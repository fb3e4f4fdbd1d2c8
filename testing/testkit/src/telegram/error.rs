//! The Bot API's error answer: `{"ok":false,"error_code":…,"description":…}` with the same HTTP
//! status, and `parameters.retry_after` on 429. Descriptions are Telegram's own wording, because
//! clients (teloxide included) recognise errors by their description.

use serde_json::{json, Value};

/// One error answer, as Telegram words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, description: impl Into<String>) -> Self {
        ApiError {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 `Bad Request: <what>`.
    pub fn bad_request(what: impl AsRef<str>) -> Self {
        Self::new(400, format!("Bad Request: {}", what.as_ref()))
    }

    /// 403 `Forbidden: <what>`.
    pub fn forbidden(what: impl AsRef<str>) -> Self {
        Self::new(403, format!("Forbidden: {}", what.as_ref()))
    }

    /// 401 for a token the server does not know.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized")
    }

    /// 404 for an unknown method or path.
    pub fn not_found() -> Self {
        Self::new(404, "Not Found")
    }

    /// 409 `Conflict: <what>`.
    pub fn conflict(what: impl AsRef<str>) -> Self {
        Self::new(409, format!("Conflict: {}", what.as_ref()))
    }

    /// 429 with `parameters.retry_after`, as flood control answers.
    pub fn too_many_requests(retry_after: u64) -> Self {
        ApiError {
            code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    /// 413 for an upload over the bot limit (50 MB).
    pub fn entity_too_large() -> Self {
        Self::new(413, "Request Entity Too Large")
    }

    /// 500, as Telegram answers when its back end fails.
    pub fn internal() -> Self {
        Self::new(500, "Internal Server Error")
    }

    /// `can't parse entities: <why>` for a malformed `parse_mode` text.
    pub fn cant_parse_entities(why: impl AsRef<str>) -> Self {
        Self::bad_request(format!("can't parse entities: {}", why.as_ref()))
    }

    pub fn body(&self) -> Value {
        let mut v = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let Some(r) = self.retry_after {
            v["parameters"] = json!({ "retry_after": r });
        }
        v
    }
}

/// What every method returns.
pub type ApiResult = Result<Value, ApiError>;
