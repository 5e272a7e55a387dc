-- Natter schema for PostgreSQL, version 1: what SQLite's versions 1 to 4 end
-- with, in PostgreSQL's types. Times are milliseconds since the Unix epoch
-- (BIGINT), as on SQLite, so both backends hand out the same numbers.
--
-- Ids come from identity columns: a sequence never hands a value out twice,
-- even after a rollback or a deletion (AUTOINCREMENT on SQLite), and
-- GENERATED ALWAYS refuses an id chosen by hand.
--
-- Keys compared by range (`username_key`, `display_key`) use the "C"
-- collation: byte order, as SQLite compares. Under a linguistic collation
-- punctuation is ignored at first, so the `key#id` range that
-- `find_credentials` scans (`>= key || '#'` and `< key || '$'`) and the
-- prefix search (`< prefix || U+10FFFF`) would miss rows.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL,
    -- NFKC + lowercase: look-alikes collide. `key#id` after a change of the
    -- key function left two accounts with one key (see rekey_users).
    username_key  TEXT COLLATE "C" NOT NULL CONSTRAINT users_username_key UNIQUE,
    display_name  TEXT NOT NULL,
    display_key   TEXT COLLATE "C" NOT NULL,  -- lowercase display name, for search
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT
);
CREATE INDEX users_display_key ON users (display_key);

-- A logged-in device. Its id is the device id clients keep.
CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    -- SHA-256 of the token; the token itself is never stored.
    token_hash   BYTEA NOT NULL CONSTRAINT sessions_token_hash UNIQUE
                 CHECK (octet_length(token_hash) = 32),
    name         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- The per-user change stream. There is no clock row to take values from (it
-- would serialize every writer): an entry's cursor is
-- `(txid << 16) | n`, the id of the transaction that wrote it and the
-- entry's index within it, and readers only go up to the horizon below
-- which every transaction is final (see the module doc of postgres/mod.rs).
-- The CHECK makes a cursor that was not made this way impossible to store.
CREATE TABLE user_events (
    cursor      BIGINT PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    -- Which change (a number the store owns, see postgres/encoding.rs) and
    -- its stored form: the store's encoding, not protocol JSON kept verbatim.
    change_kind SMALLINT NOT NULL,
    change      BYTEA NOT NULL,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CHECK (cursor >> 16 = txid::text::bigint)
);
CREATE INDEX user_events_user ON user_events (user_id, cursor);
CREATE INDEX user_events_at ON user_events (at);

-- Old entries of the change stream are pruned. The horizon is the highest
-- cursor pruned so far: a device syncing from below it may have missed
-- pruned events, so it gets `reset` (a full reload) instead.
CREATE TABLE sync_horizon (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO sync_horizon (id, value) VALUES (1, 0);

CREATE TABLE friend_requests (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_id    BIGINT NOT NULL REFERENCES users (id),
    to_id      BIGINT NOT NULL REFERENCES users (id),
    greeting   TEXT NOT NULL,
    status     TEXT NOT NULL
               CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    -- Sent while blocked: the recipient never sees it.
    hidden     BOOLEAN NOT NULL DEFAULT false,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX friend_requests_to ON friend_requests (to_id, status);
CREATE INDEX friend_requests_from ON friend_requests (from_id, status);

-- Any timeline: a direct conversation of two users, or a group.
CREATE TABLE conversations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('direct', 'group')),
    name          TEXT NOT NULL DEFAULT '',
    announcement  TEXT,
    -- 'low:high' user ids of a direct conversation: one per pair.
    direct_key    TEXT CONSTRAINT conversations_direct_key UNIQUE,
    last_seq      BIGINT NOT NULL DEFAULT 0,
    change_seq    BIGINT NOT NULL DEFAULT 0,  -- edits, recalls, reactions (later)
    member_count  BIGINT NOT NULL DEFAULT 0,
    -- A change-stream cursor (as user_events.cursor) of the last change, and
    -- the transaction it belongs to: a sync lists the conversations whose
    -- version is above its cursor and below the horizon.
    version       BIGINT NOT NULL,
    version_txid  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    encrypted     BOOLEAN NOT NULL DEFAULT false,  -- MLS conversations (later)
    CHECK (version >> 16 = version_txid::text::bigint)
);

-- One row per direction: (a, b) and (b, a) both exist while they are friends.
CREATE TABLE friendships (
    user_id         BIGINT NOT NULL REFERENCES users (id),
    friend_id       BIGINT NOT NULL REFERENCES users (id),
    remark          TEXT,
    since           BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    PRIMARY KEY (user_id, friend_id)
);

CREATE TABLE blocks (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    blocked_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

CREATE TABLE members (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       BIGINT NOT NULL,
    read_seq        BIGINT NOT NULL DEFAULT 0,
    delivered_seq   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX members_user ON members (user_id, conversation_id);

-- A timeline entry; `seq` is gap-free per conversation.
CREATE TABLE messages (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    seq             BIGINT NOT NULL,
    sender_id       BIGINT NOT NULL,
    client_msg_id   TEXT,
    sent_at         BIGINT NOT NULL,
    -- Which kind of content (a number the store owns) and its stored form:
    -- the store's encoding, not protocol JSON kept verbatim.
    content_kind    SMALLINT NOT NULL,
    content         BYTEA NOT NULL,
    reply_to        BIGINT,
    edited_at       BIGINT,
    recalled_at     BIGINT,
    expires_at      BIGINT,
    change_seq      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, seq),
    -- A resend with the same client id finds the original. NULLs are
    -- distinct in a UNIQUE constraint, so system messages (no client id)
    -- never collide: SQLite needed a partial index for that.
    CONSTRAINT messages_client_id UNIQUE (conversation_id, sender_id, client_msg_id)
);

-- Values the store keeps about itself. `name_key_version`: which version of
-- the accounts domain's look-alike key function made users.username_key and
-- display_key (absent: version 1); keys made by an older one are made again
-- at start.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
