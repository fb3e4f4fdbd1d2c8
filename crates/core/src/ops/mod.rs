//! Running the bridge: the [`config`] file, validated with errors that name the bad key; the
//! [`daemon`] that wires store, workers, outbox and connectors and shuts them down; the
//! supervisor that [`watch`]es each connector; its readiness ([`status`]) and [`metrics`],
//! served by the [`admin`] listener (`/livez`, `/readyz`, `/metrics`); and [`telemetry`]
//! (logging with secrets redacted).

pub mod admin;
pub mod config;
pub mod daemon;
pub mod metrics;
pub mod status;
pub mod telemetry;
pub mod watch;
