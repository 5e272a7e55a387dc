//! [`CommandError`]: what the scriptable commands and the chat client fail
//! with, the stable code naming each failure ([`CommandError::code`]) and the
//! exit code each maps to ([`CommandError::exit_code`]). docs/CLI.md lists
//! both; codes are added, never renamed.

use std::path::PathBuf;

use natter_client::ClientError;
use natter_client::protocol::ErrorCode;

/// Process exit codes of the client commands. Scripts may rely on them.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// Anything not listed below (I/O, an unreadable session file, ...).
    pub const FAILURE: i32 = 1;
    /// Bad command-line usage (clap uses 2 as well): a bad server URL, no
    /// terminal for the password, stdin that is not text, an ambiguous name.
    pub const USAGE: i32 = 2;
    /// Not logged in, or the saved session was revoked: run `natter login`.
    pub const AUTH: i32 = 3;
    /// The user, group, conversation or device named does not exist (or is
    /// not yours).
    pub const NOT_FOUND: i32 = 4;
    /// No Natter server answered at the URL: unreachable, too slow, or
    /// something else answered (a web page, a proxy's error).
    pub const UNREACHABLE: i32 = 5;
    /// The server refused the request (not friends, blocked, not allowed, ...).
    pub const REFUSED: i32 = 6;
    /// The input is over a protocol limit (found before sending, or by the
    /// server): nothing was sent.
    pub const TOO_LARGE: i32 = 7;
}

/// Why a client command failed. Each variant has a stable code
/// ([`CommandError::code`]), an exit code ([`CommandError::exit_code`]) and a
/// message fit for a terminal that says what to do.
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
    /// The `--server` given is not a URL the client can use.
    #[error("{url:?} is not a server URL: {reason}")]
    BadServerUrl { url: String, reason: String },
    /// The password must be typed, and there is no terminal to type it on.
    #[error(
        "no terminal to read the password from: pipe it in with --password-stdin \
         (e.g. `natter login ... --password-stdin < password-file`)"
    )]
    NoTerminal,
    /// `natter send` read stdin and it was not UTF-8 text.
    #[error(
        "stdin is not UTF-8 text: `natter send` sends text messages only \
         (give the text as arguments, or pipe text)"
    )]
    StdinNotText,
    /// Reading stdin failed.
    #[error("reading stdin: {0}")]
    Stdin(std::io::Error),
    /// The input is over a protocol limit; nothing was sent.
    #[error("the {what} is over the limit of {limit} bytes: nothing was sent")]
    TooLarge { what: &'static str, limit: usize },
    #[error("no {what} named {name:?}")]
    NotFound { what: &'static str, name: String },
    #[error("{name:?} is ambiguous: it fits {candidates}; type one of these (the name or its #ID)")]
    Ambiguous { name: String, candidates: String },
    #[error("cannot reach the server at {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// Something answered at the URL, but not the way a Natter server does.
    #[error(
        "{server} did not answer as a Natter server{hint}: check the URL \
         (the server's address, e.g. http://127.0.0.1:8080)"
    )]
    NotNatter { server: String, hint: String },
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
            CommandError::Usage(_)
            | CommandError::Ambiguous { .. }
            | CommandError::BadServerUrl { .. }
            | CommandError::NoTerminal
            | CommandError::StdinNotText => exit::USAGE,
            CommandError::NotFound { .. } => exit::NOT_FOUND,
            CommandError::Unreachable { .. } | CommandError::NotNatter { .. } => exit::UNREACHABLE,
            CommandError::TooLarge { .. } => exit::TOO_LARGE,
            CommandError::Refused { code, .. } if *code == ErrorCode::NotFound => exit::NOT_FOUND,
            CommandError::Refused { code, .. } if *code == ErrorCode::TooLarge => exit::TOO_LARGE,
            CommandError::Refused { .. } => exit::REFUSED,
            CommandError::NoConfigDir
            | CommandError::Io { .. }
            | CommandError::BadConfig { .. }
            | CommandError::Stdin(_)
            | CommandError::Client(_)
            | CommandError::Terminal(_)
            | CommandError::Output(_) => exit::FAILURE,
        }
    }

    /// The stable name of this failure, printed with its message
    /// (`natter: error[too_large]: ...`). Never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::NotLoggedIn => "not_logged_in",
            CommandError::SessionRevoked(_) => "session_revoked",
            CommandError::InvalidCredentials => "invalid_credentials",
            CommandError::NoConfigDir => "no_config_dir",
            CommandError::Io { .. } => "io",
            CommandError::BadConfig { .. } => "bad_session_file",
            CommandError::Usage(_) => "usage",
            CommandError::BadServerUrl { .. } => "bad_server_url",
            CommandError::NoTerminal => "no_terminal",
            CommandError::StdinNotText => "stdin_not_text",
            CommandError::Stdin(_) => "stdin",
            CommandError::TooLarge { .. } => "too_large",
            CommandError::NotFound { .. } => "not_found",
            CommandError::Ambiguous { .. } => "ambiguous",
            CommandError::Unreachable { .. } => "unreachable",
            CommandError::NotNatter { .. } => "not_a_natter_server",
            CommandError::Refused { code, .. } if *code == ErrorCode::TooLarge => "too_large",
            CommandError::Refused { .. } => "refused",
            CommandError::Client(_) => "client",
            CommandError::Terminal(_) => "terminal",
            CommandError::Output(_) => "output",
        }
    }

    /// Classifies an SDK error; `server` names the server in messages.
    pub fn from_client(server: &str, err: ClientError) -> CommandError {
        match &err {
            ClientError::Api { code, message, .. } => match code {
                ErrorCode::Unauthorized => CommandError::SessionRevoked(message.clone()),
                ErrorCode::InvalidCredentials => CommandError::InvalidCredentials,
                // A route the server does not have: what answered is not
                // (this version of) a Natter API, e.g. a URL with a wrong path.
                ErrorCode::NoRoute => not_natter(server),
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
            // The decoder's text names internal types: it goes to the log only.
            ClientError::Decode(detail) => {
                tracing::debug!(%detail, "undecodable reply");
                not_natter(server)
            }
            ClientError::InvalidUrl { url, reason } => bad_server_url(url, reason),
            _ => CommandError::Client(err),
        }
    }
}

/// [`CommandError::NotNatter`], with a hint when the URL has a path.
fn not_natter(server: &str) -> CommandError {
    let path = server
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]))
        .filter(|path| !path.is_empty() && *path != "/");
    let hint = match path {
        Some(path) => format!(
            " (the URL has the path {path}: leave it out unless the server is published under it)"
        ),
        None => String::new(),
    };
    CommandError::NotNatter {
        server: server.to_owned(),
        hint,
    }
}

/// [`CommandError::BadServerUrl`] in the user's words rather than the URL
/// parser's.
fn bad_server_url(url: &str, reason: &str) -> CommandError {
    let trimmed = url.trim();
    let reason = if trimmed.is_empty() {
        "it is empty; give the server's address, e.g. http://127.0.0.1:8080".to_owned()
    } else if !trimmed.contains("://") {
        format!("it needs http:// or https:// in front, e.g. http://{trimmed}")
    } else if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        "the scheme must be http:// or https://".to_owned()
    } else {
        reason.to_owned()
    };
    CommandError::BadServerUrl {
        url: url.to_owned(),
        reason,
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
        check(api(ErrorCode::TooLarge), exit::TOO_LARGE);
        check(api(ErrorCode::NoRoute), exit::UNREACHABLE);
        check(ClientError::Transport("refused".into()), exit::UNREACHABLE);
        check(ClientError::Timeout, exit::UNREACHABLE);
        check(
            ClientError::Closed {
                code: 4002,
                reason: "revoked".into(),
            },
            exit::AUTH,
        );
        check(ClientError::Decode("x".into()), exit::UNREACHABLE);
        check(
            ClientError::InvalidUrl {
                url: "x".into(),
                reason: "r".into(),
            },
            exit::USAGE,
        );
    }

    #[test]
    fn messages_name_no_internal_types_and_say_what_to_do() {
        let decode = ClientError::Decode("natter_protocol::accounts::UserProfile: eof".into());
        let text = CommandError::from_client("http://h:1/chat", decode).to_string();
        assert!(!text.contains("natter_protocol"), "{text}");
        assert!(text.contains("the path /chat"), "{text}");
        let text = CommandError::from_client("http://h:1", ClientError::Decode("d".into()));
        assert!(!text.to_string().contains("path"), "{text}");

        for (url, wanted) in [
            ("localhost:8080", "http://localhost:8080"),
            ("", "it is empty"),
            ("ftp://host", "http:// or https://"),
        ] {
            let err = ClientError::InvalidUrl {
                url: url.into(),
                reason: "relative URL without a base".into(),
            };
            let text = CommandError::from_client(url, err).to_string();
            assert!(text.contains(wanted), "{url:?}: {text}");
            assert!(!text.contains("relative URL"), "{url:?}: {text}");
        }
    }

    #[test]
    fn codes_are_distinct_per_variant() {
        let errors = [
            CommandError::NotLoggedIn,
            CommandError::NoTerminal,
            CommandError::StdinNotText,
            CommandError::TooLarge {
                what: "message",
                limit: 1,
            },
            CommandError::BadServerUrl {
                url: "u".into(),
                reason: "r".into(),
            },
            CommandError::NotNatter {
                server: "s".into(),
                hint: String::new(),
            },
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(CommandError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(errors[3].exit_code(), exit::TOO_LARGE);
        assert_eq!(errors[1].exit_code(), exit::USAGE);
    }
}
