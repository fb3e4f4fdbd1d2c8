//! `TelegramError` (construction) and the classification of teloxide's errors into
//! `ConnectorError`, which tells the outbox what to do next.
//!
//! teloxide turns an error answer into `RequestError::Api(ApiError)` by its *description* and drops
//! `error_code`, so classification reads the description, whose prefix Telegram fixes:
//! `Bad Request:` (400) and `Forbidden:` (403) are permanent, `Unauthorized` (401) means the token
//! is wrong, anything else (`Internal Server Error`, `Bad Gateway`, `Conflict: …`) may pass.
//! A 429 arrives as `RequestError::RetryAfter`.

use civicbridge_api::ConnectorError;
use teloxide::{ApiError, RequestError};

/// Why a `TelegramConnector` could not be built from its config.
#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("telegram.token is empty: set it to the token @BotFather gave the bot")]
    EmptyToken,
    #[error("telegram.token is not a bot token: {0} (expected `<bot id>:<secret>`, e.g. `123456789:AA…`)")]
    MalformedToken(&'static str),
    #[error("telegram.api_url `{url}` is not a valid URL: {reason}")]
    BadApiUrl { url: String, reason: String },
    #[error("telegram.webhook.url `{url}` is not a valid URL: {reason}")]
    BadWebhookUrl { url: String, reason: String },
    #[error(
        "telegram.webhook.secret_token must be 1 to 256 characters of A-Z, a-z, 0-9, `_` and `-`"
    )]
    BadSecretToken,
    #[error("telegram.poll_timeout_secs is {0}: it must be between 1 and 16, because the HTTP client gives up after 17 s")]
    PollTimeout(u32),
}

/// Removes the token from a message that may quote a URL (reqwest errors do).
pub(crate) fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_owned()
    } else {
        text.replace(token, "<token>")
    }
}

/// What the outbox should do about a failed request.
pub(crate) fn classify(err: &RequestError, token: &str) -> ConnectorError {
    match err {
        RequestError::RetryAfter(s) => ConnectorError::RateLimited {
            retry_after: s.duration(),
        },
        RequestError::MigrateToChatId(to) => ConnectorError::Rejected(format!(
            "the group was upgraded to a supergroup with chat id {}: update the link",
            to.0
        )),
        RequestError::Api(api) => classify_api(api),
        RequestError::Network(e) => ConnectorError::Transient(scrub(&e.to_string(), token)),
        RequestError::InvalidJson { raw, .. } => {
            let head: String = raw.chars().take(200).collect();
            ConnectorError::Transient(scrub(
                &format!("the Bot API answered something that is not its JSON: {head}"),
                token,
            ))
        }
        RequestError::Io(e) => ConnectorError::Transient(scrub(&e.to_string(), token)),
    }
}

/// Telegram's description for an API error (teloxide's `Display` adds a prefix to unknown ones).
pub(crate) fn description(api: &ApiError) -> String {
    match api {
        ApiError::Unknown(s) => s.clone(),
        ApiError::InvalidToken => "Unauthorized".to_owned(),
        other => other.to_string(),
    }
}

fn classify_api(api: &ApiError) -> ConnectorError {
    let text = description(api);
    if matches!(api, ApiError::InvalidToken) || text == "Unauthorized" {
        return ConnectorError::Auth("the Bot API does not accept the bot token".into());
    }
    if text.starts_with("Bad Request")
        || text.starts_with("Forbidden")
        || text.starts_with("Unauthorized:")
    {
        ConnectorError::Rejected(text)
    } else if text.starts_with("Request Entity Too Large") {
        ConnectorError::Rejected(format!(
            "{text}: the file is larger than the Bot API accepts"
        ))
    } else {
        ConnectorError::Transient(text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    #[test]
    fn classification() {
        assert_eq!(
            classify(&RequestError::RetryAfter(Seconds::from_seconds(5)), ""),
            ConnectorError::RateLimited {
                retry_after: std::time::Duration::from_secs(5)
            }
        );
        assert_eq!(
            classify(&RequestError::Api(ApiError::ChatNotFound), ""),
            ConnectorError::Rejected("Bad Request: chat not found".into())
        );
        assert!(matches!(
            classify(&RequestError::Api(ApiError::BotKickedFromSupergroup), ""),
            ConnectorError::Rejected(d) if d.contains("kicked")
        ));
        assert!(matches!(
            classify(&RequestError::Api(ApiError::InvalidToken), ""),
            ConnectorError::Auth(_)
        ));
        assert_eq!(
            classify(
                &RequestError::Api(ApiError::Unknown("Internal Server Error".into())),
                ""
            ),
            ConnectorError::Transient("Internal Server Error".into())
        );
        assert_eq!(
            classify(
                &RequestError::Api(ApiError::Unknown("Bad Request: file is too big".into())),
                ""
            ),
            ConnectorError::Rejected("Bad Request: file is too big".into())
        );
    }

    #[test]
    fn scrub_hides_the_token() {
        assert_eq!(
            scrub("error for url (http://h/bot1:SECRET/GetMe)", "1:SECRET"),
            "error for url (http://h/bot<token>/GetMe)"
        );
    }
}
