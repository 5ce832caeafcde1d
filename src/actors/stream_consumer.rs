//! StreamConsumer: owns this worker's reading of the job stream in the
//! consumer group (`rce:jobs`, group `workers`, consumer `<host>-<pid>`)
//! through one [`ReadLoop`].
//! Reads only as many entries as WorkerPool has free slots (back-pressure), on
//! a dedicated connection without the client's reply timeout (a blocking
//! XREADGROUP would otherwise time out after 500 ms); takes over entries left
//! pending by dead consumers with XAUTOCLAIM after `claim_idle_ms`;
//! dead-letters entries delivered more than `max_attempts` times (completing
//! their job as internal_error) so a poison job never loops. Handles JobDone
//! (XACK once the result is stored; the ack runs as its own task, so a
//! restart never drops one). Started by `app` under
//! [`super::supervisor`]: when Redis goes away the read loop fails and the
//! actor stops; when the loop panics the panic is caught; either way the
//! supervisor restarts it after the shared back-off (reset after a healthy
//! period). Entries read but not yet dispatched stay pending in Redis and
//! are claimed again, so nothing is lost; a job already dispatched keeps
//! running in WorkerPool and acks through the same address. Each turn of the
//! loop reports progress, so a wedged loop shows in `/healthz`. Every
//! `trim_interval_ms` it trims the acknowledged history from the stream
//! (XTRIM MINID up to the oldest entry that is still pending or
//! undelivered), so the stream's memory stays bounded. On shutdown it
//! finishes the XREADGROUP in flight (at most `read_block_ms`), dispatches
//! what that read returned, stops reading and signals
//! [`ConsumerHandle::stopped`] (also when it is restarted after shutdown
//! began, as when Redis is down); JobDone acks keep being served until the
//! process exits, and `pending_acks` says how many are still in flight.
//! Fair dispatch hooks ([`crate::fair`]): before each read it promotes the
//! next fair share of held jobs into the stream, and every ack (JobDone,
//! dead-letter) goes through [`FairQueue::ack`], which releases what the
//! promotion reserved.

use super::settings::WorkerSettings;
use super::supervisor::{self, ActorHealth};
use super::worker_pool::{Execute, FreeSlots, JobDone, Pipeline, WorkerPool};
use crate::fair::FairQueue;
use crate::job::{Job, JobResult};
use crate::queue::{Keys, RedisSettings, JOB_FIELD, TRACEPARENT_FIELD};
use actix::prelude::*;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub struct StreamConsumer {
    /// The read loop's parts; each (re)start runs a copy of it.
    read_loop: ReadLoop,
    handle: ConsumerHandle,
}

/// Entry ids in flight; a std mutex, held only for a set insert/remove/copy.
type InFlight = Arc<Mutex<HashSet<String>>>;

fn lock(in_flight: &InFlight) -> std::sync::MutexGuard<'_, HashSet<String>> {
    // A panic while holding it cannot leave the set inconsistent.
    in_flight
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the process's shutdown waits on.
#[derive(Clone, Default)]
pub struct ConsumerHandle {
    /// Cancelled once the read loop has stopped for good (after shutdown):
    /// no job will be dispatched any more.
    pub stopped: CancellationToken,
    /// XACKs sent but not yet answered.
    pub pending_acks: Arc<AtomicUsize>,
}

/// Everything the read loop needs; StreamConsumer owns one and each run of
/// the loop works on a clone (the connections and sets inside are shared).
#[derive(Clone)]
struct ReadLoop {
    redis: RedisSettings,
    keys: Keys,
    settings: WorkerSettings,
    consumer: String,
    pool: Addr<WorkerPool>,
    /// Completes dead-lettered jobs.
    pipeline: Pipeline,
    /// Shared connection for XACK and XADD (short commands).
    commands: ConnectionManager,
    /// Promotes held jobs before a read; acks entries.
    fair: FairQueue,
    /// Woken by WorkerPool when a job's slot is free again.
    slot_freed: Arc<Notify>,
    shutdown: CancellationToken,
    /// Entries dispatched to WorkerPool and not yet done; their idle time is
    /// reset regularly so live jobs are never claimed by another worker.
    in_flight: InFlight,
    /// Where each turn of the loop is reported (the wedge check).
    health: Arc<ActorHealth>,
}

impl StreamConsumer {
    /// The supervisor's name for this actor.
    pub const NAME: &'static str = "stream_consumer";

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        redis: RedisSettings,
        settings: WorkerSettings,
        consumer: String,
        pool: Addr<WorkerPool>,
        pipeline: Pipeline,
        commands: ConnectionManager,
        fair: FairQueue,
        slot_freed: Arc<Notify>,
        shutdown: CancellationToken,
    ) -> StreamConsumer {
        StreamConsumer {
            read_loop: ReadLoop {
                keys: Keys::new(&redis.prefix),
                redis,
                settings,
                consumer,
                pool,
                pipeline,
                commands,
                fair,
                slot_freed,
                shutdown,
                in_flight: InFlight::default(),
                health: supervisor::health(Self::NAME),
            },
            handle: ConsumerHandle::default(),
        }
    }

    /// The shutdown handle; take it before starting the actor.
    pub fn handle(&self) -> ConsumerHandle {
        self.handle.clone()
    }
}

impl Actor for StreamConsumer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.read_loop.shutdown.is_cancelled() {
            // Restarted after shutdown began (Redis went away while it
            // drained): nothing more is read; entries still pending stay in
            // Redis for another worker.
            self.read_loop.health.loop_ended();
            self.handle.stopped.cancel();
            return;
        }
        self.read_loop.health.progress();
        let run = self.read_loop.clone().run(ctx.address().recipient());
        ctx.spawn(run.into_actor(self).map(|outcome, consumer, ctx| match outcome {
            Ok(()) => {
                tracing::info!(consumer = %consumer.read_loop.consumer, "stopped reading the job stream");
                consumer.read_loop.health.loop_ended();
                consumer.handle.stopped.cancel();
            }
            Err(error) => {
                tracing::error!(consumer = %consumer.read_loop.consumer, %error, "job stream read loop failed; restarting");
                // The supervisor restarts it after its back-off.
                ctx.stop();
            }
        }));
    }
}

impl actix::Supervised for StreamConsumer {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::info!(consumer = %self.read_loop.consumer, "restarting the stream consumer");
    }
}

impl Handler<JobDone> for StreamConsumer {
    type Result = ();

    fn handle(&mut self, msg: JobDone, _: &mut Context<Self>) {
        lock(&self.read_loop.in_flight).remove(&msg.entry_id);
        if !msg.ack {
            return;
        }
        let pending_acks = self.handle.pending_acks.clone();
        pending_acks.fetch_add(1, Ordering::SeqCst);
        let read_loop = self.read_loop.clone();
        // Its own task: a restart of this actor must not drop an ack.
        actix_rt::spawn(async move {
            read_loop.ack(&msg).await;
            pending_acks.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

impl ReadLoop {
    /// XACK of one entry: the one way an entry leaves the pending list (a
    /// finished job's ack and a dead letter both end here).
    /// Goes through [`FairQueue::ack`], which also releases what the entry's
    /// promotion reserved (once, however often the entry is acked).
    async fn xack(&self, entry_id: &str) -> redis::RedisResult<i64> {
        self.fair.ack(entry_id).await
    }

    /// How long this worker's record of idle slots lives: past the next
    /// read (which refreshes it), not much longer once the worker is busy.
    fn idle_ttl(&self) -> Duration {
        Duration::from_millis(self.settings.read_block_ms.saturating_mul(2) + 1_000)
    }

    /// XACKs a finished job's entry (its result is stored).
    async fn ack(&self, msg: &JobDone) {
        match self.xack(&msg.entry_id).await {
            Ok(_) => tracing::debug!(job_id = %msg.job_id, entry = %msg.entry_id, "acked"),
            // Not lost: the entry is redelivered and, being
            // completed, acked without running again.
            Err(error) => {
                tracing::warn!(job_id = %msg.job_id, %error, "XACK failed; the entry will be redelivered")
            }
        }
    }
}

/// A reply field as text (XINFO answers bulk strings).
fn value_text(value: Option<&redis::Value>) -> Option<String> {
    match value? {
        redis::Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        redis::Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    }
}

/// Orders stream ids (`<ms>-<seq>`) numerically.
fn stream_id_less(a: &str, b: &str) -> bool {
    let parse = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    };
    parse(a) < parse(b)
}

impl ReadLoop {
    async fn run(self, done: Recipient<JobDone>) -> redis::RedisResult<()> {
        let client = redis::Client::open(self.redis.url.as_str())?;
        // Dedicated connection without a reply timeout: XREADGROUP BLOCK
        // legitimately takes up to read_block_ms to answer.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let mut reader = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        self.ensure_group(&mut reader).await?;
        tracing::info!(consumer = %self.consumer, stream = %self.keys.jobs_stream(), "reading the job stream");
        let mut last_claim = Instant::now() - Duration::from_secs(3600);
        let claim_every =
            Duration::from_millis((self.settings.claim_idle_ms / 2).clamp(100, 5_000));
        let mut last_trim = Instant::now();
        let mut last_refresh = Instant::now();
        let refresh_every = Duration::from_millis((self.settings.claim_idle_ms / 3).max(50));
        let trim_every = Duration::from_millis(self.settings.trim_interval_ms.max(100));
        while !self.shutdown.is_cancelled() {
            self.health.progress();
            crate::fault::trip("stream_consumer.read_loop");
            if last_refresh.elapsed() >= refresh_every {
                last_refresh = Instant::now();
                self.refresh_in_flight(&mut reader).await?;
            }
            let free = self.pool.send(FreeSlots).await.unwrap_or(0);
            if free == 0 {
                tokio::select! {
                    _ = self.slot_freed.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = self.shutdown.cancelled() => {}
                }
                continue;
            }
            let mut entries = Vec::new();
            if last_claim.elapsed() >= claim_every {
                last_claim = Instant::now();
                entries = self.claim_stale(&mut reader, free).await?;
            }
            if last_trim.elapsed() >= trim_every {
                last_trim = Instant::now();
                self.trim(&mut reader).await?;
            }
            if entries.is_empty() {
                self.fair
                    .promote(&self.consumer, free, self.idle_ttl())
                    .await?;
                // Not abandoned on shutdown: whatever this read delivers is
                // dispatched and run, so nothing stays pending in our name.
                entries = self.read_new(&mut reader, free).await?;
            }
            for (entry, delivered) in entries {
                self.dispatch(entry, delivered, &done).await?;
            }
        }
        Ok(())
    }

    async fn ensure_group(&self, reader: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(self.keys.jobs_stream())
            .arg(self.keys.group())
            .arg("0")
            .arg("MKSTREAM")
            .query_async(reader)
            .await;
        match created {
            Err(error) if error.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    /// Resets the idle time of the entries this worker is running (XCLAIM
    /// to ourselves with JUSTID, which does not count a delivery), so no
    /// other worker takes over a job that is alive, however long it runs.
    async fn refresh_in_flight(
        &self,
        reader: &mut MultiplexedConnection,
    ) -> redis::RedisResult<()> {
        let ids: Vec<String> = lock(&self.in_flight).iter().cloned().collect();
        if ids.is_empty() {
            return Ok(());
        }
        redis::cmd("XCLAIM")
            .arg(self.keys.jobs_stream())
            .arg(self.keys.group())
            .arg(&self.consumer)
            .arg(0)
            .arg(&ids)
            .arg("JUSTID")
            .query_async::<redis::Value>(reader)
            .await?;
        Ok(())
    }

    /// Deletes acknowledged history: every entry older than both the oldest
    /// pending entry and the group's last delivered entry. Never touches an
    /// entry that is pending or not yet delivered.
    async fn trim(&self, reader: &mut MultiplexedConnection) -> redis::RedisResult<()> {
        let groups: Vec<HashMap<String, redis::Value>> = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(self.keys.jobs_stream())
            .query_async(reader)
            .await?;
        let Some(group) = groups
            .iter()
            .find(|g| value_text(g.get("name")).as_deref() == Some(self.keys.group()))
        else {
            return Ok(());
        };
        let Some(last_delivered) = value_text(group.get("last-delivered-id")) else {
            return Ok(());
        };
        // XPENDING summary: [count, smallest id, greatest id, consumers].
        let summary: (usize, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
            .arg(self.keys.jobs_stream())
            .arg(self.keys.group())
            .query_async(reader)
            .await?;
        let threshold = match summary.1 {
            Some(oldest_pending) if stream_id_less(&oldest_pending, &last_delivered) => {
                oldest_pending
            }
            _ => last_delivered,
        };
        if threshold == "0-0" {
            return Ok(());
        }
        let trimmed: usize = redis::cmd("XTRIM")
            .arg(self.keys.jobs_stream())
            .arg("MINID")
            .arg(&threshold)
            .query_async(reader)
            .await?;
        if trimmed > 0 {
            tracing::debug!(trimmed, %threshold, "trimmed acknowledged stream history");
        }
        Ok(())
    }

    /// New entries, at most `count`; each delivered once so far.
    async fn read_new(
        &self,
        reader: &mut MultiplexedConnection,
        count: usize,
    ) -> redis::RedisResult<Vec<(StreamId, usize)>> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(self.keys.group())
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(self.settings.read_block_ms)
            .arg("STREAMS")
            .arg(self.keys.jobs_stream())
            .arg(">")
            .query_async(reader)
            .await?;
        Ok(reply
            .map(|reply| {
                reply
                    .keys
                    .into_iter()
                    .flat_map(|key| key.ids)
                    .map(|entry| (entry, 1))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Entries idle past `claim_idle_ms` in any consumer, now ours, with
    /// their delivery counts.
    async fn claim_stale(
        &self,
        reader: &mut MultiplexedConnection,
        count: usize,
    ) -> redis::RedisResult<Vec<(StreamId, usize)>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(self.keys.jobs_stream())
            .arg(self.keys.group())
            .arg(&self.consumer)
            .arg(self.settings.claim_idle_ms)
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(reader)
            .await?;
        let mut claimed = Vec::with_capacity(reply.claimed.len());
        for entry in reply.claimed {
            let pending: StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(self.keys.jobs_stream())
                .arg(self.keys.group())
                .arg(&entry.id)
                .arg(&entry.id)
                .arg(1)
                .query_async(reader)
                .await?;
            let delivered = pending.ids.first().map(|p| p.times_delivered).unwrap_or(1);
            tracing::info!(entry = %entry.id, delivered, "claimed a stale entry");
            claimed.push((entry, delivered));
        }
        Ok(claimed)
    }

    async fn dispatch(
        &self,
        entry: StreamId,
        delivered: usize,
        done: &Recipient<JobDone>,
    ) -> redis::RedisResult<()> {
        let job = entry
            .get::<String>(JOB_FIELD)
            .and_then(|text| serde_json::from_str::<Job>(&text).ok());
        if delivered as u64 > self.settings.max_attempts {
            return self.dead_letter(&entry, job, delivered).await;
        }
        match job {
            Some(job) => {
                let traceparent = entry.get::<String>(TRACEPARENT_FIELD);
                let span = crate::telemetry::job_span(
                    &job.id.to_string(),
                    traceparent.as_deref(),
                    crate::telemetry::entry_time(&entry.id),
                );
                span.in_scope(|| tracing::debug!(job_id = %job.id, user_id = %job.user_id, entry = %entry.id, delivered, "dispatching"));
                lock(&self.in_flight).insert(entry.id.clone());
                let execute = Execute {
                    entry_id: entry.id.clone(),
                    job,
                    done: done.clone(),
                    span,
                };
                if self.pool.send(execute).await.is_err() {
                    // It panicked or is restarting: the entry is not in
                    // flight here, so it is claimed again after claim_idle_ms.
                    lock(&self.in_flight).remove(&entry.id);
                    tracing::error!(entry = %entry.id, "worker pool did not take the job; entry stays pending");
                }
            }
            // Left pending: it is reclaimed, and dead-lettered once it has
            // been delivered max_attempts times.
            None => tracing::error!(entry = %entry.id, delivered, "undecodable job entry"),
        }
        Ok(())
    }

    /// Copies the entry to the dead-letter stream, completes its job as
    /// internal_error (when it can be decoded) and acks it.
    async fn dead_letter(
        &self,
        entry: &StreamId,
        job: Option<Job>,
        delivered: usize,
    ) -> redis::RedisResult<()> {
        let mut commands = self.commands.clone();
        let payload = entry.get::<String>(JOB_FIELD).unwrap_or_default();
        let reason = format!(
            "delivered {delivered} times (max_attempts {})",
            self.settings.max_attempts
        );
        tracing::error!(entry = %entry.id, %reason, "dead-lettering a job entry");
        crate::metrics::job_dead_lettered();
        redis::cmd("XADD")
            .arg(self.keys.dead_stream())
            .arg("*")
            .arg("entry")
            .arg(&entry.id)
            .arg(JOB_FIELD)
            .arg(payload)
            .arg("reason")
            .arg(&reason)
            .query_async::<String>(&mut commands)
            .await?;
        if let Some(job) = job {
            let result =
                JobResult::internal_error(format!("the job failed on every attempt: {reason}"));
            // Even if storing fails here, the entry is in the dead-letter
            // stream and must not loop; it is acked regardless.
            let _ = self.pipeline.finish(job.id, &job.user_id, result).await;
        }
        self.xack(&entry.id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stream ids compare by number, not as text.
    #[test]
    fn stream_ids_order_numerically() {
        assert!(stream_id_less("999-0", "1000-0"));
        assert!(stream_id_less("1000-2", "1000-10"));
        assert!(!stream_id_less("1000-10", "1000-10"));
    }
}
