//! What can go wrong while building the demo world or playing the scenario.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Synapse(#[from] civicbridge_testkit::synapse::SynapseError),
    /// The homeserver refused a client-server call.
    #[error("matrix: {what} failed: {status} {body}")]
    Matrix {
        what: String,
        status: u16,
        body: String,
    },
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    #[error("I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] civicbridge_core::ops::config::ConfigError),
    #[error(transparent)]
    Daemon(#[from] civicbridge_core::ops::daemon::DaemonError),
    #[error(transparent)]
    Store(#[from] civicbridge_core::store::StoreError),
    /// A connector could not be built or could not log in.
    #[error("{0}")]
    Connector(String),
    #[error("telegram control: {0}")]
    Telegram(#[from] civicbridge_testkit::telegram::ControlError),
    #[error("discord: {0}")]
    Discord(#[from] civicbridge_testkit::discord::ServerError),
    /// Something the scenario waited for did not happen in time.
    #[error("timed out after {secs} s waiting for {what}")]
    Timeout { what: String, secs: u64 },
    /// A scenario step saw something it should not have.
    #[error("check failed: {0}")]
    Check(String),
    #[error("the demo state file {path} is unreadable ({problem}); delete it to start afresh")]
    State { path: PathBuf, problem: String },
}

impl DemoError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DemoError {
        let path = path.into();
        move |source| DemoError::Io { path, source }
    }
}
