//! The admin listener: one HTTP listener (axum) for the people who run the bridge, off unless
//! `[admin] listen` is set. It serves:
//!
//! - `GET /livez`: 200 while the process answers.
//! - `GET /readyz`: 200 once the store is open and every configured connector has connected,
//!   503 before and whenever one is down or failed; a JSON body with each connector's state,
//!   last error and since when (`health.rs`, over [`crate::ops::status::Status`]).
//! - `GET /metrics`: the Prometheus text format (`metrics.rs`, over [`crate::ops::metrics`]).
//! - `/api/v1/…`: the admin API, for callers with a token ([`api`], `records.rs`, [`tokens`]).
//! - `/console/…`: the moderation console, when `[console]` is set ([`crate::ops::console`]).
//!
//! Anything else is 404, another method on these paths 405. Request bodies are read only by the
//! API and the console, within their limits.
//! The daemon binds it before anything else starts (a taken port stops the start with an error
//! naming `admin.listen`) and stops it at shutdown: new connections are refused at once, and
//! open ones get [`DRAIN`] to finish.
//!
//! [`config`] is the `[admin]` section, validated with errors that name the key.

pub mod api;
pub mod config;
mod health;
mod metrics;
mod records;
pub mod tokens;

pub use config::{AdminSettings, RawAdmin};

use crate::ops::metrics::Metrics;
use crate::ops::status::Status;
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long open connections may take to finish once the daemon stops.
pub const DRAIN: Duration = Duration::from_secs(2);

/// Why the admin listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin.listen: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What the handlers read. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AdminState {
    pub status: Status,
    pub metrics: Metrics,
    /// Filled once the daemon has started.
    pub api: api::ApiSlot,
    /// The moderation console (`/console/`), when `[console]` is set.
    pub console: crate::ops::console::ConsoleSlot,
}

/// The listener's routes, without a socket (tests can drive it directly).
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .merge(api::routes())
        .merge(crate::ops::console::routes(&state.console))
        .fallback(health::not_found)
        .with_state(state)
}

/// Binds `settings.listen` and serves on `tracker` until `shutdown`. Returns the bound address
/// (the port the system chose, for `:0`).
pub async fn start(
    settings: &AdminSettings,
    state: AdminState,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) -> Result<SocketAddr, AdminError> {
    let bind = |source| AdminError::Bind {
        addr: settings.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let app = router(state);
    tracker.spawn(async move {
        let stop = shutdown.clone();
        // The client's address, for the console's sign-in rate limit.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
        // A client that keeps a request open must not hold up the daemon's shutdown.
        let drained = async {
            shutdown.cancelled().await;
            tokio::time::sleep(DRAIN).await;
        };
        tokio::select! {
            served = serve => {
                if let Err(e) = served {
                    tracing::error!(error = %e, "the admin listener failed");
                }
            }
            _ = drained => tracing::warn!("admin connections still open at shutdown; dropped"),
        }
    });
    tracing::info!(%addr, "admin listener on http://{addr}/ (livez, readyz, metrics)");
    Ok(addr)
}
