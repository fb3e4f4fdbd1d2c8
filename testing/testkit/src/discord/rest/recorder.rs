//! Every REST answer the local Discord sends, kept for the shape test that checks them against
//! `discord-api-types` (`DiscordServer::responses`): a layer around the REST
//! routes reads each answer's body, stores it with the request's method, path and the status,
//! and sends the same bytes on.

use super::Shared;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// One REST answer as the server sent it.
#[derive(Debug, Clone)]
pub struct RecordedResponse {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The JSON body; `Null` when there was none (204), a string when it was not JSON.
    pub body: Value,
}

/// The layer's work: runs the route, then records what it answered.
pub(crate) async fn record(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let resp = next.run(req).await;
    if !path.starts_with("/api/") {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    shared.lock().responses.push(RecordedResponse {
        method,
        path,
        query,
        status: parts.status.as_u16(),
        body,
    });
    Response::from_parts(parts, Body::from(bytes))
}
