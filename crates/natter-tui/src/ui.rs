//! Drawing the chat screen with ratatui. [`render`] reads an [`App`] and
//! draws one frame; it fits in 80×24.
//!
//! Every string from the server (names, message text, greetings, the status
//! line, which quotes server errors) reaches a span through
//! [`format::safe_line`] or [`format::safe_text`]: control characters show
//! as placeholders and bidirectional controls are dropped, so nothing
//! others wrote can drive the terminal.

use std::time::Instant;

use natter_client::protocol::conversations::ConversationKind;
use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use crate::app::{App, Focus, Overlay, PendingState};
use crate::format;
use crate::input::Input;

/// The keys, as shown by F1 (and `?` from the list). Typing always writes;
/// commands are on Ctrl, or on letters once Esc has moved to the list.
pub const HELP: &[(&str, &str)] = &[
    ("Enter", "send (shown as pending until the server has it)"),
    (
        "Alt+Enter Ctrl+J",
        "new line in the message; a paste stays one message",
    ),
    (
        "Ctrl+N Ctrl+P",
        "next / previous conversation (or Alt+↓ Alt+↑)",
    ),
    ("PgUp PgDn", "scroll; at the top PgUp loads older"),
    ("Ctrl+F", "friends: a accept, d decline, s send a request"),
    ("Ctrl+G", "new group: `Name: bob, carol`"),
    ("Ctrl+T", "invite friends into this group"),
    ("Ctrl+K", "go to: bob, group:bob, friend:bob or #12"),
    (
        "Esc",
        "to the list: ↑ ↓ j k choose, f g n o ? q, Enter back",
    ),
    ("F1", "this help"),
    ("Ctrl+C Ctrl+Q", "quit"),
];

/// The status line's reminder when there is nothing to say.
pub const HINT: &str = "F1 help · Ctrl+F friends · Ctrl+G group · Esc list · Ctrl+C quit";

fn focused(on: bool) -> Style {
    if on {
        Style::default().fg(Color::Cyan)
    } else {
        Style::default()
    }
}

/// Splits `text` into rows of at most `width` columns, measuring grapheme
/// clusters as ratatui draws them (a cluster is never split).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    for line in text.split('\n') {
        let mut row = String::new();
        let mut used = 0;
        for g in line.graphemes(true) {
            let w = g.width();
            if used + w > width && used > 0 {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            row.push_str(g);
            used += w;
        }
        rows.push(row);
    }
    rows
}

/// The input as drawn `width` columns wide: its lines wrapped into rows
/// (nothing is ever cut off), and the cursor's (row, column) among them.
pub fn input_rows(input: &Input, width: usize) -> (Vec<String>, (usize, usize)) {
    let width = width.max(1);
    let (cursor_line, cursor_col) = input.cursor();
    let mut rows = Vec::new();
    let mut cursor = (0, 0);
    for (index, line) in input.lines().into_iter().enumerate() {
        let mut row = String::new();
        let mut used = 0;
        let mut chars = 0;
        for g in line.graphemes(true) {
            // What was typed is shown inert too (a paste may hold anything).
            let shown = format::safe_line(g);
            let w = shown.width();
            if used + w > width && used > 0 {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            if index == cursor_line && chars == cursor_col {
                cursor = (rows.len(), used);
            }
            row.push_str(&shown);
            used += w;
            chars += g.chars().count();
        }
        if index == cursor_line && chars <= cursor_col {
            // At the end of a full row the cursor starts the next one.
            if used >= width {
                rows.push(std::mem::take(&mut row));
                used = 0;
            }
            cursor = (rows.len(), used);
        }
        rows.push(row);
    }
    (rows, cursor)
}

/// Draws the whole screen.
pub fn render(frame: &mut Frame, app: &App, now: Instant) {
    let area = frame.area();
    let [main, status] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(3), Constraint::Length(1)])
        .areas(area);
    let list_width = (area.width / 4).clamp(16, 30);
    let [list, chat] = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(list_width), Constraint::Min(20)])
        .areas(main);
    render_list(frame, app, list);
    render_chat(frame, app, chat, now);
    render_status(frame, app, status);
    if let Some(overlay) = &app.overlay {
        render_overlay(frame, app, overlay, area);
    }
}

fn render_list(frame: &mut Frame, app: &App, area: Rect) {
    let items: Vec<ListItem> = app
        .conversations
        .iter()
        .map(|c| {
            let marker = match (c.kind, &c.peer) {
                (ConversationKind::Direct, Some(peer)) => {
                    if app.presence.get(&peer.id).copied().unwrap_or(false) {
                        Span::styled("● ", Style::default().fg(Color::Green))
                    } else {
                        Span::raw("○ ")
                    }
                }
                _ => Span::raw("# "),
            };
            let mut spans = vec![marker, Span::raw(format::safe_line(&c.name).into_owned())];
            if c.unread > 0 {
                spans.push(Span::styled(
                    format!(" ({})", c.unread),
                    Style::default().add_modifier(Modifier::BOLD),
                ));
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let title = if app.requests.incoming.is_empty() {
        " Chats ".to_owned()
    } else {
        format!(" Chats · {} req ", app.requests.incoming.len())
    };
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .border_style(focused(app.focus == Focus::List)),
        )
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default();
    if !app.conversations.is_empty() {
        state.select(Some(app.selected));
    }
    frame.render_stateful_widget(list, area, &mut state);
}

fn render_chat(frame: &mut Frame, app: &App, area: Rect, now: Instant) {
    let (input_rows, _) = input_rows(&app.input, area.width.saturating_sub(2) as usize);
    let input_lines = u16::try_from(input_rows.len()).unwrap_or(u16::MAX);
    let [messages_area, typing_area, input_area] = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(input_lines.clamp(1, 5) + 2),
        ])
        .areas(area);

    let Some(current) = app.current() else {
        let text = Paragraph::new(
            "No conversations yet. Press Ctrl+F to add friends, Ctrl+G to create a group, F1 for help.",
        )
        .wrap(Wrap { trim: true })
        .block(Block::default().borders(Borders::ALL).title(" natter "));
        frame.render_widget(text, messages_area);
        render_input(frame, app, input_area);
        return;
    };

    // The id tells apart a group and a friend of the same name, and is what
    // `natter send --to '#id'` takes.
    let mut title = format!(" {} · #{} ", format::safe_line(&current.name), current.id);
    match (&current.kind, &current.peer) {
        (ConversationKind::Direct, Some(peer)) => {
            let online = app.presence.get(&peer.id).copied().unwrap_or(false);
            title.push_str(if online { "· online " } else { "· offline " });
        }
        _ => title.push_str(&format!("· {} members ", current.member_count)),
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(messages_area);
    frame.render_widget(block, messages_area);

    let width = inner.width as usize;
    let mut rows: Vec<Line> = Vec::new();
    let timeline = app.timelines.get(&current.id);
    match timeline {
        Some(t) if t.has_more => rows.push(Line::styled(
            "── PgUp for older messages ──",
            Style::default().fg(Color::DarkGray),
        )),
        Some(t) if t.loaded && t.messages.is_empty() => rows.push(Line::raw("No messages yet.")),
        None => rows.push(Line::raw("Loading…")),
        _ => {}
    }
    let peer_read = app.peer_read.get(&current.id).copied().unwrap_or_default();
    if let Some(t) = timeline {
        let last_mine = t
            .messages
            .values()
            .rev()
            .find(|m| m.sender_id == app.me.id)
            .map(|m| m.seq);
        for m in t.messages.values() {
            let who = app.name(m.sender_id);
            let who = format::safe_line(&who);
            let prefix = format!("{} {who}: ", format::stamp(m.sent_at));
            let body = format::body(m, &app.names);
            let text = format!("{prefix}{}", format::safe_text(&body));
            let style = if m.sender_id == app.me.id {
                Style::default().fg(Color::Yellow)
            } else {
                Style::default()
            };
            for row in wrap(&text, width) {
                rows.push(Line::styled(row, style));
            }
            if Some(m.seq) == last_mine && peer_read >= m.seq {
                rows.push(Line::styled(
                    "  ✓ read",
                    Style::default().fg(Color::DarkGray),
                ));
            }
        }
    }
    let me = format::safe_line(&app.me.username).into_owned();
    for p in app.outbox.iter().filter(|p| p.conversation == current.id) {
        let style = Style::default().fg(Color::DarkGray);
        let text = format!("--:-- {me}: {}", format::safe_text(&p.text));
        for row in wrap(&text, width) {
            rows.push(Line::styled(row, style));
        }
        let state = match &p.state {
            PendingState::Sending => "  … sending".to_owned(),
            PendingState::Waiting => "  … not sent yet: waiting for the server".to_owned(),
            PendingState::Failed(reason) => format!("  ✗ not sent: {}", format::safe_line(reason)),
        };
        rows.push(Line::styled(state, style));
    }
    let height = inner.height as usize;
    let max_scroll = rows.len().saturating_sub(height);
    app.max_scroll.set(max_scroll);
    let scroll = app.scroll.min(max_scroll);
    let end = rows.len() - scroll;
    let start = end.saturating_sub(height);
    let visible: Vec<Line> = rows.drain(start..end).collect();
    frame.render_widget(Paragraph::new(visible), inner);

    let typing = app.typing_in(current.id, now);
    let typing_text = match typing.as_slice() {
        [] => String::new(),
        [one] => format!("{one} is typing…"),
        many => format!("{} are typing…", many.join(", ")),
    };
    frame.render_widget(
        Paragraph::new(Line::styled(
            format::safe_line(&typing_text).into_owned(),
            Style::default().fg(Color::DarkGray),
        )),
        typing_area,
    );
    render_input(frame, app, input_area);
}

fn render_input(frame: &mut Frame, app: &App, area: Rect) {
    let width = area.width.saturating_sub(2) as usize;
    let (rows, (row, col)) = input_rows(&app.input, width);
    let visible = area.height.saturating_sub(2) as usize;
    let skip = (row + 1).saturating_sub(visible);
    let lines: Vec<Line> = rows.into_iter().map(Line::raw).collect();
    let title = if app.focus == Focus::Input {
        " Message (Enter send · Alt+Enter new line · Esc list) "
    } else {
        " List: ↑↓ choose · f g n o ? q · Enter to write "
    };
    let input = Paragraph::new(lines).scroll((skip as u16, 0)).block(
        Block::default()
            .borders(Borders::ALL)
            .title(title)
            .border_style(focused(app.focus == Focus::Input)),
    );
    frame.render_widget(input, area);
    if app.focus == Focus::Input && app.overlay.is_none() {
        frame.set_cursor_position((
            area.x + 1 + (col as u16).min(area.width.saturating_sub(3)),
            area.y + 1 + (row - skip) as u16,
        ));
    }
}

fn render_status(frame: &mut Frame, app: &App, area: Rect) {
    let state = if app.connected {
        Span::styled("● ", Style::default().fg(Color::Green))
    } else {
        Span::styled("● ", Style::default().fg(Color::Red))
    };
    let waiting = app.outbox.len();
    let text = if let Some(ended) = &app.ended {
        format::safe_line(ended).into_owned()
    } else if !app.status.is_empty() {
        format::safe_line(&app.status).into_owned()
    } else if !app.connected && waiting > 0 {
        format!("connection lost; reconnecting… ({waiting} to send)")
    } else if !app.connected {
        "connection lost; reconnecting…".to_owned()
    } else {
        HINT.to_owned()
    };
    let line = Line::from(vec![
        state,
        Span::styled(
            format!("{} ", format::safe_line(&app.me.username)),
            Style::default().add_modifier(Modifier::BOLD),
        ),
        Span::raw(text),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn render_overlay(frame: &mut Frame, app: &App, overlay: &Overlay, area: Rect) {
    match overlay {
        Overlay::Help => {
            let lines: Vec<Line> = HELP
                .iter()
                .map(|(keys, what)| Line::raw(format!("{keys:<16} {what}")))
                .collect();
            let rect = popup(area, 76, HELP.len() as u16 + 2);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines).block(
                    Block::default()
                        .borders(Borders::ALL)
                        .title(" Keys (any key closes) "),
                ),
                rect,
            );
        }
        Overlay::Friends { selected, adding } => {
            // The line that must stay in view: the name being typed, or the
            // chosen request.
            let mut focus_line = 1 + *selected;
            let mut lines = vec![Line::styled(
                "Requests (a accept · d decline · s send · Esc close)",
                Style::default().add_modifier(Modifier::BOLD),
            )];
            if app.requests.incoming.is_empty() {
                lines.push(Line::raw("  none"));
            }
            for (i, r) in app.requests.incoming.iter().enumerate() {
                let text = format!(
                    "  {} {}: {}",
                    if i == *selected { '>' } else { ' ' },
                    format::safe_line(&r.from.username),
                    format::safe_line(&r.greeting)
                );
                let style = if i == *selected {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                };
                lines.push(Line::styled(text, style));
            }
            for r in &app.requests.outgoing {
                lines.push(Line::raw(format!(
                    "    → {} (pending)",
                    format::safe_line(&r.to.username)
                )));
            }
            lines.push(Line::styled(
                "Friends",
                Style::default().add_modifier(Modifier::BOLD),
            ));
            for f in &app.friends {
                let online = app.presence.get(&f.user.id).copied().unwrap_or(f.online);
                lines.push(Line::raw(format!(
                    "  {} {}",
                    if online { '●' } else { '○' },
                    format::safe_line(&f.user.username)
                )));
            }
            if let Some(name) = adding {
                focus_line = lines.len();
                lines.push(Line::raw(format!(
                    "Send a request to: {}_",
                    format::safe_line(name)
                )));
            }
            let rect = popup(area, 60, area.height.saturating_sub(2).min(20));
            let inner_height = rect.height.saturating_sub(2) as usize;
            // Scrolled so the focus line shows, with the header when it fits.
            let scroll = (focus_line + 1).saturating_sub(inner_height);
            let title = if scroll > 0 {
                format!(" Friends (↑ {scroll} more) ")
            } else {
                " Friends ".to_owned()
            };
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines)
                    .scroll((scroll as u16, 0))
                    .block(Block::default().borders(Borders::ALL).title(title)),
                rect,
            );
        }
        Overlay::NewGroup { text } => {
            let rect = popup(area, 60, 4);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw("Name: friend, friend   (Enter create · Esc cancel)"),
                    Line::raw(format!("{}_", format::safe_line(text))),
                ])
                .block(Block::default().borders(Borders::ALL).title(" New group ")),
                rect,
            );
        }
        Overlay::GoTo { text, note } => {
            let mut lines = vec![
                // The way to tell apart a group and a friend of one name.
                Line::raw("name, group:name, friend:name or #id (Enter · Esc)"),
                Line::raw(format!("{}_", format::safe_line(text))),
            ];
            lines.extend(
                note.iter()
                    .map(|n| Line::raw(format::safe_line(n).into_owned())),
            );
            let height = u16::try_from(lines.len())
                .unwrap_or(u16::MAX)
                .saturating_add(2);
            let rect = popup(area, 60, height);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(lines)
                    .block(Block::default().borders(Borders::ALL).title(" Go to ")),
                rect,
            );
        }
        Overlay::Invite { text } => {
            let rect = popup(area, 60, 4);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw("Friends to invite, comma-separated (Enter · Esc)"),
                    Line::raw(format!("{}_", format::safe_line(text))),
                ])
                .block(Block::default().borders(Borders::ALL).title(" Invite ")),
                rect,
            );
        }
    }
}
