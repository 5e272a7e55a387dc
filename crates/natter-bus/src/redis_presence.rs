//! Presence shared by several nodes through Redis, held under per-node leases.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use natter_protocol::UserId;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::redis_support::{self, CONNECT_TIMEOUT};
use crate::{BusError, NodeId, Presence};

/// The lease a node holds unless told otherwise.
const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// How long one presence call may wait for Redis.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Shared by every script. `ARGV[1]` is the key prefix and `ARGV[2]` the
/// calling node, whose own entries count even if its lease just lapsed: it is
/// running this script, so it is alive. Lease lookups are memoized because a
/// user's hash names the same few nodes over and over.
///
/// The scripts read lease keys they compute, which Redis Cluster forbids; the
/// deployment this serves is one Redis (or a primary with replicas).
const PRELUDE: &str = r"
local prefix, me = ARGV[1], ARGV[2]
local live = {}
local function alive(node)
  if node == me then return true end
  if live[node] == nil then
    live[node] = redis.call('EXISTS', prefix .. 'node:' .. node) == 1
  end
  return live[node]
end
local function held(key)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) > 0 and alive(fields[i]) then return true end
  end
  return false
end
";

/// KEYS: presence hash, this node's user set, the node set. ARGV[3]: the user.
/// Returns 1 when the user was offline before.
const CONNECTED: &str = r"
local was_online = held(KEYS[1])
redis.call('HINCRBY', KEYS[1], me, 1)
redis.call('SADD', KEYS[2], ARGV[3])
-- Also here, not only in the heartbeat: a node swept while alive must be found
-- again by the sweep if it dies before its next heartbeat.
redis.call('SADD', KEYS[3], me)
if was_online then return 0 end
return 1
";

/// KEYS: presence hash, this node's user set. ARGV[3]: the user.
/// Returns 1 when that was the user's last connection.
const DISCONNECTED: &str = r"
local count = redis.call('HGET', KEYS[1], me)
if not count then return 0 end
if tonumber(count) <= 1 then
  redis.call('HDEL', KEYS[1], me)
  redis.call('SREM', KEYS[2], ARGV[3])
else
  redis.call('HINCRBY', KEYS[1], me, -1)
end
if held(KEYS[1]) then return 0 end
-- Offline now. What lapsed nodes still hold goes too, so that the sweep does
-- not report this user offline a second time.
redis.call('DEL', KEYS[1])
return 1
";

/// KEYS: presence hashes. Returns 1 or 0 for each, in order.
const ONLINE: &str = r"
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = held(key) and 1 or 0
end
return out
";

/// KEYS: the node set. Returns the ids of users now offline, as strings.
/// Atomic, so when several nodes sweep at once each user goes to one of them.
const SWEEP: &str = r"
local dead = {}
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not alive(node) then table.insert(dead, node) end
end
local touched = {}
for _, node in ipairs(dead) do
  local users = prefix .. 'node-users:' .. node
  for _, user in ipairs(redis.call('SMEMBERS', users)) do
    if redis.call('HDEL', prefix .. 'presence:' .. user, node) == 1 then
      touched[user] = true
    end
  end
  redis.call('DEL', users)
  redis.call('SREM', KEYS[1], node)
end
local offline = {}
for user in pairs(touched) do
  local key = prefix .. 'presence:' .. user
  if not held(key) then
    redis.call('DEL', key)
    table.insert(offline, user)
  end
end
return offline
";

/// Tuning of a [`RedisPresence`]; [`Default`] suits production.
#[derive(Debug, Clone)]
pub struct RedisPresenceOptions {
    /// How long a node's entries outlive its last heartbeat (default 15 s);
    /// the heartbeat runs every third of it.
    pub lease: Duration,
}

impl Default for RedisPresenceOptions {
    fn default() -> RedisPresenceOptions {
        RedisPresenceOptions {
            lease: DEFAULT_LEASE,
        }
    }
}

/// Presence shared by the nodes using one Redis.
///
/// Keys, all starting with the configured prefix:
/// - `presence:{user}`: hash, node id → that node's connection count for the user;
/// - `node-users:{node}`: set of the users a node holds entries for;
/// - `node:{node}`: the node's lease, a key that expires after 15 seconds
///   (by default; see [`RedisPresenceOptions::lease`]) unless the node's
///   heartbeat renews it, every 5 seconds (a third of the lease);
/// - `nodes`: set of the nodes that may hold entries.
///
/// A node's entries count only while its lease lives, so the users of a node
/// that died (SIGKILL, lost host) read offline within 15 seconds; the next
/// [`Presence::sweep_expired`] on any node removes the entries and reports
/// those users. A user connected to two nodes is online until both let go.
///
/// A node stalled longer than its lease (paused, or cut off from Redis) may be
/// swept while alive: its users then read offline until they reconnect, which
/// the heartbeat logs when it finds its lease gone.
pub struct RedisPresence {
    connection: ConnectionManager,
    prefix: String,
    node: NodeId,
    node_field: String,
    scripts: Scripts,
    stop: watch::Sender<bool>,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

struct Scripts {
    connected: Script,
    disconnected: Script,
    online: Script,
    sweep: Script,
}

impl RedisPresence {
    /// Connects with the default options (a 15-second lease).
    pub async fn connect(url: &str, prefix: &str, node: NodeId) -> Result<RedisPresence, BusError> {
        RedisPresence::connect_with(url, prefix, node, RedisPresenceOptions::default()).await
    }

    /// Connects to the Redis at `url`, takes this node's lease and starts its
    /// heartbeat. Fails with [`BusError::Connect`], naming the URL, when Redis
    /// cannot be reached within 5 seconds.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        node: NodeId,
        options: RedisPresenceOptions,
    ) -> Result<RedisPresence, BusError> {
        let client = redis_support::open_client(url)?;
        // The connection manager retries until its timeout and would report only
        // that; one plain attempt first gives the real reason (refused, bad auth).
        redis_support::checked_connection(&client, RESPONSE_TIMEOUT)
            .await
            .map_err(|error| redis_support::connect_error(url, error))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = match tokio::time::timeout(
            CONNECT_TIMEOUT,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(redis_support::connect_error(url, error)),
            Err(_) => {
                return Err(redis_support::connect_error(
                    url,
                    format!("no answer within {CONNECT_TIMEOUT:?}"),
                ));
            }
        };
        let lease = Lease {
            connection: connection.clone(),
            key: format!("{prefix}node:{node}"),
            nodes: format!("{prefix}nodes"),
            node_field: node.to_string(),
            millis: u64::try_from(options.lease.as_millis())
                .unwrap_or(u64::MAX)
                .max(30),
        };
        lease
            .renew()
            .await
            .map_err(|error| redis_support::connect_error(url, error))?;
        let (stop, stopped) = watch::channel(false);
        let heartbeat = tokio::spawn(lease.run(stopped));
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Ok(RedisPresence {
            connection,
            prefix: prefix.to_owned(),
            node,
            node_field: node.to_string(),
            scripts: Scripts {
                connected: script(CONNECTED),
                disconnected: script(DISCONNECTED),
                online: script(ONLINE),
                sweep: script(SWEEP),
            },
            stop,
            heartbeat: Mutex::new(Some(heartbeat)),
        })
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Stops the heartbeat and gives up the lease at once, so that the next
    /// sweep on any node reports the users this node still held. Presence
    /// calls on this value fail or mislead afterwards; drop it.
    ///
    /// Dropping without calling this stops the heartbeat too, but leaves the
    /// lease to lapse on its own, as a crash would.
    pub async fn shutdown(&self) -> Result<(), BusError> {
        self.stop.send_replace(true);
        let heartbeat = self
            .heartbeat
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(heartbeat) = heartbeat
            && let Err(error) = heartbeat.await
        {
            tracing::error!(%error, node = %self.node, "the presence heartbeat failed");
        }
        redis::cmd("DEL")
            .arg(format!("{}node:{}", self.prefix, self.node))
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(redis_support::unavailable)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}presence:{}", self.prefix, user.0)
    }

    fn node_users_key(&self) -> String {
        format!("{}node-users:{}", self.prefix, self.node)
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn connected(&self, user: UserId) -> Result<bool, BusError> {
        let first: i64 = self
            .scripts
            .connected
            .key(self.user_key(user))
            .key(self.node_users_key())
            .key(format!("{}nodes", self.prefix))
            .arg(&self.prefix)
            .arg(&self.node_field)
            .arg(user.0)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_support::unavailable)?;
        Ok(first == 1)
    }

    async fn disconnected(&self, user: UserId) -> Result<bool, BusError> {
        let last: i64 = self
            .scripts
            .disconnected
            .key(self.user_key(user))
            .key(self.node_users_key())
            .arg(&self.prefix)
            .arg(&self.node_field)
            .arg(user.0)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_support::unavailable)?;
        Ok(last == 1)
    }

    /// One round trip whatever the number of users.
    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, BusError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.online.prepare_invoke();
        for &user in users {
            invocation.key(self.user_key(user));
        }
        // No caller node: a reader trusts only leases, whichever node it runs on.
        invocation.arg(&self.prefix).arg("");
        let online: Vec<i64> = invocation
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_support::unavailable)?;
        if online.len() != users.len() {
            return Err(BusError::Unavailable(format!(
                "presence script answered {} entries for {} users",
                online.len(),
                users.len()
            )));
        }
        Ok(online.into_iter().map(|o| o == 1).collect())
    }

    async fn sweep_expired(&self) -> Result<Vec<UserId>, BusError> {
        let offline: Vec<String> = self
            .scripts
            .sweep
            .key(format!("{}nodes", self.prefix))
            .arg(&self.prefix)
            .arg("")
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_support::unavailable)?;
        let mut users: Vec<UserId> = offline
            .iter()
            .filter_map(|id| match id.parse() {
                Ok(id) => Some(UserId(id)),
                Err(_) => {
                    tracing::warn!(id, "ignoring a presence entry that is not a user id");
                    None
                }
            })
            .collect();
        users.sort_unstable();
        Ok(users)
    }
}

/// This node's lease and the heartbeat that keeps it.
struct Lease {
    connection: ConnectionManager,
    key: String,
    nodes: String,
    node_field: String,
    millis: u64,
}

impl Lease {
    /// Renews the lease; false when it had lapsed (or was never taken).
    async fn renew(&self) -> redis::RedisResult<bool> {
        let (previous, _added): (Option<String>, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(&self.key)
            .arg(1)
            .arg("PX")
            .arg(self.millis)
            .arg("GET")
            .cmd("SADD")
            .arg(&self.nodes)
            .arg(&self.node_field)
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(previous.is_some())
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        // A third of the lease: two heartbeats may fail before it lapses.
        let period = Duration::from_millis(self.millis / 3);
        loop {
            tokio::select! {
                () = tokio::time::sleep(period) => {}
                // An error means the presence was dropped, which also means stop.
                _ = stop.wait_for(|stop| *stop) => return,
            }
            match self.renew().await {
                Ok(true) => {}
                Ok(false) => tracing::error!(
                    node = %self.node_field,
                    "this node's presence lease had lapsed; its users may read offline until they reconnect"
                ),
                Err(error) => tracing::warn!(%error, "cannot renew this node's presence lease"),
            }
        }
    }
}
