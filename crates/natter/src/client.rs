//! The client subcommands: argument parsing and exit codes around
//! [`natter_tui::commands`] and [`natter_tui::chat`].

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use natter_client::protocol::contacts::FriendRequestOutcome;
use natter_client::protocol::{ConversationId, Seq};
use natter_tui::commands::{contacts, devices, groups};
use natter_tui::{CommandError, commands, config, format, json};
use serde::Serialize;

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
    /// A friend's username, a group's name (`friend:` or `group:` in front
    /// when both share it), or a conversation id (#12).
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

/// `natter friends [ACTION]`: without an action, lists friends and pending
/// requests.
#[derive(Args, Debug)]
pub struct FriendsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON records (see docs/CLI.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<FriendsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum FriendsCommand {
    /// List friends (with presence) and pending requests, incoming and outgoing (the default).
    List,
    /// Ask a user to be friends (at once friends if they had asked you).
    Add {
        /// Their username.
        username: String,
        /// A greeting shown with the request.
        #[arg(long)]
        greeting: Option<String>,
    },
    /// Accept the friend request a user sent you.
    Accept {
        /// The requester's username.
        username: String,
    },
    /// Decline the friend request a user sent you.
    Decline {
        /// The requester's username.
        username: String,
    },
    /// Withdraw a friend request you sent.
    Cancel {
        /// The username you sent it to.
        username: String,
    },
    /// End a friendship.
    Remove {
        /// The friend's username or remark.
        name: String,
    },
    /// Block a user: they can no longer message you or ask to be friends.
    Block {
        /// Their username.
        username: String,
    },
    /// Unblock a user.
    Unblock {
        /// Their username.
        username: String,
    },
}

/// `natter groups [ACTION]`: without an action, lists your groups.
#[derive(Args, Debug)]
pub struct GroupsArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON records (see docs/CLI.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<GroupsCommand>,
}

#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// List your groups (the default).
    List,
    /// Create a group you own, with some of your friends in it.
    Create {
        /// The group's name.
        name: String,
        /// A friend to add (repeat for more).
        #[arg(long = "member", value_name = "FRIEND")]
        members: Vec<String>,
    },
    /// Add friends of yours to a group.
    Invite {
        /// The group's name or #id.
        group: String,
        /// Friends' usernames or remarks.
        #[arg(required = true)]
        friends: Vec<String>,
    },
    /// Remove a member from a group (owner or admin).
    Kick {
        /// The group's name or #id.
        group: String,
        /// The member's username.
        member: String,
    },
    /// Leave a group.
    Leave {
        /// The group's name or #id.
        group: String,
    },
    /// Rename a group (owner or admin).
    Rename {
        /// The group's name or #id.
        group: String,
        /// The new name.
        name: String,
    },
    /// List a group's members with their roles.
    Members {
        /// The group's name or #id.
        group: String,
    },
}

/// `natter devices [ACTION]`: without an action, lists your devices.
#[derive(Args, Debug)]
pub struct DevicesArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Print JSON records (see docs/CLI.md).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<DevicesCommand>,
}

#[derive(Subcommand, Debug)]
pub enum DevicesCommand {
    /// List the devices logged in to your account (the default).
    List,
    /// Log another device out.
    Revoke {
        /// The device's id (#4, from `natter devices`) or its name.
        device: String,
    },
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
            eprintln!(
                "natter: error[{}]: {}",
                err.code(),
                format::safe_text(&err.to_string())
            );
            // Leave the terminal and the runtime cleanly before exiting.
            drop(runtime);
            std::process::exit(err.exit_code());
        }
    }
}

/// Whether opening the terminal failed because there is none (a cron job,
/// a service, `setsid`): ENXIO, ENOTTY or ENOENT on `/dev/tty`.
fn no_terminal(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(2 | 6 | 25)) || err.kind() == std::io::ErrorKind::NotFound
}

fn read_password(args: &LoginArgs) -> Result<String, CommandError> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|err| {
            if err.kind() == std::io::ErrorKind::InvalidData {
                CommandError::Usage("the password on stdin is not UTF-8 text".into())
            } else {
                CommandError::Stdin(err)
            }
        })?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        rpassword::prompt_password("Password: ").map_err(|err| {
            if no_terminal(&err) {
                CommandError::NoTerminal
            } else {
                CommandError::Terminal(err)
            }
        })?
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
                commands::read_text(&mut std::io::stdin().lock())?
            } else {
                args.text.join(" ")
            };
            let message = commands::send(&session, &args.to, &text).await?;
            if args.json {
                json::write_line(out, &message)
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
            friends(&session, out, args.json, args.action).await
        }
        Command::Groups(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            groups(&session, out, args.json, args.action).await
        }
        Command::Devices(args) => {
            let session = commands::open_session(&dir(&args.common)?).await?;
            match args.action.unwrap_or(DevicesCommand::List) {
                DevicesCommand::List => devices::list(&session, out, args.json).await,
                DevicesCommand::Revoke { device } => {
                    let device = devices::revoke(&session, &device).await?;
                    let text = format!(
                        "logged out device #{} ({})",
                        device.id,
                        format::safe_line(&device.name)
                    );
                    say(out, args.json, &device, &text)
                }
            }
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

/// Prints `record` as JSON, or `text` as a line.
fn say(
    out: &mut dyn Write,
    as_json: bool,
    record: &impl Serialize,
    text: &str,
) -> Result<(), CommandError> {
    if as_json {
        json::write_line(out, record)
    } else {
        writeln!(out, "{text}").map_err(CommandError::Output)
    }
}

async fn friends(
    session: &natter_client::Session,
    out: &mut dyn Write,
    as_json: bool,
    action: Option<FriendsCommand>,
) -> Result<(), CommandError> {
    let name = |user: &natter_client::protocol::accounts::UserProfile| {
        format::safe_line(&user.username).into_owned()
    };
    match action.unwrap_or(FriendsCommand::List) {
        FriendsCommand::List => contacts::friends(session, out, as_json).await,
        FriendsCommand::Add { username, greeting } => {
            let outcome = contacts::add(session, &username, greeting.as_deref()).await?;
            let text = match &outcome {
                FriendRequestOutcome::Pending { request } => {
                    format!("friend request sent to {}", name(&request.to))
                }
                FriendRequestOutcome::Friends { friend } => format!(
                    "{} had asked you too: you are friends now (conversation #{})",
                    name(&friend.user),
                    friend.conversation_id
                ),
            };
            say(out, as_json, &outcome, &text)
        }
        FriendsCommand::Accept { username } => {
            let friend = contacts::accept(session, &username).await?;
            let text = format!(
                "you and {} are friends now (conversation #{})",
                name(&friend.user),
                friend.conversation_id
            );
            say(out, as_json, &friend, &text)
        }
        FriendsCommand::Decline { username } => {
            let request = contacts::decline(session, &username).await?;
            let text = format!("declined the friend request of {}", name(&request.from));
            say(out, as_json, &request.from, &text)
        }
        FriendsCommand::Cancel { username } => {
            let request = contacts::cancel(session, &username).await?;
            let text = format!("withdrew the friend request to {}", name(&request.to));
            say(out, as_json, &request.to, &text)
        }
        FriendsCommand::Remove { name: friend } => {
            let user = contacts::remove(session, &friend).await?;
            let text = format!("{} is no longer your friend", name(&user));
            say(out, as_json, &user, &text)
        }
        FriendsCommand::Block { username } => {
            let user = contacts::block(session, &username).await?;
            let text = format!("blocked {}", name(&user));
            say(out, as_json, &user, &text)
        }
        FriendsCommand::Unblock { username } => {
            let user = contacts::unblock(session, &username).await?;
            let text = format!("unblocked {}", name(&user));
            say(out, as_json, &user, &text)
        }
    }
}

async fn groups(
    session: &natter_client::Session,
    out: &mut dyn Write,
    as_json: bool,
    action: Option<GroupsCommand>,
) -> Result<(), CommandError> {
    match action.unwrap_or(GroupsCommand::List) {
        GroupsCommand::List => groups::list(session, out, as_json).await,
        GroupsCommand::Create { name, members } => {
            let group = groups::create(session, &name, &members).await?;
            let text = format!(
                "created group {} (#{}, {} members)",
                format::safe_line(&group.name),
                group.id,
                group.member_count
            );
            say(out, as_json, &group, &text)
        }
        GroupsCommand::Invite { group, friends } => {
            let members = groups::invite(session, &group, &friends).await?;
            if as_json {
                return json::write_pretty(out, &members);
            }
            writeln!(
                out,
                "invited {}; the group has {} members",
                friends.len(),
                members.len()
            )
            .map_err(CommandError::Output)
        }
        GroupsCommand::Kick { group, member } => {
            let user = groups::kick(session, &group, &member).await?;
            let text = format!(
                "removed {} from the group",
                format::safe_line(&user.username)
            );
            say(out, as_json, &user, &text)
        }
        GroupsCommand::Leave { group } => {
            let group = groups::leave(session, &group).await?;
            let text = format!("left {}", format::safe_line(&group.name));
            say(out, as_json, &group, &text)
        }
        GroupsCommand::Rename { group, name } => {
            let group = groups::rename(session, &group, &name).await?;
            let text = format!("renamed to {}", format::safe_line(&group.name));
            say(out, as_json, &group, &text)
        }
        GroupsCommand::Members { group } => groups::members(session, &group, out, as_json).await,
    }
}

async fn chat(dir: &Path) -> Result<(), CommandError> {
    let session = commands::open_session(dir).await?;
    if !std::io::stdout().is_terminal() {
        return Err(CommandError::Usage("`natter chat` needs a terminal".into()));
    }
    natter_tui::chat::run_terminal_in(session, dir).await
}
