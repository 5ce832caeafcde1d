//! Settings of the compatibility layer (`[compat.judge0]`, `[compat.piston]`):
//! where each API is mounted, whether it is on, who may call Piston without a
//! key, and where Judge0 callbacks may go. Defaults keep both APIs on and
//! every callback target refused until an operator lists it.

use serde::de::{self, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// The `[compat]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompatSettings {
    pub judge0: Judge0Settings,
    pub piston: PistonSettings,
}

/// Judge0 CE 1.13.1 compatibility.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Judge0Settings {
    pub enabled: bool,
    /// Path prefix the Judge0 routes live under (Judge0 itself serves them
    /// at the root; clients take a base URL, so any prefix works).
    pub prefix: String,
    /// Jobs waiting in the stream beyond which a new submission is a 503,
    /// as Judge0's `MAX_QUEUE_SIZE`.
    pub max_queue_size: u64,
    /// Most submissions one batch may hold (Judge0's default is 20).
    pub max_batch_size: usize,
    /// Hosts a `callback_url` may name: exact names, `*.example.com`
    /// suffixes, or `*` for any public host. Empty turns callbacks off.
    pub callback_allowed_hosts: Vec<String>,
    /// Addresses a callback host may resolve to although they are private,
    /// loopback or link-local (for tests and in-cluster receivers). Every
    /// other such address is refused, so a callback cannot reach internal
    /// services.
    pub callback_allowed_addresses: Vec<String>,
    /// Ports a `callback_url` may name, explicitly or through its scheme's
    /// default (80 for `http`). Any other port is refused like a host that
    /// is not allowed, so a callback cannot probe services on odd ports of
    /// an allowed host.
    #[serde(deserialize_with = "one_or_more_ports")]
    pub callback_ports: Vec<u16>,
    /// Key of the HMAC-SHA256 signature every callback carries. Callbacks
    /// are off while it is empty (an unsigned callback cannot be trusted).
    pub callback_secret: String,
    /// Attempts per callback (Judge0's `CALLBACKS_MAX_TRIES`).
    pub callback_max_tries: u32,
    /// Timeout of one attempt, in seconds (Judge0's `CALLBACKS_TIMEOUT`).
    pub callback_timeout_secs: f64,
    /// How long a submission's Judge0-only fields are kept, in seconds
    /// (Judge0's `SUBMISSION_CACHE_DURATION` plays the same role).
    pub metadata_ttl_secs: u64,
}

impl Default for Judge0Settings {
    fn default() -> Self {
        Judge0Settings {
            enabled: true,
            prefix: "/judge0".into(),
            max_queue_size: 100,
            max_batch_size: 20,
            callback_allowed_hosts: Vec::new(),
            callback_allowed_addresses: Vec::new(),
            callback_ports: vec![80, 443],
            callback_secret: String::new(),
            callback_max_tries: 3,
            callback_timeout_secs: 5.0,
            metadata_ttl_secs: 7 * 24 * 3600,
        }
    }
}

impl Judge0Settings {
    /// Whether a submission may carry a `callback_url`.
    pub fn callbacks_enabled(&self) -> bool {
        !self.callback_allowed_hosts.is_empty() && !self.callback_secret.is_empty()
    }
}

/// `callback_ports` as a list or as one port. The environment source parses
/// a lone number (`RCE_COMPAT__JUDGE0__CALLBACK_PORTS=8080`) as an integer
/// before it would split a value into a list, so one port must be accepted
/// too; a comma-separated string is split here as well.
fn one_or_more_ports<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u16>, D::Error> {
    struct Ports;

    impl<'de> Visitor<'de> for Ports {
        type Value = Vec<u16>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a port (1 to 65535) or a list of ports")
        }

        fn visit_u64<E: de::Error>(self, port: u64) -> Result<Vec<u16>, E> {
            u16::try_from(port)
                .map(|port| vec![port])
                .map_err(|_| E::invalid_value(Unexpected::Unsigned(port), &self))
        }

        fn visit_i64<E: de::Error>(self, port: i64) -> Result<Vec<u16>, E> {
            u16::try_from(port)
                .map(|port| vec![port])
                .map_err(|_| E::invalid_value(Unexpected::Signed(port), &self))
        }

        fn visit_str<E: de::Error>(self, ports: &str) -> Result<Vec<u16>, E> {
            ports
                .split(',')
                .map(|port| {
                    port.trim()
                        .parse::<u16>()
                        .map_err(|_| E::invalid_value(Unexpected::Str(port), &self))
                })
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u16>, A::Error> {
            let mut ports = Vec::new();
            while let Some(port) = seq.next_element::<u16>()? {
                ports.push(port);
            }
            Ok(ports)
        }
    }

    deserializer.deserialize_any(Ports)
}

/// Piston v2 compatibility (always under `/api/v2`, where Piston clients
/// expect it).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PistonSettings {
    pub enabled: bool,
    /// Let requests without credentials run, as the shared
    /// [`ANONYMOUS_USER`](crate::compat::piston::ANONYMOUS_USER) (Piston
    /// itself has no authentication). Off by default: every Piston request
    /// then needs an rce API key or login token, as `Authorization: Bearer
    /// <key>` or as the password of HTTP Basic auth (which clients without a
    /// header option can send from the URL: `http://any:<key>@host`).
    pub allow_anonymous: bool,
}

impl Default for PistonSettings {
    fn default() -> Self {
        PistonSettings {
            enabled: true,
            allow_anonymous: false,
        }
    }
}
