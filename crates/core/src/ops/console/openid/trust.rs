//! The homeservers whose word on an OpenID token the console takes. A token names its own
//! homeserver (`matrix_server_name`), and the console must ask that server about it; asking any
//! server a visitor names would let them make the daemon fetch arbitrary hosts (SSRF). So only
//! these are ever asked: the bot's own homeserver (from the platform's section, through
//! [`PlatformFactory::openid_homeserver`](civicbridge_api::PlatformFactory::openid_homeserver)),
//! and those `[console] openid_homeservers` names, each at the URL the config gives.

use crate::ops::config::ConfigError;
use civicbridge_api::{OpenIdHomeserver, Platform};
use std::collections::BTreeMap;

/// Trusted homeservers by server name, and the platform whose people they vouch for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenIdTrust {
    /// The platform of the people signed in (the one whose section named a homeserver).
    /// `None`: no platform does, and OpenID sign-in is off.
    platform: Option<Platform>,
    /// Server name (`example.org`) to base URL (`https://matrix.example.org`, no trailing `/`).
    homeservers: BTreeMap<String, String>,
}

fn invalid(problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: "console.openid_homeservers".into(),
        problem: problem.into(),
    }
}

/// Whether `name` is a Matrix server name: a host (DNS name, IPv4, or `[IPv6]`) and an optional
/// port. Checked strictly because it is compared, never parsed further.
pub fn is_server_name(name: &str) -> bool {
    let (host, port) = match name.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => (h, Some(p)),
        _ => (name, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 255
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    port_ok && host_ok && name.len() <= 255
}

/// A homeserver's base URL: http(s), a host, no credentials, query or fragment; a path prefix
/// is kept. Returned without a trailing slash.
fn base_url(name: &str, text: &str) -> Result<String, ConfigError> {
    let u = url::Url::parse(text.trim())
        .map_err(|e| invalid(format!("`{name}`: `{text}` is not a URL ({e})")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(invalid(format!(
            "`{name}`: `{text}` is not an http(s) URL with a host"
        )));
    }
    if !u.username().is_empty()
        || u.password().is_some()
        || u.query().is_some()
        || u.fragment().is_some()
    {
        return Err(invalid(format!(
            "`{name}`: `{text}` carries credentials, a query or a fragment"
        )));
    }
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

impl OpenIdTrust {
    /// The configured map, checked. Its platform comes later ([`OpenIdTrust::own`]).
    pub fn configured(raw: &BTreeMap<String, String>) -> Result<OpenIdTrust, ConfigError> {
        let mut homeservers = BTreeMap::new();
        for (name, url) in raw {
            if !is_server_name(name) {
                return Err(invalid(format!(
                    "`{name}` is not a server name (host[:port], as in @user:host)"
                )));
            }
            homeservers.insert(name.clone(), base_url(name, url)?);
        }
        Ok(OpenIdTrust {
            platform: None,
            homeservers,
        })
    }

    /// Adds the bot's own homeserver on `platform`. A configured entry of the same name wins
    /// (an internal URL, say).
    pub fn own(&mut self, platform: Platform, hs: &OpenIdHomeserver) -> Result<(), ConfigError> {
        if self.platform.is_some_and(|p| p != platform) {
            return Err(invalid(
                "two platforms name an OpenID homeserver; the console can trust only one",
            ));
        }
        self.platform = Some(platform);
        if is_server_name(&hs.server_name) && !self.homeservers.contains_key(&hs.server_name) {
            let url = base_url(&hs.server_name, &hs.base_url)?;
            self.homeservers.insert(hs.server_name.clone(), url);
        }
        Ok(())
    }

    /// Refuses a configured map no platform can use.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.platform.is_none() && !self.homeservers.is_empty() {
            return Err(invalid(
                "is set but no configured platform signs people in with OpenID (a [matrix] section)",
            ));
        }
        Ok(())
    }

    /// The platform of the people signed in, when OpenID sign-in is on.
    pub fn platform(&self) -> Option<Platform> {
        self.platform
    }

    /// Where to ask about a token from `server_name`, if it is trusted. An exact match: server
    /// names are compared as the ids carry them.
    pub fn base_url(&self, server_name: &str) -> Option<&str> {
        self.homeservers.get(server_name).map(String::as_str)
    }

    /// A trust list for tests: `platform`, and these server names at these URLs, unchecked.
    pub fn of(platform: Platform, homeservers: &[(&str, &str)]) -> OpenIdTrust {
        OpenIdTrust {
            platform: Some(platform),
            homeservers: homeservers
                .iter()
                .map(|(n, u)| ((*n).to_owned(), u.trim_end_matches('/').to_owned()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MATRIX: Platform = Platform::new("matrix");

    #[test]
    fn server_names_are_hosts_with_an_optional_port() {
        for good in [
            "example.org",
            "localhost",
            "localhost:8448",
            "1.2.3.4:80",
            "[::1]:8008",
            "[::1]",
        ] {
            assert!(is_server_name(good), "{good}");
        }
        for bad in [
            "",
            ":80",
            "a b",
            "evil.org/path",
            "evil.org?x",
            "a@b",
            "host:",
            "host:123456",
            "[zz]",
            "é.org",
            "a:b:c",
        ] {
            assert!(!is_server_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_bots_homeserver_and_the_configured_ones_are_trusted_and_nothing_else() {
        let raw = BTreeMap::from([(
            "other.org".to_owned(),
            "https://matrix.other.org/".to_owned(),
        )]);
        let mut t = OpenIdTrust::configured(&raw).expect("valid");
        assert!(t.check().is_err(), "no platform to sign people in on");
        t.own(
            MATRIX,
            &OpenIdHomeserver {
                server_name: "example.org".into(),
                base_url: "http://127.0.0.1:8008".into(),
            },
        )
        .expect("one platform");
        t.check().expect("usable");
        assert_eq!(t.platform(), Some(MATRIX));
        assert_eq!(t.base_url("other.org"), Some("https://matrix.other.org"));
        assert_eq!(t.base_url("example.org"), Some("http://127.0.0.1:8008"));
        for untrusted in [
            "evil.org",
            "Example.org",
            "example.org:443",
            "127.0.0.1:8008",
            "",
        ] {
            assert_eq!(t.base_url(untrusted), None, "{untrusted}");
        }
    }

    #[test]
    fn bad_entries_name_the_key() {
        for (name, url) in [
            ("a b", "https://x"),
            ("x.org", "ftp://x"),
            ("x.org", "https://u:p@x"),
            ("x.org", "https://x/?q"),
        ] {
            let raw = BTreeMap::from([(name.to_owned(), url.to_owned())]);
            let e = OpenIdTrust::configured(&raw).unwrap_err().to_string();
            assert!(e.starts_with("console.openid_homeservers: "), "{e}");
        }
    }
}
