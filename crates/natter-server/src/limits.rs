//! Rate limits: every expensive or abusable operation has a budget per account,
//! per user or per network address. Over budget, the caller gets `rate_limited`
//! with how long to wait, and nothing is done.

use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use natter_protocol::{ErrorCode, UserId};

use crate::config::LimitsConfig;
use crate::error::{ApiError, ApiResult};

pub struct RateLimits {
    enabled: bool,
    trusted_proxies: Vec<IpAddr>,
    ipv6_prefix: u8,
    clock: DefaultClock,
    login_account: DefaultKeyedRateLimiter<String>,
    login_address: DefaultKeyedRateLimiter<IpAddr>,
    register_address: DefaultKeyedRateLimiter<IpAddr>,
    messages_user: DefaultKeyedRateLimiter<UserId>,
    friend_requests_user: DefaultKeyedRateLimiter<UserId>,
    groups_user: DefaultKeyedRateLimiter<UserId>,
    group_changes_user: DefaultKeyedRateLimiter<UserId>,
    syncs_user: DefaultKeyedRateLimiter<UserId>,
    connections_address: DefaultKeyedRateLimiter<IpAddr>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(config: &LimitsConfig) -> RateLimits {
        let per_minute = |n: u32| Quota::per_minute(at_least_one(n));
        RateLimits {
            enabled: config.enabled,
            trusted_proxies: config.trusted_proxies.clone(),
            ipv6_prefix: config.ipv6_prefix_len,
            clock: DefaultClock::default(),
            login_account: DefaultKeyedRateLimiter::keyed(per_minute(
                config.logins_per_account_per_minute,
            )),
            login_address: DefaultKeyedRateLimiter::keyed(per_minute(
                config.logins_per_address_per_minute,
            )),
            register_address: DefaultKeyedRateLimiter::keyed(Quota::per_hour(at_least_one(
                config.registrations_per_address_per_hour,
            ))),
            messages_user: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(at_least_one(config.messages_per_user_per_second))
                    .allow_burst(at_least_one(config.message_burst)),
            ),
            friend_requests_user: DefaultKeyedRateLimiter::keyed(Quota::per_hour(at_least_one(
                config.friend_requests_per_user_per_hour,
            ))),
            groups_user: DefaultKeyedRateLimiter::keyed(Quota::per_hour(at_least_one(
                config.groups_per_user_per_hour,
            ))),
            group_changes_user: DefaultKeyedRateLimiter::keyed(per_minute(
                config.group_changes_per_user_per_minute,
            )),
            syncs_user: DefaultKeyedRateLimiter::keyed(
                per_minute(config.syncs_per_user_per_minute)
                    .allow_burst(at_least_one(config.sync_burst)),
            ),
            connections_address: DefaultKeyedRateLimiter::keyed(per_minute(
                config.connections_per_address_per_minute,
            )),
        }
    }

    /// A login attempt (or a check of the current password). Counted per
    /// address and per account name, whether or not the account exists, so
    /// the answer says nothing about which accounts do. `None`: a name that
    /// breaks the username rules, which no account can have.
    pub fn login(&self, account_key: Option<&str>, address: IpAddr) -> ApiResult<()> {
        self.check(&self.login_address, &address)?;
        match account_key {
            Some(key) => self.check(&self.login_account, &key.to_owned()),
            None => Ok(()),
        }
    }

    pub fn register(&self, address: IpAddr) -> ApiResult<()> {
        self.check(&self.register_address, &address)
    }

    pub fn message(&self, user: UserId) -> ApiResult<()> {
        self.check(&self.messages_user, &user)
    }

    pub fn friend_request(&self, user: UserId) -> ApiResult<()> {
        self.check(&self.friend_requests_user, &user)
    }

    /// Creating a group: counts as a group change too.
    pub fn group_creation(&self, user: UserId) -> ApiResult<()> {
        self.check(&self.groups_user, &user)?;
        self.group_change(user)
    }

    /// Any change to a group (each also writes a system message).
    pub fn group_change(&self, user: UserId) -> ApiResult<()> {
        self.check(&self.group_changes_user, &user)?;
        self.message(user)
    }

    pub fn sync(&self, user: UserId) -> ApiResult<()> {
        self.check(&self.syncs_user, &user)
    }

    pub fn connection(&self, address: IpAddr) -> ApiResult<()> {
        self.check(&self.connections_address, &address)
    }

    /// Forgets keys whose budget is full again, so the maps do not grow forever.
    pub fn forget_idle(&self) {
        self.login_account.retain_recent();
        self.login_address.retain_recent();
        self.register_address.retain_recent();
        self.messages_user.retain_recent();
        self.friend_requests_user.retain_recent();
        self.groups_user.retain_recent();
        self.group_changes_user.retain_recent();
        self.syncs_user.retain_recent();
        self.connections_address.retain_recent();
    }

    /// Whether `peer` is a reverse proxy whose forwarding headers are believed.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.contains(&peer)
    }

    /// Whether budgets are enforced at all (off only for load tests).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The client a request comes from, as address budgets count it (see
    /// [`address_group`]): the peer, or, when the peer is a trusted reverse
    /// proxy, the last address in `X-Forwarded-For` that is not one of the
    /// trusted proxies.
    pub fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        address_group(self.forwarded_for(peer, headers), self.ipv6_prefix)
    }

    fn forwarded_for(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip();
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let hops: Vec<IpAddr> = forwarded
            .flat_map(|v| v.split(','))
            .filter_map(|h| h.trim().parse().ok())
            .collect();
        hops.into_iter()
            .rev()
            .find(|hop| !self.trusted_proxies.contains(hop))
            .unwrap_or(peer)
    }

    fn check<K: Hash + Eq + Clone>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> ApiResult<()> {
        if !self.enabled {
            return Ok(());
        }
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            ApiError {
                code: ErrorCode::RateLimited,
                message: "Too many requests. Wait a moment and try again.".into(),
                retry_after_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1)),
                reason: None,
            }
        })
    }
}

/// The unit that address budgets count: an IPv4 address, or the IPv6 prefix
/// of `ipv6_prefix` bits. A /64 is one client: a provider hands a whole /64 to
/// one customer, who may use any address in it, so counting single IPv6
/// addresses would give every request a fresh budget. IPv4-mapped IPv6
/// addresses count as the IPv4 address.
pub fn address_group(ip: IpAddr, ipv6_prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let prefix = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_group_by_prefix_and_ipv4_stands_alone() {
        let check = |ip: &str, prefix: u8, expected: &str| {
            let ip: IpAddr = ip.parse().expect("ip");
            assert_eq!(
                address_group(ip, prefix),
                expected.parse::<IpAddr>().expect("ip"),
                "{ip}/{prefix}"
            );
        };
        check("203.0.113.7", 64, "203.0.113.7");
        check("2001:db8:a:b:c:d:e:f", 64, "2001:db8:a:b::");
        check("2001:db8:a:b:c:d:e:f", 48, "2001:db8:a::");
        check("2001:db8:a:b:c:d:e:f", 128, "2001:db8:a:b:c:d:e:f");
        check("2001:db8:a:b:c:d:e:f", 0, "::");
        check("::ffff:198.51.100.4", 64, "198.51.100.4");
    }

    fn limits(trusted: &[&str]) -> RateLimits {
        let config = LimitsConfig {
            logins_per_account_per_minute: 2,
            trusted_proxies: trusted.iter().filter_map(|t| t.parse().ok()).collect(),
            ..LimitsConfig::default()
        };
        RateLimits::new(&config)
    }

    #[test]
    fn a_budget_runs_out_and_says_how_long_to_wait() {
        let limits = limits(&[]);
        let address: IpAddr = "10.0.0.1".parse().expect("address");
        assert!(limits.login(Some("alice"), address).is_ok());
        assert!(limits.login(Some("alice"), address).is_ok());
        let refused = limits
            .login(Some("alice"), address)
            .expect_err("third login in a minute");
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(
            refused
                .retry_after_ms
                .is_some_and(|ms| ms > 0 && ms <= 60_000)
        );
        // Another account from the same address has its own budget.
        assert!(limits.login(Some("bob"), address).is_ok());
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 10.0.0.2".parse().expect("header"),
        );
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("peer");
        let check = |trusted: &[&str], expected: &str| {
            assert_eq!(
                limits(trusted).client_address(peer, &headers),
                expected.parse::<IpAddr>().expect("ip")
            );
        };
        check(&[], "127.0.0.1");
        check(&["127.0.0.1"], "10.0.0.2");
        check(&["127.0.0.1", "10.0.0.2"], "203.0.113.9");
    }
}
