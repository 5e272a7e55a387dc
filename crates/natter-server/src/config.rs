//! Server configuration: one [`Config`] with a sub-struct per domain, loaded once
//! at start and handed to constructors. No global accessor.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Everything `natter serve` can be told. Every field has a default, so an empty
/// config file (or none) gives a working single-node server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on. Loopback by default: exposing the server is a choice.
    pub listen: SocketAddr,
    /// Directory for the database and (later) media.
    pub data: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host:5432/natter`): the store of a
    /// cluster, shared by every node. Unset: SQLite in `data`.
    pub database: Option<String>,
    /// A Redis URL (`redis://host:6379`): the bus and presence between
    /// nodes. Unset: in-process (a single node).
    pub bus: Option<String>,
    pub cluster: ClusterConfig,
    pub http: HttpConfig,
    pub accounts: AccountsConfig,
    pub contacts: ContactsConfig,
    pub groups: GroupsConfig,
    pub gateway: GatewayConfig,
    pub sync: SyncConfig,
    pub limits: LimitsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("natter-data"),
            database: None,
            bus: None,
            cluster: ClusterConfig::default(),
            http: HttpConfig::default(),
            accounts: AccountsConfig::default(),
            contacts: ContactsConfig::default(),
            groups: GroupsConfig::default(),
            gateway: GatewayConfig::default(),
            sync: SyncConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl Config {
    /// Parses a TOML config file's text.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Running several nodes on one PostgreSQL and one Redis.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Prefix of every Redis key and channel, so that several installations
    /// can share one Redis. Every node of one installation uses the same.
    pub key_prefix: String,
    /// Seconds a node's presence lease lasts: the users of a node that died
    /// read offline at most this long (plus one sweep, a third of it) after.
    pub presence_lease_secs: u64,
    /// Connections each node keeps to PostgreSQL.
    pub database_pool_size: usize,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            key_prefix: "natter:".into(),
            presence_lease_secs: 15,
            database_pool_size: 16,
        }
    }
}

impl ClusterConfig {
    pub fn presence_lease(&self) -> Duration {
        Duration::from_secs(self.presence_lease_secs.max(3))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// PEM certificate chain (leaf first). With `tls_key`, the server speaks
    /// HTTPS and WSS itself; without, plain HTTP (put a reverse proxy in front).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to send a request's headers (slow-header attacks
    /// hold a connection otherwise); also how long an idle keep-alive lasts.
    pub header_timeout_secs: u64,
    /// Seconds a client has, once its headers are in, to send the whole body.
    pub body_timeout_secs: u64,
    /// TCP connections this node holds at once, HTTP and WebSocket together.
    /// Lowered at start to what the open-file limit allows.
    pub max_connections: usize,
    /// Connections one client address (an IPv6 /64) may hold while they speak
    /// HTTP, i.e. before a WebSocket upgrade. Trusted proxies are exempt;
    /// `limits.enabled = false` lifts it too. 0: no cap.
    pub max_connections_per_address: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            tls_cert: None,
            tls_key: None,
            header_timeout_secs: 10,
            body_timeout_secs: 10,
            max_connections: 20_000,
            max_connections_per_address: 64,
        }
    }
}

impl HttpConfig {
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.max(1))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsConfig {
    /// Password hashes computed at once (Argon2id takes ≈21 ms and 19 MiB each):
    /// a burst of logins queues instead of starving everything else.
    pub max_concurrent_hashes: usize,
    /// Password checks one client address may have waiting for a hashing
    /// thread; more are refused with `rate_limited` at once (addresses are
    /// served in turn). Lifted with `limits.enabled = false`.
    pub max_waiting_hashes_per_address: usize,
    /// Whether anyone may register.
    pub registration_open: bool,
    /// A device unused for this many days is logged out (its token stops working).
    pub session_idle_days: u32,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            max_concurrent_hashes: 2,
            max_waiting_hashes_per_address: 4,
            registration_open: true,
            session_idle_days: 30,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContactsConfig {
    /// Let users message people who are not their friends (WeChat does not).
    pub open_direct_messages: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupsConfig {
    /// Most members a group may have.
    pub max_members: u32,
    /// Most groups one user may be a member of (creating or being added to
    /// one more is refused with `too_many_groups`).
    pub max_groups_per_user: u32,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            max_members: 2000,
            max_groups_per_user: 500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// WebSocket connections this node accepts; above it new ones get 503
    /// `server_busy`. Keep it below the process's open-file limit.
    pub max_connections: usize,
    /// WebSocket connections one account may hold at once (devices and
    /// browser tabs): one account cannot take the whole node's capacity.
    pub max_connections_per_user: usize,
    /// WebSockets that have not sent a valid `auth` frame yet, node-wide; they
    /// do not take places of `max_connections` until they have.
    pub max_unauthenticated: usize,
    /// ... and from one client address (when `limits.enabled`).
    pub max_unauthenticated_per_address: usize,
    /// Frames queued for one connection before it counts as too slow and is closed.
    pub outbox_frames: usize,
    /// Bytes queued for one connection before it counts as too slow (a slow
    /// reader of large messages is cut before it holds much memory).
    pub outbox_bytes: usize,
    /// Seconds a new connection has to send its `auth` frame.
    pub auth_timeout_secs: u64,
    /// Seconds between server pings.
    pub ping_interval_secs: u64,
    /// Seconds without any frame from the client before the connection is closed.
    pub idle_timeout_secs: u64,
    /// Origins (scheme://host[:port]) allowed to open WebSockets besides the
    /// server's own. Browsers send Origin; other clients usually do not.
    pub allowed_origins: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            max_connections: 19_000,
            max_connections_per_user: 32,
            // A reconnect storm after a restart has thousands waiting for a
            // moment; each waits at most `auth_timeout_secs`.
            max_unauthenticated: 4096,
            max_unauthenticated_per_address: 64,
            outbox_frames: 512,
            outbox_bytes: 1024 * 1024,
            auth_timeout_secs: 10,
            ping_interval_secs: 25,
            idle_timeout_secs: 60,
            allowed_origins: Vec::new(),
        }
    }
}

impl AccountsConfig {
    /// How long a device may stay unused before its session ends.
    pub fn session_idle(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_idle_days.max(1)) * 86_400)
    }
}

impl GatewayConfig {
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_secs(self.auth_timeout_secs.max(1))
    }
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(2))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Most change-stream entries one sync page holds.
    pub max_events: u32,
    /// Most conversation summaries one sync page holds.
    pub max_conversations: u32,
    /// Days change-stream entries are kept; a device that last synced before
    /// that gets "reset" (a full reload) instead. Messages are not affected.
    pub keep_events_days: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_events: 1000,
            max_conversations: 200,
            keep_events_days: 30,
        }
    }
}

impl SyncConfig {
    pub fn keep_events(&self) -> Duration {
        Duration::from_secs(u64::from(self.keep_events_days.max(1)) * 86_400)
    }
}

/// Budgets per account, user or address. Over budget, requests get
/// `rate_limited` with a retry time.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Off only for load tests and trusted deployments.
    pub enabled: bool,
    pub logins_per_account_per_minute: u32,
    pub logins_per_address_per_minute: u32,
    pub registrations_per_address_per_hour: u32,
    /// Sustained messages per second per user, and the burst allowed above it.
    pub messages_per_user_per_second: u32,
    pub message_burst: u32,
    pub friend_requests_per_user_per_hour: u32,
    /// Groups one user may create.
    pub groups_per_user_per_hour: u32,
    /// Group changes one user may make (invites, renames, announcements,
    /// removals, roles, transfers), with the burst allowed above the rate.
    /// Each change is also a system message, so it counts against the message
    /// budget too.
    pub group_changes_per_user_per_minute: u32,
    /// Syncs (HTTP or WebSocket) one user may run, and the burst above it.
    pub syncs_per_user_per_minute: u32,
    pub sync_burst: u32,
    /// New WebSocket connections per address.
    pub connections_per_address_per_minute: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Without them, every
    /// client behind a proxy shares the proxy's address budget.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// IPv6 addresses sharing this many leading bits count as one client
    /// address (64: a /64, what one customer usually gets).
    pub ipv6_prefix_len: u8,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            logins_per_account_per_minute: 10,
            logins_per_address_per_minute: 60,
            registrations_per_address_per_hour: 30,
            messages_per_user_per_second: 20,
            message_burst: 100,
            friend_requests_per_user_per_hour: 60,
            groups_per_user_per_hour: 20,
            group_changes_per_user_per_minute: 30,
            syncs_per_user_per_minute: 60,
            sync_burst: 20,
            connections_per_address_per_minute: 300,
            trusted_proxies: Vec::new(),
            ipv6_prefix_len: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../../../natter.example.toml");
        let config = Config::from_toml(text).expect("the example config is valid");
        assert_eq!(config.groups.max_members, 2000);
        assert!(!config.contacts.open_direct_messages);
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(Config::from_toml("listen = \"127.0.0.1:1\"\nlisten_typo = 1\n").is_err());
        assert!(Config::from_toml("[groups]\nmax_membres = 3\n").is_err());
    }
}
