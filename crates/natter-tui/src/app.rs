//! The chat screen's state and what keys and server events do to it.
//!
//! [`App`] holds no I/O: a key or an event changes the state and returns
//! [`Action`]s that the loop in [`crate::chat`] carries out against the
//! server, feeding the results back in. That keeps every view testable
//! without a terminal or a server.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use natter_client::ConnectionEvent;
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::contacts::{Friend, FriendRequestList};
use natter_client::protocol::conversations::{ConversationKind, ConversationSummary, Message};
use natter_client::protocol::sync::UserChange;
use natter_client::protocol::ws::Event;
use natter_client::protocol::{ConversationId, FriendRequestId, Seq, UserId};

use crate::input::Input;

/// How long a typing notice stays on screen.
pub const TYPING_SHOWN_FOR: Duration = Duration::from_secs(5);
/// How often typing is announced while the user keeps typing.
pub const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Messages per history page.
pub const PAGE: u32 = 50;

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
    Send {
        conversation: ConversationId,
        text: String,
    },
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
    pub status: String,
    pub connected: bool,
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
            focus: Focus::List,
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
            connected: true,
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

    /// A user's name as this client knows it.
    pub fn name(&self, id: UserId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
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
                self.connected = false;
                self.status = "connection lost; reconnecting…".into();
                Vec::new()
            }
            ConnectionEvent::Reconnected => {
                self.connected = true;
                self.status = "reconnected".into();
                vec![Action::ReloadConversations, Action::ReloadFriends]
            }
            ConnectionEvent::Reset => vec![Action::ReloadConversations, Action::ReloadFriends],
            ConnectionEvent::Closed { code, reason } => {
                self.connected = false;
                self.status =
                    format!("logged out by the server ({code} {reason}); run `natter login`");
                Vec::new()
            }
            _ => Vec::new(),
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
                    self.status =
                        format!("friend request from {} (press f)", request.from.username);
                    self.names
                        .insert(request.from.id, request.from.username.clone());
                    self.requests.incoming.retain(|r| r.id != request.id);
                    self.requests.incoming.insert(0, request);
                    Vec::new()
                }
                UserChange::FriendRequestUpdated { .. }
                | UserChange::FriendAdded { .. }
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

    /// What a key does.
    pub fn on_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Action> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return vec![Action::Quit];
        }
        if self.overlay.is_some() {
            return self.on_overlay_key(key);
        }
        match (key.code, self.focus) {
            (KeyCode::PageUp, _) => return self.scroll_up(),
            (KeyCode::PageDown, _) => {
                self.scroll = self.scroll.saturating_sub(10);
                return if self.scroll == 0 {
                    self.open_selected()
                } else {
                    Vec::new()
                };
            }
            (KeyCode::F(1), _) => {
                self.overlay = Some(Overlay::Help);
                return Vec::new();
            }
            _ => {}
        }
        match self.focus {
            Focus::List => self.on_list_key(key),
            Focus::Input => self.on_input_key(key, now),
        }
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

    fn on_list_key(&mut self, key: KeyEvent) -> Vec<Action> {
        match key.code {
            KeyCode::Char('q') => vec![Action::Quit],
            KeyCode::Char('?') => {
                self.overlay = Some(Overlay::Help);
                Vec::new()
            }
            KeyCode::Up | KeyCode::Char('k') => self.select(self.selected.saturating_sub(1)),
            KeyCode::Down | KeyCode::Char('j') => self.select(self.selected + 1),
            KeyCode::Enter | KeyCode::Tab | KeyCode::Char('i') => {
                self.focus = Focus::Input;
                Vec::new()
            }
            KeyCode::Char('f') => {
                self.overlay = Some(Overlay::Friends {
                    selected: 0,
                    adding: None,
                });
                vec![Action::ReloadFriends]
            }
            KeyCode::Char('g') => {
                self.overlay = Some(Overlay::NewGroup {
                    text: String::new(),
                });
                Vec::new()
            }
            KeyCode::Char('n') => {
                if self
                    .current()
                    .is_some_and(|c| c.kind == ConversationKind::Group)
                {
                    self.overlay = Some(Overlay::Invite {
                        text: String::new(),
                    });
                } else {
                    self.status = "select a group to invite people into".into();
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_input_key(&mut self, key: KeyEvent, now: Instant) -> Vec<Action> {
        let newline = (key.code == KeyCode::Enter && key.modifiers.contains(KeyModifiers::ALT))
            || (key.code == KeyCode::Char('o') && key.modifiers.contains(KeyModifiers::CONTROL))
            || (key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL));
        if newline {
            self.input.newline();
            return Vec::new();
        }
        match key.code {
            KeyCode::Esc | KeyCode::Tab => {
                self.focus = Focus::List;
                Vec::new()
            }
            KeyCode::Enter => {
                let Some(id) = self.current_id() else {
                    self.status = "no conversation selected".into();
                    return Vec::new();
                };
                if self.input.is_blank() {
                    return Vec::new();
                }
                let text = self.input.take();
                self.scroll = 0;
                self.last_typing_sent = None;
                vec![Action::Send {
                    conversation: id,
                    text,
                }]
            }
            KeyCode::Backspace => {
                self.input.backspace();
                Vec::new()
            }
            KeyCode::Left => {
                self.input.left();
                Vec::new()
            }
            KeyCode::Right => {
                self.input.right();
                Vec::new()
            }
            KeyCode::Up => {
                self.input.up();
                Vec::new()
            }
            KeyCode::Down => {
                self.input.down();
                Vec::new()
            }
            KeyCode::Home => {
                self.input.home();
                Vec::new()
            }
            KeyCode::End => {
                self.input.end();
                Vec::new()
            }
            KeyCode::Char(c) if plain(&key) => {
                self.input.insert(c);
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
            _ => Vec::new(),
        }
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
