//! The client subcommands: argument parsing and exit codes around
//! [`natter_tui::commands`] and [`natter_tui::chat`].

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use natter_client::protocol::{ConversationId, Seq};
use natter_tui::{CommandError, commands, config, format};

use crate::Command;

/// Options every client command takes.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Where the session is saved [default: the user's config dir + /natter].
    #[arg(long, env = "NATTER_CONFIG_DIR", global = true)]
    pub config_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The server, e.g. http://127.0.0.1:8080 or https://chat.example.com. To
    /// trust a self-signed https server, set NATTER_CA_CERT to its PEM certificate.
    #[arg(long, env = "NATTER_SERVER")]
    pub server: String,
    #[arg(long)]
    pub username: String,
    /// Create the account first.
    #[arg(long)]
    pub register: bool,
    /// Read the password from the first line of stdin instead of the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// Name this device (shown in the device list).
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A friend's username, a group's name, or a conversation id (#12).
    #[arg(long)]
    pub to: String,
    /// The text; read from stdin when absent.
    pub text: Vec<String>,
    /// Print the stored message as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A friend's username, a group's name, or a conversation id (#12).
    pub conversation: String,
    /// How many messages (newest).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Only messages before this seq.
    #[arg(long)]
    pub before: Option<i64>,
    /// Print a JSON array of messages.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FriendsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Exit after this many messages.
    #[arg(long)]
    pub count: Option<usize>,
    /// Include messages sent from this account's other devices.
    #[arg(long)]
    pub include_own: bool,
    /// Print every event (typing, presence, read), not only messages.
    #[arg(long)]
    pub all_events: bool,
}

#[derive(Args, Debug)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    pub conversation: i64,
    pub seq: i64,
}

fn dir(common: &CommonArgs) -> Result<PathBuf, CommandError> {
    config::config_dir(common.config_dir.as_deref())
}

/// Runs a client command and exits with its code.
pub fn main(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(command));
    match result {
        Ok(()) => Ok(()),
        Err(err) => {
            // Errors quote what the server said.
            eprintln!("natter: {}", format::safe_text(&err.to_string()));
            // Leave the terminal and the runtime cleanly before exiting.
            drop(runtime);
            std::process::exit(err.exit_code());
        }
    }
}

fn read_password(args: &LoginArgs) -> Result<String, CommandError> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CommandError::Terminal)?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        rpassword::prompt_password("Password: ").map_err(CommandError::Terminal)?
    };
    if password.is_empty() {
        return Err(CommandError::Usage("the password is empty".into()));
    }
    Ok(password)
}

async fn run(command: Command) -> Result<(), CommandError> {
    let command = match command {
        Command::Chat(args) => return chat(&dir(&args.common)?).await,
        other => other,
    };
    let mut stdout = std::io::stdout().lock();
    let out: &mut dyn Write = &mut stdout;
    match command {
        Command::Login(args) => {
            let dir = dir(&args.common)?;
            let password = read_password(&args)?;
            let saved = commands::login(
                &dir,
                &commands::LoginArgs {
                    server: args.server.clone(),
                    username: args.username.clone(),
                    password,
                    register: args.register,
                    device: args.device.clone(),
                },
            )
            .await?;
            writeln!(
                out,
                "logged in as {} on {}; session saved in {}",
                format::safe_line(&saved.username),
                saved.server,
                dir.join(config::SESSION_FILE).display()
            )
            .map_err(CommandError::Output)
        }
        Command::Logout(common) => {
            commands::logout(&dir(&common)?).await?;
            writeln!(out, "logged out").map_err(CommandError::Output)
        }
        Command::Send(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            let text = if args.text.is_empty() {
                if std::io::stdin().is_terminal() {
                    return Err(CommandError::Usage(
                        "give the text as arguments or on stdin".into(),
                    ));
                }
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(CommandError::Terminal)?;
                text
            } else {
                args.text.join(" ")
            };
            let message = commands::send(&session, &args.to, &text).await?;
            if args.json {
                let line = serde_json::to_string(&message)
                    .map_err(|e| CommandError::Output(std::io::Error::other(e)))?;
                writeln!(out, "{}", format::safe_json(&line)).map_err(CommandError::Output)
            } else {
                writeln!(
                    out,
                    "sent #{} to conversation #{}",
                    message.seq, message.conversation_id
                )
                .map_err(CommandError::Output)
            }
        }
        Command::History(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            let messages = commands::history(
                &session,
                &args.conversation,
                args.limit,
                args.before.map(Seq),
            )
            .await?;
            let names = commands::known_names(&session).await?;
            commands::write_messages(out, &messages, &names, args.json)
        }
        Command::Friends(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            commands::friends(&session, out, args.json).await
        }
        Command::Tail(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            let options = commands::TailOptions {
                count: args.count,
                include_own: args.include_own,
                all_events: args.all_events,
            };
            let username = session.user().username.clone();
            commands::tail(&session, out, &options, || {
                eprintln!("natter: listening as {}", format::safe_line(&username));
            })
            .await
        }
        Command::Download(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            commands::download(&session, ConversationId(args.conversation), Seq(args.seq)).await
        }
        Command::Chat(_) | Command::Serve(_) | Command::Bench(_) => {
            Err(CommandError::Usage("not a client command".into()))
        }
    }
}

async fn chat(dir: &Path) -> Result<(), CommandError> {
    let session = commands::open_session(dir).await?;
    if !std::io::stdout().is_terminal() {
        return Err(CommandError::Usage("`natter chat` needs a terminal".into()));
    }
    natter_tui::chat::run_terminal(session).await
}
