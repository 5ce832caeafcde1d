//! Judge0 callbacks. A submission with `callback_url` is registered in Redis
//! (job id → owner) beside its Judge0 fields. CallbackDispatcher, an actor
//! started by `app` in every process that runs workers (under an actix
//! `Supervisor`), scans the registrations on an interval; when a job is
//! completed in the store it claims the registration (HDEL: exactly one
//! worker wins) and PUTs the result, as Judge0's default fields, to the URL,
//! with retries and exponential back-off. Each request carries
//! `X-Rce-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`. It handles only its internal `Scan` tick. If it dies,
//! the Supervisor restarts it; registrations wait in Redis, but a delivery
//! in flight at that moment is lost (at-most-once once claimed).
//!
//! Request forgery: the URL must be `http`, name a host allowed by
//! `compat.judge0.callback_allowed_hosts` and a port listed in
//! `callback_ports` (80 and 443 by default; a URL without a port means 80),
//! and every address the host resolves to must be public unless listed in
//! `callback_allowed_addresses`. The request goes to the address that was
//! checked (not a second lookup), follows no redirects, and is bounded by
//! `callback_timeout_secs`.

use super::request::Extras;
use super::view::{render, Fields};
use crate::actors::store::StoreActor;
use crate::compat::settings::Judge0Settings;
use crate::compat::wait;
use crate::job::{JobId, JobStatus};
use crate::languages::Languages;
use crate::queue::Keys;
use actix::prelude::*;
use hmac::{Hmac, Mac};
use redis::aio::ConnectionManager;
use sha2::Sha256;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How often registrations are scanned.
const SCAN_INTERVAL: Duration = Duration::from_millis(250);
/// Registrations looked at per scan (HSCAN COUNT).
const SCAN_COUNT: usize = 200;
/// Deliveries in flight at once per process; more wait for the next scan.
const MAX_IN_FLIGHT: usize = 32;
/// First retry delay; doubled per attempt, capped at [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Rce-Signature";

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("callback URL: {0}")]
    Url(String),
    #[error("resolving {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("{host} resolves to {address}, which is not a public address")]
    Refused { host: String, address: IpAddr },
    #[error("sending the callback: {0}")]
    Send(String),
    #[error("the receiver answered {0}")]
    Status(u16),
}

impl CallbackError {
    /// Worth another attempt (a refused target or bad URL never is).
    fn retryable(&self) -> bool {
        matches!(
            self,
            CallbackError::Resolve { .. } | CallbackError::Send(_) | CallbackError::Status(_)
        )
    }
}

/// Whether `host` is allowed by the configured patterns.
fn host_allowed(host: &str, patterns: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        match pattern.strip_prefix("*.") {
            _ if pattern == "*" => true,
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == pattern,
        }
    })
}

/// Checks what can be checked without DNS: an absolute `http` URL without
/// credentials whose host is allowed. The message is shown to the client.
pub fn check_url_syntax(url: &str, settings: &Judge0Settings) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a valid URL ({e})"))?;
    if parsed.scheme() != "http" {
        return Err("must be an http:// URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials".into());
    }
    let host = parsed.host_str().ok_or("must name a host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !host_allowed(host, &settings.callback_allowed_hosts) {
        return Err(format!("host {host} is not allowed for callbacks"));
    }
    // unwrap_or: an http URL always has a known default port (80).
    let port = parsed.port_or_known_default().unwrap_or(80);
    if !settings.callback_ports.contains(&port) {
        return Err(format!(
            "port {port} is not allowed for callbacks (allowed: {})",
            settings
                .callback_ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(parsed)
}

/// Whether an address is reachable on the public internet: not loopback,
/// private, link-local, site-local, shared (CGNAT), documentation,
/// benchmarking, multicast, broadcast, reserved or unspecified, and not a
/// tunnel address (6to4, Teredo, NAT64, v4-mapped or v4-compatible) whose
/// embedded or relayed IPv4 target cannot be vouched for.
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed internally)
                || segments[0] == 0x2002 // 6to4 2002::/16 (embeds a v4 address)
                || (segments[0] == 0x2001 && segments[1] == 0x0000) // Teredo 2001::/32
                || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
                || (segments[0] == 0x0064 && segments[1] == 0xff9b) // NAT64 (embeds v4)
                || segments[..6] == [0, 0, 0, 0, 0, 0]) // v4-compatible
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || v4.is_multicast()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10 shared
        || (a == 192 && b == 0 && c == 0) // 192.0.0.0/24 protocol assignments
        || (a == 192 && b == 88 && c == 99) // 192.88.99.0/24 6to4 relay anycast
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || a >= 240) // reserved
}

/// Resolves the callback host and checks every address; the one to connect
/// to, with the URL it was checked from.
pub async fn check_target(
    url: &str,
    settings: &Judge0Settings,
) -> Result<(url::Url, SocketAddr), CallbackError> {
    let parsed = check_url_syntax(url, settings).map_err(CallbackError::Url)?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| CallbackError::Resolve {
            host: host.clone(),
            reason: e.to_string(),
        })?
        .collect();
    let allowed: Vec<IpAddr> = settings
        .callback_allowed_addresses
        .iter()
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    for address in &addresses {
        let ip = address.ip();
        if !is_public(ip) && !allowed.contains(&ip) {
            return Err(CallbackError::Refused { host, address: ip });
        }
    }
    let first = *addresses.first().ok_or_else(|| CallbackError::Resolve {
        host: host.clone(),
        reason: "no addresses".into(),
    })?;
    Ok((parsed, first))
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn signature(secret: &str, unix: i64, body: &str) -> String {
    // new_from_slice accepts keys of any length for HMAC.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{unix}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={unix},v1={hex}")
}

/// One PUT to the checked address, Host set to the URL's host.
async fn put_once(
    url: &url::Url,
    address: SocketAddr,
    body: &str,
    settings: &Judge0Settings,
) -> Result<(), CallbackError> {
    let mut pinned = url.clone();
    pinned
        .set_ip_host(address.ip())
        .map_err(|_| CallbackError::Url("cannot pin the address".into()))?;
    let host_header = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let timeout = Duration::from_secs_f64(settings.callback_timeout_secs.clamp(0.1, 300.0));
    let client = awc::Client::builder()
        .disable_redirects()
        .timeout(timeout)
        .finish();
    let unix = time::OffsetDateTime::now_utc().unix_timestamp();
    let response = client
        .put(pinned.as_str())
        .insert_header(("Host", host_header))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("User-Agent", "rce-judge0-callback"))
        .insert_header((
            SIGNATURE_HEADER,
            signature(&settings.callback_secret, unix, body),
        ))
        .send_body(body.to_string())
        .await
        .map_err(|e| CallbackError::Send(e.to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(CallbackError::Status(status.as_u16()))
    }
}

/// Delivers one callback with retries; the last error when all failed.
pub async fn deliver(
    url: &str,
    body: &str,
    settings: &Judge0Settings,
) -> Result<(), CallbackError> {
    let tries = settings.callback_max_tries.max(1);
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let outcome = match check_target(url, settings).await {
            Ok((parsed, address)) => put_once(&parsed, address, body, settings).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(error) if !error.retryable() || attempt >= tries => return Err(error),
            Err(error) => {
                tracing::debug!(attempt, %error, "callback attempt failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
        }
    }
}

/// Sends the Judge0 callbacks of finished jobs.
pub struct CallbackDispatcher {
    redis: ConnectionManager,
    keys: Keys,
    store: Addr<StoreActor>,
    languages: Languages,
    settings: Judge0Settings,
    scanning: bool,
    in_flight: usize,
}

impl CallbackDispatcher {
    pub fn new(
        redis: ConnectionManager,
        keys: Keys,
        store: Addr<StoreActor>,
        languages: Languages,
        settings: Judge0Settings,
    ) -> CallbackDispatcher {
        CallbackDispatcher {
            redis,
            keys,
            store,
            languages,
            settings,
            scanning: false,
            in_flight: 0,
        }
    }
}

impl Actor for CallbackDispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.scanning = false;
        ctx.run_interval(SCAN_INTERVAL, |_, ctx| ctx.notify(Scan));
    }
}

impl Supervised for CallbackDispatcher {}

/// Look for registrations whose job has finished (internal tick).
#[derive(Message)]
#[rtype(result = "()")]
struct Scan;

/// A claimed callback, ready to send.
struct Claimed {
    id: JobId,
    url: String,
    body: String,
}

/// Finds finished jobs among the registrations and claims them.
async fn claim_finished(
    mut redis: ConnectionManager,
    keys: Keys,
    store: Addr<StoreActor>,
    languages: Languages,
    room: usize,
) -> Result<Vec<Claimed>, String> {
    let registrations = keys.judge0_callbacks();
    let (_, entries): (u64, Vec<(String, String)>) = redis::cmd("HSCAN")
        .arg(&registrations)
        .arg(0)
        .arg("COUNT")
        .arg(SCAN_COUNT)
        .query_async(&mut redis)
        .await
        .map_err(|e| e.to_string())?;
    let mut claimed = Vec::new();
    for (id_text, _owner) in entries {
        if claimed.len() >= room {
            break;
        }
        let Ok(id) = id_text.parse::<JobId>() else {
            let _: Result<i64, _> = redis::cmd("HDEL")
                .arg(&registrations)
                .arg(&id_text)
                .query_async(&mut redis)
                .await;
            continue;
        };
        let stored = match wait::load(&store, id).await {
            Ok(Some(stored)) if stored.status == JobStatus::Completed => stored,
            Ok(Some(_)) => continue,
            Ok(None) => {
                let _: Result<i64, _> = redis::cmd("HDEL")
                    .arg(&registrations)
                    .arg(&id_text)
                    .query_async(&mut redis)
                    .await;
                continue;
            }
            Err(error) => return Err(error.to_string()),
        };
        let won: i64 = redis::cmd("HDEL")
            .arg(&registrations)
            .arg(&id_text)
            .query_async(&mut redis)
            .await
            .map_err(|e| e.to_string())?;
        if won != 1 {
            continue; // another worker claimed it
        }
        let extras: Option<String> = redis::cmd("GET")
            .arg(keys.judge0_submission(&id_text))
            .query_async(&mut redis)
            .await
            .map_err(|e| e.to_string())?;
        let Some(extras) = extras.and_then(|text| serde_json::from_str::<Extras>(&text).ok())
        else {
            tracing::warn!(job_id = %id, "callback registered without its Judge0 fields; dropped");
            continue;
        };
        let Some(url) = extras.callback_url.clone() else {
            continue;
        };
        let body = render(
            &stored,
            Some(&extras),
            &languages,
            extras.base64_encoded,
            &Fields::Default,
        );
        let body = serde_json::Value::Object(body).to_string();
        claimed.push(Claimed { id, url, body });
    }
    Ok(claimed)
}

impl Handler<Scan> for CallbackDispatcher {
    type Result = ();

    fn handle(&mut self, _: Scan, ctx: &mut Context<Self>) {
        if self.scanning || self.in_flight >= MAX_IN_FLIGHT {
            return;
        }
        self.scanning = true;
        let room = MAX_IN_FLIGHT - self.in_flight;
        let scan = claim_finished(
            self.redis.clone(),
            self.keys.clone(),
            self.store.clone(),
            self.languages.clone(),
            room,
        );
        ctx.spawn(scan.into_actor(self).map(|outcome, dispatcher, ctx| {
            dispatcher.scanning = false;
            let claimed = match outcome {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "scanning Judge0 callbacks failed");
                    return;
                }
            };
            for Claimed { id, url, body } in claimed {
                dispatcher.in_flight += 1;
                let settings = dispatcher.settings.clone();
                let send = async move { (id, deliver(&url, &body, &settings).await) };
                ctx.spawn(
                    send.into_actor(dispatcher)
                        .map(|(id, outcome), dispatcher, _| {
                            dispatcher.in_flight -= 1;
                            match outcome {
                                Ok(()) => tracing::info!(job_id = %id, "Judge0 callback delivered"),
                                Err(error) => {
                                    tracing::warn!(job_id = %id, %error, "Judge0 callback failed")
                                }
                            }
                        }),
                );
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str], addresses: &[&str]) -> Judge0Settings {
        Judge0Settings {
            callback_allowed_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            callback_allowed_addresses: addresses.iter().map(|a| a.to_string()).collect(),
            callback_secret: "s".into(),
            ..Judge0Settings::default()
        }
    }

    /// Internal, loopback, link-local and reserved ranges are not public;
    /// ordinary addresses are.
    #[test]
    fn private_ranges_are_not_public() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    /// Tunnel and deprecated ranges, each at both ends, are not public:
    /// site-local fec0::/10, 6to4 2002::/16 (which embeds any v4 address,
    /// 2002:7f00:1:: is 127.0.0.1), Teredo 2001::/32 and the 6to4 relay
    /// anycast 192.88.99.0/24. Their neighbours stay public, so the masks
    /// are not wider than the ranges.
    #[test]
    fn tunnel_and_site_local_ranges_are_not_public() {
        for address in [
            "fec0::1",
            "feff:ffff::1",
            "2002::1",
            "2002:7f00:1::",
            "2002:ffff:ffff::1",
            "2001::1",
            "2001:0:ffff:ffff::1",
            "192.88.99.0",
            "192.88.99.1",
            "192.88.99.255",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in [
            "fe7f::1", // just below fe80::/10, in the unassigned fe00::/9
            "2003::1",
            "2001:1::1",
            "2001:4860:4860::8888",
            "192.88.98.255",
            "192.88.100.0",
        ] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    /// Host patterns: exact, `*.suffix` (not the apex), `*`; https and
    /// credentials are refused.
    #[test]
    fn url_checks() {
        let s = settings(&["hooks.example.com", "*.corp.test"], &[]);
        assert!(check_url_syntax("http://hooks.example.com/x", &s).is_ok());
        assert!(check_url_syntax("http://a.corp.test:443/x", &s).is_ok());
        assert!(check_url_syntax("http://corp.test/x", &s).is_err());
        assert!(check_url_syntax("http://evil.com/x", &s).is_err());
        assert!(check_url_syntax("http://u:p@hooks.example.com/x", &s).is_err());
        assert!(check_url_syntax("ftp://hooks.example.com/x", &s).is_err());
        assert!(check_url_syntax("http://anything.org/", &settings(&["*"], &[])).is_ok());
    }

    /// Ports: by default 80 (also implied by a URL without a port) and 443;
    /// any other explicit port is refused with a message naming it, as a
    /// host that is not allowed is. A configured list replaces the default
    /// (80 itself is then refused unless listed).
    #[test]
    fn only_listed_ports_are_allowed() {
        let s = settings(&["hooks.example.com"], &[]);
        assert_eq!(s.callback_ports, [80, 443]);
        assert!(check_url_syntax("http://hooks.example.com/x", &s).is_ok());
        assert!(check_url_syntax("http://hooks.example.com:80/x", &s).is_ok());
        assert!(check_url_syntax("http://hooks.example.com:443/x", &s).is_ok());
        for port in [22, 6379, 8080, 2375, 1] {
            let refused =
                check_url_syntax(&format!("http://hooks.example.com:{port}/x"), &s).unwrap_err();
            assert!(
                refused.contains(&format!("port {port} is not allowed")),
                "{refused}"
            );
        }
        let custom = Judge0Settings {
            callback_ports: vec![8080],
            ..s
        };
        assert!(check_url_syntax("http://hooks.example.com:8080/x", &custom).is_ok());
        let implied = check_url_syntax("http://hooks.example.com/x", &custom).unwrap_err();
        assert!(implied.contains("port 80 is not allowed"), "{implied}");
    }

    /// A loopback target is refused unless its address is listed, even when
    /// the host and port are allowed; a port outside the list is refused
    /// before any lookup.
    #[actix_rt::test]
    async fn loopback_needs_an_explicit_allowance() {
        let with_port_9 = |hosts: &[&str], addresses: &[&str]| Judge0Settings {
            callback_ports: vec![9],
            ..settings(hosts, addresses)
        };
        let refused =
            check_target("http://127.0.0.1:9/cb", &with_port_9(&["127.0.0.1"], &[])).await;
        assert!(
            matches!(refused, Err(CallbackError::Refused { .. })),
            "{refused:?}"
        );
        let allowed = check_target(
            "http://127.0.0.1:9/cb",
            &with_port_9(&["127.0.0.1"], &["127.0.0.1"]),
        )
        .await;
        assert_eq!(allowed.unwrap().1, "127.0.0.1:9".parse().unwrap());
        let named = check_target("http://localhost:9/cb", &with_port_9(&["localhost"], &[])).await;
        assert!(named.is_err());
        let other_port = check_target(
            "http://127.0.0.1:10/cb",
            &with_port_9(&["127.0.0.1"], &["127.0.0.1"]),
        )
        .await;
        assert!(
            matches!(&other_port, Err(CallbackError::Url(m)) if m.contains("port 10")),
            "{other_port:?}"
        );
    }

    /// The signature is HMAC-SHA256 over "<t>.<body>", hex (the expected
    /// value computed independently with Python's hmac module).
    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        let sig = signature("key", 1, "{}");
        assert_eq!(
            sig,
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
        assert_ne!(sig, signature("other", 1, "{}"));
        assert_ne!(sig, signature("key", 2, "{}"));
    }
}
