//! The API v1 frames a session queues on its [`Outbox`] (the shared
//! engine's, [`crate::ws::outbox`]): events, never dropped, and `error`
//! replies, dropped when the client is behind. Visible to the session only.

use crate::events::ServerEvent;
use crate::job::JobId;
use crate::ws::{Outbox, Outgoing};
use std::sync::Arc;

impl Outbox {
    /// An event; never dropped.
    pub(super) fn event(&self, event: &ServerEvent) -> bool {
        self.force(Outgoing::Text(Arc::from(event.to_json())))
    }

    /// An `error` reply; dropped when the client is behind.
    pub(super) fn error(
        &self,
        id: Option<JobId>,
        reference: Option<String>,
        code: &str,
        message: impl Into<String>,
    ) {
        let event = ServerEvent::Error {
            id,
            reference,
            code: code.into(),
            message: message.into(),
        };
        self.offer(Arc::from(event.to_json()));
    }
}
