//! Events towards a client that may be slow: the `Deliver` events the
//! PubSubBridge routes to the session (routed by their decoded head, not
//! their text), output replayed by `watch`, and the slow-client policy:
//! `output` dropped beyond the budget (a `lagged` notice says how many),
//! `finished` never dropped (kept as a job id and loaded from the store on
//! `Drained` once the client has read its queue). Small control frames
//! (`queued`, `started`, `ready`, pings) always go in. So a session holds at
//! most the `ws.outgoing_bytes` budget plus one result, whatever its client
//! does.

use super::actor::SessionActor;
use super::control::ControlRequest;
use crate::actors::store::GetJob;
use crate::events::{EventHead, EventKind, ServerEvent};
use crate::job::JobId;
use crate::ws::{Drained, Outgoing};
use actix::prelude::*;
use serde_json::json;
use std::sync::Arc;

/// `finished` events waiting (as job ids) for a slow client; beyond this the
/// client is too far behind and the session is dropped.
const MAX_PENDING_FINALS: usize = 1024;
/// Jobs whose replayed output the session remembers (live duplicates are
/// skipped); forgetting one only risks a duplicated output event.
const REPLAYED_JOBS: usize = 256;

impl SessionActor {
    /// Sends a running job's recorded output events and remembers how far
    /// they went, so the same events arriving live are not sent twice.
    pub(super) fn replay(&mut self, id: JobId, recorded: Vec<String>) {
        self.replayed.remove(&id);
        let mut last = 0;
        for text in recorded {
            let head = EventHead::of(&text);
            last = last.max(head.and_then(|head| head.seq).unwrap_or(0));
            self.deliver_output(Arc::from(text), head);
        }
        if last > 0 {
            if self.replayed.len() >= REPLAYED_JOBS {
                self.replayed.clear();
            }
            self.replayed.insert(id, last);
        }
    }

    /// Before a job's next frame, tells the client how many of its output
    /// events were dropped.
    pub(super) fn flush_lagged(&mut self, id: JobId) {
        if let Some(dropped) = self.dropped.remove(&id) {
            let notice = json!({"type": "lagged", "id": id, "dropped": dropped}).to_string();
            self.outbox.force(Outgoing::Text(Arc::from(notice)));
        }
    }

    pub(super) fn deliver_output(&mut self, text: Arc<str>, head: Option<EventHead>) {
        let id = head.and_then(|head| head.id);
        if let Some(replayed) = id.and_then(|id| self.replayed.get(&id)) {
            if head
                .and_then(|head| head.seq)
                .is_some_and(|seq| seq <= *replayed)
            {
                return;
            }
        }
        // While `finished` events wait, the queue must drain for them.
        if !self.pending_finals.is_empty() || !self.outbox.has_room(text.len()) {
            if let Some(id) = id {
                *self.dropped.entry(id).or_default() += 1;
            }
            tracing::debug!(
                session_id = self.id,
                "client too slow; dropped an output event"
            );
            return;
        }
        if let Some(id) = id {
            self.flush_lagged(id);
        }
        self.outbox.force(Outgoing::Text(text));
    }

    /// `finished`: sent now if it fits, else once the client has caught up.
    pub(super) fn deliver_final(
        &mut self,
        text: Arc<str>,
        id: Option<JobId>,
        ctx: &mut Context<Self>,
    ) {
        let Some(id) = id else {
            self.outbox.force(Outgoing::Text(text));
            return;
        };
        if self.pending_finals.is_empty() && self.outbox.has_room(text.len()) {
            self.flush_lagged(id);
            self.outbox.force(Outgoing::Text(text));
            return;
        }
        if self.pending_finals.contains(&id) {
            return;
        }
        if self.pending_finals.len() >= MAX_PENDING_FINALS {
            tracing::info!(
                session_id = self.id,
                "client too far behind; dropping the session"
            );
            self.writer_stop.cancel();
            return ctx.stop();
        }
        // Keep only the id; the result is in the store.
        self.pending_finals.push_back(id);
        self.outbox.notify_when_drained(ctx);
    }

    /// A job of the user has finished: nothing more to skip or forward.
    pub(super) fn job_finished(&mut self, id: JobId) {
        self.replayed.remove(&id);
        if let Some(requests) = &self.control_requests {
            // Best effort: a full queue only costs a store lookup later.
            let _ = requests.try_send(ControlRequest::Forget { id });
        }
    }
}

/// An event for this session's user, as published (JSON text).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub text: Arc<str>,
    /// Its kind, job and `seq`, read once by the bridge; `None` when the
    /// text is not an event (forwarded as it is).
    pub head: Option<EventHead>,
}

impl Deliver {
    /// `finished`: must reach the client even when it is slow.
    pub fn is_final(&self) -> bool {
        self.head.is_some_and(|head| head.is_final())
    }
}

impl Handler<Deliver> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        match msg.head {
            Some(head) if head.is_final() => {
                if let Some(id) = head.id {
                    self.job_finished(id);
                }
                self.deliver_final(msg.text, head.id, ctx);
            }
            Some(head) if head.kind == EventKind::Output => {
                self.deliver_output(msg.text, Some(head));
            }
            // `started` and the like: small and few, never dropped.
            _ => {
                self.outbox.force(Outgoing::Text(msg.text));
            }
        }
    }
}

/// The writer has emptied the queue (asked for while `finished` events wait).
impl Handler<Drained> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: Drained, ctx: &mut Context<Self>) {
        if self.loading_final {
            return;
        }
        let Some(&id) = self.pending_finals.front() else {
            return;
        };
        self.loading_final = true;
        let lookup = self.services.intake.store.send(GetJob { id });
        ctx.spawn(lookup.into_actor(self).map(move |found, session, ctx| {
            session.loading_final = false;
            session.pending_finals.pop_front();
            session.flush_lagged(id);
            match found {
                Ok(Ok(Some(stored))) if stored.result.is_some() => {
                    if let Some(result) = stored.result {
                        session.outbox.event(&ServerEvent::Finished { id, result });
                    }
                }
                _ => {
                    let event = ServerEvent::Error {
                        id: Some(id),
                        reference: None,
                        code: "unavailable".into(),
                        message:
                            "the job finished but its result could not be loaded; watch it again"
                                .into(),
                    };
                    session.outbox.event(&event);
                }
            }
            if !session.pending_finals.is_empty() {
                session.outbox.notify_when_drained(ctx);
            }
        }));
    }
}
