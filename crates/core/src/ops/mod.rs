//! Running the bridge: the [`config`] file, validated with errors that name the bad key; the
//! [`daemon`] that wires store, workers, outbox and connectors and shuts them down; the
//! [`links`] in force, changed while running by a config [`reload`]; the pipeline's
//! [`liveness`] (for the systemd watchdog); [`remote`] commands (the admin API); the
//! supervisor that [`watch`]es each connector; its readiness ([`status`]) and [`metrics`],
//! served by the [`admin`] listener (`/livez`, `/readyz`, `/metrics`); and [`telemetry`]
//! (logging with secrets redacted).

pub mod admin;
pub mod config;
pub mod connectors;
pub mod console;
pub mod daemon;
pub mod links;
pub mod liveness;
pub mod metrics;
pub mod reload;
pub mod remote;
pub mod status;
pub mod telemetry;
pub mod watch;
