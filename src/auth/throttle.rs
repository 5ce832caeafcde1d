//! The login/register throttle: who the client really is, and how many
//! attempts it and a username may make. Each attempt costs an Argon2 hash,
//! and a password can be guessed one login at a time, so two buckets apply,
//! both fixed windows counted in Redis (shared by every API process):
//!
//! - per client address: every login and register attempt. The address is
//!   the TCP peer, unless the peer is one of `http.trusted_proxies`; then it
//!   is the rightmost `X-Forwarded-For` entry that is not itself a trusted
//!   proxy (what the nearest untrusted hop said it saw). A client cannot
//!   spoof its way around the bucket by sending the header itself: from an
//!   untrusted peer the header is ignored. IPv6 addresses are grouped by
//!   their /64 (one host usually holds a whole /64).
//! - per username: failed logins. After `failed_logins` failures within
//!   `lockout_secs`, logins to that account are refused until the window
//!   ends, from every address (guessing spread over many addresses is still
//!   stopped); a successful login clears the count.
//!
//! Refusals are [`ThrottleError`]s, answered as 429 with `Retry-After`.

use crate::queue::Keys;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Deserializer};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

/// Counts one event in a fixed window. KEYS[1] counter; ARGV[1] window ms.
/// Returns {count including this one, ms until the window ends}.
const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// Longest username that can belong to an account (longer ones cannot log
/// in, so they get no per-username counter: no unbounded Redis keys).
const MAX_USERNAME_BYTES: usize = 128;

/// The `auth.throttle` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThrottleSettings {
    /// Login and register attempts per client address per minute (0 =
    /// unlimited).
    pub attempts_per_minute: u32,
    /// Failed logins per username before its logins are refused (0 = no
    /// per-username throttle).
    pub failed_logins: u32,
    /// The window the failures are counted in, and so the longest lockout.
    pub lockout_secs: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            attempts_per_minute: 30,
            failed_logins: 10,
            lockout_secs: 900,
        }
    }
}

/// An IP network (`10.0.0.0/8`, `fd00::/8`, or one address), as listed in
/// `http.trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `address` is inside this network (IPv4-mapped IPv6 addresses
    /// count as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), self.prefix, 128) == masked(ip.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network = canonical(
            address
                .parse::<IpAddr>()
                .map_err(|_| format!("{text:?} is not an IP address or CIDR"))?,
        );
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {bits}"))?,
        };
        Ok(Cidr { network, prefix })
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cidr, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `value`'s top `prefix` bits of `bits`.
fn masked(value: u128, prefix: u8, bits: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let shift = u32::from(bits - prefix);
    (value >> shift) << shift
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4
/// peers) as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The client an attempt comes from: the peer, or behind trusted proxies the
/// rightmost `X-Forwarded-For` entry that is not a trusted proxy. An entry
/// that does not parse ends the walk at the last trusted hop (a proxy's
/// garbage must not become a fresh bucket per request). `forwarded_for` is
/// every `X-Forwarded-For` header value, in order.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &[&str],
    trusted: &[Cidr],
) -> Option<IpAddr> {
    let mut client = canonical(peer?);
    let is_trusted = |address: IpAddr| trusted.iter().any(|cidr| cidr.contains(address));
    if !is_trusted(client) {
        return Some(client);
    }
    let hops = forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect::<Vec<_>>();
    for hop in hops.into_iter().rev() {
        let Some(address) = parse_hop(hop) else {
            break;
        };
        client = address;
        if !is_trusted(address) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(socket) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    None
}

/// The bucket name of an address: IPv4 as is, IPv6 by its /64.
pub fn address_bucket(address: IpAddr) -> String {
    match canonical(address) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let network = std::net::Ipv6Addr::from(masked(v6.into(), 64, 128));
            format!("{network}/64")
        }
    }
}

/// Why an attempt was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThrottleError {
    #[error("rate limit: too many login or register attempts from your address (at most {max} a minute); retry in {retry_after_secs} s")]
    Address { max: u32, retry_after_secs: u64 },
    #[error("too many failed logins for this account (at most {max} in {window_secs} s); retry in {retry_after_secs} s")]
    Username {
        max: u32,
        window_secs: u64,
        retry_after_secs: u64,
    },
    /// Redis did not answer; the attempt is refused rather than let through
    /// unmetered.
    #[error("the login throttle is unavailable: {0}")]
    Unavailable(String),
}

impl ThrottleError {
    /// Stable dotted code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            ThrottleError::Address { .. } => "rate_limit.auth",
            ThrottleError::Username { .. } => "rate_limit.login_failures",
            ThrottleError::Unavailable(_) => "unavailable",
        }
    }

    /// Seconds to wait before retrying, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ThrottleError::Address {
                retry_after_secs, ..
            }
            | ThrottleError::Username {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            ThrottleError::Unavailable(_) => None,
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // shaped for `map_err`
fn unavailable(error: redis::RedisError) -> ThrottleError {
    ThrottleError::Unavailable(error.to_string())
}

/// Whole seconds to wait for `ms`, at least 1.
fn wait_secs(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000).max(1)
}

/// The throttle's Redis calls; cheap to clone per request.
#[derive(Clone)]
pub struct Throttle {
    redis: ConnectionManager,
    keys: Keys,
    settings: ThrottleSettings,
    trusted_proxies: Arc<[Cidr]>,
    count: Arc<redis::Script>,
}

impl Throttle {
    pub fn new(
        redis: ConnectionManager,
        keys: Keys,
        settings: ThrottleSettings,
        trusted_proxies: &[Cidr],
    ) -> Throttle {
        Throttle {
            redis,
            keys,
            settings,
            trusted_proxies: trusted_proxies.into(),
            count: Arc::new(redis::Script::new(COUNT)),
        }
    }

    /// The client behind a request with this peer and these
    /// `X-Forwarded-For` values (see [`client_address`]).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        client_address(peer, forwarded_for, &self.trusted_proxies)
    }

    /// Counts one event in `bucket`'s window: (count, ms left).
    async fn count(&self, bucket: String, window_ms: u64) -> Result<(i64, i64), ThrottleError> {
        let reply: Vec<i64> = self
            .count
            .key(bucket)
            .arg(window_ms.max(1))
            .invoke_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        match reply.as_slice() {
            [count, ttl] => Ok((*count, *ttl)),
            _ => Err(ThrottleError::Unavailable(format!(
                "unexpected throttle reply {reply:?}"
            ))),
        }
    }

    /// Counts a login or register attempt from `client`; refused beyond
    /// `attempts_per_minute`. An unknown client (no peer address) shares
    /// one bucket.
    pub async fn check_address(&self, client: Option<IpAddr>) -> Result<(), ThrottleError> {
        let max = self.settings.attempts_per_minute;
        if max == 0 {
            return Ok(());
        }
        let subject = client.map_or_else(|| "unknown".to_string(), address_bucket);
        let (count, ttl) = self
            .count(self.keys.rate_limit("auth", &subject), 60_000)
            .await?;
        if count > i64::from(max) {
            return Err(refused(ThrottleError::Address {
                max,
                retry_after_secs: wait_secs(ttl),
            }));
        }
        Ok(())
    }

    /// The per-username counter, when `username` could name an account.
    fn username_bucket(&self, username: &str) -> Option<String> {
        (self.settings.failed_logins > 0 && username.len() <= MAX_USERNAME_BYTES).then(|| {
            self.keys
                .rate_limit("login_failures", &username.to_lowercase())
        })
    }

    /// Refuses a login to `username` while it is locked out.
    pub async fn check_username(&self, username: &str) -> Result<(), ThrottleError> {
        let Some(bucket) = self.username_bucket(username) else {
            return Ok(());
        };
        let (count, ttl): (Option<i64>, i64) = redis::pipe()
            .cmd("GET")
            .arg(&bucket)
            .cmd("PTTL")
            .arg(&bucket)
            .query_async(&mut self.redis.clone())
            .await
            .map_err(unavailable)?;
        if count.unwrap_or(0) >= i64::from(self.settings.failed_logins) {
            return Err(refused(ThrottleError::Username {
                max: self.settings.failed_logins,
                window_secs: self.settings.lockout_secs,
                retry_after_secs: wait_secs(ttl),
            }));
        }
        Ok(())
    }

    /// Counts a failed login to `username`.
    pub async fn login_failed(&self, username: &str) -> Result<(), ThrottleError> {
        if let Some(bucket) = self.username_bucket(username) {
            self.count(bucket, self.settings.lockout_secs.saturating_mul(1000))
                .await?;
        }
        Ok(())
    }

    /// A successful login clears `username`'s failures.
    pub async fn login_succeeded(&self, username: &str) -> Result<(), ThrottleError> {
        if let Some(bucket) = self.username_bucket(username) {
            redis::cmd("DEL")
                .arg(bucket)
                .query_async::<i64>(&mut self.redis.clone())
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

/// Counts a refusal in the metrics and passes it on.
fn refused(error: ThrottleError) -> ThrottleError {
    crate::metrics::quota_refused(error.code());
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// CIDRs parse (single addresses are /32 or /128), bad ones are refused
    /// with the reason, and membership follows the prefix.
    #[test]
    fn cidrs_parse_and_match() {
        let [v4, v6, one] = [
            "10.0.0.0/8".parse::<Cidr>().unwrap(),
            "fd00::/8".parse::<Cidr>().unwrap(),
            "192.0.2.7".parse::<Cidr>().unwrap(),
        ];
        assert!(v4.contains(ip("10.200.3.4")));
        assert!(v4.contains(ip("::ffff:10.1.1.1")));
        assert!(!v4.contains(ip("11.0.0.1")));
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("proxy.local".parse::<Cidr>().is_err());
    }

    /// X-Forwarded-For counts only from a trusted peer, and then its
    /// rightmost untrusted entry is the client: entries a client prepends
    /// itself are never reached.
    #[test]
    fn forwarded_for_is_read_only_behind_trusted_proxies() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.5"));
        // From an untrusted peer the header is ignored.
        assert_eq!(
            client_address(Some(ip("203.0.113.9")), &["1.2.3.4"], &trusted),
            Some(ip("203.0.113.9"))
        );
        // Behind one proxy: the entry it appended.
        assert_eq!(
            client_address(peer, &["6.6.6.6, 198.51.100.1"], &trusted),
            Some(ip("198.51.100.1"))
        );
        // Behind two proxies, across two header lines, with a port.
        assert_eq!(
            client_address(peer, &["6.6.6.6", "198.51.100.1:443, 10.1.2.3"], &trusted),
            Some(ip("198.51.100.1"))
        );
        // Garbage from the proxy: the last trusted hop.
        assert_eq!(
            client_address(peer, &["not-an-ip"], &trusted),
            Some(ip("10.0.0.5"))
        );
        // No header: the proxy itself.
        assert_eq!(client_address(peer, &[], &trusted), Some(ip("10.0.0.5")));
        // Nothing trusted: the peer, always.
        assert_eq!(
            client_address(peer, &["1.2.3.4"], &[]),
            Some(ip("10.0.0.5"))
        );
    }

    /// IPv6 clients share a bucket per /64; IPv4 (also mapped) per address.
    #[test]
    fn buckets_group_ipv6_by_64() {
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:aaaa::1")),
            address_bucket(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_eq!(address_bucket(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_ne!(
            address_bucket(ip("2001:db8:1:2::1")),
            address_bucket(ip("2001:db8:1:3::1"))
        );
        assert_eq!(address_bucket(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
