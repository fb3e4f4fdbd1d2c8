//! `/livez`, `/readyz`, and the answer to paths nobody serves.

use super::AdminState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// 200 while the process answers.
pub(super) async fn livez() -> &'static str {
    "ok\n"
}

/// 200 when ready, 503 otherwise; the body says why in either case.
pub(super) async fn readyz(
    State(state): State<AdminState>,
) -> (StatusCode, Json<crate::ops::status::Readiness>) {
    let r = state.status.readiness();
    let code = if r.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(r))
}

pub(super) async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found: this listener serves /livez, /readyz, /metrics and /api/v1/\n",
    )
}
