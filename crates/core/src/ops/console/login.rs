//! Signing in with a `!weblogin` link and signing out.
//!
//! `GET /console/login?token=…` only shows a button; `POST /console/login` spends the link and
//! opens the session (a chat client fetching the link for a preview cannot use it up). Every
//! refusal reads the same to the visitor, whether the link was never issued, used, or expired.

use super::guard::{self, Frame};
use super::headers::{cleared_cookie, session_cookie};
use super::sessions::Opened;
use crate::ops::admin::AdminState;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::time::Instant;

const REFUSED: &str = "This sign-in link does not work: it was already used, has expired, or \
    was never issued. Type !weblogin in your moderation room for a new one.";

fn looks_like_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

pub async fn page(
    State(state): State<AdminState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let console = match guard::ready(&state) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    if !looks_like_token(token) {
        return guard::message_page(
            &console,
            StatusCode::BAD_REQUEST,
            Frame::anonymous("Sign in"),
            "Sign in",
            REFUSED,
        );
    }
    guard::render(
        &console,
        StatusCode::OK,
        "login.html",
        minijinja::context! {
            token => token,
            ..minijinja::Value::from_serialize(Frame::anonymous("Sign in")),
        },
    )
}

pub async fn sign_in(State(state): State<AdminState>, request: Request) -> Response {
    let console = match guard::ready(&state) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let peer = guard::peer(request.extensions());
    // Another site's page must not sign a visitor in (as someone else): a browser names the
    // form's origin.
    let foreign = request
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|o| o.to_str().ok() != Some(console.settings().public_url.as_str()));
    if foreign {
        return guard::message_page(
            &console,
            StatusCode::FORBIDDEN,
            Frame::anonymous("Sign in"),
            "Sign in",
            REFUSED,
        );
    }
    if !console.0.limit.allow(peer) {
        let mut r = guard::message_page(
            &console,
            StatusCode::TOO_MANY_REQUESTS,
            Frame::anonymous("Too many attempts"),
            "Too many attempts",
            "Too many sign-in attempts from here; wait a minute and try again.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return r;
    }
    let body = match axum::body::to_bytes(request.into_body(), super::BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let form = match guard::form(&console, &body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let token = form.get("token").unwrap_or_default();
    let person = match console.0.sign_in.redeem(token, Instant::now()) {
        Ok(p) => p,
        Err(why) => {
            // The token is never logged, not even a wrong one.
            tracing::info!(%why, "a console sign-in was refused");
            return guard::message_page(
                &console,
                StatusCode::FORBIDDEN,
                Frame::anonymous("Sign in"),
                "Sign in",
                REFUSED,
            );
        }
    };
    if let Err(e) = super::audit::write(
        console.store(),
        &person,
        "signed_in",
        None,
        serde_json::json!({}),
    ) {
        tracing::error!(error = %e, "cannot audit a console sign-in; refused");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let sid = console
        .0
        .sessions
        .open(person, Opened::Link, Instant::now());
    let cookie = session_cookie(&sid, console.settings().secure, Opened::Link);
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/console/queue"),
    )
        .into_response()
}

pub async fn sign_out(
    State(state): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let (signed, _form) = match guard::posted(&state, &headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    signed.console.0.sessions.close(&signed.sid);
    if let Err(e) = super::audit::write(
        signed.console.store(),
        &signed.session.person,
        "signed_out",
        None,
        serde_json::json!({}),
    ) {
        tracing::error!(error = %e, "cannot audit a console sign-out");
    }
    let mut r = guard::message_page(
        &signed.console,
        StatusCode::OK,
        Frame::anonymous("Signed out"),
        "Signed out",
        "You are signed out. Type !weblogin in your moderation room to sign in again.",
    );
    if let Ok(v) = header::HeaderValue::from_str(&cleared_cookie(
        signed.console.settings().secure,
        signed.session.opened,
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
