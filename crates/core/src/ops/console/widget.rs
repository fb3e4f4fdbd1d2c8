//! `GET /console/widget`: the page to add to a moderation room as an Element widget. Its
//! script (`static/widget.js`, no inline script) asks Element for an OpenID token over the
//! widget API and signs in with it ([`super::openid`]). The origins it takes messages from are
//! the ones allowed to frame the console (`[console] frame_ancestors`).

use super::guard::{self, Frame};
use crate::ops::admin::AdminState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn page(State(state): State<AdminState>) -> Response {
    let console = match guard::ready(&state) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let origins = console.settings().frame_ancestors.join(" ");
    guard::render(
        &console,
        StatusCode::OK,
        "widget.html",
        minijinja::context! {
            origins => origins,
            ..minijinja::Value::from_serialize(Frame::anonymous("Sign in"))
        },
    )
}
