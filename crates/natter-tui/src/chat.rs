//! `natter chat`: the loop that joins the terminal, the [`App`] and the
//! server. [`run`] is generic over the ratatui backend and the key stream,
//! so tests drive it with a `TestBackend` and scripted keys against a real
//! server; [`run_terminal`] is the real thing on crossterm.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::{Stream, StreamExt};
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::contacts::{Friend, FriendRequestList, SearchUsersQuery};
use natter_client::protocol::conversations::{
    ConversationSummary, HistoryQuery, Message, MessageContent, SendMessageRequest,
};
use natter_client::protocol::{ClientMsgId, ConversationId, Seq, UserId};
use natter_client::{ClientError, ConnectOptions, Connection, Session};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Buffer;
use tokio::sync::mpsc;

use crate::app::{Action, App, PAGE};
use crate::error::CommandError;
use crate::{outbox, ui};

/// Results of background work, fed back into the [`App`].
#[derive(Debug)]
enum Outcome {
    Conversations(Vec<ConversationSummary>),
    Friends(Vec<Friend>),
    Requests(FriendRequestList),
    Page {
        conversation: ConversationId,
        messages: Vec<Message>,
        has_more: bool,
    },
    Sent(Message),
    SendFailed {
        client_msg_id: ClientMsgId,
        retryable: bool,
        reason: String,
    },
    Members(Vec<UserProfile>),
    Accepted(Friend),
    Read(ConversationId, Seq),
    Status(String),
    Group(ConversationId),
}

fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Api { message, code, .. } => format!("{message} ({code})"),
        other => other.to_string(),
    }
}

/// Carries out one action in a task of its own, so the screen never waits
/// for the network; the result comes back through `tx`.
fn spawn_action(
    action: Action,
    app: &mut App,
    session: &Session,
    connection: &Arc<Connection>,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let session = session.clone();
    let connection = connection.clone();
    let tx = tx.clone();
    let friend_ids = |names: &[String], app: &mut App| -> Option<Vec<UserId>> {
        let mut ids = Vec::new();
        for name in names {
            let lower = name.to_lowercase();
            match app
                .friends
                .iter()
                .find(|f| f.user.username.to_lowercase() == lower)
            {
                Some(f) => ids.push(f.user.id),
                None => {
                    app.set_status(format!("{name} is not one of your friends"));
                    return None;
                }
            }
        }
        Some(ids)
    };
    // Each task reports exactly one outcome; a closed channel means the
    // screen is gone, and then nobody needs the result.
    match action {
        Action::Quit => {}
        Action::Open(conversation) => {
            tokio::spawn(async move { load_page(&session, conversation, None, &tx).await });
        }
        Action::LoadOlder {
            conversation,
            before,
        } => {
            tokio::spawn(async move { load_page(&session, conversation, Some(before), &tx).await });
        }
        Action::Send {
            conversation,
            client_msg_id,
            text,
        } => {
            // The outbox shows it as pending meanwhile; the same id on every
            // try makes the server store it once.
            let request = SendMessageRequest {
                client_msg_id: client_msg_id.clone(),
                content: MessageContent::Text { text },
                reply_to: None,
            };
            tokio::spawn(async move {
                let outcome = match connection.send(conversation, request).await {
                    Ok(message) => Outcome::Sent(message),
                    Err(err) => Outcome::SendFailed {
                        client_msg_id,
                        retryable: err.is_retryable(),
                        reason: describe(&err),
                    },
                };
                let _ = tx.send(outcome);
            });
        }
        Action::LoadMembers(conversation) => {
            tokio::spawn(async move {
                let outcome = match session.members(conversation).await {
                    Ok(list) => {
                        Outcome::Members(list.members.into_iter().map(|m| m.user).collect())
                    }
                    Err(err) => Outcome::Status(format!("members: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
            });
        }
        Action::MarkRead { conversation, seq } => {
            tokio::spawn(async move {
                let outcome = match connection.mark_read(conversation, seq).await {
                    Ok(position) => Outcome::Read(position.conversation_id, position.read_seq),
                    Err(err) => Outcome::Status(format!("read receipt: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
            });
        }
        Action::Typing(conversation) => {
            tokio::spawn(async move {
                // Typing is a hint; a failure needs no report.
                if let Err(err) = connection.typing(conversation).await {
                    tracing::debug!(error = %err, "typing notice failed");
                }
            });
        }
        Action::AcceptRequest(id) => {
            tokio::spawn(async move {
                // The server tells this user's other devices, not this one:
                // the answer itself brings the friend and the conversation.
                let outcome = match session.accept_friend_request(id).await {
                    Ok(friend) => Outcome::Accepted(friend),
                    Err(err) => Outcome::Status(format!("accept: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
                reload_contacts(&session, &tx).await;
            });
        }
        Action::DeclineRequest(id) => {
            tokio::spawn(async move {
                let outcome = match session.decline_friend_request(id).await {
                    Ok(()) => Outcome::Status("request declined".into()),
                    Err(err) => Outcome::Status(format!("decline: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
                reload_contacts(&session, &tx).await;
            });
        }
        Action::SendRequest(username) => {
            tokio::spawn(async move {
                let query = SearchUsersQuery {
                    q: username.clone(),
                    limit: Some(20),
                    offset: None,
                };
                let lower = username.to_lowercase();
                let outcome = match session.search_users(&query).await {
                    Ok(page) => match page
                        .users
                        .into_iter()
                        .find(|u| u.username.to_lowercase() == lower)
                    {
                        Some(user) => match session.send_friend_request(user.id, None).await {
                            Ok(_) => Outcome::Status(format!("request sent to {}", user.username)),
                            Err(err) => Outcome::Status(format!("request: {}", describe(&err))),
                        },
                        None => Outcome::Status(format!("no user named {username}")),
                    },
                    Err(err) => Outcome::Status(format!("search: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
                reload_contacts(&session, &tx).await;
            });
        }
        Action::CreateGroup { name, members } => {
            let Some(ids) = friend_ids(&members, app) else {
                return;
            };
            tokio::spawn(async move {
                let outcome = match session.create_group(&name, &ids).await {
                    Ok(group) => Outcome::Group(group.id),
                    Err(err) => Outcome::Status(format!("create group: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
                reload_conversations(&session, &tx).await;
            });
        }
        Action::Invite {
            conversation,
            members,
        } => {
            let Some(ids) = friend_ids(&members, app) else {
                return;
            };
            tokio::spawn(async move {
                let outcome = match session.invite(conversation, &ids).await {
                    Ok(list) => {
                        Outcome::Status(format!("the group has {} members", list.members.len()))
                    }
                    Err(err) => Outcome::Status(format!("invite: {}", describe(&err))),
                };
                let _ = tx.send(outcome);
                reload_conversations(&session, &tx).await;
            });
        }
        Action::ReloadConversations => {
            tokio::spawn(async move { reload_conversations(&session, &tx).await });
        }
        Action::ReloadFriends => {
            tokio::spawn(async move { reload_contacts(&session, &tx).await });
        }
    }
}

/// Loads the newest page of a conversation, or the page before `before`.
async fn load_page(
    session: &Session,
    conversation: ConversationId,
    before: Option<Seq>,
    tx: &mpsc::UnboundedSender<Outcome>,
) {
    let query = HistoryQuery {
        before,
        after: None,
        limit: Some(PAGE),
    };
    let outcome = match session.history(conversation, &query).await {
        Ok(page) => Outcome::Page {
            conversation,
            messages: page.messages,
            has_more: page.has_more,
        },
        Err(err) => Outcome::Status(format!("loading history: {}", describe(&err))),
    };
    let _ = tx.send(outcome);
}

async fn reload_conversations(session: &Session, tx: &mpsc::UnboundedSender<Outcome>) {
    let outcome = match session.conversations().await {
        Ok(list) => Outcome::Conversations(list.conversations),
        Err(err) => Outcome::Status(format!("conversations: {}", describe(&err))),
    };
    let _ = tx.send(outcome);
}

async fn reload_contacts(session: &Session, tx: &mpsc::UnboundedSender<Outcome>) {
    match session.friends().await {
        Ok(list) => {
            let _ = tx.send(Outcome::Friends(list.friends));
        }
        Err(err) => {
            let _ = tx.send(Outcome::Status(format!("friends: {}", describe(&err))));
        }
    }
    match session.friend_requests().await {
        Ok(list) => {
            let _ = tx.send(Outcome::Requests(list));
        }
        Err(err) => {
            let _ = tx.send(Outcome::Status(format!("requests: {}", describe(&err))));
        }
    }
}

fn apply(app: &mut App, outcome: Outcome) -> Vec<Action> {
    match outcome {
        Outcome::Conversations(list) => app.set_conversations(list),
        Outcome::Friends(friends) => {
            app.set_friends(friends);
            Vec::new()
        }
        Outcome::Requests(requests) => {
            app.set_requests(requests);
            Vec::new()
        }
        Outcome::Page {
            conversation,
            messages,
            has_more,
        } => {
            app.add_messages(conversation, messages, Some(has_more));
            app.names_needed(conversation)
        }
        Outcome::Sent(message) => app.on_sent(message),
        Outcome::SendFailed {
            client_msg_id,
            retryable,
            reason,
        } => {
            app.on_send_failed(&client_msg_id, retryable, reason);
            Vec::new()
        }
        Outcome::Members(users) => {
            app.add_names(users);
            Vec::new()
        }
        Outcome::Accepted(friend) => app.on_friend_added(friend),
        Outcome::Read(conversation, seq) => {
            app.set_read(conversation, seq);
            Vec::new()
        }
        Outcome::Status(text) => {
            app.set_status(text);
            Vec::new()
        }
        Outcome::Group(id) => {
            app.set_status("group created");
            app.pending_select = Some(id);
            Vec::new()
        }
    }
}

/// A drawing failure of any backend as [`CommandError::Terminal`]:
/// crossterm's `io::Error` as it is, another backend's error wrapped in one.
fn terminal_error<E>(err: E) -> CommandError
where
    E: std::error::Error + Send + Sync + 'static,
{
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    match err.downcast::<std::io::Error>() {
        Ok(io) => CommandError::Terminal(*io),
        Err(other) => CommandError::Terminal(std::io::Error::other(other)),
    }
}

/// Runs the chat screen until the user quits or `keys` ends. `on_draw` sees
/// every frame drawn (tests read the screen through it).
pub async fn run<B, K>(
    terminal: &mut Terminal<B>,
    keys: K,
    session: Session,
    on_draw: impl FnMut(&Buffer),
) -> Result<(), CommandError>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    run_with(terminal, keys, session, ConnectOptions::default(), on_draw).await
}

/// [`run`] with the connection's options (tests shorten its timeouts).
pub async fn run_with<B, K>(
    terminal: &mut Terminal<B>,
    keys: K,
    session: Session,
    options: ConnectOptions,
    on_draw: impl FnMut(&Buffer),
) -> Result<(), CommandError>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    run_in(terminal, keys, session, options, None, on_draw).await
}

/// Keeps the outbox of [`run_in`] on disk, in step with the screen's.
struct OutboxFile<'a> {
    dir: &'a Path,
    /// What the file holds now.
    saved: Vec<outbox::SavedSend>,
}

impl OutboxFile<'_> {
    /// Writes the outbox when it changed. A failure is shown, not fatal:
    /// the messages are still on screen and in memory.
    fn sync(&mut self, app: &mut App) {
        let now = outbox::to_save(&app.outbox);
        if now == self.saved {
            return;
        }
        if let Err(err) = outbox::save(self.dir, &app.server, app.me.id, &now) {
            app.set_status(format!("unsent messages not saved: {err}"));
        }
        // Not retried on every loop after a failure: the next change tries.
        self.saved = now;
    }
}

/// [`run_with`], keeping the outbox in `outbox_dir` (the config directory,
/// see [`crate::outbox`]) when given: what a previous run left unsent is sent
/// again at once, and every change is written before the loop acts on it.
pub async fn run_in<B, K>(
    terminal: &mut Terminal<B>,
    mut keys: K,
    session: Session,
    options: ConnectOptions,
    outbox_dir: Option<&Path>,
    mut on_draw: impl FnMut(&Buffer),
) -> Result<(), CommandError>
where
    B: Backend,
    B::Error: std::error::Error + Send + Sync + 'static,
    K: Stream<Item = std::io::Result<TermEvent>> + Unpin,
{
    let map = |err| CommandError::from_client(session.base_url(), err);
    let connection = Arc::new(session.connect_with(options).await.map_err(map)?);
    let mut app = App::new(session.user().clone(), session.base_url());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut queue: VecDeque<Action> = VecDeque::new();
    queue.extend([Action::ReloadFriends, Action::ReloadConversations]);
    let mut file = None;
    if let Some(dir) = outbox_dir {
        match outbox::load(dir, session.base_url(), session.user().id) {
            Ok(saved) => {
                queue.extend(app.restore_outbox(saved.clone(), Instant::now()));
                file = Some(OutboxFile { dir, saved });
            }
            // Left as it is for the user to look at; this run keeps its
            // outbox in memory only.
            Err(err) => app.set_status(format!("unsent messages not loaded: {err}")),
        }
    }
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        // Persist, then act: a send is on disk before it is on the wire.
        if let Some(file) = &mut file {
            file.sync(&mut app);
        }
        while let Some(action) = queue.pop_front() {
            if action == Action::Quit {
                connection.close().await;
                return Ok(());
            }
            spawn_action(action, &mut app, &session, &connection, &tx);
        }
        let now = Instant::now();
        let frame = terminal
            .draw(|frame| ui::render(frame, &app, now))
            .map_err(terminal_error)?;
        on_draw(frame.buffer);
        tokio::select! {
            key = keys.next() => match key {
                None => {
                    connection.close().await;
                    return Ok(());
                }
                Some(Err(err)) => return Err(CommandError::Terminal(err)),
                Some(Ok(TermEvent::Key(key))) => queue.extend(app.on_key(key, Instant::now())),
                Some(Ok(TermEvent::Paste(text))) => {
                    queue.extend(app.on_paste(&text, Instant::now()));
                }
                Some(Ok(_)) => {}
            },
            event = connection.next_event() => match event {
                Some(event) => queue.extend(app.on_connection_event(event, Instant::now())),
                None => {
                    app.connected = false;
                    if app.ended.is_none() {
                        app.ended = Some("the connection ended".into());
                    }
                    // Keep the screen up so the user can read why; only
                    // keys are waited for from here on.
                    let frame = terminal
                        .draw(|frame| ui::render(frame, &app, Instant::now()))
                        .map_err(terminal_error)?;
                    on_draw(frame.buffer);
                    while let Some(key) = keys.next().await {
                        if let Ok(TermEvent::Key(key)) = key
                            && app.on_key(key, Instant::now()).contains(&Action::Quit)
                        {
                            break;
                        }
                    }
                    return Ok(());
                }
            },
            outcome = rx.recv() => {
                if let Some(outcome) = outcome {
                    queue.extend(apply(&mut app, outcome));
                    queue.extend(app.take_pending_selection());
                }
            }
            _ = tick.tick() => queue.extend(app.on_tick(Instant::now())),
        }
    }
}

/// `natter chat` on the real terminal: raw mode and the alternate screen,
/// restored on the way out whatever happens. The outbox lives in memory only;
/// [`run_terminal_in`] keeps it in the config directory.
pub async fn run_terminal(session: Session) -> Result<(), CommandError> {
    terminal_loop(session, None).await
}

/// [`run_terminal`], keeping unsent messages in `dir` (the config directory)
/// so that the next run sends them (see [`crate::outbox`]).
pub async fn run_terminal_in(session: Session, dir: &Path) -> Result<(), CommandError> {
    terminal_loop(session, Some(dir)).await
}

async fn terminal_loop(session: Session, outbox_dir: Option<&Path>) -> Result<(), CommandError> {
    use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
    use crossterm::terminal::{
        EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
    };
    // Restoring is best effort: the terminal may already be gone.
    let restore = || {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(
            std::io::stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen
        );
    };
    enable_raw_mode().map_err(CommandError::Terminal)?;
    // Bracketed paste: a pasted text arrives as one event, so its lines
    // become one message instead of one send per line.
    if let Err(err) = crossterm::execute!(
        std::io::stdout(),
        EnterAlternateScreen,
        EnableBracketedPaste
    ) {
        restore();
        return Err(CommandError::Terminal(err));
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(
            std::io::stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen
        );
        previous(info);
    }));
    let result = async {
        let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
        let mut terminal = Terminal::new(backend).map_err(CommandError::Terminal)?;
        let keys = EventStream::new();
        let options = ConnectOptions::default();
        run_in(&mut terminal, keys, session, options, outbox_dir, |_| {}).await
    }
    .await;
    restore();
    result
}
