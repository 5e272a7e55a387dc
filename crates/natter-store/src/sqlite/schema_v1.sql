-- Natter schema, version 1. Times are milliseconds since the Unix epoch.

-- AUTOINCREMENT where an id is shown to people or kept by clients: a deleted
-- row's id is never handed out again.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,   -- NFKC + lowercase: look-alikes collide
    display_name  TEXT NOT NULL,
    display_key   TEXT NOT NULL,          -- lowercase display name, for search
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER
);
CREATE INDEX users_display_key ON users (display_key);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    token_hash   BLOB NOT NULL UNIQUE,    -- SHA-256 of the token; the token is never stored
    name         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- The one clock of the sync stream: every change a user may need to catch up on
-- takes the next value, inside its own transaction. It starts at 1 so that a
-- real cursor is never 0, which means "from scratch".
CREATE TABLE sync_clock (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO sync_clock (id, value) VALUES (1, 1);

CREATE TABLE user_events (
    cursor  INTEGER PRIMARY KEY,          -- a value of sync_clock
    user_id INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    change  TEXT NOT NULL                 -- JSON of natter_protocol::sync::UserChange
);
CREATE INDEX user_events_user ON user_events (user_id, cursor);

CREATE TABLE friend_requests (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_id    INTEGER NOT NULL REFERENCES users (id),
    to_id      INTEGER NOT NULL REFERENCES users (id),
    greeting   TEXT NOT NULL,
    status     TEXT NOT NULL,             -- pending | accepted | declined | cancelled
    hidden     INTEGER NOT NULL DEFAULT 0, -- sent while blocked: the recipient never sees it
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX friend_requests_to ON friend_requests (to_id, status);
CREATE INDEX friend_requests_from ON friend_requests (from_id, status);

CREATE TABLE conversations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,           -- direct | group
    name         TEXT NOT NULL DEFAULT '',
    announcement TEXT,
    direct_key   TEXT UNIQUE,             -- 'low:high' user ids of a direct conversation
    last_seq     INTEGER NOT NULL DEFAULT 0,
    change_seq   INTEGER NOT NULL DEFAULT 0, -- edits, recalls, reactions (later)
    member_count INTEGER NOT NULL DEFAULT 0,
    version      INTEGER NOT NULL,        -- sync_clock value of the last change
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    encrypted    INTEGER NOT NULL DEFAULT 0 -- MLS conversations (later)
);

CREATE TABLE friendships (
    user_id         INTEGER NOT NULL REFERENCES users (id),
    friend_id       INTEGER NOT NULL REFERENCES users (id),
    remark          TEXT,
    since           INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (user_id, friend_id)
) WITHOUT ROWID;

CREATE TABLE blocks (
    user_id    INTEGER NOT NULL REFERENCES users (id),
    blocked_id INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;

CREATE TABLE members (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL,        -- owner | admin | member
    joined_at       INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL DEFAULT 0,
    delivered_seq   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members (user_id, conversation_id);

CREATE TABLE messages (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    sender_id       INTEGER NOT NULL,
    client_msg_id   TEXT,
    sent_at         INTEGER NOT NULL,
    content         TEXT NOT NULL,        -- JSON of natter_protocol::conversations::MessageContent
    reply_to        INTEGER,
    edited_at       INTEGER,
    recalled_at     INTEGER,
    expires_at      INTEGER,
    change_seq      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_client_id ON messages (conversation_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;
