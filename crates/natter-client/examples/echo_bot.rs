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
//! the third argument ([`FileCursorStore`]): delete it to start afresh.

use std::path::PathBuf;
use std::process::ExitCode;

use natter_client::protocol::accounts::LoginRequest;
use natter_client::protocol::conversations::MessageContent;
use natter_client::protocol::ws::Event;
use natter_client::{Client, ConnectionEvent, FileCursorStore};

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
    let session = client
        .login(&LoginRequest {
            username: options.username.clone(),
            password: options.password.clone(),
            device: Some("echo bot".into()),
        })
        .await?;
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
