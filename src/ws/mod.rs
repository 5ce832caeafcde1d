//! The WebSocket session engine both the API v1 session
//! ([`crate::actors::SessionActor`]) and the Piston session
//! ([`crate::compat::piston`]) are built on: [`settings`] (`ws.*`),
//! [`outbox`] (the one ordered, byte-bounded outgoing queue, its writer task
//! and close), [`heartbeat`] (ping, and when to drop a silent or
//! non-reading peer) and [`stdin`] (the `data` field of stdin frames).

pub mod heartbeat;
pub mod outbox;
pub mod settings;
pub mod stdin;

pub use heartbeat::Liveness;
pub use outbox::{
    stop_writer_after_grace, write, Drained, Outbox, OutboxState, Outgoing, WRITER_GRACE,
};
pub use settings::WsSettings;
