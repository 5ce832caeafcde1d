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
//! Writing: every frame goes through one unbounded queue to one writer task
//! (so frames keep their order), with byte accounting that bounds it: while
//! more than `ws.outgoing_bytes` wait for a client that is not reading,
//! `output` events and error replies are dropped (a `lagged` notice before
//! the job's next frame says how many), small control frames (`queued`,
//! `started`, `ready`, pings) still go in, and `finished` is never dropped:
//! when it does not fit, only its job id is kept and the stored result is
//! sent once the client has read the queue. So a session holds at most the
//! budget plus one result, whatever its client does.
//!
//! `stdin` and `kill` go, in order, through a bounded queue to a per-session
//! forwarder task that checks the job is the user's (via the store, cached)
//! and hands them to [`ControlClient`] (Redis; the worker running the job
//! applies them). Started by the `/api/v1/ws` handler, one per connection;
//! unregisters from the bridge in `stopped()`, whichever way it ends, and
//! the writer gets a short grace to flush a close frame before it is cut. A
//! panic ends it too (actix runs `stopped()` while dropping the panicked
//! actor); should `stopped()` not run, the bridge forgets the session on its
//! own (its mailbox is closed), so its user's subscription does not leak.

use super::pubsub_bridge::{PubSubBridge, Subscribe, Unsubscribe};
use super::settings::WsSettings;
use super::store::{GetJob, StoreActor};
use crate::control::{ControlClient, ControlError, MAX_STDIN_CHUNK_BYTES};
use crate::events::{EventHead, EventKind, ServerEvent};
use crate::intake::{Intake, IntakeError};
use crate::job::{JobId, JobStatus, SubmissionRequest};
use crate::stdin::StdinChunk;
use crate::strict_json;
use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use futures_util::future::LocalBoxFuture;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `finished` events waiting (as job ids) for a slow client; beyond this the
/// client is too far behind and the session is dropped.
const MAX_PENDING_FINALS: usize = 1024;
/// `stdin`/`kill` frames waiting for the forwarder; when full the session
/// stops reading the socket until there is room (back-pressure, not loss).
const CONTROL_QUEUE: usize = 64;
/// The session's mailbox (Deliver from the bridge).
const MAILBOX: usize = 256;
/// Jobs whose ownership the forwarder remembers.
const OWNED_CACHE: usize = 256;
/// Jobs whose replayed output the session remembers (live duplicates are
/// skipped); forgetting one only risks a duplicated output event.
const REPLAYED_JOBS: usize = 256;
/// After the session stops, how long the writer may still flush a close frame.
const WRITER_GRACE: Duration = Duration::from_secs(2);

/// Why a credential was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthRefusal {
    /// Not valid (unknown, tampered, expired…): close 1008.
    Invalid(String),
    /// The account store could not answer: close 1011, try again later.
    Unavailable,
}

impl AuthRefusal {
    pub fn close_code(&self) -> CloseCode {
        match self {
            AuthRefusal::Invalid(_) => CloseCode::Policy,
            AuthRefusal::Unavailable => CloseCode::Error,
        }
    }
}

impl std::fmt::Display for AuthRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthRefusal::Invalid(reason) => write!(f, "{reason}"),
            AuthRefusal::Unavailable => f.write_str("authentication is unavailable; try again"),
        }
    }
}

/// Checks a credential; the user it belongs to, or why not.
pub type TokenVerifier = Rc<dyn Fn(String) -> LocalBoxFuture<'static, Result<String, AuthRefusal>>>;

/// How the session learns its user.
pub enum SessionAuth {
    /// The upgrade request carried a valid token.
    User(String),
    /// The first frame must be `{"type":"auth","token"}`.
    FirstFrame(TokenVerifier),
}

/// What every session of a process shares.
#[derive(Clone)]
pub struct SessionServices {
    pub bridge: Addr<PubSubBridge>,
    pub intake: Intake,
    pub control: ControlClient,
    pub settings: WsSettings,
}

static NEXT_SESSION_ID: AtomicU64 = AtomicU64::new(1);

/// What the writer task sends.
enum Outgoing {
    Text(Arc<str>),
    Ping,
    Pong(bytes::Bytes),
    Close(Option<CloseReason>),
}

/// The queue's accounting, shared by the session, its forwarder and the writer.
struct OutboxState {
    bytes: AtomicUsize,
    frames: AtomicUsize,
    /// When the writer last handed a frame to the socket (or the queue last
    /// became non-empty), in ms since `epoch`.
    progress_ms: AtomicU64,
    epoch: Instant,
    /// The session wants `Drained` when the queue is next empty.
    wants_drained: AtomicBool,
}

impl OutboxState {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// The sending side of the session's one ordered queue.
#[derive(Clone)]
struct Outbox {
    sender: mpsc::UnboundedSender<(Outgoing, usize)>,
    state: Arc<OutboxState>,
    budget: usize,
}

impl Outbox {
    fn new(budget: usize) -> (Outbox, mpsc::UnboundedReceiver<(Outgoing, usize)>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = OutboxState {
            bytes: AtomicUsize::new(0),
            frames: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            wants_drained: AtomicBool::new(false),
        };
        (
            Outbox {
                sender,
                state: Arc::new(state),
                budget,
            },
            receiver,
        )
    }

    /// Whether a frame of `len` bytes fits the budget (an empty queue takes
    /// any one frame, so progress never stops).
    fn has_room(&self, len: usize) -> bool {
        let queued = self.state.bytes.load(Ordering::Relaxed);
        queued == 0 || queued + len <= self.budget
    }

    /// Queues a frame that may be dropped when the client is behind.
    fn offer(&self, text: Arc<str>) -> bool {
        self.has_room(text.len()) && self.force(Outgoing::Text(text))
    }

    /// Queues a frame whatever the budget; false once the writer is gone.
    fn force(&self, frame: Outgoing) -> bool {
        let len = match &frame {
            Outgoing::Text(text) => text.len(),
            Outgoing::Pong(bytes) => bytes.len(),
            Outgoing::Ping | Outgoing::Close(_) => 0,
        };
        self.state.bytes.fetch_add(len, Ordering::Relaxed);
        if self.state.frames.fetch_add(1, Ordering::Relaxed) == 0 {
            // The stall clock starts when there is something to read.
            self.state
                .progress_ms
                .store(self.state.now_ms(), Ordering::Relaxed);
        }
        self.sender.send((frame, len)).is_ok()
    }

    fn event(&self, event: &ServerEvent) -> bool {
        self.force(Outgoing::Text(Arc::from(event.to_json())))
    }

    /// An `error` reply; dropped when the client is behind.
    fn error(
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

    /// How long frames have waited without the client taking any.
    fn stalled_for(&self) -> Option<Duration> {
        if self.state.frames.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let since = self
            .state
            .now_ms()
            .saturating_sub(self.state.progress_ms.load(Ordering::Relaxed));
        Some(Duration::from_millis(since))
    }

    /// Arranges for `Drained` once the queue is empty (at once if it is).
    fn notify_when_drained(&self, ctx: &mut Context<SessionActor>) {
        self.state.wants_drained.store(true, Ordering::SeqCst);
        if self.state.frames.load(Ordering::SeqCst) == 0
            && self.state.wants_drained.swap(false, Ordering::SeqCst)
        {
            ctx.notify(Drained);
        }
    }
}

/// Writes queued frames to the socket, one at a time, until the queue
/// closes, a close frame is written or `stop` fires.
async fn write(
    mut session: actix_ws::Session,
    mut queue: mpsc::UnboundedReceiver<(Outgoing, usize)>,
    state: Arc<OutboxState>,
    stop: CancellationToken,
    owner: actix::WeakAddr<SessionActor>,
) {
    loop {
        let next = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            next = queue.recv() => next,
        };
        let Some((frame, len)) = next else { break };
        let sent = tokio::select! {
            _ = stop.cancelled() => return,
            sent = async {
                match frame {
                    Outgoing::Text(text) => session.text(text.to_string()).await,
                    Outgoing::Ping => session.ping(b"").await,
                    Outgoing::Pong(bytes) => session.pong(&bytes).await,
                    Outgoing::Close(reason) => {
                        let _ = session.clone().close(reason).await;
                        Err(actix_ws::Closed)
                    }
                }
            } => sent,
        };
        state.bytes.fetch_sub(len, Ordering::Relaxed);
        state.progress_ms.store(state.now_ms(), Ordering::Relaxed);
        let left = state.frames.fetch_sub(1, Ordering::SeqCst) - 1;
        if sent.is_err() {
            return;
        }
        if left == 0 && state.wants_drained.swap(false, Ordering::SeqCst) {
            if let Some(owner) = owner.upgrade() {
                owner.do_send(Drained);
            }
        }
    }
    let _ = session.close(None).await;
}

/// A `stdin` or `kill` frame on its way to the forwarder.
enum ControlRequest {
    Stdin {
        id: JobId,
        chunks: Vec<StdinChunk>,
        reference: Option<String>,
    },
    Kill {
        id: JobId,
        reference: Option<String>,
    },
    /// The job has finished: forget that it was running.
    Forget { id: JobId },
}

/// Checks ownership and carries `stdin`/`kill` to Redis, in order.
async fn forward_control(
    mut requests: mpsc::Receiver<ControlRequest>,
    user_id: String,
    store: Addr<StoreActor>,
    control: ControlClient,
    outbox: Outbox,
) {
    // Jobs of this user seen running or queued: id → interactive.
    let mut known: HashMap<JobId, bool> = HashMap::new();
    while let Some(request) = requests.recv().await {
        let (id, reference) = match &request {
            ControlRequest::Forget { id } => {
                known.remove(id);
                continue;
            }
            ControlRequest::Stdin { id, reference, .. }
            | ControlRequest::Kill { id, reference } => (*id, reference.clone()),
        };
        let interactive = match known.get(&id) {
            Some(interactive) => *interactive,
            None => match store.send(GetJob { id }).await {
                Ok(Ok(Some(stored))) if stored.job.user_id == user_id => {
                    if stored.status == JobStatus::Completed {
                        outbox.error(
                            Some(id),
                            reference,
                            "job.finished",
                            "the job has already finished",
                        );
                        continue;
                    }
                    if known.len() >= OWNED_CACHE {
                        known.clear();
                    }
                    known.insert(id, stored.job.interactive);
                    stored.job.interactive
                }
                Ok(Ok(_)) => {
                    outbox.error(Some(id), reference, "not_found", "no such submission");
                    continue;
                }
                _ => {
                    outbox.error(
                        Some(id),
                        reference,
                        "unavailable",
                        "the store is unavailable",
                    );
                    continue;
                }
            },
        };
        let sent = match request {
            ControlRequest::Stdin { chunks, .. } => {
                if !interactive {
                    outbox.error(
                        Some(id),
                        reference,
                        "stdin.not_interactive",
                        "the job was not submitted with \"interactive\": true",
                    );
                    continue;
                }
                let mut sent = Ok(());
                for chunk in &chunks {
                    sent = control.push_stdin(id, chunk).await;
                    if sent.is_err() {
                        break;
                    }
                }
                sent
            }
            ControlRequest::Kill { .. } => control.request_kill(id).await,
            ControlRequest::Forget { .. } => Ok(()),
        };
        match sent {
            Ok(()) => {}
            Err(ControlError::BufferFull) => outbox.error(
                Some(id),
                reference,
                "stdin.buffer_full",
                ControlError::BufferFull.to_string(),
            ),
            Err(error) => {
                tracing::warn!(job_id = %id, %error, "job control request failed");
                outbox.error(
                    Some(id),
                    reference,
                    "unavailable",
                    "job control is unavailable",
                );
            }
        }
    }
}

pub struct SessionActor {
    id: u64,
    /// `None` until authenticated.
    user_id: Option<String>,
    /// Until authenticated with the first frame.
    verifier: Option<TokenVerifier>,
    outbox: Outbox,
    /// The socket and the queue's receiving end, until the writer task takes them.
    writer: Option<(
        actix_ws::Session,
        mpsc::UnboundedReceiver<(Outgoing, usize)>,
    )>,
    /// Cuts the writer off (a stalled client, or the grace after stopping).
    writer_stop: CancellationToken,
    /// To the forwarder; `None` until authenticated.
    control_requests: Option<mpsc::Sender<ControlRequest>>,
    services: SessionServices,
    last_heartbeat: Instant,
    /// `output` events dropped per job since the client last got one.
    dropped: HashMap<JobId, u64>,
    /// `finished` events waiting for the client to catch up.
    pending_finals: VecDeque<JobId>,
    /// A pending `finished` is being loaded from the store.
    loading_final: bool,
    /// Per watched job, the last output `seq` replayed.
    replayed: HashMap<JobId, u64>,
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

    fn close(&mut self, ctx: &mut Context<Self>, code: CloseCode, description: &str) {
        let reason = CloseReason {
            code,
            description: Some(description.into()),
        };
        self.outbox.force(Outgoing::Close(Some(reason)));
        ctx.stop();
    }

    /// The user is known: start the forwarder, subscribe, then say ready.
    fn authenticated(&mut self, user_id: String, ctx: &mut Context<Self>) {
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

    fn handle_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let mut frame = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(frame)) => frame,
            _ if self.user_id.is_none() => {
                return self.close(ctx, CloseCode::Policy, "authenticate first")
            }
            Ok(_) => {
                return self
                    .outbox
                    .error(None, None, "frame", "a frame must be a JSON object")
            }
            Err(error) => {
                return self.outbox.error(
                    None,
                    None,
                    "frame.json",
                    format!("invalid JSON: {error}"),
                )
            }
        };
        let kind = match frame.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => String::new(),
        };
        if self.user_id.is_none() {
            return self.authenticate(
                &kind,
                frame.get("token").and_then(|token| token.as_str()),
                ctx,
            );
        }
        let reference = match frame.remove("ref") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(reference)) => Some(reference),
            Some(_) => {
                return self
                    .outbox
                    .error(None, None, "frame.ref", "ref must be a string")
            }
        };
        let id = match frame
            .get("id")
            .and_then(|id| id.as_str())
            .map(str::parse::<JobId>)
        {
            Some(Ok(id)) => Some(id),
            _ => None,
        };
        match (kind.as_str(), id) {
            ("submit", _) => {
                match strict_json::from_value::<SubmissionRequest>(serde_json::Value::Object(frame))
                {
                    Ok(request) => self.submit(request, reference, ctx),
                    Err(error) => self
                        .outbox
                        .error(None, reference, &error.field, error.message),
                }
            }
            ("watch", Some(id)) => self.watch(id, reference, ctx),
            ("stdin", Some(id)) => match stdin_chunks(&frame) {
                Ok(chunks) => self.forward(
                    ControlRequest::Stdin {
                        id,
                        chunks,
                        reference,
                    },
                    ctx,
                ),
                Err((code, message)) => self.outbox.error(Some(id), reference, code, message),
            },
            ("kill", Some(id)) => self.forward(ControlRequest::Kill { id, reference }, ctx),
            ("watch" | "stdin" | "kill", None) => {
                self.outbox
                    .error(None, reference, "frame.id", "id must be a job id")
            }
            ("auth", _) => self
                .outbox
                .error(None, reference, "auth", "already authenticated"),
            ("", _) => self
                .outbox
                .error(None, reference, "frame.type", "type is missing"),
            (other, _) => self.outbox.error(
                None,
                reference,
                "frame.type",
                format!("unknown frame type {other:?}"),
            ),
        }
    }

    /// The first frame of a connection that gave no token at the upgrade.
    fn authenticate(&mut self, kind: &str, token: Option<&str>, ctx: &mut Context<Self>) {
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

    /// Queues a stdin/kill request; waits for room rather than losing it.
    fn forward(&mut self, request: ControlRequest, ctx: &mut Context<Self>) {
        let Some(requests) = self.control_requests.clone() else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(request)) = requests.try_send(request) {
            // ctx.wait: a client sending faster than Redis takes it is
            // slowed down (its frames wait in the socket) instead of losing
            // input; events wait in the mailbox meanwhile.
            ctx.wait(
                async move {
                    let _ = requests.send(request).await;
                }
                .into_actor(self),
            );
        }
    }

    fn submit(
        &mut self,
        request: SubmissionRequest,
        reference: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let Some(user_id) = self.user_id.clone() else {
            return;
        };
        let intake = self.services.intake.clone();
        let accept = async move {
            let job = intake.accept(request, &user_id).await?;
            Ok::<_, IntakeError>((job, intake))
        };
        ctx.spawn(accept.into_actor(self).then(move |accepted, session, _| {
            let enqueue = match accepted {
                Ok((job, intake)) => {
                    // Queued goes out before the job is on the stream, so it
                    // always precedes the worker's started/finished.
                    session.outbox.event(&ServerEvent::Queued {
                        id: job.id,
                        reference: reference.clone(),
                    });
                    Some((job, intake))
                }
                Err(error) => {
                    let (code, message) = intake_error_code(&error);
                    session
                        .outbox
                        .error(None, reference.clone(), &code, message);
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
                    session.outbox.error(Some(id), reference, &code, message);
                }
            })
        }));
    }

    /// The job's state now; its later events arrive like every event of the user.
    fn watch(&mut self, id: JobId, reference: Option<String>, ctx: &mut Context<Self>) {
        let Some(user_id) = self.user_id.clone() else {
            return;
        };
        let (store, control) = (
            self.services.intake.store.clone(),
            self.services.control.clone(),
        );
        let lookup = async move {
            match store.send(GetJob { id }).await {
                Ok(Ok(Some(stored))) if stored.job.user_id == user_id => {
                    let recorded = match stored.status {
                        JobStatus::Completed => Vec::new(),
                        // Empty when the job has not started.
                        _ => control.recorded_output(id).await.unwrap_or_else(|error| {
                            tracing::warn!(job_id = %id, %error, "reading recorded output failed");
                            Vec::new()
                        }),
                    };
                    Ok((stored, recorded))
                }
                Ok(Ok(_)) => Err("not_found"),
                _ => Err("unavailable"),
            }
        };
        // ctx.wait: the user's live events wait in the mailbox until the
        // state and the replay are out, so replay and live output join
        // without a gap or reordering (live events already replayed are
        // skipped by their seq).
        ctx.wait(
            lookup
                .into_actor(self)
                .map(move |found, session, ctx| match found {
                    Ok((stored, recorded)) => match (stored.status, stored.result) {
                        (JobStatus::Completed, Some(result)) => {
                            let text = Arc::from(ServerEvent::Finished { id, result }.to_json());
                            session.deliver_final(text, Some(id), ctx);
                        }
                        (JobStatus::Queued, _) if recorded.is_empty() => {
                            session.outbox.event(&ServerEvent::Queued { id, reference });
                        }
                        _ => {
                            session.outbox.event(&ServerEvent::Started { id });
                            session.replay(id, recorded);
                        }
                    },
                    Err("not_found") => {
                        session
                            .outbox
                            .error(Some(id), reference, "not_found", "no such submission")
                    }
                    Err(_) => session.outbox.error(
                        Some(id),
                        reference,
                        "unavailable",
                        "the store is unavailable",
                    ),
                }),
        );
    }

    /// Sends a running job's recorded output events and remembers how far
    /// they went, so the same events arriving live are not sent twice.
    fn replay(&mut self, id: JobId, recorded: Vec<String>) {
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
    fn flush_lagged(&mut self, id: JobId) {
        if let Some(dropped) = self.dropped.remove(&id) {
            let notice = json!({"type": "lagged", "id": id, "dropped": dropped}).to_string();
            self.outbox.force(Outgoing::Text(Arc::from(notice)));
        }
    }

    fn deliver_output(&mut self, text: Arc<str>, head: Option<EventHead>) {
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
    fn deliver_final(&mut self, text: Arc<str>, id: Option<JobId>, ctx: &mut Context<Self>) {
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
    fn job_finished(&mut self, id: JobId) {
        self.replayed.remove(&id);
        if let Some(requests) = &self.control_requests {
            // Best effort: a full queue only costs a store lookup later.
            let _ = requests.try_send(ControlRequest::Forget { id });
        }
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let timeout = Duration::from_millis(self.services.settings.client_timeout_ms);
        if self.last_heartbeat.elapsed() > timeout {
            tracing::info!(session_id = self.id, user_id = ?self.user_id, "client timed out");
            return self.close(ctx, CloseCode::Away, "heartbeat timeout");
        }
        if self
            .outbox
            .stalled_for()
            .is_some_and(|stalled| stalled > timeout)
        {
            tracing::info!(session_id = self.id, user_id = ?self.user_id, "client stopped reading; dropping the session");
            self.writer_stop.cancel();
            return ctx.stop();
        }
        self.outbox.force(Outgoing::Ping);
    }
}

/// The chunks of a `stdin` frame: `data` (a string) and/or `eof: true`.
fn stdin_chunks(
    frame: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<StdinChunk>, (&'static str, String)> {
    let mut chunks = Vec::with_capacity(2);
    match frame.get("data") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(data)) if data.len() > MAX_STDIN_CHUNK_BYTES => {
            return Err((
                "stdin.data",
                format!(
                    "at most {MAX_STDIN_CHUNK_BYTES} bytes per stdin frame; split larger input"
                ),
            ));
        }
        Some(serde_json::Value::String(data)) => {
            chunks.push(StdinChunk::Data(data.as_bytes().to_vec()))
        }
        Some(_) => return Err(("stdin.data", "data must be a string".into())),
    }
    match frame.get("eof") {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => chunks.push(StdinChunk::End),
        Some(_) => return Err(("stdin.eof", "eof must be a boolean".into())),
    }
    if chunks.is_empty() {
        return Err((
            "stdin.data",
            "a stdin frame needs data or \"eof\": true".into(),
        ));
    }
    Ok(chunks)
}

/// The stable code and message of an intake failure.
pub fn intake_error_code(error: &IntakeError) -> (String, String) {
    match error {
        IntakeError::Rejected(rejection) => (rejection.code.clone(), rejection.message.clone()),
        IntakeError::Store(_) | IntakeError::Queue(_) => ("unavailable".into(), error.to_string()),
        IntakeError::Quota(quota) => (quota.code().into(), error.to_string()),
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        if let Some((session, receiver)) = self.writer.take() {
            let state = self.outbox.state.clone();
            actix_rt::spawn(write(
                session,
                receiver,
                state,
                self.writer_stop.clone(),
                ctx.address().downgrade(),
            ));
        }
        let settings = &self.services.settings;
        ctx.run_interval(
            Duration::from_millis(settings.heartbeat_ms.max(1)),
            |session, ctx| session.heartbeat(ctx),
        );
        match self.user_id.clone() {
            Some(user_id) => self.authenticated(user_id, ctx),
            None => {
                ctx.run_later(
                    Duration::from_millis(settings.auth_timeout_ms),
                    |session, ctx| {
                        if session.user_id.is_none() {
                            session.close(ctx, CloseCode::Policy, "authentication timeout");
                        }
                    },
                );
            }
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        if self.user_id.is_some() {
            self.services.bridge.do_send(Unsubscribe {
                session_id: self.id,
            });
        }
        // The writer may still flush a close frame; a stalled client gets
        // no more than the grace.
        let stop = self.writer_stop.clone();
        actix_rt::spawn(async move {
            tokio::time::sleep(WRITER_GRACE).await;
            stop.cancel();
        });
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

/// The writer has emptied the queue (asked for while `finished` events wait).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drained;

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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stdin frame gives data, end of input, or both in that order; bad
    /// shapes and oversized data are refused with a field code.
    #[test]
    fn stdin_frames() {
        let frame = |value: serde_json::Value| value.as_object().cloned().unwrap();
        assert_eq!(
            stdin_chunks(&frame(json!({"data": "ada\n"}))),
            Ok(vec![StdinChunk::Data(b"ada\n".to_vec())])
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"eof": true}))),
            Ok(vec![StdinChunk::End])
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"data": "x", "eof": true}))),
            Ok(vec![StdinChunk::Data(b"x".to_vec()), StdinChunk::End])
        );
        assert_eq!(stdin_chunks(&frame(json!({}))).unwrap_err().0, "stdin.data");
        assert_eq!(
            stdin_chunks(&frame(json!({"data": 1}))).unwrap_err().0,
            "stdin.data"
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"eof": "yes"}))).unwrap_err().0,
            "stdin.eof"
        );
        let big = "x".repeat(MAX_STDIN_CHUNK_BYTES + 1);
        assert_eq!(
            stdin_chunks(&frame(json!({"data": big}))).unwrap_err().0,
            "stdin.data"
        );
    }

    /// The outbox admits frames within its budget, always admits one frame
    /// into an empty queue, and counts what waits.
    #[test]
    fn outbox_budget() {
        let (outbox, mut receiver) = Outbox::new(10);
        assert!(
            outbox.offer(Arc::from("x".repeat(50))),
            "an empty queue takes any frame"
        );
        assert!(!outbox.offer(Arc::from("y")), "over budget");
        assert!(outbox.force(Outgoing::Ping), "forced frames always go in");
        assert_eq!(outbox.state.frames.load(Ordering::Relaxed), 2);
        assert_eq!(outbox.state.bytes.load(Ordering::Relaxed), 50);
        assert!(outbox.stalled_for().is_some());
        assert!(receiver.try_recv().is_ok());
    }
}
