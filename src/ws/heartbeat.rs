//! When a WebSocket peer is dropped: one that has sent nothing (not even a
//! pong) for `ws.client_timeout_ms`, or one that has read none of its
//! queued frames for as long. Each session checks [`liveness`] every
//! `ws.heartbeat_ms` and pings a live peer; what it does with a dead one
//! (a close frame, or just stopping) is its own protocol's business.

use super::outbox::Outbox;
use super::settings::WsSettings;
use std::time::Instant;

/// A peer's state at a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Heard from recently and reading: ping it.
    Alive,
    /// Has sent nothing for the client timeout.
    Silent,
    /// Has read none of its queued frames for the client timeout: its
    /// writer is stuck, so cut it off rather than close politely.
    NotReading,
}

/// The peer's liveness, given when it was last heard from.
pub fn liveness(last_heard: Instant, outbox: &Outbox, settings: &WsSettings) -> Liveness {
    let timeout = settings.client_timeout();
    if last_heard.elapsed() > timeout {
        Liveness::Silent
    } else if outbox
        .stalled_for()
        .is_some_and(|stalled| stalled > timeout)
    {
        Liveness::NotReading
    } else {
        Liveness::Alive
    }
}
