//! What every console response carries, and the session cookie.
//!
//! - `Content-Security-Policy`: only this origin's own files; no inline script or style (the
//!   templates have none: behaviour is `static/console.js`), no plugins, forms post only here,
//!   and `frame-ancestors` the configured origins (an Element widget) or none.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (a sign-in link's query
//!   never leaves in a `Referer`; not `no-referrer`, under which browsers send `Origin: null`
//!   with the console's own forms and the CSRF check could not tell them from another site's), `Cache-Control: no-store` on pages (a shared computer's
//!   back button shows nothing after logout), `Cross-Origin-Resource-Policy: same-origin`.

use super::config::ConsoleSettings;
use super::sessions::Opened;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use std::sync::Arc;

/// The headers of every response, computed once from the settings.
#[derive(Debug, Clone)]
pub struct Headers(Arc<Vec<(HeaderName, HeaderValue)>>);

impl Headers {
    pub fn new(settings: &ConsoleSettings) -> Headers {
        let ancestors = if settings.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            settings.frame_ancestors.join(" ")
        };
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
             frame-ancestors {ancestors}"
        );
        let mut list = vec![
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-resource-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ];
        // The origins were validated as ASCII serialisations; a failure here would be a bug,
        // and then the strictest policy is the safe answer.
        let csp = HeaderValue::from_str(&csp).unwrap_or_else(|_| {
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'")
        });
        list.push((header::CONTENT_SECURITY_POLICY, csp));
        if settings.frame_ancestors.is_empty() {
            list.push((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
        }
        Headers(Arc::new(list))
    }

    /// Adds the headers to `response`; pages (not the static files) are never cached.
    pub fn apply(&self, mut response: Response) -> Response {
        let h = response.headers_mut();
        for (name, value) in self.0.iter() {
            h.insert(name.clone(), value.clone());
        }
        if !h.contains_key(header::CACHE_CONTROL) {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

/// The `Set-Cookie` value that opens a session. No `Max-Age`: the browser forgets it when
/// closed, and the server ends it after the idle time anyway. Never readable by scripts.
///
/// - [`Opened::Link`]: never sent by another site's request (`SameSite=Strict`), `Secure` when
///   the console is reached over https.
/// - [`Opened::Widget`]: the console runs in Element's iframe, a third-party context where a
///   `Strict` (or `Lax`) cookie is never sent, so `SameSite=None`; browsers take that only with
///   `Secure` (http://localhost and 127.0.0.1 count as secure contexts, so loopback tests work),
///   and `Partitioned` (CHIPS) keeps it in a jar for the embedding site only: the same cookie
///   is not sent when another site frames or posts to the console. Forms still need the
///   session's CSRF token and the console's `Origin` ([`super::guard::csrf`]).
pub fn session_cookie(id: &str, secure: bool, opened: Opened) -> String {
    format!(
        "{}={id}; {}",
        super::sessions::COOKIE,
        attributes(secure, opened)
    )
}

/// The `Set-Cookie` value that removes the session cookie: the same attributes, or a browser
/// keeps the partitioned one.
pub fn cleared_cookie(secure: bool, opened: Opened) -> String {
    format!(
        "{}=; {}; Max-Age=0",
        super::sessions::COOKIE,
        attributes(secure, opened)
    )
}

fn attributes(secure: bool, opened: Opened) -> &'static str {
    match (opened, secure) {
        (Opened::Widget, _) => "Path=/console; HttpOnly; SameSite=None; Secure; Partitioned",
        (Opened::Link, true) => "Path=/console; HttpOnly; SameSite=Strict; Secure",
        (Opened::Link, false) => "Path=/console; HttpOnly; SameSite=Strict",
    }
}

/// The session id the request's cookies carry, if any looks like one (64 hex digits).
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == super::sessions::COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_framing_only_by_the_configured_origins() {
        let mut s = ConsoleSettings::local("https://b.example");
        let r = Headers::new(&s).apply(Response::default());
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        s.frame_ancestors = vec!["https://app.element.io".into()];
        let r = Headers::new(&s).apply(Response::default());
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(
            csp.ends_with("frame-ancestors https://app.element.io"),
            "{csp}"
        );
        assert!(!r.headers().contains_key(header::X_FRAME_OPTIONS));
    }

    #[test]
    fn a_widget_session_cookie_crosses_sites_only_partitioned_and_secure() {
        for secure in [true, false] {
            let c = session_cookie("ab", secure, Opened::Widget);
            assert_eq!(
                c,
                "civicbridge_console=ab; Path=/console; HttpOnly; SameSite=None; Secure; Partitioned"
            );
            let gone = cleared_cookie(secure, Opened::Widget);
            assert!(
                gone.contains("SameSite=None; Secure; Partitioned"),
                "{gone}"
            );
            assert!(gone.ends_with("Max-Age=0"), "{gone}");
        }
    }

    #[test]
    fn cookies_are_strict_and_secure_over_https() {
        let c = session_cookie("ab", true, Opened::Link);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!session_cookie("ab", false, Opened::Link).contains("Secure"));
        assert!(cleared_cookie(true, Opened::Link).ends_with("Secure; Max-Age=0"));
        let id = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!(
                "x=1; {}={id}; y=2",
                super::super::sessions::COOKIE
            ))
            .expect("ascii"),
        );
        assert_eq!(session_id(&h), Some(id));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("civicbridge_console=../../etc"),
        );
        assert_eq!(session_id(&h), None);
    }
}
