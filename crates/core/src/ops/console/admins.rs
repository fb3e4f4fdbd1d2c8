//! What the admin pages (links and rules, parked jobs) share: the links a person administers,
//! and the one way they refuse a request (403, audited as a `console_action` `refused`, as the
//! other console refusals are). The permission itself is the rooms' ([`super::who`]): the
//! page checks it first so another link is never shown or touched, and the command it runs
//! checks it again.

use super::guard::Signed;
use super::who::Person;
use crate::moderation::commands::permissions::Role;
use crate::store::LinkRecord;
use axum::http::StatusCode;
use axum::response::Response;
use civicbridge_api::LinkId;

/// The links of `links` that `person` administers, in the order given.
pub fn administered<'a>(person: &Person, links: &'a [LinkRecord]) -> Vec<&'a LinkRecord> {
    links
        .iter()
        .filter(|l| person.role(l) >= Role::Admin)
        .collect()
}

/// The link `id` if `person` administers it.
pub fn administered_link<'a>(
    person: &Person,
    links: &'a [LinkRecord],
    id: &str,
) -> Option<&'a LinkRecord> {
    links
        .iter()
        .find(|l| l.id.as_str() == id && person.role(l) >= Role::Admin)
}

/// Refuses with 403 and audits it: `link` when the request named one, `detail` what was asked.
pub fn refuse(
    signed: &Signed,
    link: Option<&LinkId>,
    detail: serde_json::Value,
    text: &str,
) -> Response {
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        "refused",
        link,
        detail,
    ) {
        tracing::error!(error = %e, "cannot audit a refused console request");
    }
    signed.message(StatusCode::FORBIDDEN, "Not yours", text)
}

/// The answer when the store fails: logged, a 500 page that says where to look.
pub fn store_failed(signed: &Signed, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a console admin page failed");
    signed.message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something failed",
        "The bridge could not read or change its store; see its log.",
    )
}

/// The page of link `id`: `/console/links/ID`, the id percent-encoded so that any name the
/// config allows makes one path segment and a valid `Location`.
pub fn link_page(id: &LinkId) -> String {
    let mut out = String::from("/console/links/");
    for b in id.as_str().bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
