-- Values the store keeps about itself. `name_key_version`: which version of
-- the accounts domain's look-alike key function made users.username_key and
-- display_key (absent: version 1); keys made by an older one are made again
-- at start.
CREATE TABLE settings (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
