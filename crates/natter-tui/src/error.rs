//! [`CommandError`]: what the scriptable commands and the chat client fail
//! with, and the exit code each failure maps to.

use std::path::PathBuf;

use natter_client::ClientError;
use natter_client::protocol::ErrorCode;

/// Process exit codes of the client commands. Scripts may rely on them.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Anything not listed below (I/O, a reply that did not decode, ...).
    pub const FAILURE: i32 = 1;
    /// Bad command-line usage (clap uses 2 as well).
    pub const USAGE: i32 = 2;
    /// Not logged in, or the saved session was revoked: run `natter login`.
    pub const AUTH: i32 = 3;
    /// The user, group or conversation named does not exist (or is not yours).
    pub const NOT_FOUND: i32 = 4;
    /// The server could not be reached, or did not answer in time.
    pub const UNREACHABLE: i32 = 5;
    /// The server refused the request (not friends, blocked, too large, ...).
    pub const REFUSED: i32 = 6;
}

/// Why a client command failed. Each variant has an exit code
/// ([`CommandError::exit_code`]) and a message fit for a terminal.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("not logged in: run `natter login --server URL --username NAME` first")]
    NotLoggedIn,
    #[error("the saved session is no longer valid ({0}): run `natter login` again")]
    SessionRevoked(String),
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("no config directory could be found; pass --config-dir")]
    NoConfigDir,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid session file ({reason}); run `natter login` again")]
    BadConfig { path: PathBuf, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("no {what} named {name:?}")]
    NotFound { what: &'static str, name: String },
    #[error("{name:?} is ambiguous: {candidates}; pass the conversation id instead (#ID)")]
    Ambiguous { name: String, candidates: String },
    #[error("cannot reach the server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    #[error("the server refused: {message} ({code})")]
    Refused { code: ErrorCode, message: String },
    #[error("{0}")]
    Client(ClientError),
    #[error("terminal: {0}")]
    Terminal(std::io::Error),
    #[error("writing output: {0}")]
    Output(std::io::Error),
}

impl CommandError {
    /// The process exit code for this failure (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::NotLoggedIn
            | CommandError::SessionRevoked(_)
            | CommandError::InvalidCredentials => exit::AUTH,
            CommandError::Usage(_) | CommandError::Ambiguous { .. } => exit::USAGE,
            CommandError::NotFound { .. } => exit::NOT_FOUND,
            CommandError::Unreachable { .. } => exit::UNREACHABLE,
            CommandError::Refused { code, .. } if *code == ErrorCode::NotFound => exit::NOT_FOUND,
            CommandError::Refused { .. } => exit::REFUSED,
            _ => exit::FAILURE,
        }
    }

    /// Classifies an SDK error; `server` names the server in messages.
    pub fn from_client(server: &str, err: ClientError) -> CommandError {
        match &err {
            ClientError::Api { code, message, .. } => match code {
                ErrorCode::Unauthorized => CommandError::SessionRevoked(message.clone()),
                ErrorCode::InvalidCredentials => CommandError::InvalidCredentials,
                _ => CommandError::Refused {
                    code: *code,
                    message: message.clone(),
                },
            },
            ClientError::Transport(reason) => CommandError::Unreachable {
                server: server.to_owned(),
                reason: reason.clone(),
            },
            ClientError::Timeout => CommandError::Unreachable {
                server: server.to_owned(),
                reason: "timed out".into(),
            },
            ClientError::Closed { code, reason } if *code == 4001 || *code == 4002 => {
                CommandError::SessionRevoked(format!("closed with {code}: {reason}"))
            }
            _ => CommandError::Client(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: ClientError, expected: i32) {
        assert_eq!(
            CommandError::from_client("http://x", err.clone()).exit_code(),
            expected,
            "{err:?}"
        );
    }

    #[test]
    fn sdk_errors_map_to_documented_exit_codes() {
        let api = |code: ErrorCode| ClientError::Api {
            status: code.http_status(),
            code,
            message: "m".into(),
            retry_after_ms: None,
            reason: None,
        };
        check(api(ErrorCode::Unauthorized), exit::AUTH);
        check(api(ErrorCode::InvalidCredentials), exit::AUTH);
        check(api(ErrorCode::NotFound), exit::NOT_FOUND);
        check(api(ErrorCode::NotFriends), exit::REFUSED);
        check(ClientError::Transport("refused".into()), exit::UNREACHABLE);
        check(ClientError::Timeout, exit::UNREACHABLE);
        check(
            ClientError::Closed {
                code: 4002,
                reason: "revoked".into(),
            },
            exit::AUTH,
        );
        check(ClientError::Decode("x".into()), exit::FAILURE);
    }
}
