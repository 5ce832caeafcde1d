//! Piston's `/api/v2/connect` WebSocket: one PistonSession actor per socket
//! (an actix-ws `Session` for writing through one writer task, its message
//! stream added as an actor stream). Handles the client's frames (`init`,
//! `data` on stdin, `signal`), the `Deliver` events PubSubBridge routes to
//! it (its user's events; only its job's are used), and its own timers: the
//! initialisation deadline (Piston's one second), a heartbeat (ping every
//! `ws.heartbeat_ms`, drop a peer silent, or not reading, for
//! `ws.client_timeout_ms`) and a store check that finishes the session from
//! the stored result should a `finished` event be missed. Writing, the
//! heartbeat and the stdin `data` bound are the shared WebSocket engine's
//! ([`crate::ws`]): one ordered outbox within `ws.outgoing_bytes`, where
//! `data` frames beyond the budget are dropped (and counted in `exit`) and
//! every other frame goes in. Started by the upgrade handler, one per
//! connection; in `stopped()` it unsubscribes from the bridge and, if its
//! job still runs, stops it (nobody is left to talk to it).
//!
//! Protocol (Piston's, plus what Piston lacks): client → `init` (an execute
//! body), `{"type":"data","stream":"stdin","data"}`, `{"type":"signal",
//! "signal":"SIGINT"}`; rce adds `"eof": true` on a stdin `data` frame to
//! end the program's input. Server → `runtime {language, version}`, `stage
//! {stage}`, `data {stream, data}`, `exit {stage, code, signal}` (plus
//! `status`, `message`, `cpu_time`, `wall_time`, `memory`), `error
//! {message}`. Close codes as Piston: 4000 already initialised, 4001
//! initialisation timeout, 4002 notified error, 4003 not yet initialised,
//! 4004 can only write to stdin, 4005 invalid signal, 4999 job completed;
//! and 1001 going-away when the server shuts down (its job is stopped).
//! Any valid signal stops the program (its container is killed: the
//! program's process tree cannot survive it); the `exit` frame then reports
//! how it ended. Output is capped like every job's (`limits.output_kb`).

use super::request;
use super::result::{signal_of, status_and_message};
use super::routes::caller;
use super::runtimes::{signal_number, Runtime};
use crate::actors::pubsub_bridge::{Subscribe, Unsubscribe};
use crate::actors::session::Deliver;
use crate::api_state::ApiState;
use crate::compat::wait;
use crate::control::MAX_STDIN_CHUNK_BYTES;
use crate::events::{OutputStream, ServerEvent};
use crate::job::{JobId, JobResult, JobStatus, Verdict};
use crate::stdin::StdinChunk;
use crate::ws::heartbeat::{liveness, Liveness};
use crate::ws::stdin::{stdin_data, StdinDataError};
use crate::ws::{write, Outbox, Outgoing};
use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, ProtocolError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Piston closes a socket that sends no `init` within a second.
const INIT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often the store is asked whether the job finished (in case its
/// `finished` event was missed).
const STORE_CHECK: Duration = Duration::from_secs(1);
/// How long a closing session waits for its close frame to be written
/// (as long as its writer may still flush once the session has stopped).
const CLOSE_GRACE: Duration = crate::ws::WRITER_GRACE;

/// Session ids for the bridge, in a range of their own (API v1 sessions
/// count up from 1).
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 62);

/// Where the job is, as this session has told the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Initialising,
    Running,
    Done,
}

pub struct PistonSession {
    id: u64,
    user: String,
    state: web::Data<ApiState>,
    outbox: Outbox,
    /// Cuts the writer off (a client that stopped reading, or the grace
    /// after stopping).
    writer_stop: CancellationToken,
    phase: Phase,
    job: Option<JobId>,
    runtime: Option<Runtime>,
    compiles: bool,
    /// The stage announced last (`compile` or `run`).
    stage: Option<&'static str>,
    last_heartbeat: Instant,
    dropped: u64,
    /// A close frame is queued; nothing more is sent.
    closing: bool,
}

impl PistonSession {
    /// Queues a frame; `data` may be dropped when the client lags, nothing
    /// else is.
    fn send(&mut self, ctx: &mut Context<Self>, frame: &Value, droppable: bool) {
        if self.closing {
            return;
        }
        let text: Arc<str> = Arc::from(frame.to_string());
        if droppable && !self.outbox.has_room(text.len()) {
            self.dropped += 1;
        } else if !self.outbox.force(Outgoing::Text(text)) {
            // The writer is gone (the connection ended).
            ctx.stop();
        }
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: u16, reason: &'static str) {
        if self.closing {
            return;
        }
        self.closing = true;
        // Queued behind every frame sent before it.
        self.outbox.close(CloseCode::from(code), reason);
        if self.phase != Phase::Running {
            self.phase = Phase::Done;
        }
        // The writer needs the connection to flush the close frame; the
        // client's answering close ends the stream (and the actor) sooner.
        ctx.run_later(CLOSE_GRACE, |_, ctx| ctx.stop());
    }

    fn fail(&mut self, ctx: &mut Context<Self>, message: &str) {
        self.send(ctx, &json!({"type": "error", "message": message}), false);
        self.close(ctx, 4002, "Notified Error");
    }

    fn announce(&mut self, ctx: &mut Context<Self>, stage: &'static str) {
        if self.stage != Some(stage) {
            self.stage = Some(stage);
            self.send(ctx, &json!({"type": "stage", "stage": stage}), false);
        }
    }

    fn init(&mut self, ctx: &mut Context<Self>, frame: &serde_json::Map<String, Value>) {
        if self.phase != Phase::Waiting {
            return self.close(ctx, 4000, "Already Initialized");
        }
        let parsed = match request::parse(
            frame,
            &self.state.intake.languages,
            &self.state.intake.bounds,
        ) {
            Ok(parsed) => parsed,
            Err(message) => return self.fail(ctx, &message),
        };
        self.phase = Phase::Initialising;
        let mut submission = parsed.request;
        submission.interactive = Some(true);
        let initial_stdin = submission.stdin.take().filter(|s| !s.is_empty());
        let (state, user, id) = (self.state.clone(), self.user.clone(), self.id);
        let recipient = ctx.address().recipient::<Deliver>();
        let work = async move {
            // Subscribed (and confirmed) before the job exists, so none of
            // its events is missed.
            state
                .bridge
                .send(Subscribe {
                    session_id: id,
                    user_id: user.clone(),
                    recipient,
                })
                .await
                .map_err(|e| format!("subscribing to events: {e}"))?;
            let job = state
                .intake
                .submit(submission, &user)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(stdin) = initial_stdin {
                let chunk = StdinChunk::Data(stdin.into_bytes());
                state
                    .control
                    .push_stdin(job.id, &chunk)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(job)
        };
        let runtime = parsed.runtime;
        ctx.spawn(work.into_actor(self).map(move |outcome, session, ctx| match outcome {
            Err(message) => session.fail(ctx, &message),
            Ok(job) => {
                session.compiles =
                    session.state.intake.languages.get(&job.language).is_some_and(|l| l.compile.is_some());
                session.job = Some(job.id);
                session.phase = Phase::Running;
                let frame = json!({"type": "runtime", "language": runtime.language, "version": runtime.version});
                session.runtime = Some(runtime);
                session.send(ctx, &frame, false);
                ctx.run_interval(STORE_CHECK, |session, ctx| session.check_store(ctx));
            }
        }));
    }

    fn stdin(&mut self, ctx: &mut Context<Self>, frame: &serde_json::Map<String, Value>) {
        let Some(job) = self.job.filter(|_| self.phase == Phase::Running) else {
            return self.close(ctx, 4003, "Not yet initialized");
        };
        if frame.get("stream").and_then(Value::as_str) != Some("stdin") {
            return self.close(ctx, 4004, "Can only write to stdin");
        }
        let mut chunks = Vec::with_capacity(2);
        match stdin_data(frame) {
            Ok(Some(data)) if !data.is_empty() => {
                chunks.push(StdinChunk::Data(data.as_bytes().to_vec()))
            }
            Ok(_) => {}
            Err(StdinDataError::TooLarge) => {
                return self.fail(
                    ctx,
                    &format!("at most {MAX_STDIN_CHUNK_BYTES} bytes per data frame"),
                );
            }
            Err(StdinDataError::NotAString) => return self.fail(ctx, "data must be a string"),
        }
        if frame.get("eof") == Some(&Value::Bool(true)) {
            chunks.push(StdinChunk::End);
        }
        let control = self.state.control.clone();
        // Waits so chunks reach the job in the order they were sent.
        ctx.wait(
            async move {
                for chunk in &chunks {
                    control.push_stdin(job, chunk).await?;
                }
                Ok::<_, crate::control::ControlError>(())
            }
            .into_actor(self)
            .map(|outcome, session, ctx| {
                if let Err(error) = outcome {
                    session.fail(ctx, &error.to_string());
                }
            }),
        );
    }

    fn signal(&mut self, ctx: &mut Context<Self>, frame: &serde_json::Map<String, Value>) {
        let Some(job) = self.job.filter(|_| self.phase == Phase::Running) else {
            return self.close(ctx, 4003, "Not yet initialized");
        };
        let valid = frame
            .get("signal")
            .and_then(Value::as_str)
            .and_then(signal_number)
            .is_some();
        if !valid {
            return self.close(ctx, 4005, "Invalid signal");
        }
        let control = self.state.control.clone();
        ctx.spawn(
            async move { control.request_kill(job).await }
                .into_actor(self)
                .map(|outcome, session, ctx| {
                    if let Err(error) = outcome {
                        session.fail(ctx, &error.to_string());
                    }
                }),
        );
    }

    fn frame(&mut self, ctx: &mut Context<Self>, text: &str) {
        let frame = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(frame)) => frame,
            Ok(_) => return self.fail(ctx, "a message must be a JSON object"),
            Err(e) => return self.fail(ctx, &e.to_string()),
        };
        match frame.get("type").and_then(Value::as_str) {
            Some("init") => self.init(ctx, &frame),
            Some("data") => self.stdin(ctx, &frame),
            Some("signal") => self.signal(ctx, &frame),
            _ => {} // Piston ignores other types.
        }
    }

    /// The `exit` frames and the close, from the final result.
    fn finish(&mut self, ctx: &mut Context<Self>, result: &JobResult) {
        if self.phase == Phase::Done {
            return;
        }
        let (status, message) = status_and_message(result);
        let exit = |stage: &str, dropped: u64| {
            json!({
                "type": "exit",
                "stage": stage,
                "code": result.exit_code,
                "signal": signal_of(result),
                "status": status,
                "message": message,
                "cpu_time": result.time_ms,
                "wall_time": result.wall_ms,
                "memory": result.memory_kb * 1024,
                "dropped_frames": dropped,
            })
        };
        if self.compiles {
            self.announce(ctx, "compile");
            if result.verdict == Verdict::CompileError {
                if let Some(output) = result.compile_output.as_deref().filter(|o| !o.is_empty()) {
                    self.send(
                        ctx,
                        &json!({"type": "data", "stream": "stderr", "data": output}),
                        false,
                    );
                }
                let frame = exit("compile", self.dropped);
                self.send(ctx, &frame, false);
                self.phase = Phase::Done;
                return self.close(ctx, 4999, "Job Completed");
            }
            self.send(
                ctx,
                &json!({"type": "exit", "stage": "compile", "code": 0, "signal": null}),
                false,
            );
        }
        self.announce(ctx, "run");
        let frame = exit("run", self.dropped);
        self.send(ctx, &frame, false);
        self.phase = Phase::Done;
        self.close(ctx, 4999, "Job Completed");
    }

    /// Pings a live peer; drops one silent (or not reading) for the client
    /// timeout.
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        match liveness(self.last_heartbeat, &self.outbox, &self.state.ws) {
            Liveness::Alive => {
                self.outbox.force(Outgoing::Ping);
            }
            Liveness::Silent => {
                tracing::info!(session = self.id, "piston websocket peer timed out");
                ctx.stop();
            }
            Liveness::NotReading => {
                tracing::info!(session = self.id, "piston websocket peer stopped reading");
                self.writer_stop.cancel();
                ctx.stop();
            }
        }
    }

    fn check_store(&mut self, ctx: &mut Context<Self>) {
        let Some(job) = self.job.filter(|_| self.phase == Phase::Running) else {
            return;
        };
        let store = self.state.intake.store.clone();
        ctx.spawn(
            async move { wait::load(&store, job).await }
                .into_actor(self)
                .map(|outcome, session, ctx| {
                    if let Ok(Some(stored)) = outcome {
                        if let (JobStatus::Completed, Some(result)) = (stored.status, stored.result)
                        {
                            session.finish(ctx, &result);
                        }
                    }
                }),
        );
    }
}

impl Actor for PistonSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_later(INIT_TIMEOUT, |session, ctx| {
            if session.phase == Phase::Waiting {
                session.close(ctx, 4001, "Initialization Timeout");
            }
        });
        ctx.run_interval(self.state.ws.heartbeat_interval(), |session, ctx| {
            session.heartbeat(ctx)
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.state.bridge.do_send(Unsubscribe {
            session_id: self.id,
        });
        crate::ws::stop_writer_after_grace(self.writer_stop.clone());
        if let (Some(job), Phase::Running) = (self.job, self.phase) {
            let control = self.state.control.clone();
            actix_rt::spawn(async move {
                if let Err(error) = control.request_kill(job).await {
                    tracing::warn!(job_id = %job, %error, "stopping an abandoned Piston job failed");
                }
            });
        }
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for PistonSession {
    fn handle(
        &mut self,
        message: Result<AggregatedMessage, ProtocolError>,
        ctx: &mut Context<Self>,
    ) {
        self.last_heartbeat = Instant::now();
        match message {
            Ok(AggregatedMessage::Text(text)) => self.frame(ctx, &text),
            Ok(AggregatedMessage::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.frame(ctx, text),
                Err(_) => self.fail(ctx, "messages must be UTF-8 JSON"),
            },
            Ok(AggregatedMessage::Ping(bytes)) => {
                self.outbox.force(Outgoing::Pong(bytes));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) | Err(_) => ctx.stop(),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Deliver> for PistonSession {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        let Some(job) = self.job else {
            return;
        };
        // Other jobs' events are skipped without decoding their payload.
        if msg.head.and_then(|head| head.id) != Some(job) {
            return;
        }
        let Ok(event) = serde_json::from_str::<ServerEvent>(&msg.text) else {
            return;
        };
        match event {
            ServerEvent::Started { id } if id == job => {
                self.announce(ctx, if self.compiles { "compile" } else { "run" });
            }
            ServerEvent::Output {
                id, stream, data, ..
            } if id == job => {
                if self.compiles && self.stage != Some("run") {
                    self.announce(ctx, "compile");
                    self.send(
                        ctx,
                        &json!({"type": "exit", "stage": "compile", "code": 0, "signal": null}),
                        false,
                    );
                }
                self.announce(ctx, "run");
                let stream = match stream {
                    OutputStream::Stdout => "stdout",
                    OutputStream::Stderr => "stderr",
                };
                self.send(
                    ctx,
                    &json!({"type": "data", "stream": stream, "data": data}),
                    true,
                );
            }
            ServerEvent::Finished { id, result } if id == job => self.finish(ctx, &result),
            _ => {}
        }
    }
}

/// The upgrade: authenticated first (Bearer, Basic or `?token=`; refused
/// with 401 before any WebSocket exists), then one PistonSession.
pub async fn connect(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let user = caller(&state, &request).await?;
    let (response, session, stream) = actix_ws::handle(&request, body)?;
    let stream = stream
        .max_frame_size(state.http.max_ws_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.http.max_ws_message_bytes);
    let (outbox, queue) = Outbox::new(state.ws.outgoing_bytes);
    let writer_stop = CancellationToken::new();
    // No `Drained` wanted: nothing waits for the queue to empty.
    actix_rt::spawn(write(
        session,
        queue,
        outbox.state(),
        writer_stop.clone(),
        None,
    ));
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let shutdown = state.shutdown.clone();
    PistonSession::create(move |ctx| {
        ctx.add_stream(stream);
        // On shutdown the client is told to go elsewhere (1001 going-away)
        // instead of being cut off when the server stops.
        ctx.spawn(
            actix::fut::wrap_future::<_, PistonSession>(shutdown.cancelled_owned())
                .map(|(), session, ctx| session.close(ctx, 1001, "server shutting down")),
        );
        PistonSession {
            id,
            user,
            state,
            outbox,
            writer_stop,
            phase: Phase::Waiting,
            job: None,
            runtime: None,
            compiles: false,
            stage: None,
            last_heartbeat: Instant::now(),
            dropped: 0,
            closing: false,
        }
    });
    Ok(response)
}
