//! Asking a trusted homeserver who a token belongs to:
//! `GET {base}/_matrix/federation/v1/openid/userinfo?access_token=…` answers
//! `{"sub": "@user:server"}` (Matrix server-server API, "OpenID"). Only ever called with a
//! base URL from [`super::trust::OpenIdTrust`].
//!
//! Bounded: a total timeout, no redirects (a redirect could lead anywhere), and at most
//! [`MAX_ANSWER`] bytes read. The token is in the query, so a transport error is reported
//! without its URL.

use std::time::Duration;

/// The longest answer read; a real one is under 100 bytes.
pub const MAX_ANSWER: usize = 16 * 1024;

/// How long one look-up may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a homeserver did not vouch for a token.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// The homeserver does not know the token (unknown, expired): the caller is not signed in.
    #[error("the homeserver does not know this token (HTTP {0})")]
    Unknown(u16),
    /// 404: the homeserver does not serve the endpoint (Synapse: no `openid` resource on the
    /// listener the base URL reaches).
    #[error("the homeserver does not serve /_matrix/federation/v1/openid/userinfo (HTTP 404); enable its openid resource")]
    NotServed,
    #[error("the homeserver could not be reached: {0}")]
    Unreachable(String),
    #[error("the homeserver's answer is not a userinfo: {0}")]
    BadAnswer(String),
}

/// The HTTP client for look-ups. Cheap to clone.
#[derive(Debug, Clone)]
pub struct UserInfo {
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct Answer {
    sub: String,
}

impl UserInfo {
    /// Fails only when the TLS backend cannot start; then the console does not start either
    /// (a client that follows redirects is no fallback).
    pub fn new() -> Result<UserInfo, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT / 2)
            .build()?;
        Ok(UserInfo { http })
    }

    /// The user id (`sub`) the homeserver at `base_url` says `token` belongs to, unchecked.
    pub async fn ask(&self, base_url: &str, token: &str) -> Result<String, AskError> {
        let mut url = url::Url::parse(&format!("{base_url}/_matrix/federation/v1/openid/userinfo"))
            .map_err(|e| AskError::Unreachable(format!("bad base URL: {e}")))?;
        url.query_pairs_mut().append_pair("access_token", token);
        let unreachable = |e: reqwest::Error| AskError::Unreachable(e.without_url().to_string());
        let mut r = self.http.get(url).send().await.map_err(unreachable)?;
        let status = r.status().as_u16();
        if matches!(status, 401 | 403) {
            // Synapse: 401 M_UNKNOWN_TOKEN.
            return Err(AskError::Unknown(status));
        }
        if status == 404 {
            return Err(AskError::NotServed);
        }
        if status != 200 {
            return Err(AskError::BadAnswer(format!("HTTP {status}")));
        }
        if r.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
            return Err(AskError::BadAnswer("too long".into()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(AskError::BadAnswer("too long".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let a: Answer =
            serde_json::from_slice(&body).map_err(|e| AskError::BadAnswer(e.to_string()))?;
        Ok(a.sub)
    }
}
