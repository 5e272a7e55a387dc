//! An echo bot: answers every text message it receives with `echo: <text>`,
//! and after a restart answers what came while it was down.
//!
//! ```sh
//! NATTER_PASSWORD=... cargo run -p natter-client --example echo_bot -- \
//!     http://127.0.0.1:8080 echo_bot ./echo-bot.position.json
//! ```
//!
//! The account must exist and be friends with whoever talks to it (from the
//! CLI: `natter friends add echo_bot`, then, as the bot, `natter friends
//! accept NAME`). The position it has handled is kept in the file given as
//! the third argument ([`FileCursorStore`]): delete it to start afresh. Its
//! session token is kept beside it (`<file>.token`, mode 0600), so that a
//! restart is the same device, not a new login each time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use natter_client::protocol::ErrorCode;
use natter_client::protocol::accounts::LoginRequest;
use natter_client::protocol::conversations::MessageContent;
use natter_client::protocol::ws::Event;
use natter_client::{Client, ConnectionEvent, FileCursorStore, Session};

/// A boxed error: the bot reports any failure and stops.
pub type BotError = Box<dyn std::error::Error + Send + Sync>;

/// What the bot needs to run.
#[derive(Debug, Clone)]
pub struct BotOptions {
    pub server: String,
    pub username: String,
    pub password: String,
    /// The file the handled position is kept in.
    pub position_file: PathBuf,
}

/// Logs in, resumes from the saved position (or starts from now), and echoes
/// until the connection ends for good. `ready` is called once the socket is
/// up, so that whoever started the bot knows from when it listens.
pub async fn run(options: &BotOptions, ready: impl FnOnce()) -> Result<(), BotError> {
    let client = Client::new(&options.server)?;
    let session = session(&client, options).await?;
    let me = session.user().id;
    let mut store = FileCursorStore::open(&options.position_file)?;
    let connection = session.connect_with(store.connect_options()).await?;
    store.started(&connection)?;
    ready();
    while let Some(event) = connection.next_event().await {
        match &event {
            ConnectionEvent::Event(Event::Message { message }) if message.sender_id != me => {
                if let MessageContent::Text { text } = &message.content {
                    let reply = format!("echo: {text}");
                    // A refused echo (too long, no longer friends) is
                    // reported and skipped: it would be refused again. Any
                    // other failure stops the bot, before the message is
                    // marked handled, so the next run answers it.
                    match connection.send_text(message.conversation_id, &reply).await {
                        Ok(_) => {}
                        Err(err) if err.is_retryable() => return Err(err.into()),
                        Err(err) => eprintln!("echo_bot: not echoed: {err}"),
                    }
                }
            }
            ConnectionEvent::Closed { code, reason } => {
                return Err(format!("the server closed the connection ({code}): {reason}").into());
            }
            _ => {}
        }
        // After handling: a crash before this line delivers the event again.
        store.mark_handled(&connection, &event)?;
    }
    Ok(())
}

/// Where the session token is kept: beside the position.
pub fn token_file(options: &BotOptions) -> PathBuf {
    let mut name = options.position_file.clone().into_os_string();
    name.push(".token");
    name.into()
}

/// The saved session if the server still takes its token, else a new login
/// (saved for the next start).
async fn session(client: &Client, options: &BotOptions) -> Result<Session, BotError> {
    let path = token_file(options);
    if let Ok(token) = std::fs::read_to_string(&path) {
        match client.session_from_token(token.trim()).await {
            Ok(session) => return Ok(session),
            // Revoked or expired: log in again. Anything else (the server is
            // down) is worth stopping for, not worth a new device.
            Err(err) if err.code() == Some(ErrorCode::Unauthorized) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let session = client
        .login(&LoginRequest {
            username: options.username.clone(),
            password: options.password.clone(),
            device: Some("echo bot".into()),
        })
        .await?;
    save_token(&path, session.token())?;
    Ok(session)
}

/// Writes the token readable by its owner only, replacing the file whole.
fn save_token(path: &Path, token: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut temporary = path.to_path_buf().into_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    let mut file = file.open(&temporary)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// `echo_bot SERVER USERNAME POSITION_FILE`, the password in `NATTER_PASSWORD`.
fn options_from_env() -> Result<BotOptions, String> {
    let usage = "usage: NATTER_PASSWORD=... echo_bot SERVER USERNAME POSITION_FILE";
    let mut args = std::env::args().skip(1);
    let (Some(server), Some(username), Some(position_file), None) =
        (args.next(), args.next(), args.next(), args.next())
    else {
        return Err(usage.into());
    };
    let password = std::env::var("NATTER_PASSWORD").map_err(|_| usage.to_owned())?;
    Ok(BotOptions {
        server,
        username,
        password,
        position_file: position_file.into(),
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match options_from_env() {
        Ok(options) => options,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let listening = || eprintln!("echo_bot: listening as {}", options.username);
    match run(&options, listening).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("echo_bot: {err}");
            ExitCode::FAILURE
        }
    }
}
