//! `/metrics`: the registry in the Prometheus text format.

use super::AdminState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

pub(super) async fn metrics(State(state): State<AdminState>) -> Response {
    // Stored gauges read the store: off the async threads.
    let rendered = tokio::task::spawn_blocking(move || state.metrics.render()).await;
    match rendered {
        Ok(Ok(text)) => (
            [(header::CONTENT_TYPE, crate::ops::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot render the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering the metrics panicked");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
