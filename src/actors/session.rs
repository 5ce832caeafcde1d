//! SessionActor: owns one WebSocket connection (an actix-ws `Session` for
//! writing, its message stream added as an actor stream). Handles the
//! client's frames (`submit`, `watch`; see the architecture for the set), the
//! `Deliver` events PubSubBridge routes to it, and its own heartbeat: a ping
//! every HEARTBEAT_INTERVAL, and a peer silent for CLIENT_TIMEOUT is dropped.
//! Everything it writes goes through one bounded queue to one writer task, so
//! frames keep their order and a client that stops reading cannot grow the
//! server's memory: when the queue is full, `output` events are dropped and
//! only `finished` waits for room. Started by the `/api/v1/ws` handler, one
//! per connection; unregisters from the bridge in `stopped()`, whichever way
//! it ends.

use super::pubsub_bridge::{PubSubBridge, Subscribe, Unsubscribe};
use super::store::{GetJob, StoreActor};
use crate::events::ServerEvent;
use crate::intake::{Intake, IntakeError};
use crate::job::{JobId, JobStatus, SubmissionRequest};
use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the server pings the client.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
/// A client that has sent nothing (not even a pong) for this long is dropped.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Frames queued for the writer; beyond this, a client is too slow to keep up.
const OUTGOING_QUEUE: usize = 256;

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

/// What the writer task sends.
enum Outgoing {
    Text(Arc<str>),
    Ping,
    Pong(bytes::Bytes),
    Close(Option<CloseReason>),
}

pub struct SessionActor {
    id: u64,
    user_id: String,
    outgoing: mpsc::Sender<Outgoing>,
    /// The socket and the queue's receiving end, until the writer task takes them.
    writer: Option<(actix_ws::Session, mpsc::Receiver<Outgoing>)>,
    bridge: Addr<PubSubBridge>,
    store: Addr<StoreActor>,
    intake: Intake,
    last_heartbeat: Instant,
}

impl SessionActor {
    pub fn new(
        user_id: String,
        session: actix_ws::Session,
        bridge: Addr<PubSubBridge>,
        intake: Intake,
    ) -> SessionActor {
        let (outgoing, receiver) = mpsc::channel(OUTGOING_QUEUE);
        SessionActor {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            user_id,
            outgoing,
            writer: Some((session, receiver)),
            bridge,
            store: intake.store.clone(),
            intake,
            last_heartbeat: Instant::now(),
        }
    }

    /// Queues an event; false when the client is too slow (queue full).
    fn send_event(&self, event: &ServerEvent) -> bool {
        self.outgoing
            .try_send(Outgoing::Text(Arc::from(event.to_json())))
            .is_ok()
    }

    fn send_error(
        &self,
        id: Option<JobId>,
        reference: Option<String>,
        code: &str,
        message: impl Into<String>,
    ) {
        self.send_event(&ServerEvent::Error {
            id,
            reference,
            code: code.into(),
            message: message.into(),
        });
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: CloseCode, description: &str) {
        let reason = CloseReason {
            code,
            description: Some(description.into()),
        };
        let _ = self.outgoing.try_send(Outgoing::Close(Some(reason)));
        ctx.stop();
    }

    fn handle_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let mut frame = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(frame)) => frame,
            Ok(_) => return self.send_error(None, None, "frame", "a frame must be a JSON object"),
            Err(error) => {
                return self.send_error(None, None, "frame.json", format!("invalid JSON: {error}"))
            }
        };
        let reference = match frame.remove("ref") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(reference)) => Some(reference),
            Some(_) => return self.send_error(None, None, "frame.ref", "ref must be a string"),
        };
        let kind = match frame.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => return self.send_error(None, reference, "frame.type", "type is missing"),
        };
        match kind.as_str() {
            "submit" => {
                match serde_json::from_value::<SubmissionRequest>(serde_json::Value::Object(frame))
                {
                    Ok(request) => self.submit(request, reference, ctx),
                    Err(error) => self.send_error(None, reference, "submission", error.to_string()),
                }
            }
            "watch" => match frame
                .get("id")
                .and_then(|id| id.as_str())
                .map(str::parse::<JobId>)
            {
                Some(Ok(id)) => self.watch(id, reference, ctx),
                _ => self.send_error(None, reference, "frame.id", "id must be a job id"),
            },
            other => self.send_error(
                None,
                reference,
                "frame.type",
                format!("unknown frame type {other:?}"),
            ),
        }
    }

    fn submit(
        &mut self,
        request: SubmissionRequest,
        reference: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let (intake, user_id) = (self.intake.clone(), self.user_id.clone());
        let accept = async move {
            let job = intake.accept(request, &user_id).await?;
            Ok::<_, IntakeError>((job, intake))
        };
        ctx.spawn(accept.into_actor(self).then(move |accepted, session, _| {
            let enqueue = match accepted {
                Ok((job, intake)) => {
                    // Queued goes out before the job is on the stream, so it
                    // always precedes the worker's started/finished.
                    session.send_event(&ServerEvent::Queued {
                        id: job.id,
                        reference: reference.clone(),
                    });
                    Some((job, intake))
                }
                Err(error) => {
                    let (code, message) = intake_error_code(&error);
                    session.send_error(None, reference.clone(), &code, message);
                    None
                }
            };
            async move {
                match enqueue {
                    Some((job, intake)) => intake.enqueue(&job).await.err().map(|e| (job.id, e)),
                    None => None,
                }
            }
            .into_actor(session)
            .map(move |failed, session, _| {
                if let Some((id, error)) = failed {
                    let (code, message) = intake_error_code(&error);
                    session.send_error(Some(id), reference, &code, message);
                }
            })
        }));
    }

    fn watch(&mut self, id: JobId, reference: Option<String>, ctx: &mut Context<Self>) {
        let user_id = self.user_id.clone();
        let lookup = self.store.send(GetJob { id });
        ctx.spawn(
            lookup
                .into_actor(self)
                .map(move |found, session, _| match found {
                    Ok(Ok(Some(stored))) if stored.job.user_id == user_id => {
                        let event = match (stored.status, stored.result) {
                            (JobStatus::Completed, Some(result)) => {
                                ServerEvent::Finished { id, result }
                            }
                            (JobStatus::Running, _) => ServerEvent::Started { id },
                            _ => ServerEvent::Queued { id, reference },
                        };
                        session.send_event(&event);
                    }
                    Ok(Ok(_)) => {
                        session.send_error(Some(id), reference, "not_found", "no such submission")
                    }
                    _ => session.send_error(
                        Some(id),
                        reference,
                        "unavailable",
                        "the store is unavailable",
                    ),
                }),
        );
    }
}

/// The stable code and message of an intake failure.
pub fn intake_error_code(error: &IntakeError) -> (String, String) {
    match error {
        IntakeError::Rejected(rejection) => (rejection.code.clone(), rejection.message.clone()),
        IntakeError::Store(_) | IntakeError::Queue(_) => ("unavailable".into(), error.to_string()),
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(OUTGOING_QUEUE);
        self.bridge.do_send(Subscribe {
            session_id: self.id,
            user_id: self.user_id.clone(),
            recipient: ctx.address().recipient(),
        });
        if let Some((mut session, mut receiver)) = self.writer.take() {
            actix_rt::spawn(async move {
                while let Some(message) = receiver.recv().await {
                    let sent = match message {
                        Outgoing::Text(text) => session.text(text.to_string()).await,
                        Outgoing::Ping => session.ping(b"").await,
                        Outgoing::Pong(bytes) => session.pong(&bytes).await,
                        Outgoing::Close(reason) => {
                            let _ = session.close(reason).await;
                            return;
                        }
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                let _ = session.close(None).await;
            });
        }
        ctx.run_interval(HEARTBEAT_INTERVAL, |session, ctx| {
            if session.last_heartbeat.elapsed() > CLIENT_TIMEOUT {
                tracing::info!(session_id = session.id, user_id = %session.user_id, "client timed out");
                session.close(ctx, CloseCode::Away, "heartbeat timeout");
            } else {
                let _ = session.outgoing.try_send(Outgoing::Ping);
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.bridge.do_send(Unsubscribe {
            session_id: self.id,
        });
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for SessionActor {
    fn handle(
        &mut self,
        message: Result<AggregatedMessage, ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        self.last_heartbeat = Instant::now();
        match message {
            Ok(AggregatedMessage::Text(text)) => self.handle_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) => self.send_error(
                None,
                None,
                "frame",
                "binary frames are not supported; send JSON text",
            ),
            Ok(AggregatedMessage::Ping(bytes)) => {
                let _ = self.outgoing.try_send(Outgoing::Pong(bytes));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => ctx.stop(),
            Err(error) => {
                tracing::debug!(session_id = self.id, %error, "websocket protocol error");
                self.close(ctx, CloseCode::Protocol, "protocol error");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// An event for this session's user, as published (JSON text).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver {
    pub text: Arc<str>,
    /// `finished`: must reach the client even when it is slow.
    pub is_final: bool,
}

impl Handler<Deliver> for SessionActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        match self.outgoing.try_send(Outgoing::Text(msg.text)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Outgoing::Text(text))) if msg.is_final => {
                let outgoing = self.outgoing.clone();
                // ctx.wait: the final event must not be overtaken by later
                // frames, so the session pauses until the writer has room.
                ctx.wait(
                    async move {
                        let _ = outgoing.send(Outgoing::Text(text)).await;
                    }
                    .into_actor(self),
                );
            }
            Err(_) => tracing::debug!(
                session_id = self.id,
                "client too slow; dropped an output event"
            ),
        }
    }
}
