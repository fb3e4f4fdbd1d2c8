//! Signing in with a Matrix OpenID token: how the console works as a widget in Element.
//!
//! `POST /api/v1/session/openid` takes the token object Element's widget API hands a widget
//! (`get_openid`, [`token`]), asks the token's homeserver who it belongs to ([`userinfo`]),
//! and opens a console session for that person ([`super::sessions::Opened::Widget`]). The
//! widget page ([`super::widget`]) does the asking and the posting.
//!
//! The body is hostile, so, in order:
//! - Only the console's own pages may post it: an `Origin` must be `public_url`, and the body
//!   must be `application/json` (another site's page cannot send that without a CORS
//!   preflight, which nothing here answers).
//! - Attempts share the `!weblogin` links' rate limit ([`super::limit`]), before anything else.
//! - The session cookie of a widget must cross sites (`SameSite=None; Secure; Partitioned`),
//!   which needs a secure context: the sign-in is refused unless `public_url` is https or a
//!   loopback address (tests; browsers count loopback http as secure).
//! - Bodies over [`MAX_BODY`] are 413, anything but a well-formed token 400.
//! - The homeserver asked is never the one the token names but the URL the config gives for
//!   that name ([`trust`]); an untrusted name is 403 before any request is made.
//! - The answer's `sub` must be a user of the server the token named: a trusted homeserver may
//!   vouch only for its own people, never another server's.
//! - Who they are decides what they see, by the same rules as `!weblogin` ([`super::who`]):
//!   someone who moderates no link is 403. An OpenID token says nothing of power levels, so
//!   the widget passes the room Element shows it in (`?room=`, from `$matrix_room_id` in the
//!   widget's URL): when that is a link's moderation room, the person's standing there, as
//!   the connector knows it now, counts as a `!weblogin` typed there would ([`standing_in`]).
//!   Any other room is 400; without one, only the links' lists count.
//! - The token is never logged; a sign-in is audited like a `!weblogin` one (`signed_in`,
//!   `"method": "openid"`).

pub mod token;
pub mod trust;
pub mod userinfo;

pub use trust::OpenIdTrust;

use super::guard;
use super::headers::session_cookie;
use super::sessions::Opened;
use super::who::Person;
use crate::ops::admin::AdminState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use civicbridge_api::{Platform, RemoteUserId, RoomRef, Standing, UserKey};
use std::time::Instant;
use token::OpenIdToken;
use userinfo::AskError;

/// The largest body read: a token object is about 150 bytes.
pub const MAX_BODY: usize = 4 * 1024;

/// Where a signed-in widget goes.
pub const LOCATION: &str = "/console/queue";

/// A refusal as JSON (`{"error": …}`), for the widget to show.
fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": error.into() }))).into_response()
}

/// Whether `public_url` (an origin) is on a loopback address.
fn is_loopback(public_url: &str) -> bool {
    match url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// `@local:server`'s server part, if `sub` is a user id.
fn server_of(sub: &str) -> Option<&str> {
    let (local, server) = sub.strip_prefix('@')?.split_once(':')?;
    let ok = !local.is_empty()
        && sub.len() <= 255
        && !sub.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(server)
}

/// The `room` of the query string, if any.
fn asked_room(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "room")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The person's standing in `room` when it is the moderation room of a link in force on
/// `platform`, as the connector knows it now: what their `!weblogin` typed there would carry.
/// Another room is refused (400), so a widget cannot borrow a standing from a room that
/// governs nothing; a connector that cannot say gives no standing, never an error.
async fn standing_in(
    console: &super::Console,
    platform: Platform,
    room: Option<&str>,
    who: &RemoteUserId,
) -> Result<Option<(RoomRef, Standing)>, guard::Refusal> {
    let Some(room) = room else {
        return Ok(None);
    };
    let room = RoomRef::new(platform, room);
    let governs = console
        .links()
        .iter()
        .any(|l| l.moderation_room.as_ref() == Some(&room));
    if !governs {
        return Err(Box::new(refuse(
            StatusCode::BAD_REQUEST,
            "room: not a moderation room of this bridge; add the widget to a link's \
             moderation room",
        )));
    }
    let Some(connector) = console.connector(platform) else {
        return Ok(None);
    };
    match connector.standing(&room.room, who).await {
        Ok(s) => Ok(s.map(|s| (room, s))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a widget user's standing; the lists decide");
            Ok(None)
        }
    }
}

pub async fn sign_in(State(state): State<AdminState>, request: Request) -> Response {
    let console = match guard::ready(&state) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let settings = console.settings();
    let peer = guard::peer(request.extensions());
    let room = asked_room(request.uri().query());
    let headers = request.headers();
    let foreign = headers
        .get(header::ORIGIN)
        .is_some_and(|o| o.to_str().ok() != Some(settings.public_url.as_str()));
    if foreign {
        return refuse(
            StatusCode::FORBIDDEN,
            "this sign-in is taken only from the console's own pages",
        );
    }
    if !console.0.limit.allow(peer) {
        let mut r = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts from here; wait a minute and try again",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return r;
    }
    let Some(platform) = settings.openid.platform() else {
        return refuse(
            StatusCode::FORBIDDEN,
            "OpenID sign-in is off: this bridge has no Matrix homeserver to ask",
        );
    };
    if !settings.secure && !is_loopback(&settings.public_url) {
        return refuse(
            StatusCode::FORBIDDEN,
            "OpenID sign-in needs the console on https (console.public_url): its session cookie \
             must cross sites inside Element, which browsers allow only for secure cookies",
        );
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        );
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large"),
    };
    let token = match OpenIdToken::parse(&body) {
        Ok(t) => t,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let server = token.server_name();
    let Some(base_url) = settings.openid.base_url(server) else {
        tracing::info!(%server, "a console OpenID sign-in named an untrusted homeserver");
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "this bridge does not trust the homeserver {server} to sign people in \
                 (console.openid_homeservers)"
            ),
        );
    };
    let sub = match console.0.userinfo.ask(base_url, token.access_token()).await {
        Ok(sub) => sub,
        Err(e @ AskError::Unknown(_)) => {
            tracing::info!(%server, error = %e, "a console OpenID sign-in was refused");
            return refuse(
                StatusCode::UNAUTHORIZED,
                "your homeserver does not know this token (expired or not issued); reload the \
                 widget",
            );
        }
        Err(e) => {
            tracing::warn!(%server, error = %e, "a console OpenID sign-in could not be checked");
            return refuse(
                StatusCode::BAD_GATEWAY,
                format!("your homeserver could not confirm who you are: {e}"),
            );
        }
    };
    if server_of(&sub) != Some(server) {
        tracing::warn!(%server, "a homeserver vouched for a user of another server; refused");
        return refuse(
            StatusCode::FORBIDDEN,
            format!("the homeserver {server} may vouch only for its own users"),
        );
    }
    let who = RemoteUserId::new(sub.clone());
    let standing = match standing_in(&console, platform, room.as_deref(), &who).await {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let person = Person {
        key: UserKey::new(platform, who),
        name: sub,
        standing,
    };
    if person.links(&console.links()).is_empty() {
        tracing::info!(who = %person.key, "a console OpenID sign-in by someone who moderates no link");
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "{} moderates no link of this bridge (by the links' moderators and admins \
                 lists, or by power level in the moderation room the widget is in)",
                person.key
            ),
        );
    }
    if let Err(e) = super::audit::write(
        console.store(),
        &person,
        "signed_in",
        None,
        serde_json::json!({ "method": "openid" }),
    ) {
        tracing::error!(error = %e, "cannot audit a console sign-in; refused");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the sign-in failed; see the log",
        );
    }
    let sid = console
        .0
        .sessions
        .open(person, Opened::Widget, Instant::now());
    let cookie = session_cookie(&sid, settings.secure, Opened::Widget);
    (
        [(header::SET_COOKIE, cookie)],
        Json(serde_json::json!({ "location": LOCATION })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sub_is_a_user_id_and_its_server_is_after_the_first_colon() {
        assert_eq!(server_of("@mo:example.org"), Some("example.org"));
        assert_eq!(server_of("@mo:localhost:8448"), Some("localhost:8448"));
        for bad in [
            "mo:example.org",
            "@:example.org",
            "@mo",
            "@mo :x",
            "@mo:x\n",
            "",
        ] {
            assert_eq!(server_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn loopback_public_urls_may_sign_in_over_http() {
        for yes in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "http://bridge.example.org",
            "http://10.0.0.1",
            "http://localhost.evil.org",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }
}
