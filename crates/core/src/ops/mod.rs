//! Running the bridge: the [`config`] file, validated with errors that name the bad key; the
//! [`daemon`] that wires store, workers, outbox and connectors and shuts them down; the
//! [`links`] in force, changed while running by a config [`reload`]; the pipeline's
//! [`liveness`] (for the systemd watchdog); [`remote`] commands (the admin API); the
//! supervisor that [`watch`]es each connector; and [`telemetry`] (logging with secrets
//! redacted).

pub mod config;
pub mod daemon;
pub mod links;
pub mod liveness;
pub mod reload;
pub mod remote;
pub mod telemetry;
pub mod watch;
