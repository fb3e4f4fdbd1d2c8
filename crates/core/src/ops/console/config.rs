//! `[console]`: the moderation console, served by the admin listener under `/console/`. Off
//! unless `public_url` is set (and then `[admin] listen` must be set too).
//!
//! ```toml
//! [console]
//! public_url = "https://bridge.example.org"   # where people's browsers reach the listener
//! idle_minutes = 30                            # a session unused this long ends
//! frame_ancestors = ["https://app.element.io"] # who may embed it (an Element widget)
//! # Homeservers whose OpenID tokens sign people in (the widget), besides the bot's own:
//! openid_homeservers = { "example.org" = "https://matrix.example.org" }
//! ```
//!
//! `public_url` is what sign-in links point at and decides the cookie's `Secure` flag (on for
//! https). A reverse proxy in front of the listener is expected for https.

use super::openid::OpenIdTrust;
use crate::ops::config::ConfigError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The longest idle expiry accepted: a forgotten browser stays signed in no longer than a day.
const MAX_IDLE_MINUTES: u64 = 24 * 60;

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    pub public_url: Option<String>,
    pub idle_minutes: Option<u64>,
    #[serde(default)]
    pub frame_ancestors: Vec<String>,
    /// Server name to base URL.
    #[serde(default)]
    pub openid_homeservers: BTreeMap<String, String>,
}

/// The validated section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The origin people reach the console at, without a trailing slash
    /// (`https://bridge.example.org`, `http://127.0.0.1:9090`).
    pub public_url: String,
    /// Whether cookies are `Secure` (the public URL is https).
    pub secure: bool,
    pub idle: Duration,
    /// Origins allowed to frame the console (`frame-ancestors`); none: nobody may.
    pub frame_ancestors: Vec<String>,
    /// Whose OpenID tokens sign people in ([`super::openid`]): the configured homeservers here,
    /// the bot's own added by the config's reader once the platforms are checked.
    pub openid: OpenIdTrust,
}

impl ConsoleSettings {
    /// Settings for tests: `public_url` as given, 30 minutes idle, no framing.
    pub fn local(public_url: &str) -> ConsoleSettings {
        ConsoleSettings {
            public_url: public_url.trim_end_matches('/').to_owned(),
            secure: public_url.starts_with("https:"),
            idle: Duration::from_secs(30 * 60),
            frame_ancestors: Vec::new(),
            openid: OpenIdTrust::default(),
        }
    }
}

fn invalid(key: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("console.{key}"),
        problem: problem.into(),
    }
}

/// An origin (`scheme://host[:port]`), or why not. Paths, queries, fragments and credentials
/// are refused: the console lives at `/console/` of that origin.
fn origin(key: &str, text: &str) -> Result<String, ConfigError> {
    let text = text.trim();
    let u =
        url::Url::parse(text).map_err(|e| invalid(key, format!("`{text}` is not a URL ({e})")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(invalid(
            key,
            format!("`{text}` is not an http or https URL"),
        ));
    }
    if u.host_str().is_none() || u.cannot_be_a_base() {
        return Err(invalid(key, format!("`{text}` has no host")));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(invalid(key, format!("`{text}` carries credentials")));
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(invalid(
            key,
            format!("`{text}` has a path, query or fragment; give only scheme, host and port"),
        ));
    }
    Ok(u.origin().ascii_serialization())
}

impl RawConsole {
    /// `None` when the console is off. `admin_on`: whether `[admin] listen` is set.
    pub fn validate(self, admin_on: bool) -> Result<Option<ConsoleSettings>, ConfigError> {
        let Some(public_url) = self.public_url else {
            if self.idle_minutes.is_some()
                || !self.frame_ancestors.is_empty()
                || !self.openid_homeservers.is_empty()
            {
                return Err(invalid(
                    "public_url",
                    "is not set but other console settings are: the console would not run",
                ));
            }
            return Ok(None);
        };
        let public_url = origin("public_url", &public_url)?;
        if !admin_on {
            return Err(invalid(
                "public_url",
                "is set but admin.listen is not: the console is served by the admin listener",
            ));
        }
        let minutes = self.idle_minutes.unwrap_or(30);
        if minutes == 0 || minutes > MAX_IDLE_MINUTES {
            return Err(invalid(
                "idle_minutes",
                format!("must be from 1 to {MAX_IDLE_MINUTES}, not {minutes}"),
            ));
        }
        let frame_ancestors = self
            .frame_ancestors
            .iter()
            .map(|a| origin("frame_ancestors", a))
            .collect::<Result<_, _>>()?;
        Ok(Some(ConsoleSettings {
            secure: public_url.starts_with("https:"),
            public_url,
            idle: Duration::from_secs(minutes * 60),
            frame_ancestors,
            openid: OpenIdTrust::configured(&self.openid_homeservers)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<Option<ConsoleSettings>, String> {
        RawConsole {
            public_url: Some(url.into()),
            ..RawConsole::default()
        }
        .validate(true)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn absent_is_off() {
        assert_eq!(RawConsole::default().validate(false), Ok(None));
    }

    #[test]
    fn origins_are_taken_and_https_makes_cookies_secure() {
        let s = check("https://Bridge.example.org/").unwrap().unwrap();
        assert_eq!(s.public_url, "https://bridge.example.org");
        assert!(s.secure);
        assert_eq!(s.idle, Duration::from_secs(1800));
        let s = check("http://127.0.0.1:9090").unwrap().unwrap();
        assert_eq!(s.public_url, "http://127.0.0.1:9090");
        assert!(!s.secure);
    }

    #[test]
    fn anything_else_names_the_key() {
        for bad in [
            "",
            "bridge.example.org",
            "ftp://x",
            "https://x/console",
            "https://x/?a=1",
            "https://u:p@x",
            "javascript:alert(1)",
        ] {
            let e = check(bad).unwrap_err();
            assert!(e.starts_with("console.public_url: "), "{bad:?}: {e}");
        }
        let e = RawConsole {
            public_url: Some("https://x".into()),
            ..RawConsole::default()
        }
        .validate(false)
        .unwrap_err()
        .to_string();
        assert!(e.contains("admin.listen"), "{e}");
        let e = RawConsole {
            public_url: Some("https://x".into()),
            idle_minutes: Some(0),
            ..RawConsole::default()
        }
        .validate(true)
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("console.idle_minutes: "), "{e}");
        let e = RawConsole {
            public_url: Some("https://x".into()),
            frame_ancestors: vec!["*".into()],
            ..RawConsole::default()
        }
        .validate(true)
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("console.frame_ancestors: "), "{e}");
    }
}
