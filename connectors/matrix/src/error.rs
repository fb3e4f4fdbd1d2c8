//! `MatrixError` and its mapping to the `ConnectorError` the outbox acts on.

use civicbridge_api::ConnectorError;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use std::time::{Duration, SystemTime};

/// What can go wrong in the Matrix connector.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    #[error("invalid config: {0}")]
    Config(String),
    #[error("the homeserver refused the login for {user}: {reason}")]
    Login { user: String, reason: String },
    #[error("the persisted session at {path} is unreadable: {reason}")]
    Session { path: String, reason: String },
    #[error("could not build the Matrix client: {0}")]
    Build(String),
    #[error("I/O error at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid {what} `{value}`")]
    InvalidId { what: &'static str, value: String },
    #[error("room {0} is unknown to the bot (not joined)")]
    UnknownRoom(String),
    #[error(transparent)]
    Sdk(#[from] matrix_sdk::Error),
    #[error(transparent)]
    Http(#[from] matrix_sdk::HttpError),
}

impl From<MatrixError> for ConnectorError {
    fn from(e: MatrixError) -> Self {
        match e {
            MatrixError::Sdk(e) => classify_sdk(&e),
            MatrixError::Http(e) => classify_http(&e),
            MatrixError::Login { .. } => ConnectorError::Auth(e.to_string()),
            MatrixError::InvalidId { .. } | MatrixError::UnknownRoom(_) => {
                ConnectorError::Rejected(e.to_string())
            }
            MatrixError::Config(_) | MatrixError::Session { .. } | MatrixError::Build(_) => {
                ConnectorError::Auth(e.to_string())
            }
            MatrixError::Io { .. } => ConnectorError::Transient(e.to_string()),
        }
    }
}

/// The classification the issue asks for: `M_LIMIT_EXCEEDED` -> `RateLimited` (honouring
/// `retry_after_ms`), 5xx and network errors -> `Transient`, `M_FORBIDDEN` / `M_NOT_FOUND` (and
/// other 4xx) -> `Rejected`, `M_UNKNOWN_TOKEN` -> `Auth`.
pub(crate) fn classify_http(e: &matrix_sdk::HttpError) -> ConnectorError {
    let text = e.to_string();
    if let Some(api) = e.as_client_api_error() {
        return classify_api(api.status_code.as_u16(), api.error_kind(), text);
    }
    match e {
        matrix_sdk::HttpError::Reqwest(_) => ConnectorError::Transient(text),
        matrix_sdk::HttpError::Cached(inner) => classify_http(inner),
        matrix_sdk::HttpError::RefreshToken(_) => ConnectorError::Auth(text),
        matrix_sdk::HttpError::Api(inner) => match inner.as_ref() {
            // A body we could not parse: trust the status code.
            matrix_sdk::ruma::api::error::FromHttpResponseError::Server(_) => {
                ConnectorError::Transient(text)
            }
            _ => ConnectorError::Transient(text),
        },
        _ => ConnectorError::Rejected(text),
    }
}

pub(crate) fn classify_api(status: u16, kind: Option<&ErrorKind>, text: String) -> ConnectorError {
    match kind {
        Some(ErrorKind::LimitExceeded(data)) => ConnectorError::RateLimited {
            retry_after: retry_after(data.retry_after.as_ref()),
        },
        Some(ErrorKind::UnknownToken(_)) | Some(ErrorKind::MissingToken) => {
            ConnectorError::Auth(text)
        }
        Some(ErrorKind::Forbidden) | Some(ErrorKind::NotFound) => ConnectorError::Rejected(text),
        _ if status == 429 => ConnectorError::RateLimited {
            retry_after: Duration::from_secs(1),
        },
        _ if status >= 500 => ConnectorError::Transient(text),
        _ if status == 401 => ConnectorError::Auth(text),
        _ => ConnectorError::Rejected(text),
    }
}

fn retry_after(r: Option<&RetryAfter>) -> Duration {
    match r {
        Some(RetryAfter::Delay(d)) => *d,
        Some(RetryAfter::DateTime(t)) => t
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
        // The server did not say: a second is what Synapse usually asks for.
        None => Duration::from_secs(1),
    }
}

pub(crate) fn classify_sdk(e: &matrix_sdk::Error) -> ConnectorError {
    match e {
        matrix_sdk::Error::Http(h) => classify_http(h),
        matrix_sdk::Error::AuthenticationRequired => ConnectorError::Auth(e.to_string()),
        // Local store and crypto failures may pass (a busy database, keys not yet shared).
        _ => ConnectorError::Transient(e.to_string()),
    }
}

/// Whether the homeserver answered with HTTP `status` (Synapse's 404 for an unknown event is
/// `M_UNKNOWN` on some endpoints, `M_NOT_FOUND` on others).
pub(crate) fn is_status(e: &matrix_sdk::HttpError, status: u16) -> bool {
    e.as_client_api_error()
        .is_some_and(|api| api.status_code.as_u16() == status)
}

/// Whether the homeserver refused an annotation the sender has already made
/// (`M_DUPLICATE_ANNOTATION`): the reaction is there, which is what was asked.
pub(crate) fn is_duplicate_annotation(e: &matrix_sdk::HttpError) -> bool {
    matches!(
        e.client_api_error_kind(),
        Some(ErrorKind::DuplicateAnnotation)
    )
}

/// Whether this error says the target is already gone (a delete of it has nothing to do).
pub(crate) fn is_not_found(e: &matrix_sdk::HttpError) -> bool {
    matches!(e.client_api_error_kind(), Some(ErrorKind::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::ruma::api::error::{LimitExceededErrorData, UnknownTokenErrorData};

    fn server_error(status: u16, kind: ErrorKind) -> matrix_sdk::HttpError {
        use matrix_sdk::ruma::api::client::uiaa::UiaaResponse;
        use matrix_sdk::ruma::api::error::{
            Error, ErrorBody, FromHttpResponseError, StandardErrorBody,
        };
        use matrix_sdk::ruma::exports::http::StatusCode;
        let error = Error::new(
            StatusCode::from_u16(status).unwrap(),
            ErrorBody::Standard(StandardErrorBody::new(kind, "refused".into())),
        );
        matrix_sdk::HttpError::Api(Box::new(FromHttpResponseError::Server(
            UiaaResponse::MatrixError(error),
        )))
    }

    #[test]
    fn a_duplicate_annotation_and_a_404_are_recognised() {
        let dup = server_error(400, ErrorKind::DuplicateAnnotation);
        assert!(is_duplicate_annotation(&dup));
        assert!(!is_status(&dup, 404));
        // Otherwise it is a refusal like any other 400.
        assert!(matches!(classify_http(&dup), ConnectorError::Rejected(_)));
        // Synapse's "Unknown parent event." on the relations endpoint: 404 with M_UNKNOWN.
        let unknown = server_error(404, ErrorKind::Unknown);
        assert!(is_status(&unknown, 404));
        assert!(!is_not_found(&unknown));
        assert!(!is_duplicate_annotation(&unknown));
    }

    #[test]
    fn maps_error_codes_as_the_outbox_expects() {
        let mut limit = LimitExceededErrorData::new();
        limit.retry_after = Some(RetryAfter::Delay(Duration::from_millis(1500)));
        assert_eq!(
            classify_api(429, Some(&ErrorKind::LimitExceeded(limit)), String::new()),
            ConnectorError::RateLimited {
                retry_after: Duration::from_millis(1500)
            }
        );
        assert!(matches!(
            classify_api(
                401,
                Some(&ErrorKind::UnknownToken(UnknownTokenErrorData::new())),
                String::new()
            ),
            ConnectorError::Auth(_)
        ));
        assert!(matches!(
            classify_api(403, Some(&ErrorKind::Forbidden), String::new()),
            ConnectorError::Rejected(_)
        ));
        assert!(matches!(
            classify_api(404, Some(&ErrorKind::NotFound), String::new()),
            ConnectorError::Rejected(_)
        ));
        assert!(matches!(
            classify_api(502, Some(&ErrorKind::Unknown), String::new()),
            ConnectorError::Transient(_)
        ));
        assert!(matches!(
            classify_api(503, None, String::new()),
            ConnectorError::Transient(_)
        ));
    }
}
