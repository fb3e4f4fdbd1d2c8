//! What can go wrong while installing, starting or talking to Synapse.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SynapseError {
    /// No usable `python3` on `PATH`.
    #[error(
        "python3 (>= 3.10) is needed to run Synapse but `{0}` failed: install it, e.g. \
         `apt-get install python3 python3-venv`"
    )]
    NoPython(String),
    /// `python3 -m venv` does not work (Debian ships it separately).
    #[error(
        "`python3 -m venv` failed: install the venv module, e.g. `apt-get install python3-venv` \
         (or run .ci/install-synapse.sh); python said: {0}"
    )]
    NoVenv(String),
    #[error("installing matrix-synapse=={version} into {venv} failed: {output}")]
    Install {
        version: &'static str,
        venv: PathBuf,
        output: String,
    },
    #[error("I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Synapse did not start within {waited_s} s; its log ends with:\n{log}")]
    StartTimeout { waited_s: u64, log: String },
    #[error("Synapse exited during start-up ({status}); its log ends with:\n{log}")]
    Exited { status: String, log: String },
    #[error("request to Synapse failed: {0}")]
    Http(String),
    #[error("Synapse refused `{what}`: {status} {body}")]
    Refused {
        what: String,
        status: u16,
        body: String,
    },
}

impl SynapseError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SynapseError {
        let path = path.into();
        move |source| SynapseError::Io { path, source }
    }
}

impl From<reqwest::Error> for SynapseError {
    fn from(e: reqwest::Error) -> Self {
        SynapseError::Http(e.to_string())
    }
}
