//! SessionActor: owns one WebSocket connection (an actix-ws `Session` for
//! writing, its message stream added as an actor stream). Handles the
//! client's frames (`auth`, `submit`, `watch`, `stdin`, `kill`), the
//! `Deliver` events PubSubBridge routes to it, `Drained` from its writer,
//! `GoingAway` (the process is shutting down: close with 1001 so the client
//! reconnects elsewhere) and its own timers: the authentication deadline, and a heartbeat that pings
//! every `ws.heartbeat_ms` and drops a peer silent for `ws.client_timeout_ms`
//! (or one that has read none of its queued frames for that long).
//!
//! Authentication comes first: either the upgrade carried a valid token, or
//! the first frame must be `{"type":"auth","token"}` within
//! `ws.auth_timeout_ms`; anything else closes the socket with 1008 (policy
//! violation). Only then does the session subscribe to its user's events
//! (waiting for the bridge's confirmation) and send `{"type":"ready"}`, so no
//! event flows before authentication and none published after `ready` is
//! missed.
//!
//! Writing goes through the shared WebSocket engine's outbox and writer task
//! ([`crate::ws`]), with the slow-client policy of
//! [`super::delivery`]; `stdin` and `kill` go through a per-session
//! forwarder ([`super::control`]); client frames are handled in
//! [`super::requests`].
//!
//! Started by the `/api/v1/ws` handler, one per connection;
//! unregisters from the bridge in `stopped()`, whichever way it ends, and
//! the writer gets a short grace to flush a close frame before it is cut. A
//! panic ends it too (actix runs `stopped()` while dropping the panicked
//! actor); should `stopped()` not run, the bridge forgets the session on its
//! own (its mailbox is closed), so its user's subscription does not leak.

use super::auth::{SessionAuth, TokenVerifier};
use super::control::{forward_control, ControlRequest, CONTROL_QUEUE};
use crate::actors::intake::Intake;
use crate::actors::pubsub_bridge::{PubSubBridge, Subscribe, Unsubscribe};
use crate::control::ControlClient;
use crate::job::JobId;
use crate::ws::heartbeat::{liveness, Liveness};
use crate::ws::{write, Outbox, Outgoing, WsSettings};
use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, ProtocolError};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The session's mailbox (Deliver from the bridge).
const MAILBOX: usize = 256;

/// What every session of a process shares.
#[derive(Clone)]
pub struct SessionServices {
    pub bridge: Addr<PubSubBridge>,
    pub intake: Intake,
    pub control: ControlClient,
    pub settings: WsSettings,
}

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

pub struct SessionActor {
    pub(super) id: u64,
    /// `None` until authenticated.
    pub(super) user_id: Option<String>,
    /// Until authenticated with the first frame.
    pub(super) verifier: Option<TokenVerifier>,
    pub(super) outbox: Outbox,
    /// The socket and the queue's receiving end, until the writer task takes them.
    pub(super) writer: Option<(
        actix_ws::Session,
        mpsc::UnboundedReceiver<(Outgoing, usize)>,
    )>,
    /// Cuts the writer off (a stalled client, or the grace after stopping).
    pub(super) writer_stop: CancellationToken,
    /// To the forwarder; `None` until authenticated.
    pub(super) control_requests: Option<mpsc::Sender<ControlRequest>>,
    pub(super) services: SessionServices,
    pub(super) last_heartbeat: Instant,
    /// `output` events dropped per job since the client last got one.
    pub(super) dropped: HashMap<JobId, u64>,
    /// `finished` events waiting for the client to catch up.
    pub(super) pending_finals: VecDeque<JobId>,
    /// A pending `finished` is being loaded from the store.
    pub(super) loading_final: bool,
    /// Per watched job, the last output `seq` replayed.
    pub(super) replayed: HashMap<JobId, u64>,
}

impl SessionActor {
    pub fn new(
        auth: SessionAuth,
        session: actix_ws::Session,
        services: SessionServices,
    ) -> SessionActor {
        let (outbox, receiver) = Outbox::new(services.settings.outgoing_bytes);
        let (user_id, verifier) = match auth {
            SessionAuth::User(user_id) => (Some(user_id), None),
            SessionAuth::FirstFrame(verifier) => (None, Some(verifier)),
        };
        SessionActor {
            id: NEXT_SESSION_ID.fetch_add(1, Ordering::Relaxed),
            user_id,
            verifier,
            outbox,
            writer: Some((session, receiver)),
            writer_stop: CancellationToken::new(),
            control_requests: None,
            services,
            last_heartbeat: Instant::now(),
            dropped: HashMap::new(),
            pending_finals: VecDeque::new(),
            loading_final: false,
            replayed: HashMap::new(),
        }
    }

    pub(super) fn close(&mut self, ctx: &mut Context<Self>, code: CloseCode, description: &str) {
        self.outbox.close(code, description);
        ctx.stop();
    }

    /// The user is known: start the forwarder, subscribe, then say ready.
    pub(super) fn authenticated(&mut self, user_id: String, ctx: &mut Context<Self>) {
        tracing::debug!(session_id = self.id, user_id, "websocket authenticated");
        let (requests, receiver) = mpsc::channel(CONTROL_QUEUE);
        actix_rt::spawn(forward_control(
            receiver,
            user_id.clone(),
            self.services.intake.store.clone(),
            self.services.control.clone(),
            self.outbox.clone(),
        ));
        self.control_requests = Some(requests);
        self.user_id = Some(user_id.clone());
        self.verifier = None;
        let subscribe = Subscribe {
            session_id: self.id,
            user_id,
            recipient: ctx.address().recipient(),
        };
        // ctx.wait: no client frame is handled before the subscription
        // exists, so a job submitted on this socket cannot finish unseen.
        ctx.wait(self.services.bridge.send(subscribe).into_actor(self).map(
            |subscribed, session, ctx| {
                if subscribed.is_err() {
                    tracing::error!(session_id = session.id, "the pub/sub bridge is gone");
                    return session.close(ctx, CloseCode::Error, "events unavailable");
                }
                session.outbox.force(Outgoing::Text(Arc::from(
                    json!({"type": "ready"}).to_string(),
                )));
            },
        ));
    }

    /// The first frame of a connection that gave no token at the upgrade.
    pub(super) fn authenticate(
        &mut self,
        kind: &str,
        token: Option<&str>,
        ctx: &mut Context<Self>,
    ) {
        let (Some(verifier), "auth", Some(token)) = (self.verifier.clone(), kind, token) else {
            return self.close(ctx, CloseCode::Policy, "authenticate first");
        };
        // ctx.wait: frames after `auth` wait until it is decided.
        ctx.wait(verifier(token.to_string()).into_actor(self).map(
            |user, session, ctx| match user {
                Ok(user_id) => session.authenticated(user_id, ctx),
                Err(refusal) => {
                    tracing::info!(
                        session_id = session.id,
                        ?refusal,
                        "websocket authentication refused"
                    );
                    session.close(ctx, refusal.close_code(), &refusal.to_string())
                }
            },
        ));
    }

    pub(super) fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        match liveness(self.last_heartbeat, &self.outbox, &self.services.settings) {
            Liveness::Alive => {
                self.outbox.force(Outgoing::Ping);
            }
            Liveness::Silent => {
                tracing::info!(session_id = self.id, user_id = ?self.user_id, "client timed out");
                self.close(ctx, CloseCode::Away, "heartbeat timeout");
            }
            Liveness::NotReading => {
                tracing::info!(session_id = self.id, user_id = ?self.user_id, "client stopped reading; dropping the session");
                self.writer_stop.cancel();
                ctx.stop();
            }
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        if let Some((session, receiver)) = self.writer.take() {
            actix_rt::spawn(write(
                session,
                receiver,
                self.outbox.state(),
                self.writer_stop.clone(),
                Some(ctx.address().downgrade().recipient()),
            ));
        }
        let settings = &self.services.settings;
        ctx.run_interval(settings.heartbeat_interval(), |session, ctx| {
            session.heartbeat(ctx)
        });
        match self.user_id.clone() {
            Some(user_id) => self.authenticated(user_id, ctx),
            None => {
                ctx.run_later(settings.auth_timeout(), |session, ctx| {
                    if session.user_id.is_none() {
                        session.close(ctx, CloseCode::Policy, "authentication timeout");
                    }
                });
            }
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if self.user_id.is_some() {
            self.services.bridge.do_send(Unsubscribe {
                session_id: self.id,
            });
        }
        crate::ws::stop_writer_after_grace(self.writer_stop.clone());
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for SessionActor {
    fn handle(
        &mut self,
        message: Result<AggregatedMessage, ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        // Test builds only: a session that panics.
        crate::fault::trip("session");
        self.last_heartbeat = Instant::now();
        match message {
            Ok(AggregatedMessage::Text(text)) => self.handle_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) if self.user_id.is_none() => {
                self.close(ctx, CloseCode::Policy, "authenticate first")
            }
            Ok(AggregatedMessage::Binary(_)) => self.outbox.error(
                None,
                None,
                "frame",
                "binary frames are not supported; send JSON text",
            ),
            Ok(AggregatedMessage::Ping(bytes)) => {
                self.outbox.force(Outgoing::Pong(bytes));
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

/// The server is shutting down: close with 1001 going-away, so the client
/// reconnects (to another API process behind the same address).
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoingAway;

impl Handler<GoingAway> for SessionActor {
    type Result = ();

    fn handle(&mut self, _: GoingAway, ctx: &mut Context<Self>) {
        tracing::debug!(
            session_id = self.id,
            "server shutting down; closing with going-away"
        );
        self.close(ctx, CloseCode::Away, "server shutting down");
    }
}
