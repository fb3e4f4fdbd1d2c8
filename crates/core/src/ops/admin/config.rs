//! `[admin]`: where the admin listener listens. Off when the section or its `listen` is absent.
//!
//! ```toml
//! [admin]
//! listen = "127.0.0.1:9090"
//! ```
//!
//! It serves health and metrics without authentication: listen on loopback or a management
//! network, not on the public internet.

use crate::ops::config::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// An address and port (`127.0.0.1:9090`, `[::1]:9090`); port 0 lets the system choose.
    pub listen: Option<String>,
    /// Who may call the admin API (see [`super::tokens`]); without any, the API answers 401.
    pub tokens: Option<super::tokens::RawTokens>,
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    pub tokens: super::tokens::Tokens,
    /// `[console]`: the moderation console on this listener, if on.
    pub console: Option<crate::ops::console::ConsoleSettings>,
}

impl RawAdmin {
    /// `None` when the listener is off; an error naming `admin.listen` when it is not an
    /// address and port.
    pub fn validate(self) -> Result<Option<AdminSettings>, ConfigError> {
        let tokens = match self.tokens {
            Some(raw) => raw.validate()?,
            None => super::tokens::Tokens::default(),
        };
        let Some(listen) = self.listen else {
            if !tokens.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "admin.tokens".into(),
                    problem: "are set but admin.listen is not: the admin API would not run".into(),
                });
            }
            return Ok(None);
        };
        let invalid = |problem: String| ConfigError::Invalid {
            key: "admin.listen".into(),
            problem,
        };
        let text = listen.trim();
        if text.is_empty() {
            return Err(invalid(
                "is empty; give an address and port such as 127.0.0.1:9090, or leave it out to turn the listener off"
                    .into(),
            ));
        }
        let listen = text.parse::<SocketAddr>().map_err(|_| {
            invalid(format!(
                "`{text}` is not an address and port (such as 127.0.0.1:9090 or [::1]:9090)"
            ))
        })?;
        Ok(Some(AdminSettings {
            listen,
            tokens,
            console: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(listen: &str) -> Result<Option<AdminSettings>, String> {
        RawAdmin {
            listen: Some(listen.into()),
            tokens: None,
        }
        .validate()
        .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_is_off() {
        assert_eq!(RawAdmin::default().validate(), Ok(None));
    }

    #[test]
    fn addresses_and_ports_are_taken() {
        for ok in ["127.0.0.1:9090", "[::1]:9090", "0.0.0.0:0"] {
            assert_eq!(
                check(ok).map(|s| s.map(|s| s.listen.to_string())),
                Ok(Some(ok.to_owned()))
            );
        }
    }

    #[test]
    fn anything_else_names_the_key() {
        for bad in [
            "",
            "localhost",
            "9090",
            "127.0.0.1",
            "127.0.0.1:99999",
            "http://x:1",
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.starts_with("admin.listen: "), "{bad:?}: {e}");
        }
    }
}
