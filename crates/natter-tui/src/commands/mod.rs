//! The scriptable commands: `natter login`, `send`, `history`, `tail`,
//! `logout` here; `friends …` in [`contacts`], `groups …` in [`groups`],
//! `devices …` in [`devices`]. Each takes a session (or the config directory
//! where it is saved) and writes its output to a `Write`, so the binary stays
//! thin and the commands are testable. What the server sent is written
//! through [`format::safe_line`], [`format::safe_text`] or, as JSON, through
//! [`crate::json`] (one shape per kind of record), so that it cannot drive
//! the terminal.

pub mod contacts;
pub mod devices;
pub mod groups;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use natter_client::protocol::accounts::{LoginRequest, RegisterRequest};
use natter_client::protocol::conversations::{ConversationKind, HistoryQuery, Message};
use natter_client::protocol::limits;
use natter_client::protocol::ws::Event;
use natter_client::protocol::{ConversationId, Seq, UserId};
use natter_client::{Client, ClientOptions, ConnectionEvent, Session};

use crate::config::{self, SavedSession};
use crate::error::CommandError;
use crate::{format, json, names};

pub use contacts::friends;

/// What `natter login` needs.
#[derive(Debug, Clone)]
pub struct LoginArgs {
    pub server: String,
    pub username: String,
    pub password: String,
    /// Create the account first.
    pub register: bool,
    /// The device name shown in the device list.
    pub device: Option<String>,
}

/// The environment variable naming a PEM file of extra certificates to trust
/// for `https://` servers (a self-signed server, a private CA).
pub const CA_CERT_ENV: &str = "NATTER_CA_CERT";

/// The certificate to trust besides the system's: `NATTER_CA_CERT`, else the
/// one saved at login.
fn ca_cert(saved: Option<&Path>) -> Option<PathBuf> {
    std::env::var_os(CA_CERT_ENV)
        .map(PathBuf::from)
        .or_else(|| saved.map(Path::to_path_buf))
}

fn client(server: &str, ca_cert: Option<&Path>) -> Result<Client, CommandError> {
    let mut options = ClientOptions::default();
    if let Some(path) = ca_cert {
        let pem = std::fs::read(path).map_err(|source| CommandError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        options.extra_root_certificates_pem = Some(pem);
    }
    Client::with_options(server, &options).map_err(|err| CommandError::from_client(server, err))
}

/// A client for a saved session's server.
fn saved_client(saved: &SavedSession) -> Result<Client, CommandError> {
    client(&saved.server, ca_cert(saved.ca_cert.as_deref()).as_deref())
}

/// Logs in (registering first if asked) and saves the session with mode 0600.
pub async fn login(dir: &Path, args: &LoginArgs) -> Result<SavedSession, CommandError> {
    // Saved absolute, so that commands run from elsewhere find it.
    let ca_cert = ca_cert(None).map(|path| std::fs::canonicalize(&path).unwrap_or(path));
    let client = client(&args.server, ca_cert.as_deref())?;
    let server = client.base_url().to_owned();
    let map = |err| CommandError::from_client(&server, err);
    if args.register {
        client
            .register(&RegisterRequest {
                username: args.username.clone(),
                password: args.password.clone(),
                display_name: None,
            })
            .await
            .map_err(map)?;
    }
    let device = args.device.clone().unwrap_or_else(default_device_name);
    let session = client
        .login(&LoginRequest {
            username: args.username.clone(),
            password: args.password.clone(),
            device: Some(device),
        })
        .await
        .map_err(map)?;
    let saved = SavedSession {
        server,
        username: session.user().username.clone(),
        token: session.token().to_owned(),
        ca_cert,
    };
    config::save(dir, &saved)?;
    Ok(saved)
}

fn default_device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("natter CLI on {host}"),
        None => "natter CLI".into(),
    }
}

/// Logs the saved session out on the server (best effort) and forgets it,
/// with the chat screen's unsent messages.
pub async fn logout(dir: &Path) -> Result<(), CommandError> {
    let saved = config::load(dir)?;
    if let Ok(session) = saved_client(&saved)?
        .session_from_token(saved.token.clone())
        .await
    {
        session
            .logout()
            .await
            .map_err(|err| CommandError::from_client(&saved.server, err))?;
    }
    // Unsent messages are private text, and no other login may send them.
    crate::outbox::remove(dir)?;
    config::remove(dir)
}

/// The saved session, checked with the server.
pub async fn open_session(dir: &Path) -> Result<Session, CommandError> {
    let saved = config::load(dir)?;
    saved_client(&saved)?
        .session_from_token(saved.token.clone())
        .await
        .map_err(|err| CommandError::from_client(&saved.server, err))
}

fn map_err(session: &Session) -> impl Fn(natter_client::ClientError) -> CommandError + '_ {
    move |err| CommandError::from_client(session.base_url(), err)
}

/// Finds a conversation by what a person would type (the rule is in
/// [`names`]): `#12` or `12` (its id), a friend's username, remark or display
/// name (their direct conversation), a group's name, or either of those after
/// `friend:` or `group:`. A name that fits several is
/// [`CommandError::Ambiguous`], listing how to type each.
pub async fn resolve(session: &Session, name: &str) -> Result<ConversationId, CommandError> {
    resolve_kind(session, name, None).await
}

/// [`resolve`] among conversations of one kind only, when `only` is set.
pub async fn resolve_kind(
    session: &Session,
    name: &str,
    only: Option<ConversationKind>,
) -> Result<ConversationId, CommandError> {
    if let Some(id) = names::parse_id(name) {
        return Ok(id);
    }
    let friends = session.friends().await.map_err(map_err(session))?;
    let conversations = session.conversations().await.map_err(map_err(session))?;
    names::find(name, only, &friends.friends, &conversations.conversations).map_err(|err| match err
    {
        names::Unresolved::NotFound => CommandError::NotFound {
            what: match only {
                Some(ConversationKind::Group) => "group",
                Some(ConversationKind::Direct) => "friend",
                None => "friend, group or conversation",
            },
            name: name.trim().to_owned(),
        },
        ambiguous @ names::Unresolved::Ambiguous(_) => CommandError::Ambiguous {
            name: name.trim().to_owned(),
            candidates: ambiguous.candidates(),
        },
    })
}

/// Reads the text of a message from `input` (stdin), at most
/// [`limits::TEXT_MAX_BYTES`] plus a final line break: a longer input is
/// refused with [`CommandError::TooLarge`] as soon as the limit is passed,
/// without reading (or holding) the rest. Input that is not UTF-8 is
/// [`CommandError::StdinNotText`].
pub fn read_text(input: &mut dyn Read) -> Result<String, CommandError> {
    // Room for a final "\r\n", which `send` trims, plus one byte: reading
    // that byte proves the input is over the limit.
    let room = limits::TEXT_MAX_BYTES + 2;
    let mut bytes = Vec::new();
    input
        .take(room as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(CommandError::Stdin)?;
    let too_large = CommandError::TooLarge {
        what: "message",
        limit: limits::TEXT_MAX_BYTES,
    };
    if bytes.len() > room {
        return Err(too_large);
    }
    let text = String::from_utf8(bytes).map_err(|_| CommandError::StdinNotText)?;
    if text.trim_end_matches(['\n', '\r']).len() > limits::TEXT_MAX_BYTES {
        return Err(too_large);
    }
    Ok(text)
}

/// Sends `text` to the conversation named `to` (see [`resolve`]) and returns
/// the stored message. Text over [`limits::TEXT_MAX_BYTES`] is refused before
/// anything is sent.
pub async fn send(session: &Session, to: &str, text: &str) -> Result<Message, CommandError> {
    let text = text.trim_end_matches(['\n', '\r']);
    if text.trim().is_empty() {
        return Err(CommandError::Usage(
            "nothing to send: the text is empty".into(),
        ));
    }
    if text.len() > limits::TEXT_MAX_BYTES {
        return Err(CommandError::TooLarge {
            what: "message",
            limit: limits::TEXT_MAX_BYTES,
        });
    }
    let conversation = resolve(session, to).await?;
    session
        .send_text(conversation, text)
        .await
        .map_err(map_err(session))
}

/// Up to `limit` messages of a conversation, oldest first, ending before
/// `before` (the newest when `None`). Pages through the server's 100-message
/// pages as needed.
pub async fn history(
    session: &Session,
    conversation: &str,
    limit: usize,
    before: Option<Seq>,
) -> Result<Vec<Message>, CommandError> {
    let id = resolve(session, conversation).await?;
    let mut collected: Vec<Message> = Vec::new();
    let mut before = before;
    while collected.len() < limit {
        let want = (limit - collected.len()).min(100) as u32;
        let page = session
            .history(
                id,
                &HistoryQuery {
                    before,
                    after: None,
                    limit: Some(want),
                },
            )
            .await
            .map_err(map_err(session))?;
        let Some(first) = page.messages.first() else {
            break;
        };
        before = Some(first.seq);
        let mut page_messages = page.messages;
        page_messages.append(&mut collected);
        collected = page_messages;
        if !page.has_more {
            break;
        }
    }
    Ok(collected)
}

/// Names of the users the caller knows (self, friends, direct peers), for
/// showing messages.
pub async fn known_names(session: &Session) -> Result<HashMap<UserId, String>, CommandError> {
    let mut names = HashMap::from([(session.user().id, session.user().username.clone())]);
    let friends = session.friends().await.map_err(map_err(session))?;
    for friend in friends.friends {
        names.insert(friend.user.id, friend.user.username);
    }
    Ok(names)
}

/// Writes messages as JSON (one array of message records, see
/// [`crate::json`]) or as `HH:MM #seq name: text` lines, safe to print on a
/// terminal (see [`format::safe_text`]).
pub fn write_messages(
    out: &mut dyn Write,
    messages: &[Message],
    names: &HashMap<UserId, String>,
    json: bool,
) -> Result<(), CommandError> {
    if json {
        return json::write_pretty(out, &messages);
    }
    for message in messages {
        let who = names
            .get(&message.sender_id)
            .cloned()
            .unwrap_or_else(|| format!("#{}", message.sender_id));
        writeln!(
            out,
            "{} #{} {}: {}",
            format::clock(message.sent_at),
            message.seq,
            format::safe_line(&who),
            format::safe_text(&format::body(message, names))
        )
        .map_err(CommandError::Output)?;
    }
    Ok(())
}

/// Options of `natter tail`.
#[derive(Debug, Clone, Default)]
pub struct TailOptions {
    /// Stop after this many messages.
    pub count: Option<usize>,
    /// Also print messages sent by the caller's other devices.
    pub include_own: bool,
    /// Print every event (typing, presence, ...), not only messages, each as
    /// the protocol's tagged event.
    pub all_events: bool,
}

/// `natter tail`: prints incoming messages as JSON lines (safe to print on a
/// terminal: [`format::safe_json`]) until the count is reached or the
/// connection ends for good. A line is a message record; with `all_events`
/// it is a tagged event (`{"type": "message", "message": {…}}`,
/// `{"type": "typing", …}`), messages included, so that every line has one
/// shape. `ready` is called once the socket is live, so callers (and tests)
/// know from when messages are seen.
pub async fn tail(
    session: &Session,
    out: &mut dyn Write,
    options: &TailOptions,
    ready: impl FnOnce(),
) -> Result<(), CommandError> {
    let connection = session.connect().await.map_err(map_err(session))?;
    ready();
    let me = session.user().id;
    let mut printed = 0usize;
    while options.count.is_none_or(|count| printed < count) {
        let Some(event) = connection.next_event().await else {
            break;
        };
        match event {
            ConnectionEvent::Event(Event::Message { message }) => {
                if message.sender_id == me && !options.include_own {
                    continue;
                }
                printed += 1;
                if options.all_events {
                    json::write_line(out, &Event::Message { message })?;
                } else {
                    json::write_line(out, &message)?;
                }
            }
            ConnectionEvent::Event(other) if options.all_events => json::write_line(out, &other)?,
            ConnectionEvent::Closed { code, reason } => {
                return Err(CommandError::SessionRevoked(format!(
                    "closed with {code}: {reason}"
                )));
            }
            ConnectionEvent::Disconnected { code } => {
                tracing::info!(?code, "disconnected; reconnecting");
                continue;
            }
            _ => continue,
        }
        out.flush().map_err(CommandError::Output)?;
    }
    connection.close().await;
    Ok(())
}

/// `natter download`: the server does not serve media yet (protocol §16),
/// so this explains that instead of failing obscurely.
pub async fn download(
    session: &Session,
    conversation: ConversationId,
    seq: Seq,
) -> Result<(), CommandError> {
    let page = session
        .history(
            conversation,
            &HistoryQuery {
                before: Some(Seq(seq.0 + 1)),
                after: Some(Seq(seq.0 - 1)),
                limit: Some(1),
            },
        )
        .await
        .map_err(map_err(session))?;
    let Some(message) = page.messages.into_iter().find(|m| m.seq == seq) else {
        return Err(CommandError::NotFound {
            what: "message",
            name: format!("#{conversation}/{seq}"),
        });
    };
    Err(CommandError::Usage(format!(
        "message {seq} is of kind `{}`: this server has no media download route yet",
        message.content.kind()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_client::protocol::Timestamp;
    use natter_client::protocol::conversations::MessageContent;

    fn evil(seq: i64) -> Message {
        Message {
            conversation_id: ConversationId(3),
            seq: Seq(seq),
            sender_id: UserId(2),
            client_msg_id: None,
            sent_at: Timestamp(0),
            content: MessageContent::Text {
                text: "\u{1b}[2J\u{1b}]0;pwned\u{7}hello\u{0}\nsecond \u{202e}line\u{9b}".into(),
            },
            reply_to: None,
            edited_at: None,
            recalled_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn history_output_holds_no_control_characters() -> Result<(), CommandError> {
        let names = HashMap::from([(UserId(2), "mal\u{1b}[31mlory".to_owned())]);
        let messages = vec![evil(1), evil(2)];
        let mut out = Vec::new();
        write_messages(&mut out, &messages, &names, false)?;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.chars().all(|c| c == '\n' || !c.is_control()),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{text:?}");
        let first = concat!(
            " #1 mal\u{241b}[31mlory: ",
            "\u{241b}[2J\u{241b}]0;pwned\u{2407}hello\u{2400}\n",
            "second line\u{fffd}\n"
        );
        assert!(text.contains(first), "{text:?}");

        let mut out = Vec::new();
        write_messages(&mut out, &messages, &names, true)?;
        let json = String::from_utf8_lossy(&out);
        assert!(
            json.chars()
                .all(|c| c == '\n' || !c.is_control() && c != '\u{202e}'),
            "{json:?}"
        );
        let back: Vec<Message> = serde_json::from_str(&json)
            .map_err(|err| CommandError::Output(std::io::Error::other(err)))?;
        assert_eq!(back, messages);
        Ok(())
    }
}
