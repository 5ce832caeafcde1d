//! Piston's `/api/v2/connect` WebSocket: one PistonSession actor per socket
//! (an actix-ws `Session` for writing through one writer task, its message
//! stream added as an actor stream). Handles the client's frames (`init`,
//! `data` on stdin, `signal`), the `Deliver` events PubSubBridge routes to
//! it (its user's events; only its job's are used), and its own timers: the
//! initialisation deadline (Piston's one second), a heartbeat (ping every
//! [`HEARTBEAT_INTERVAL`], drop a peer silent for [`CLIENT_TIMEOUT`]) and a
//! store check that finishes the session from the stored result should a
//! `finished` event be missed. Started by the upgrade handler, one per
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
use crate::events::{OutputStream, ServerEvent};
use crate::job::{JobId, JobResult, JobStatus, Verdict};
use crate::stdin::StdinChunk;
use actix::prelude::*;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Piston closes a socket that sends no `init` within a second.
const INIT_TIMEOUT: Duration = Duration::from_secs(1);
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the store is asked whether the job finished (in case its
/// `finished` event was missed).
const STORE_CHECK: Duration = Duration::from_secs(1);
/// Frames waiting for a slow client; `data` beyond it is dropped (and
/// counted in `exit`), control frames wait.
const OUTGOING_FRAMES: usize = 512;
/// How long a closing session waits for its close frame to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Largest stdin chunk one frame may carry.
const MAX_STDIN_CHUNK: usize = 64 * 1024;

/// Session ids for the bridge, in a range of their own (API v1 sessions
/// count up from 1).
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 62);

/// One outgoing frame.
enum Out {
    Text(String),
    Ping,
    Pong(bytes::Bytes),
    Close(u16, &'static str),
}

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
    out: mpsc::Sender<Out>,
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
        let text = frame.to_string();
        match self.out.try_send(Out::Text(text)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Out::Text(text))) if !droppable => {
                let out = self.out.clone();
                // Waits so control frames keep their order behind the queue.
                ctx.wait(
                    async move {
                        let _ = out.send(Out::Text(text)).await;
                    }
                    .into_actor(self),
                );
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.dropped += 1,
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: u16, reason: &'static str) {
        if self.closing {
            return;
        }
        self.closing = true;
        let out = self.out.clone();
        // Waits so the close goes out after every frame queued before it.
        ctx.wait(
            async move {
                let _ = out.send(Out::Close(code, reason)).await;
            }
            .into_actor(self),
        );
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
        match frame.get("data") {
            None | Some(Value::Null) => {}
            Some(Value::String(data)) if data.len() > MAX_STDIN_CHUNK => {
                return self.fail(
                    ctx,
                    &format!("at most {MAX_STDIN_CHUNK} bytes per data frame"),
                );
            }
            Some(Value::String(data)) if !data.is_empty() => {
                chunks.push(StdinChunk::Data(data.as_bytes().to_vec()))
            }
            Some(Value::String(_)) => {}
            Some(_) => return self.fail(ctx, "data must be a string"),
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
        ctx.run_interval(HEARTBEAT_INTERVAL, |session, ctx| {
            if session.last_heartbeat.elapsed() > CLIENT_TIMEOUT {
                tracing::info!(session = session.id, "piston websocket peer timed out");
                ctx.stop();
            } else if session.out.try_send(Out::Ping).is_err() {
                tracing::debug!(session = session.id, "ping skipped: outgoing queue full");
            }
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.state.bridge.do_send(Unsubscribe {
            session_id: self.id,
        });
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
                let _ = self.out.try_send(Out::Pong(bytes));
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
    let (response, mut session, stream) = actix_ws::handle(&request, body)?;
    let stream = stream
        .max_frame_size(state.http.max_ws_message_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.http.max_ws_message_bytes);
    let (out, mut queue) = mpsc::channel::<Out>(OUTGOING_FRAMES);
    actix_rt::spawn(async move {
        while let Some(frame) = queue.recv().await {
            let sent = match frame {
                Out::Text(text) => session.text(text).await,
                Out::Ping => session.ping(b"").await,
                Out::Pong(bytes) => session.pong(&bytes).await,
                Out::Close(code, reason) => {
                    let reason = CloseReason {
                        code: CloseCode::from(code),
                        description: Some(reason.into()),
                    };
                    let _ = session.close(Some(reason)).await;
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = session.close(None).await;
    });
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
            out,
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
