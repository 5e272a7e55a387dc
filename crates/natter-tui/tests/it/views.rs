//! The main views, rendered at 80×24 from fixed state.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use natter_client::ConnectionEvent;
use natter_client::protocol::accounts::UserProfile;
use natter_client::protocol::contacts::{
    Friend, FriendRequest, FriendRequestList, FriendRequestStatus,
};
use natter_client::protocol::conversations::{
    ConversationKind, ConversationSummary, MediaRef, Message, MessageContent, Role,
};
use natter_client::protocol::ws::Event;
use natter_client::protocol::{ConversationId, FriendRequestId, Seq, Timestamp, UserId};
use natter_tui::app::{Action, App, Focus, Overlay};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::screen;

fn user(id: i64, name: &str) -> UserProfile {
    UserProfile {
        id: UserId(id),
        username: name.into(),
        display_name: name.into(),
        created_at: Timestamp(0),
    }
}

fn text(conversation: i64, seq: i64, sender: i64, text: &str) -> Message {
    Message {
        conversation_id: ConversationId(conversation),
        seq: Seq(seq),
        sender_id: UserId(sender),
        client_msg_id: None,
        sent_at: Timestamp(12 * 3_600_000 + seq * 60_000),
        content: MessageContent::Text { text: text.into() },
        reply_to: None,
        edited_at: None,
        recalled_at: None,
        expires_at: None,
    }
}

fn summary(
    id: i64,
    kind: ConversationKind,
    name: &str,
    peer: Option<UserProfile>,
    last: i64,
    read: i64,
) -> ConversationSummary {
    ConversationSummary {
        id: ConversationId(id),
        kind,
        name: name.into(),
        peer,
        announcement: None,
        member_count: 3,
        my_role: Some(Role::Member),
        last_seq: Seq(last),
        read_seq: Seq(read),
        unread: (last - read) as u32,
        last_message: None,
        created_at: Timestamp(0),
        updated_at: Timestamp(match id {
            10 => 3,
            5 => 2,
            _ => 1,
        }),
    }
}

fn friend(id: i64, name: &str, online: bool, conversation: i64) -> Friend {
    Friend {
        user: user(id, name),
        remark: None,
        since: Timestamp(0),
        online,
        last_seen_at: None,
        conversation_id: ConversationId(conversation),
    }
}

/// alice, with a direct chat with bob (online, selected) and a group with 4
/// unread messages.
fn fixture() -> App {
    let mut app = App::new(user(1, "alice"), "http://127.0.0.1:1");
    app.set_friends(vec![
        friend(2, "bob", true, 10),
        friend(3, "carol", false, 11),
    ]);
    let actions = app.set_conversations(vec![
        summary(
            10,
            ConversationKind::Direct,
            "bob",
            Some(user(2, "bob")),
            2,
            2,
        ),
        summary(5, ConversationKind::Group, "Book club", None, 4, 0),
        summary(
            11,
            ConversationKind::Direct,
            "carol",
            Some(user(3, "carol")),
            0,
            0,
        ),
    ]);
    assert_eq!(actions, vec![Action::Open(ConversationId(10))]);
    app.add_messages(
        ConversationId(10),
        vec![text(10, 1, 2, "Hi Alice!"), text(10, 2, 1, "Hello Bob 👋")],
        Some(false),
    );
    app
}

fn draw_buffer(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    let now = Instant::now();
    let frame = terminal
        .draw(|frame| natter_tui::ui::render(frame, app, now))
        .expect("draw");
    frame.buffer.clone()
}

fn draw(app: &App, width: u16, height: u16) -> String {
    screen(&draw_buffer(app, width, height))
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn main_view_shows_list_unread_presence_and_chat_at_80x24() {
    let app = fixture();
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("● bob"), "{screen}");
    assert!(screen.contains("# Book club (4)"), "{screen}");
    assert!(screen.contains("○ carol"), "{screen}");
    assert!(screen.contains("bob · #10 · online"), "{screen}");
    assert!(screen.contains("12:01 bob: Hi Alice!"), "{screen}");
    assert!(screen.contains("12:02 alice: Hello Bob"), "{screen}");
    assert!(screen.contains("F1 help"), "{screen}");
    assert_eq!(screen.lines().count(), 24);
}

#[test]
fn incoming_messages_typing_and_read_receipts_show_up() {
    let mut app = fixture();
    let now = Instant::now();
    let actions = app.on_connection_event(
        ConnectionEvent::Event(Event::Typing {
            conversation_id: ConversationId(10),
            user_id: UserId(2),
        }),
        now,
    );
    assert!(actions.is_empty());
    assert!(draw(&app, 80, 24).contains("bob is typing…"));

    app.on_connection_event(
        ConnectionEvent::Event(Event::Read {
            conversation_id: ConversationId(10),
            user_id: UserId(2),
            read_seq: Seq(2),
        }),
        now,
    );
    assert!(draw(&app, 80, 24).contains("✓ read"));

    // A message in the open conversation is marked read at once and ends
    // the typing notice; one in another conversation counts as unread.
    let actions = app.on_connection_event(
        ConnectionEvent::Event(Event::Message {
            message: text(10, 3, 2, "Lunch?"),
        }),
        now,
    );
    assert_eq!(
        actions,
        vec![Action::MarkRead {
            conversation: ConversationId(10),
            seq: Seq(3)
        }]
    );
    let actions = app.on_connection_event(
        ConnectionEvent::Event(Event::Message {
            message: text(11, 1, 3, "ping"),
        }),
        now,
    );
    assert!(actions.is_empty());
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("bob: Lunch?"), "{screen}");
    assert!(!screen.contains("typing"), "{screen}");
    assert!(screen.contains("carol (1)"), "{screen}");
}

#[test]
fn help_opens_on_question_mark_and_fits_80x24() {
    let mut app = fixture();
    app.on_key(key(KeyCode::F(1)), Instant::now());
    assert_eq!(app.overlay, Some(Overlay::Help));
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("Keys"), "{screen}");
    assert!(screen.contains("new line in the message"), "{screen}");
    app.on_key(key(KeyCode::Esc), Instant::now());
    assert_eq!(app.overlay, None);
}

#[test]
fn typing_multi_line_and_sending() {
    let mut app = fixture();
    let now = Instant::now();
    app.on_key(key(KeyCode::Enter), now);
    assert_eq!(app.focus, Focus::Input);
    let first = app.on_key(key(KeyCode::Char('h')), now);
    assert_eq!(first, vec![Action::Typing(ConversationId(10))]);
    // Typing is announced at most every few seconds.
    assert!(app.on_key(key(KeyCode::Char('i')), now).is_empty());
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT), now);
    app.on_key(key(KeyCode::Char('!')), now);
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("│hi"), "{screen}");
    assert!(screen.contains("│!"), "{screen}");
    let sent = app.on_key(key(KeyCode::Enter), now);
    let [
        Action::Send {
            conversation,
            client_msg_id,
            text,
        },
    ] = sent.as_slice()
    else {
        panic!("not one send: {sent:?}");
    };
    assert_eq!(
        (*conversation, text.as_str()),
        (ConversationId(10), "hi\n!")
    );
    assert_eq!(&app.outbox[0].client_msg_id, client_msg_id);
    assert!(app.input.is_blank());
}

#[test]
fn selecting_an_unread_group_loads_it_and_sends_a_read_receipt() {
    let mut app = fixture();
    let actions = app.on_key(ctrl('n'), Instant::now());
    assert_eq!(
        actions,
        vec![
            Action::Open(ConversationId(5)),
            Action::MarkRead {
                conversation: ConversationId(5),
                seq: Seq(4)
            }
        ]
    );
    app.set_read(ConversationId(5), Seq(4));
    assert!(draw(&app, 80, 24).contains("# Book club "));
    assert!(!draw(&app, 80, 24).contains("(4)"));
}

#[test]
fn scrolling_to_the_top_loads_older_history() {
    let mut app = fixture();
    let older: Vec<Message> = (3..=60)
        .map(|seq| text(10, seq, 2, &format!("line {seq}")))
        .collect();
    app.add_messages(ConversationId(10), older, Some(true));
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("line 60"), "{screen}");
    let mut actions = Vec::new();
    for _ in 0..20 {
        actions = app.on_key(key(KeyCode::PageUp), Instant::now());
        draw(&app, 80, 24);
        if !actions.is_empty() {
            break;
        }
    }
    assert_eq!(
        actions,
        vec![Action::LoadOlder {
            conversation: ConversationId(10),
            before: Seq(1)
        }]
    );
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("PgUp for older"), "{screen}");
    assert!(screen.contains("Hi Alice!"), "{screen}");
}

#[test]
fn friend_requests_can_be_accepted_from_the_friends_view() {
    let mut app = fixture();
    app.set_requests(FriendRequestList {
        incoming: vec![FriendRequest {
            id: FriendRequestId(7),
            from: user(4, "dave"),
            to: user(1, "alice"),
            greeting: "hey, it's Dave".into(),
            status: FriendRequestStatus::Pending,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }],
        outgoing: Vec::new(),
        next: None,
    });
    assert_eq!(
        app.on_key(ctrl('f'), Instant::now()),
        vec![Action::ReloadFriends]
    );
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("dave: hey, it's Dave"), "{screen}");
    assert!(screen.contains("● bob"), "{screen}");
    assert_eq!(
        app.on_key(key(KeyCode::Char('a')), Instant::now()),
        vec![Action::AcceptRequest(FriendRequestId(7))]
    );
    app.on_key(key(KeyCode::Char('s')), Instant::now());
    for c in "erin".chars() {
        app.on_key(key(KeyCode::Char(c)), Instant::now());
    }
    assert!(draw(&app, 80, 24).contains("Send a request to: erin"));
    assert_eq!(
        app.on_key(key(KeyCode::Enter), Instant::now()),
        vec![Action::SendRequest("erin".into())]
    );
}

#[test]
fn groups_are_created_and_invited_into_with_typed_names() {
    let mut app = fixture();
    app.on_key(ctrl('g'), Instant::now());
    for c in "Hikers: bob, carol".chars() {
        app.on_key(key(KeyCode::Char(c)), Instant::now());
    }
    assert!(draw(&app, 80, 24).contains("Hikers: bob, carol_"));
    assert_eq!(
        app.on_key(key(KeyCode::Enter), Instant::now()),
        vec![Action::CreateGroup {
            name: "Hikers".into(),
            members: vec!["bob".into(), "carol".into()]
        }]
    );
    // Ctrl+T invites only into a group.
    app.on_key(ctrl('t'), Instant::now());
    assert_eq!(app.overlay, None);
    app.on_key(ctrl('n'), Instant::now());
    app.on_key(ctrl('t'), Instant::now());
    for c in "carol".chars() {
        app.on_key(key(KeyCode::Char(c)), Instant::now());
    }
    assert_eq!(
        app.on_key(key(KeyCode::Enter), Instant::now()),
        vec![Action::Invite {
            conversation: ConversationId(5),
            members: vec!["carol".into()]
        }]
    );
}

#[test]
fn media_messages_show_a_label_with_a_download_command() {
    let mut app = fixture();
    let mut photo = text(10, 3, 2, "");
    photo.content = MessageContent::Image {
        media: MediaRef {
            media_id: "m-1".into(),
            mime: "image/jpeg".into(),
            size: 300_000,
            name: Some("beach.jpg".into()),
            width: None,
            height: None,
            duration_ms: None,
        },
    };
    app.add_messages(ConversationId(10), vec![photo], None);
    let screen = draw(&app, 80, 24);
    assert!(screen.contains("[image: beach.jpg"), "{screen}");
    assert!(screen.contains("natter download 10 3"), "{screen}");
}

#[test]
fn disconnects_show_in_the_status_line() {
    let mut app = fixture();
    app.on_connection_event(
        ConnectionEvent::Disconnected { code: Some(1001) },
        Instant::now(),
    );
    assert!(draw(&app, 80, 24).contains("reconnecting"));
    let actions = app.on_connection_event(ConnectionEvent::Reconnected, Instant::now());
    assert_eq!(
        actions,
        vec![Action::ReloadConversations, Action::ReloadFriends]
    );
    assert!(draw(&app, 80, 24).contains("reconnected"));
}

/// Characters that must never reach a terminal cell: C0 (ESC, BEL, NUL,
/// ...), DEL, C1 and the bidirectional controls.
fn unsafe_char(c: char) -> bool {
    let bidi = matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}'
    );
    c.is_control() || bidi
}

fn assert_no_control_cells(buffer: &Buffer) {
    let area = buffer.area;
    for y in 0..area.height {
        for x in 0..area.width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(unsafe_char),
                "cell ({x}, {y}) holds {symbol:?}:\n{}",
                screen(buffer)
            );
        }
    }
}

#[test]
fn control_characters_from_the_server_never_reach_the_terminal() {
    let mut app = fixture();
    let now = Instant::now();
    app.on_connection_event(
        ConnectionEvent::Event(Event::Message {
            message: text(10, 3, 2, "\u{1b}[2J\u{1b}]0;pwned\u{7}hello\u{0}"),
        }),
        now,
    );
    app.on_connection_event(
        ConnectionEvent::Event(Event::Message {
            message: text(
                10,
                4,
                2,
                "\u{202e}desrever\u{202c} csi\u{9b}31m del\u{7f}\nnext line",
            ),
        }),
        now,
    );
    let buffer = draw_buffer(&app, 80, 24);
    assert_no_control_cells(&buffer);
    let shown = screen(&buffer);
    assert!(shown.contains("hello"), "{shown}");
    // The controls are shown as placeholders, not silently lost.
    assert!(shown.contains("bob: ␛[2J␛]0;pwned␇hello␀"), "{shown}");
    assert!(
        shown.contains("bob: desrever csi\u{fffd}31m del␡"),
        "{shown}"
    );
    assert!(shown.contains("│next line"), "{shown}");

    // Names, greetings, the status line and typing notices come from the
    // server too.
    let evil = "ev\u{1b}[5mil\u{7}\u{202e}";
    app.set_friends(vec![friend(2, evil, true, 10)]);
    app.set_requests(FriendRequestList {
        incoming: vec![FriendRequest {
            id: FriendRequestId(7),
            from: user(4, evil),
            to: user(1, "alice"),
            greeting: "hi\u{1b}]0;pwned\u{7}\nthere".into(),
            status: FriendRequestStatus::Pending,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        }],
        outgoing: Vec::new(),
        next: None,
    });
    app.set_conversations(vec![summary(
        10,
        ConversationKind::Direct,
        evil,
        Some(user(2, evil)),
        4,
        4,
    )]);
    app.status = format!("the server refused: {evil} (bad)");
    app.on_connection_event(
        ConnectionEvent::Event(Event::Typing {
            conversation_id: ConversationId(10),
            user_id: UserId(2),
        }),
        now,
    );
    let buffer = draw_buffer(&app, 80, 24);
    assert_no_control_cells(&buffer);
    let shown = screen(&buffer);
    assert!(shown.contains("● ev␛[5mil␇"), "{shown}");
    assert!(shown.contains("refused: ev␛[5mil␇ (bad)"), "{shown}");
    assert!(shown.contains("ev␛[5mil␇ is typing…"), "{shown}");
    app.on_key(ctrl('f'), now);
    let buffer = draw_buffer(&app, 80, 24);
    assert_no_control_cells(&buffer);
    let shown = screen(&buffer);
    assert!(shown.contains("ev␛[5mil␇: hi␛]0;pwned␇␊there"), "{shown}");
}

fn type_text(app: &mut App, text: &str) -> Vec<Action> {
    text.chars()
        .flat_map(|c| app.on_key(key(KeyCode::Char(c)), Instant::now()))
        .collect()
}

#[test]
fn letters_go_to_the_composer_and_commands_need_ctrl_or_esc() {
    let mut app = fixture();
    let actions = type_text(&mut app, "quick question 你好世界 fgnq?");
    assert!(!actions.contains(&Action::Quit), "{actions:?}");
    assert_eq!(app.overlay, None);
    assert_eq!(app.input.text(), "quick question 你好世界 fgnq?");
    // After Esc, letters are commands; another character goes on writing.
    app.on_key(key(KeyCode::Esc), Instant::now());
    assert_eq!(app.focus, Focus::List);
    app.on_key(key(KeyCode::Char('x')), Instant::now());
    assert_eq!(app.focus, Focus::Input);
    assert!(app.input.text().ends_with("?x"));
    app.on_key(key(KeyCode::Esc), Instant::now());
    assert_eq!(
        app.on_key(key(KeyCode::Char('q')), Instant::now()),
        vec![Action::Quit]
    );
}

#[test]
fn a_paste_is_one_message_and_alt_enter_or_ctrl_j_add_lines() {
    let mut app = fixture();
    let actions = app.on_paste("first\r\nsecond\nthird\u{1b}[2J", Instant::now());
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Send { .. })),
        "{actions:?}"
    );
    app.on_key(ctrl('j'), Instant::now());
    type_text(&mut app, "fourth");
    let buffer = draw_buffer(&app, 80, 24);
    assert_no_control_cells(&buffer);
    let shown = screen(&buffer);
    assert!(shown.contains("│third[2J"), "{shown}");
    let sent = app.on_key(key(KeyCode::Enter), Instant::now());
    assert!(
        matches!(sent.as_slice(), [Action::Send { text, .. }] if text == "first\nsecond\nthird[2J\nfourth"),
        "{sent:?}"
    );
}

#[test]
fn long_input_wraps_and_the_cursor_stays_inside_the_box() {
    let mut app = fixture();
    let text: String = (0..12).map(|i| format!("word{i:02}abc ")).collect();
    type_text(&mut app, &text);
    type_text(&mut app, "THE-END");
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    let frame = terminal
        .draw(|frame| natter_tui::ui::render(frame, &app, Instant::now()))
        .expect("draw");
    let shown = screen(frame.buffer);
    assert!(shown.contains("THE-END"), "{shown}");
    assert!(shown.contains("word00abc"), "{shown}");
    let cursor = terminal.get_cursor_position().expect("cursor");
    // Right after THE-END, on the second row of the input, inside the box.
    let row = shown.lines().nth(cursor.y as usize).expect("row");
    let before: String = row.chars().take(cursor.x as usize).collect();
    assert!(before.ends_with("THE-END"), "{cursor:?} {row:?}");
    assert!(cursor.x < 79, "{cursor:?}");
}

#[test]
fn family_emoji_are_measured_as_one_wide_character() {
    let mut app = fixture();
    let family = "👨\u{200d}👩\u{200d}👧";
    app.add_messages(
        ConversationId(10),
        vec![text(10, 3, 2, &family.repeat(15))],
        None,
    );
    app.on_paste(&format!("{family}{family}x"), Instant::now());
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    let frame = terminal
        .draw(|frame| natter_tui::ui::render(frame, &app, Instant::now()))
        .expect("draw");
    let shown = screen(frame.buffer);
    // 15 two-column emoji after the 22-column prefix fit in a row of 58.
    let row = shown
        .lines()
        .find(|l| l.contains("bob: 👨"))
        .expect("the message");
    assert_eq!(row.matches("👨").count(), 15, "{shown}");
    let cursor = terminal.get_cursor_position().expect("cursor");
    // The input starts at column 21 (the list is 20 wide): two emoji of two
    // columns and `x`, then the cursor.
    assert_eq!(cursor.x, 21 + 2 + 2 + 1, "{shown}");
}

#[test]
fn messages_older_than_today_show_their_date() {
    let mut app = fixture();
    let now = chrono::Utc::now().timestamp_millis();
    let mut fresh = text(10, 3, 2, "fresh news");
    fresh.sent_at = Timestamp(now);
    app.add_messages(ConversationId(10), vec![fresh], None);
    let shown = draw(&app, 80, 24);
    assert!(shown.contains("1970-01-01 12:01 bob: Hi Alice!"), "{shown}");
    let today = natter_tui::format::stamp(Timestamp(now));
    assert_eq!(today.len(), 5, "{today}");
    assert!(
        shown.contains(&format!("{today} bob: fresh news")),
        "{shown}"
    );
}

#[test]
fn the_outbox_keeps_a_send_that_timed_out_and_retries_it_with_the_same_id() {
    let mut app = fixture();
    let now = Instant::now();
    type_text(&mut app, "kept safe");
    let sent = app.on_key(key(KeyCode::Enter), now);
    let [Action::Send { client_msg_id, .. }] = sent.as_slice() else {
        panic!("{sent:?}");
    };
    let id = client_msg_id.clone();
    assert!(draw(&app, 80, 24).contains("… sending"));
    app.on_connection_event(ConnectionEvent::Disconnected { code: None }, now);
    app.on_send_failed(&id, true, "timed out".into());
    let shown = draw(&app, 80, 24);
    assert!(shown.contains("alice: kept safe"), "{shown}");
    assert!(shown.contains("not sent yet"), "{shown}");
    let retried = app.on_connection_event(ConnectionEvent::Reconnected, now);
    assert!(
        retried.iter().any(
            |a| matches!(a, Action::Send { client_msg_id, text, .. } if *client_msg_id == id && text == "kept safe")
        ),
        "{retried:?}"
    );
    let mut stored = text(10, 3, 1, "kept safe");
    stored.client_msg_id = Some(id);
    app.on_sent(stored);
    assert!(app.outbox.is_empty());
    let shown = draw(&app, 80, 24);
    assert!(!shown.contains("sending"), "{shown}");
    assert_eq!(shown.matches("kept safe").count(), 1, "{shown}");
}

#[test]
fn members_who_are_not_friends_are_named_not_numbered() {
    let mut app = fixture();
    app.on_key(ctrl('n'), Instant::now());
    let actions = app.on_connection_event(
        ConnectionEvent::Event(Event::Message {
            message: text(5, 5, 7, "hello from a stranger"),
        }),
        Instant::now(),
    );
    assert!(
        !actions.contains(&Action::LoadMembers(ConversationId(5))),
        "not loaded yet: {actions:?}"
    );
    app.add_messages(
        ConversationId(5),
        vec![text(5, 5, 7, "hello from a stranger")],
        Some(false),
    );
    assert_eq!(
        app.names_needed(ConversationId(5)),
        vec![Action::LoadMembers(ConversationId(5))]
    );
    // Asked once only.
    assert!(app.names_needed(ConversationId(5)).is_empty());
    assert!(!draw(&app, 80, 24).contains("#7"));
    app.add_names([user(7, "zoe")]);
    let shown = draw(&app, 80, 24);
    assert!(shown.contains("zoe: hello from a stranger"), "{shown}");
    assert!(shown.contains("Book club · #5"), "{shown}");
}

#[test]
fn status_lines_clear_on_the_next_key_or_after_a_while() {
    let mut app = fixture();
    app.set_status("group created");
    assert!(draw(&app, 80, 24).contains("group created"));
    app.on_key(key(KeyCode::Char('x')), Instant::now());
    assert!(!draw(&app, 80, 24).contains("group created"));
    app.set_status("request sent to erin");
    app.on_tick(Instant::now());
    assert!(draw(&app, 80, 24).contains("request sent to erin"));
    app.on_tick(Instant::now() + natter_tui::app::STATUS_SHOWN_FOR);
    assert!(!draw(&app, 80, 24).contains("request sent to erin"));
}

#[test]
fn the_friends_window_scrolls_to_the_name_being_typed() {
    let mut app = fixture();
    let incoming = (0..14)
        .map(|i| FriendRequest {
            id: FriendRequestId(100 + i),
            from: user(100 + i, &format!("asker{i}")),
            to: user(1, "alice"),
            greeting: String::new(),
            status: FriendRequestStatus::Pending,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        })
        .collect();
    app.set_requests(FriendRequestList {
        incoming,
        outgoing: Vec::new(),
        next: None,
    });
    app.on_key(ctrl('f'), Instant::now());
    for _ in 0..13 {
        app.on_key(key(KeyCode::Down), Instant::now());
    }
    assert!(draw(&app, 80, 24).contains("> asker13"));
    app.on_key(key(KeyCode::Char('s')), Instant::now());
    type_text(&mut app, "erin");
    let shown = draw(&app, 80, 24);
    assert!(shown.contains("Send a request to: erin_"), "{shown}");
}

#[test]
fn ctrl_k_goes_to_a_chat_by_name_and_lists_the_choices_of_a_shared_one() {
    let mut app = fixture();
    // A group named like the friend bob.
    let mut list = app.conversations.clone();
    list.push(summary(6, ConversationKind::Group, "Bob", None, 0, 0));
    app.set_conversations(list);
    let now = Instant::now();
    app.on_key(ctrl('k'), now);
    type_text(&mut app, "bob");
    assert_eq!(app.on_key(key(KeyCode::Enter), now), Vec::new());
    let shown = draw(&app, 80, 24);
    assert!(shown.contains("group:name, friend:name or #id"), "{shown}");
    assert!(shown.contains("fits several; type one of:"), "{shown}");
    assert!(shown.contains("friend:bob (#10)"), "{shown}");
    assert!(shown.contains("group:Bob (#6)"), "{shown}");
    assert_eq!(app.current_id(), Some(ConversationId(10)));

    // Still open with what was typed: `group:` in front picks the group.
    for _ in "bob".chars() {
        app.on_key(key(KeyCode::Backspace), now);
    }
    type_text(&mut app, "group:bob");
    let opened = app.on_key(key(KeyCode::Enter), now);
    assert_eq!(app.overlay, None);
    assert_eq!(app.focus, Focus::Input);
    assert_eq!(app.current_id(), Some(ConversationId(6)));
    assert_eq!(opened, vec![Action::Open(ConversationId(6))]);

    // By id, and from the list with `o`.
    app.on_key(key(KeyCode::Esc), now);
    app.on_key(key(KeyCode::Char('o')), now);
    type_text(&mut app, "#5");
    app.on_key(key(KeyCode::Enter), now);
    assert_eq!(app.current_id(), Some(ConversationId(5)));
    app.on_key(ctrl('k'), now);
    type_text(&mut app, "nobody");
    app.on_key(key(KeyCode::Enter), now);
    assert!(draw(&app, 80, 24).contains("no friend or group named nobody"));
}
