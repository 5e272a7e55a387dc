//! The chat screen's state and what keys and server events do to it.
//!
//! [`App`] holds no I/O: a key or an event changes the state and returns
//! [`Action`]s that the loop in [`crate::chat`] carries out against the
//! server, feeding the results back in. That keeps every view testable
//! without a terminal or a server.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use natter_client::ConnectionEvent;
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::contacts::{Friend, FriendRequestList};
use natter_client::protocol::conversations::{
    ConversationKind, ConversationSummary, Message, MessageContent, SystemEvent,
};
use natter_client::protocol::sync::UserChange;
use natter_client::protocol::ws::Event;
use natter_client::protocol::{ClientMsgId, ConversationId, FriendRequestId, Seq, UserId};

use crate::input::Input;
use crate::names::{self, Unresolved};

/// How long a typing notice stays on screen.
pub const TYPING_SHOWN_FOR: Duration = Duration::from_secs(5);
/// How often typing is announced while the user keeps typing.
pub const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Messages per history page.
pub const PAGE: u32 = 50;
/// How long a status line stays (any key clears it sooner).
pub const STATUS_SHOWN_FOR: Duration = Duration::from_secs(6);
/// How often a send that is waiting for the server is tried again while
/// connected (a reconnect retries at once).
pub const RETRY_EVERY: Duration = Duration::from_secs(10);

/// Where a message of the outbox is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingState {
    /// Handed to the connection, no answer yet.
    Sending,
    /// The server could not be reached in time: tried again on reconnect.
    Waiting,
    /// The server refused it; kept so the text is not lost.
    Failed(String),
}

/// A message the user sent that the server has not confirmed. Retries reuse
/// `client_msg_id`, so the server stores it once however often it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub client_msg_id: ClientMsgId,
    pub conversation: ConversationId,
    pub text: String,
    pub state: PendingState,
    /// When it was last handed to the connection.
    pub attempted: Instant,
}

/// Which pane takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Input,
}

/// A window over the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// Friends and pending requests; `adding` holds a username being typed.
    Friends {
        selected: usize,
        adding: Option<String>,
    },
    /// `Name: user, user`.
    NewGroup {
        text: String,
    },
    /// `user, user` to invite into the current group.
    Invite {
        text: String,
    },
    /// A conversation to open by name (see [`crate::names`]); `note` says
    /// why the last Enter opened none (the choices, when it fits several).
    GoTo {
        text: String,
        note: Vec<String>,
    },
}

/// Work for the loop to do against the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Load the newest page of a conversation if it is not loaded.
    Open(ConversationId),
    LoadOlder {
        conversation: ConversationId,
        before: Seq,
    },
    /// Send a text under this id (again, for a retry).
    Send {
        conversation: ConversationId,
        client_msg_id: ClientMsgId,
        text: String,
    },
    /// Fetch a conversation's members, for the names of those who are not
    /// friends.
    LoadMembers(ConversationId),
    MarkRead {
        conversation: ConversationId,
        seq: Seq,
    },
    Typing(ConversationId),
    AcceptRequest(FriendRequestId),
    DeclineRequest(FriendRequestId),
    /// Send a friend request to this username.
    SendRequest(String),
    CreateGroup {
        name: String,
        members: Vec<String>,
    },
    Invite {
        conversation: ConversationId,
        members: Vec<String>,
    },
    ReloadConversations,
    ReloadFriends,
    Quit,
}

/// The messages of one conversation that the client holds.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub messages: BTreeMap<Seq, Message>,
    /// Older messages exist on the server.
    pub has_more: bool,
    /// The newest page has been fetched.
    pub loaded: bool,
    /// A request for older messages is on its way.
    pub loading_older: bool,
}

/// The whole state of the chat screen.
#[derive(Debug)]
pub struct App {
    pub me: UserProfile,
    pub server: String,
    /// Newest activity first.
    pub conversations: Vec<ConversationSummary>,
    pub selected: usize,
    pub focus: Focus,
    pub timelines: HashMap<ConversationId, Timeline>,
    pub names: HashMap<UserId, String>,
    pub friends: Vec<Friend>,
    pub requests: FriendRequestList,
    pub presence: HashMap<UserId, bool>,
    /// Who is typing where, and when they were last seen typing.
    pub typing: HashMap<ConversationId, HashMap<UserId, Instant>>,
    /// How far others have read, per conversation (the highest of them).
    pub peer_read: HashMap<ConversationId, Seq>,
    pub input: Input,
    pub overlay: Option<Overlay>,
    /// A passing note; cleared by the next key or after [`STATUS_SHOWN_FOR`].
    pub status: String,
    status_since: Option<Instant>,
    /// Why the connection ended for good, shown until the user quits.
    pub ended: Option<String>,
    pub connected: bool,
    /// Sent messages the server has not confirmed, oldest first.
    pub outbox: Vec<Pending>,
    /// Users whose names were asked for (by loading members), so each
    /// unknown one is asked about once.
    names_asked: HashSet<UserId>,
    /// Lines scrolled up from the bottom of the chat pane.
    pub scroll: usize,
    /// Set by the renderer: how far up the chat pane can scroll.
    pub max_scroll: Cell<usize>,
    last_typing_sent: Option<Instant>,
    /// A conversation to select once the list holds it (a new group).
    pub pending_select: Option<ConversationId>,
}

fn plain(key: &KeyEvent) -> bool {
    key.modifiers.is_empty() || key.modifiers == KeyModifiers::SHIFT
}

impl App {
    pub fn new(me: UserProfile, server: impl Into<String>) -> App {
        let mut names = HashMap::new();
        names.insert(me.id, me.username.clone());
        App {
            me,
            server: server.into(),
            conversations: Vec::new(),
            selected: 0,
            focus: Focus::Input,
            timelines: HashMap::new(),
            names,
            friends: Vec::new(),
            requests: FriendRequestList {
                incoming: Vec::new(),
                outgoing: Vec::new(),
                next: None,
            },
            presence: HashMap::new(),
            typing: HashMap::new(),
            peer_read: HashMap::new(),
            input: Input::default(),
            overlay: None,
            status: String::new(),
            status_since: None,
            ended: None,
            connected: true,
            outbox: Vec::new(),
            names_asked: HashSet::new(),
            scroll: 0,
            max_scroll: Cell::new(0),
            last_typing_sent: None,
            pending_select: None,
        }
    }

    /// The conversation on screen.
    pub fn current(&self) -> Option<&ConversationSummary> {
        self.conversations.get(self.selected)
    }

    pub fn current_id(&self) -> Option<ConversationId> {
        self.current().map(|c| c.id)
    }

    /// A user's name as this client knows it. An unknown one (being
    /// fetched) is `user 3`, never `#3`, which names a conversation.
    pub fn name(&self, id: UserId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user {id}"))
    }

    /// Shows a passing note in the status line.
    pub fn set_status(&mut self, text: impl Into<String>) {
        self.status = text.into();
        self.status_since = Some(Instant::now());
    }

    /// Names learnt from a member list.
    pub fn add_names(&mut self, users: impl IntoIterator<Item = UserProfile>) {
        for user in users {
            self.names.insert(user.id, user.username);
        }
    }

    /// Asks for the members of `conversation` when one of its messages
    /// names a user this client has no name for.
    pub fn names_needed(&mut self, conversation: ConversationId) -> Vec<Action> {
        let Some(timeline) = self.timelines.get(&conversation) else {
            return Vec::new();
        };
        let unknown: Vec<UserId> = timeline
            .messages
            .values()
            .flat_map(users_named)
            .filter(|id| !self.names.contains_key(id) && !self.names_asked.contains(id))
            .collect();
        if unknown.is_empty() {
            return Vec::new();
        }
        self.names_asked.extend(unknown);
        vec![Action::LoadMembers(conversation)]
    }

    /// Called every second or so: expires the status line and retries sends
    /// that waited long enough.
    pub fn on_tick(&mut self, now: Instant) -> Vec<Action> {
        if self
            .status_since
            .is_some_and(|at| now.saturating_duration_since(at) >= STATUS_SHOWN_FOR)
        {
            self.status.clear();
            self.status_since = None;
        }
        if !self.connected {
            return Vec::new();
        }
        self.retry(
            |p| now.saturating_duration_since(p.attempted) >= RETRY_EVERY,
            now,
        )
    }

    /// Hands the waiting messages that `due` picks to the connection again.
    fn retry(&mut self, due: impl Fn(&Pending) -> bool, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        for p in &mut self.outbox {
            if p.state == PendingState::Waiting && due(p) {
                p.state = PendingState::Sending;
                p.attempted = now;
                actions.push(Action::Send {
                    conversation: p.conversation,
                    client_msg_id: p.client_msg_id.clone(),
                    text: p.text.clone(),
                });
            }
        }
        actions
    }

    /// Puts sends a previous run left unconfirmed (see [`crate::outbox`])
    /// back into the outbox and sends them again under their ids.
    pub fn restore_outbox(
        &mut self,
        saved: Vec<crate::outbox::SavedSend>,
        now: Instant,
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        for s in saved {
            if self
                .outbox
                .iter()
                .any(|p| p.client_msg_id == s.client_msg_id)
            {
                continue;
            }
            actions.push(Action::Send {
                conversation: s.conversation,
                client_msg_id: s.client_msg_id.clone(),
                text: s.text.clone(),
            });
            self.outbox.push(Pending {
                client_msg_id: s.client_msg_id,
                conversation: s.conversation,
                text: s.text,
                state: PendingState::Sending,
                attempted: now,
            });
        }
        actions
    }

    /// The server stored a message of the outbox.
    pub fn on_sent(&mut self, message: Message) -> Vec<Action> {
        self.on_message(message)
    }

    /// A send failed. `retryable` failures (timeouts, a lost connection)
    /// wait for the next try; others keep the message marked as not sent.
    pub fn on_send_failed(&mut self, id: &ClientMsgId, retryable: bool, reason: String) {
        if let Some(p) = self.outbox.iter_mut().find(|p| &p.client_msg_id == id) {
            p.state = if retryable {
                PendingState::Waiting
            } else {
                PendingState::Failed(reason)
            };
        }
    }

    /// A friendship this device made (the server tells the other devices):
    /// the direct conversation is listed and opened.
    pub fn on_friend_added(&mut self, friend: Friend) -> Vec<Action> {
        self.set_status(format!("{} is now your friend", friend.user.username));
        self.pending_select = Some(friend.conversation_id);
        self.upsert_friend(friend);
        vec![Action::ReloadConversations, Action::ReloadFriends]
    }

    fn upsert_friend(&mut self, friend: Friend) {
        self.names
            .insert(friend.user.id, friend.user.username.clone());
        self.presence.insert(friend.user.id, friend.online);
        self.friends.retain(|f| f.user.id != friend.user.id);
        self.friends.push(friend);
    }

    /// Replaces the conversation list, keeping the selection on the same
    /// conversation. Returns the actions that opening the selection needs.
    pub fn set_conversations(&mut self, mut list: Vec<ConversationSummary>) -> Vec<Action> {
        let keep = self.current_id();
        list.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        for c in &list {
            if let Some(peer) = &c.peer {
                self.names.insert(peer.id, peer.username.clone());
            }
        }
        self.conversations = list;
        self.selected = keep
            .and_then(|id| self.conversations.iter().position(|c| c.id == id))
            .unwrap_or(0);
        self.open_selected()
    }

    pub fn set_friends(&mut self, friends: Vec<Friend>) {
        for f in &friends {
            self.names.insert(f.user.id, f.user.username.clone());
            self.presence.insert(f.user.id, f.online);
        }
        self.friends = friends;
    }

    pub fn set_requests(&mut self, requests: FriendRequestList) {
        for r in requests.incoming.iter().chain(&requests.outgoing) {
            self.names.insert(r.from.id, r.from.username.clone());
            self.names.insert(r.to.id, r.to.username.clone());
        }
        self.requests = requests;
    }

    /// Adds fetched messages. `older` is `Some(has_more)` for a page that
    /// went backwards (which also marks the timeline loaded).
    pub fn add_messages(
        &mut self,
        conversation: ConversationId,
        messages: Vec<Message>,
        older: Option<bool>,
    ) {
        let timeline = self.timelines.entry(conversation).or_default();
        for m in messages {
            timeline.messages.insert(m.seq, m);
        }
        if let Some(has_more) = older {
            timeline.has_more = has_more;
            timeline.loaded = true;
            timeline.loading_older = false;
        }
    }

    /// Actions for showing the selected conversation: load it, mark it read.
    fn open_selected(&mut self) -> Vec<Action> {
        let Some(c) = self.current() else {
            return Vec::new();
        };
        let (id, last, read) = (c.id, c.last_seq, c.read_seq);
        let mut actions = Vec::new();
        if !self.timelines.get(&id).is_some_and(|t| t.loaded) {
            actions.push(Action::Open(id));
        }
        if last > read {
            actions.push(Action::MarkRead {
                conversation: id,
                seq: last,
            });
        }
        actions
    }

    /// Selects the conversation waiting in `pending_select`, once listed.
    pub fn take_pending_selection(&mut self) -> Vec<Action> {
        let Some(id) = self.pending_select else {
            return Vec::new();
        };
        match self.conversations.iter().position(|c| c.id == id) {
            Some(index) => {
                self.pending_select = None;
                self.selected = index;
                self.scroll = 0;
                self.open_selected()
            }
            None => Vec::new(),
        }
    }

    /// The user read up to `seq` (the server confirmed).
    pub fn set_read(&mut self, conversation: ConversationId, seq: Seq) {
        if let Some(c) = self.conversations.iter_mut().find(|c| c.id == conversation) {
            if seq > c.read_seq {
                c.read_seq = seq;
            }
            c.unread = u32::try_from((c.last_seq.0 - c.read_seq.0).max(0)).unwrap_or(u32::MAX);
        }
    }

    fn select(&mut self, index: usize) -> Vec<Action> {
        if index >= self.conversations.len() || index == self.selected {
            return Vec::new();
        }
        self.selected = index;
        self.scroll = 0;
        self.open_selected()
    }

    /// Who is typing in a conversation now (names), newest notices only.
    pub fn typing_in(&self, conversation: ConversationId, now: Instant) -> Vec<String> {
        let mut who: Vec<String> = self
            .typing
            .get(&conversation)
            .into_iter()
            .flatten()
            .filter(|(_, at)| now.duration_since(**at) < TYPING_SHOWN_FOR)
            .map(|(id, _)| self.name(*id))
            .collect();
        who.sort();
        who
    }

    /// A message arrived (live, or to fill a gap).
    fn on_message(&mut self, message: Message) -> Vec<Action> {
        let id = message.conversation_id;
        let seq = message.seq;
        let mine = message.sender_id == self.me.id;
        if mine && let Some(client) = &message.client_msg_id {
            self.outbox.retain(|p| &p.client_msg_id != client);
        }
        if let Some(typists) = self.typing.get_mut(&id) {
            typists.remove(&message.sender_id);
        }
        let Some(index) = self.conversations.iter().position(|c| c.id == id) else {
            // A conversation this client does not list yet (just joined).
            self.timelines
                .entry(id)
                .or_default()
                .messages
                .insert(seq, message);
            return vec![Action::ReloadConversations];
        };
        let viewing = index == self.selected && self.scroll == 0;
        let summary = &mut self.conversations[index];
        if seq > summary.last_seq {
            summary.last_seq = seq;
            summary.updated_at = message.sent_at;
            summary.last_message = Some(message.clone());
        }
        let mut actions = Vec::new();
        if mine {
            summary.read_seq = summary.read_seq.max(seq);
        } else if viewing {
            actions.push(Action::MarkRead {
                conversation: id,
                seq,
            });
        }
        summary.unread =
            u32::try_from((summary.last_seq.0 - summary.read_seq.0).max(0)).unwrap_or(u32::MAX);
        if let Some(timeline) = self.timelines.get_mut(&id) {
            timeline.messages.insert(seq, message);
            actions.extend(self.names_needed(id));
        }
        // Newest activity first, keeping the selection where it was.
        let keep = self.current_id();
        self.conversations
            .sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        if let Some(keep) = keep {
            self.selected = self
                .conversations
                .iter()
                .position(|c| c.id == keep)
                .unwrap_or(0);
        }
        actions
    }

    /// What an event from the connection does.
    pub fn on_connection_event(&mut self, event: ConnectionEvent, now: Instant) -> Vec<Action> {
        match event {
            ConnectionEvent::Event(event) => self.on_event(event, now),
            ConnectionEvent::Disconnected { .. } => {
                // The status line says so for as long as it lasts.
                self.connected = false;
                self.status.clear();
                Vec::new()
            }
            ConnectionEvent::Reconnected => {
                self.connected = true;
                self.set_status("reconnected");
                let mut actions = vec![Action::ReloadConversations, Action::ReloadFriends];
                actions.extend(self.retry(|_| true, now));
                actions
            }
            ConnectionEvent::Reset => vec![Action::ReloadConversations, Action::ReloadFriends],
            ConnectionEvent::Closed { code, reason } => {
                self.connected = false;
                self.ended = Some(format!(
                    "logged out by the server ({code} {reason}); run `natter login`"
                ));
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A friend's new display name: in the friend list and as the name of
    /// the direct conversation with them.
    fn on_profile(&mut self, user: UserProfile) {
        for friend in self.friends.iter_mut().filter(|f| f.user.id == user.id) {
            friend.user = user.clone();
        }
        for conversation in &mut self.conversations {
            if conversation
                .peer
                .as_ref()
                .is_some_and(|peer| peer.id == user.id)
            {
                conversation.name = user.display_name.clone();
                conversation.peer = Some(user.clone());
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) -> Vec<Action> {
        match event {
            Event::Message { message } => self.on_message(message),
            Event::Typing {
                conversation_id,
                user_id,
            } => {
                self.typing
                    .entry(conversation_id)
                    .or_default()
                    .insert(user_id, now);
                Vec::new()
            }
            Event::Presence {
                user_id, online, ..
            } => {
                self.presence.insert(user_id, online);
                Vec::new()
            }
            Event::Profile { user } => {
                self.on_profile(user);
                Vec::new()
            }
            Event::Read {
                conversation_id,
                read_seq,
                ..
            } => {
                let seen = self.peer_read.entry(conversation_id).or_default();
                *seen = (*seen).max(read_seq);
                Vec::new()
            }
            Event::User { event } => match event.change {
                UserChange::FriendRequestReceived { request } => {
                    self.set_status(format!(
                        "friend request from {} (Ctrl+F to answer)",
                        request.from.username
                    ));
                    self.names
                        .insert(request.from.id, request.from.username.clone());
                    self.requests.incoming.retain(|r| r.id != request.id);
                    self.requests.incoming.insert(0, request);
                    Vec::new()
                }
                UserChange::FriendAdded { friend } => {
                    self.upsert_friend(friend);
                    vec![Action::ReloadFriends, Action::ReloadConversations]
                }
                UserChange::FriendRequestUpdated { .. }
                | UserChange::FriendRemoved { .. }
                | UserChange::FriendUpdated { .. }
                | UserChange::BlockChanged { .. } => {
                    vec![Action::ReloadFriends, Action::ReloadConversations]
                }
                UserChange::ConversationJoined { .. } | UserChange::ConversationLeft { .. } => {
                    vec![Action::ReloadConversations]
                }
                UserChange::ReadPosition {
                    conversation_id,
                    read_seq,
                } => {
                    self.set_read(conversation_id, read_seq);
                    Vec::new()
                }
                UserChange::ProfileUpdated { display_name } => {
                    self.me.display_name = display_name;
                    Vec::new()
                }
            },
        }
    }

    /// What a pasted text does: it goes into the input as it is, lines
    /// and all (one message, sent with Enter), or into an open window's
    /// text field on one line.
    pub fn on_paste(&mut self, pasted: &str, now: Instant) -> Vec<Action> {
        self.status.clear();
        if let Some(overlay) = &mut self.overlay {
            let field = match overlay {
                Overlay::Friends {
                    adding: Some(text), ..
                }
                | Overlay::NewGroup { text }
                | Overlay::Invite { text }
                | Overlay::GoTo { text, .. } => text,
                _ => return Vec::new(),
            };
            field.extend(pasted.chars().map(|c| if c.is_control() { ' ' } else { c }));
            return Vec::new();
        }
        self.focus = Focus::Input;
        self.input.insert_str(pasted);
        self.typed(now)
    }

    /// What a key does. Letters always go into the input; commands are on
    /// Ctrl (from anywhere) or on letters once Esc has moved to the list.
    pub fn on_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        // A key means the user has seen the note.
        self.status.clear();
        self.status_since = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            return vec![Action::Quit];
        }
        if self.overlay.is_some() {
            return self.on_overlay_key(key);
        }
        match key.code {
            KeyCode::PageUp => return self.scroll_up(),
            KeyCode::PageDown => {
                self.scroll = self.scroll.saturating_sub(10);
                return if self.scroll == 0 {
                    self.open_selected()
                } else {
                    Vec::new()
                };
            }
            KeyCode::F(1) => {
                self.overlay = Some(Overlay::Help);
                return Vec::new();
            }
            KeyCode::Up if ctrl || alt => return self.select(self.selected.saturating_sub(1)),
            KeyCode::Down if ctrl || alt => return self.select(self.selected + 1),
            KeyCode::Char('p') if ctrl => return self.select(self.selected.saturating_sub(1)),
            KeyCode::Char('n') if ctrl => return self.select(self.selected + 1),
            KeyCode::Char('f') if ctrl => return self.open_friends(),
            KeyCode::Char('g') if ctrl => return self.open_new_group(),
            KeyCode::Char('t') if ctrl => return self.open_invite(),
            KeyCode::Char('k') if ctrl => return self.open_go_to(),
            // Terminals send Esc and a letter typed quickly as Alt+letter:
            // both mean the list's command.
            KeyCode::Char(c) if alt && !ctrl => {
                self.focus = Focus::List;
                return self.on_list_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE), now);
            }
            _ => {}
        }
        match self.focus {
            Focus::List => self.on_list_key(key, now),
            Focus::Input => self.on_input_key(key, now),
        }
    }

    fn open_friends(&mut self) -> Vec<Action> {
        self.overlay = Some(Overlay::Friends {
            selected: 0,
            adding: None,
        });
        vec![Action::ReloadFriends]
    }

    fn open_new_group(&mut self) -> Vec<Action> {
        self.overlay = Some(Overlay::NewGroup {
            text: String::new(),
        });
        Vec::new()
    }

    fn open_go_to(&mut self) -> Vec<Action> {
        self.overlay = Some(Overlay::GoTo {
            text: String::new(),
            note: Vec::new(),
        });
        Vec::new()
    }

    /// Opens the conversation `typed` names, by the rule of the commands
    /// ([`names::find`]) over what this screen holds. When it names none, or
    /// several, the window stays open and says so: with the choices, each as
    /// it can be typed.
    fn go_to(&mut self, typed: String) -> Vec<Action> {
        let found = match names::parse_id(&typed) {
            Some(id) => Ok(id),
            None => names::find(&typed, None, &self.friends, &self.conversations),
        };
        let note = match found {
            Ok(id) => match self.conversations.iter().position(|c| c.id == id) {
                Some(index) => {
                    self.focus = Focus::Input;
                    return self.select(index);
                }
                None => vec![format!("#{id} is not one of your chats")],
            },
            Err(Unresolved::NotFound) => vec![format!("no friend or group named {}", typed.trim())],
            Err(Unresolved::Ambiguous(choices)) => {
                let mut note = vec!["fits several; type one of:".to_owned()];
                note.extend(choices.into_iter().map(|c| format!("  {c}")));
                note
            }
        };
        self.overlay = Some(Overlay::GoTo { text: typed, note });
        Vec::new()
    }

    fn open_invite(&mut self) -> Vec<Action> {
        if self
            .current()
            .is_some_and(|c| c.kind == ConversationKind::Group)
        {
            self.overlay = Some(Overlay::Invite {
                text: String::new(),
            });
        } else {
            self.set_status("select a group to invite people into");
        }
        Vec::new()
    }

    fn scroll_up(&mut self) -> Vec<Action> {
        let max = self.max_scroll.get();
        let Some(id) = self.current_id() else {
            return Vec::new();
        };
        if self.scroll >= max {
            // At the top of what is held: fetch older messages.
            if let Some(timeline) = self.timelines.get_mut(&id)
                && timeline.has_more
                && !timeline.loading_older
                && let Some((first, _)) = timeline.messages.first_key_value()
            {
                timeline.loading_older = true;
                return vec![Action::LoadOlder {
                    conversation: id,
                    before: *first,
                }];
            }
            return Vec::new();
        }
        self.scroll = (self.scroll + 10).min(max);
        Vec::new()
    }

    /// Keys once Esc has moved to the list: single letters are commands.
    /// Any other character goes back to writing, so nothing typed is lost.
    fn on_list_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Action> {
        match key.code {
            KeyCode::Char('q') if plain(&key) => vec![Action::Quit],
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            KeyCode::Up | KeyCode::Char('k') => self.select(self.selected.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => self.select(self.selected + 1),
            KeyCode::Enter | KeyCode::Tab | KeyCode::Esc | KeyCode::Char('i') => {
                self.focus = Focus::Input;
                Vec::new()
            }
            KeyCode::Char('f') => self.open_friends(),
            KeyCode::Char('g') => self.open_new_group(),
            KeyCode::Char('n') => self.open_invite(),
            KeyCode::Char('o') => self.open_go_to(),
            KeyCode::Char(_) if plain(&key) => {
                self.focus = Focus::Input;
                self.on_input_key(key, now)
            }
            _ => Vec::new(),
        }
    }

    /// Announces typing, at most every [`TYPING_EVERY`].
    fn typed(&mut self, now: Instant) -> Vec<Action> {
        match self.current_id() {
            Some(id)
                if self
                    .last_typing_sent
                    .is_none_or(|at| now.duration_since(at) >= TYPING_EVERY) =>
            {
                self.last_typing_sent = Some(now);
                vec![Action::Typing(id)]
            }
            _ => Vec::new(),
        }
    }

    /// Puts what was written into the outbox and sends it.
    fn send_input(&mut self, now: Instant) -> Vec<Action> {
        let Some(id) = self.current_id() else {
            self.set_status("no conversation selected");
            return Vec::new();
        };
        if self.input.is_blank() {
            return Vec::new();
        }
        let text = self.input.take();
        self.scroll = 0;
        self.last_typing_sent = None;
        let client_msg_id = natter_client::new_client_msg_id();
        self.outbox.push(Pending {
            client_msg_id: client_msg_id.clone(),
            conversation: id,
            text: text.clone(),
            state: PendingState::Sending,
            attempted: now,
        });
        vec![Action::Send {
            conversation: id,
            client_msg_id,
            text,
        }]
    }

    fn on_input_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let newline = (key.code == KeyCode::Enter
            && (key.modifiers.contains(KeyModifiers::ALT)
                || key.modifiers.contains(KeyModifiers::SHIFT)))
            || (ctrl && matches!(key.code, KeyCode::Char('j') | KeyCode::Char('o')));
        if newline {
            self.input.newline();
            return Vec::new();
        }
        match key.code {
            KeyCode::Esc | KeyCode::Tab => self.focus = Focus::List,
            KeyCode::Enter => return self.send_input(now),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Up => self.input.up(),
            KeyCode::Down => self.input.down(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('u') if ctrl => self.input.delete_to_start(),
            KeyCode::Char(c) if plain(&key) => {
                self.input.insert(c);
                return self.typed(now);
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_overlay_key(&mut self, key: KeyEvent) -> Vec<Action> {
        let Some(overlay) = self.overlay.take() else {
            return Vec::new();
        };
        let edit = |text: &mut String| match key.code {
            KeyCode::Char(c) if plain(&key) => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            _ => {}
        };
        let split = |text: &str| -> Vec<String> {
            text.split([',', ' '])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match overlay {
            Overlay::Help => Vec::new(),
            Overlay::Friends {
                selected,
                adding: Some(mut name),
            } => match key.code {
                KeyCode::Esc => {
                    self.overlay = Some(Overlay::Friends {
                        selected,
                        adding: None,
                    });
                    Vec::new()
                }
                KeyCode::Enter if !name.trim().is_empty() => {
                    self.overlay = Some(Overlay::Friends {
                        selected,
                        adding: None,
                    });
                    vec![Action::SendRequest(name.trim().to_owned())]
                }
                _ => {
                    edit(&mut name);
                    self.overlay = Some(Overlay::Friends {
                        selected,
                        adding: Some(name),
                    });
                    Vec::new()
                }
            },
            Overlay::Friends {
                selected,
                adding: None,
            } => {
                let count = self.requests.incoming.len();
                let request = self.requests.incoming.get(selected).map(|r| r.id);
                let mut next = Overlay::Friends {
                    selected,
                    adding: None,
                };
                let actions = match key.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('f') => return Vec::new(),
                    KeyCode::Up | KeyCode::Char('k') => {
                        next = Overlay::Friends {
                            selected: selected.saturating_sub(1),
                            adding: None,
                        };
                        Vec::new()
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        next = Overlay::Friends {
                            selected: (selected + 1).min(count.saturating_sub(1)),
                            adding: None,
                        };
                        Vec::new()
                    }
                    KeyCode::Char('a') => request.map(Action::AcceptRequest).into_iter().collect(),
                    KeyCode::Char('d') => request.map(Action::DeclineRequest).into_iter().collect(),
                    KeyCode::Char('s') | KeyCode::Char('+') => {
                        next = Overlay::Friends {
                            selected,
                            adding: Some(String::new()),
                        };
                        Vec::new()
                    }
                    _ => Vec::new(),
                };
                self.overlay = Some(next);
                actions
            }
            Overlay::NewGroup { mut text } => match key.code {
                KeyCode::Esc => Vec::new(),
                KeyCode::Enter => {
                    let (name, members) = match text.split_once(':') {
                        Some((name, members)) => (name.trim().to_owned(), split(members)),
                        None => (text.trim().to_owned(), Vec::new()),
                    };
                    if name.is_empty() {
                        self.overlay = Some(Overlay::NewGroup { text });
                        return Vec::new();
                    }
                    vec![Action::CreateGroup { name, members }]
                }
                _ => {
                    edit(&mut text);
                    self.overlay = Some(Overlay::NewGroup { text });
                    Vec::new()
                }
            },
            Overlay::GoTo { mut text, note } => match key.code {
                KeyCode::Esc => Vec::new(),
                KeyCode::Enter if !text.trim().is_empty() => self.go_to(text),
                _ => {
                    edit(&mut text);
                    self.overlay = Some(Overlay::GoTo { text, note });
                    Vec::new()
                }
            },
            Overlay::Invite { mut text } => match key.code {
                KeyCode::Esc => Vec::new(),
                KeyCode::Enter => match self.current_id() {
                    Some(conversation) if !split(&text).is_empty() => vec![Action::Invite {
                        conversation,
                        members: split(&text),
                    }],
                    _ => Vec::new(),
                },
                _ => {
                    edit(&mut text);
                    self.overlay = Some(Overlay::Invite { text });
                    Vec::new()
                }
            },
        }
    }
}

/// The users a message names: its sender, and those its system event is
/// about.
fn users_named(message: &Message) -> Vec<UserId> {
    let mut users = vec![message.sender_id];
    if let MessageContent::System { event } = &message.content {
        match event {
            SystemEvent::GroupCreated { by, .. }
            | SystemEvent::Renamed { by, .. }
            | SystemEvent::AnnouncementSet { by, .. } => users.push(*by),
            SystemEvent::MembersAdded { by, users: added } => {
                users.push(*by);
                users.extend(added);
            }
            SystemEvent::MemberRemoved { by, user } | SystemEvent::RoleChanged { by, user, .. } => {
                users.extend([*by, *user]);
            }
            SystemEvent::MemberLeft { user } => users.push(*user),
            SystemEvent::OwnershipTransferred { from, to } => users.extend([*from, *to]),
        }
    }
    users
}
