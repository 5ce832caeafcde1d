//! JobControl: the worker side of job control (see [`crate::control`]). Owns
//! this worker process's one Redis Pub/Sub subscription to the control
//! channel and the set of jobs running here that an owner may steer.
//! Handles Track (from WorkerPool before a job's container starts: register
//! the job, answer whether a kill is already waiting, and for an interactive
//! job start its stdin pump), Untrack (the job ended: stop its pump, delete
//! its buffered input and kill flag) and the control notices from Redis:
//! `kill` becomes KillJob to WorkerPool, `stdin` wakes the job's pump.
//! Notices for jobs not running here are ignored — every worker hears every
//! notice, only the one running the job acts.
//!
//! A pump is a tokio task per interactive job: it drains the job's Redis
//! list oldest first and hands each chunk to WorkerPool as SendStdin, one at
//! a time, waiting until the sandbox has room, so order is kept and a
//! program that does not read back-pressures into Redis (where the buffer is
//! capped). Track registers the job *before* it reads the kill flag and
//! before the pump's first drain, so a kill or chunk is seen either in Redis
//! or as a notice, never neither.
//!
//! Started by `app` (worker role) under [`super::supervisor`]. When the
//! Pub/Sub connection drops, the notice stream ends and the actor stops, or
//! a handler panics; either way it is restarted after the shared back-off,
//! keeping its job set; on reconnecting it wakes
//! every pump and re-reads every kill flag, so a notice lost in the gap is
//! recovered from Redis. Pumps are not the actor's futures, so a restart
//! does not interrupt them.

use super::worker_pool::{KillJob, SendStdin, WorkerPool};
use crate::control::{ControlClient, ControlNotice, ControlOp};
use crate::job::JobId;
use crate::queue::{Keys, RedisSettings};
use crate::stdin::StdinChunk;
use actix::prelude::*;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Chunks taken from Redis per LPOP.
const DRAIN_BATCH: NonZeroUsize = match NonZeroUsize::new(32) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};
/// Pause before a pump retries after a Redis error.
const RETRY_DELAY: Duration = Duration::from_millis(200);

/// A job running in this process.
struct Tracked {
    /// Wakes the stdin pump (interactive jobs only).
    wake: Option<Arc<Notify>>,
    /// Ends the pump when the job ends.
    stop: CancellationToken,
}

pub struct JobControl {
    redis: RedisSettings,
    keys: Keys,
    control: ControlClient,
    pool: Addr<WorkerPool>,
    jobs: HashMap<JobId, Tracked>,
}

impl JobControl {
    pub fn new(redis: RedisSettings, control: ControlClient, pool: Addr<WorkerPool>) -> JobControl {
        JobControl {
            keys: Keys::new(&redis.prefix),
            redis,
            control,
            pool,
            jobs: HashMap::new(),
        }
    }

    /// Stops the job if its owner has asked to (a notice may have been missed).
    fn recheck_kill(&self, ctx: &mut Context<Self>, job_id: JobId) {
        let (control, pool) = (self.control.clone(), self.pool.clone());
        ctx.spawn(
            async move {
                if let Ok(true) = control.kill_requested(job_id).await {
                    pool.do_send(KillJob { job_id });
                }
            }
            .into_actor(self),
        );
    }
}

/// One notice from the control channel.
#[derive(Message)]
#[rtype(result = "()")]
struct Notice {
    payload: Vec<u8>,
}

impl Actor for JobControl {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let (url, channel) = (self.redis.url.clone(), self.keys.control_channel());
        let connect = async move {
            let client = redis::Client::open(url.as_str())?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        ctx.spawn(connect.into_actor(self).map(|connected, control, ctx| match connected {
            Ok(pubsub) => {
                ctx.add_stream(pubsub.into_on_message().map(|msg| Notice { payload: msg.get_payload_bytes().to_vec() }));
                // Anything sent while we were away waits in Redis.
                let ids: Vec<JobId> = control.jobs.keys().copied().collect();
                for id in ids {
                    if let Some(wake) = control.jobs.get(&id).and_then(|t| t.wake.as_ref()) {
                        wake.notify_one();
                    }
                    control.recheck_kill(ctx, id);
                }
                tracing::info!(channel = %control.keys.control_channel(), "job control listening");
            }
            Err(error) => {
                tracing::error!(%error, "job control cannot subscribe; retrying");
                ctx.stop();
            }
        }));
    }
}

impl actix::Supervised for JobControl {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::info!("restarting job control");
    }
}

impl StreamHandler<Notice> for JobControl {
    fn handle(&mut self, msg: Notice, _: &mut Context<Self>) {
        let Some(notice) = ControlNotice::parse(&msg.payload) else {
            tracing::debug!("ignoring a malformed control notice");
            return;
        };
        let Some(tracked) = self.jobs.get(&notice.id) else {
            return;
        };
        match notice.op {
            ControlOp::Kill => {
                tracing::info!(job_id = %notice.id, "kill requested");
                self.pool.do_send(KillJob { job_id: notice.id });
            }
            ControlOp::Stdin => {
                if let Some(wake) = &tracked.wake {
                    wake.notify_one();
                }
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        tracing::warn!("control channel connection lost; reconnecting");
        ctx.stop();
    }
}

/// A job is about to start here; replies true when its owner has already
/// asked to stop it (the job must then not run).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Track {
    pub job_id: JobId,
    /// Whether to start a stdin pump.
    pub interactive: bool,
}

/// The job has ended here.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Untrack {
    pub job_id: JobId,
}

impl Handler<Track> for JobControl {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: Track, _: &mut Context<Self>) -> Self::Result {
        let stop = CancellationToken::new();
        let wake = msg.interactive.then(|| Arc::new(Notify::new()));
        if let Some(wake) = &wake {
            // The first drain takes whatever was sent before the job started.
            wake.notify_one();
            let pump = pump(
                msg.job_id,
                self.control.clone(),
                self.pool.clone().recipient(),
                wake.clone(),
                stop.clone(),
            );
            actix_rt::spawn(pump);
        }
        if let Some(previous) = self.jobs.insert(msg.job_id, Tracked { wake, stop }) {
            previous.stop.cancel();
        }
        let control = self.control.clone();
        Box::pin(async move {
            match control.kill_requested(msg.job_id).await {
                Ok(killed) => killed,
                Err(error) => {
                    // A kill sent later still arrives as a notice.
                    tracing::warn!(job_id = %msg.job_id, %error, "reading the kill flag failed");
                    false
                }
            }
        })
    }
}

impl Handler<Untrack> for JobControl {
    type Result = ();

    fn handle(&mut self, msg: Untrack, ctx: &mut Context<Self>) {
        if let Some(tracked) = self.jobs.remove(&msg.job_id) {
            tracked.stop.cancel();
        }
        let control = self.control.clone();
        ctx.spawn(
            async move {
                if let Err(error) = control.forget(msg.job_id).await {
                    // They expire on their own.
                    tracing::debug!(job_id = %msg.job_id, %error, "deleting the job's control keys failed");
                }
            }
            .into_actor(self),
        );
    }
}

/// Feeds one interactive job's buffered input to its sandbox, in order,
/// until the job ends.
async fn pump(
    job_id: JobId,
    control: ControlClient,
    pool: Recipient<SendStdin>,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut ended = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = wake.notified() => {}
        }
        loop {
            let chunks = match control.take_stdin(job_id, DRAIN_BATCH).await {
                Ok(chunks) => chunks,
                Err(error) => {
                    tracing::warn!(job_id = %job_id, %error, "taking buffered stdin failed; retrying");
                    tokio::time::sleep(RETRY_DELAY).await;
                    wake.notify_one();
                    break;
                }
            };
            if chunks.is_empty() {
                break;
            }
            for chunk in chunks {
                // After the end of input the program's stdin is closed.
                if ended {
                    continue;
                }
                ended = chunk == StdinChunk::End;
                let sent = tokio::select! {
                    _ = stop.cancelled() => return,
                    sent = pool.send(SendStdin { job_id, chunk }) => sent,
                };
                if !matches!(sent, Ok(true)) {
                    tracing::debug!(job_id = %job_id, "the job no longer takes stdin");
                }
            }
        }
    }
}
