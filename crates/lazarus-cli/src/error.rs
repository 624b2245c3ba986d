//! What can go wrong running a command, and the exit code each failure gives.

use thiserror::Error;

/// Why a request to the lazarus API did not give the answer a command needs.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The API answered with an error status; `message` is the text of its fault body
    /// (Masakari's `{"badRequest": {"code": 400, "message": "..."}}`), or the raw body.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// What the API said went wrong.
        message: String,
    },
    /// The request could not be sent or its answer not read (connection refused,
    /// timeout, TLS).
    #[error("cannot reach the lazarus API at {url}: {detail}")]
    Transport {
        /// The URL asked.
        url: String,
        /// The transport's explanation.
        detail: String,
    },
    /// The API answered successfully with a body this client does not understand.
    #[error("unexpected answer from {url}: {detail}")]
    InvalidResponse {
        /// The URL asked.
        url: String,
        /// What was wrong with the body.
        detail: String,
    },
}

/// Why a command failed. [`CliError::exit_code`] maps each to the process's exit code.
#[derive(Debug, Error)]
pub enum CliError {
    /// The command line is well-formed but unusable (a bad JSON payload, an unknown
    /// column, no way to reach the API): exit 2, like clap's own usage errors.
    #[error("{0}")]
    Usage(String),
    /// The API or the network refused the request: exit 1.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A name matched several resources, or none: exit 1.
    #[error("{0}")]
    Lookup(String),
    /// Credentials or the cloud configuration could not be used: exit 1.
    #[error("{0}")]
    Auth(String),
}

impl CliError {
    /// The process exit code for this failure: 2 for usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Client(_) | CliError::Lookup(_) | CliError::Auth(_) => 1,
        }
    }
}
