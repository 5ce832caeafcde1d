//! `ws.*`: how every WebSocket session behaves (API v1 and Piston): its
//! heartbeat, client timeout, authentication deadline and outgoing budget,
//! with their defaults.

use serde::Deserialize;
use std::time::Duration;

/// How often the server pings the client (default of `ws.heartbeat_ms`).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// A client that has sent nothing (not even a pong) for this long is dropped
/// (default of `ws.client_timeout_ms`).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a connection has to authenticate (default of `ws.auth_timeout_ms`).
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes queued for a client before output is dropped (default of
/// `ws.outgoing_bytes`): a second or so of a fast printer, small beside the
/// kernel's own socket buffers.
pub const OUTGOING_BYTES: usize = 1024 * 1024;
/// WebSocket sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsSettings {
    /// How often the server pings.
    pub heartbeat_ms: u64,
    /// A client silent this long, or one that reads none of its queued
    /// frames for this long, is dropped.
    pub client_timeout_ms: u64,
    /// How long a connection without a token in the upgrade has to send
    /// `{"type":"auth","token"}`.
    pub auth_timeout_ms: u64,
    /// Bytes queued for a client that is not reading; beyond it `output`
    /// events are dropped (never `finished`).
    pub outgoing_bytes: usize,
}

impl Default for WsSettings {
    fn default() -> Self {
        WsSettings {
            heartbeat_ms: HEARTBEAT_INTERVAL.as_millis() as u64,
            client_timeout_ms: CLIENT_TIMEOUT.as_millis() as u64,
            auth_timeout_ms: AUTH_TIMEOUT.as_millis() as u64,
            outgoing_bytes: OUTGOING_BYTES,
        }
    }
}

impl WsSettings {
    /// How often the server pings (never zero, which would spin).
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms.max(1))
    }

    /// How long a peer may be silent, or leave its frames unread.
    pub fn client_timeout(&self) -> Duration {
        Duration::from_millis(self.client_timeout_ms)
    }

    /// How long a connection has to authenticate.
    pub fn auth_timeout(&self) -> Duration {
        Duration::from_millis(self.auth_timeout_ms)
    }
}
