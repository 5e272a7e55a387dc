-- Old entries of the per-user change stream are pruned. The horizon is the
-- highest cursor pruned so far: a device syncing from below it may have missed
-- pruned events, so it gets `reset` (a full reload) instead.
CREATE TABLE sync_horizon (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT INTO sync_horizon (id, value) VALUES (1, 0);
CREATE INDEX user_events_at ON user_events (at);
