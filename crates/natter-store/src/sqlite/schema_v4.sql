-- A block now ends a friendship, as a removal does (the blocked user must see
-- exactly what a removed friend sees). Friendships that outlived a block under
-- the older rule end here, and both sides' devices learn it from their change
-- stream as a `friend_removed` entry.
CREATE TEMP TABLE ended AS
    SELECT fs.user_id, fs.friend_id, ROW_NUMBER() OVER (ORDER BY fs.user_id, fs.friend_id) AS n
    FROM friendships fs
    WHERE EXISTS (SELECT 1 FROM blocks b
                  WHERE (b.user_id = fs.user_id AND b.blocked_id = fs.friend_id)
                     OR (b.user_id = fs.friend_id AND b.blocked_id = fs.user_id));
INSERT INTO user_events (cursor, user_id, at, change)
    SELECT (SELECT value FROM sync_clock WHERE id = 1) + n, user_id,
           CAST(strftime('%s', 'now') AS INTEGER) * 1000,
           json_object('type', 'friend_removed', 'user_id', friend_id)
    FROM ended;
UPDATE sync_clock SET value = value + (SELECT count(*) FROM ended) WHERE id = 1;
DELETE FROM friendships WHERE EXISTS (
    SELECT 1 FROM ended e WHERE e.user_id = friendships.user_id AND e.friend_id = friendships.friend_id);
DROP TABLE ended;
