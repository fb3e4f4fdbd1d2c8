//! The request body: an OpenID token object exactly as
//! `POST /_matrix/client/v3/user/{userId}/openid/request_token` returns it and as Element's
//! widget API (`get_openid`) hands it to a widget:
//! `{"access_token", "token_type": "Bearer", "matrix_server_name", "expires_in"}`.
//!
//! Hostile input: every field is checked before anything is fetched, and the token is a
//! secret (it signs its owner in to any service for its lifetime), so it is never logged or
//! printed, not even in `Debug`.

use super::trust::is_server_name;
use serde::Deserialize;

/// The longest token taken. Synapse's are 24 letters; room for others, none for abuse.
const MAX_TOKEN: usize = 512;

/// Why a body is not a token (answered 400, naming the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadToken {
    #[error("the body is not an OpenID token object: {0}")]
    NotJson(String),
    #[error("access_token must be 1 to {MAX_TOKEN} URL-safe characters")]
    AccessToken,
    #[error("token_type must be \"Bearer\"")]
    TokenType,
    #[error("matrix_server_name is not a server name")]
    ServerName,
    #[error("expires_in must be a positive number of seconds")]
    ExpiresIn,
}

/// An OpenID token, as sent.
#[derive(Clone, Deserialize)]
pub struct OpenIdToken {
    access_token: String,
    token_type: String,
    matrix_server_name: String,
    expires_in: u64,
}

impl std::fmt::Debug for OpenIdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenIdToken")
            .field("matrix_server_name", &self.matrix_server_name)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl OpenIdToken {
    /// Reads and checks a JSON body.
    pub fn parse(body: &[u8]) -> Result<OpenIdToken, BadToken> {
        // serde_json's message names the position and the expected type, never the input.
        let t: OpenIdToken =
            serde_json::from_slice(body).map_err(|e| BadToken::NotJson(e.to_string()))?;
        let token_ok = !t.access_token.is_empty()
            && t.access_token.len() <= MAX_TOKEN
            && t.access_token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
        if !token_ok {
            return Err(BadToken::AccessToken);
        }
        if t.token_type != "Bearer" {
            return Err(BadToken::TokenType);
        }
        if !is_server_name(&t.matrix_server_name) {
            return Err(BadToken::ServerName);
        }
        if t.expires_in == 0 {
            return Err(BadToken::ExpiresIn);
        }
        Ok(t)
    }

    /// The secret to ask the homeserver about. Never log it.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The homeserver the token claims to come from (untrusted until looked up).
    pub fn server_name(&self) -> &str {
        &self.matrix_server_name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(token: &str, kind: &str, server: &str, expires: &str) -> Vec<u8> {
        format!(
            r#"{{"access_token":{token},"token_type":{kind},"matrix_server_name":{server},"expires_in":{expires}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_token_as_synapse_returns_it_is_read() {
        let t = OpenIdToken::parse(&body(
            r#""SomeLettersHere""#,
            r#""Bearer""#,
            r#""example.org""#,
            "3600",
        ))
        .expect("valid");
        assert_eq!(t.access_token(), "SomeLettersHere");
        assert_eq!(t.server_name(), "example.org");
        assert!(
            !format!("{t:?}").contains("SomeLettersHere"),
            "never printed"
        );
    }

    #[test]
    fn anything_else_is_refused_by_field() {
        let ok = (r#""tok""#, r#""Bearer""#, r#""example.org""#, "3600");
        for b in ["", "{", "[]", "null", r#"{"access_token":"x"}"#] {
            let e = OpenIdToken::parse(b.as_bytes()).unwrap_err();
            assert!(matches!(e, BadToken::NotJson(_)), "{b}: {e}");
        }
        let long = format!("\"{}\"", "a".repeat(MAX_TOKEN + 1));
        for token in [
            r#""""#,
            r#""a b""#,
            r#""a&b=c""#,
            r#""a/../b""#,
            long.as_str(),
            "5",
        ] {
            let e = OpenIdToken::parse(&body(token, ok.1, ok.2, ok.3)).unwrap_err();
            assert!(
                matches!(e, BadToken::AccessToken | BadToken::NotJson(_)),
                "{token}: {e}"
            );
        }
        assert_eq!(
            OpenIdToken::parse(&body(ok.0, r#""bearer""#, ok.2, ok.3)).unwrap_err(),
            BadToken::TokenType
        );
        for server in [
            r#""evil.org/x?""#,
            r#""http://evil.org""#,
            r#""""#,
            r#""a@b""#,
        ] {
            assert_eq!(
                OpenIdToken::parse(&body(ok.0, ok.1, server, ok.3)).unwrap_err(),
                BadToken::ServerName,
                "{server}"
            );
        }
        assert_eq!(
            OpenIdToken::parse(&body(ok.0, ok.1, ok.2, "0")).unwrap_err(),
            BadToken::ExpiresIn
        );
        assert!(OpenIdToken::parse(&body(ok.0, ok.1, ok.2, "-1")).is_err());
    }
}
