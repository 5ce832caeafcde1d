//! Fair dispatch across users, shared by every API and worker process of a
//! deployment through Redis. Intake does not append a job to the job stream
//! directly: [`FairQueue::hold`] pushes it onto its user's holding list and
//! puts the user in a ring of users with backlog. A worker with free slots
//! calls [`FairQueue::promote`] before it reads the stream: that moves up to
//! "free slots − entries not yet delivered" jobs from the holding lists into
//! the stream, taking the user with the fewest running jobs first (round
//! robin among equals) and skipping a user at the per-user running cap while
//! another user has backlog (so a lone user still gets every slot). The
//! stream stays the durable queue from there on (XREADGROUP, XAUTOCLAIM,
//! dead-letter): the fair layer only decides the order in which jobs enter it.
//!
//! Every step is one Lua script, so nothing is lost or counted twice between
//! the structures and all processes see one state:
//! - the holding lists and the ring only change inside the scripts;
//! - a worker that found less work than it had slots records its idle slots
//!   (with a short expiry); `hold` promotes the new job straight into the
//!   stream while recorded idle slots exceed the undelivered entries, which
//!   wakes the worker blocked in XREADGROUP (no lost wake-up: both scripts
//!   are atomic);
//! - a promoted entry is recorded (entry id → user and job) with its user's
//!   running count; [`FairQueue::ack`] XACKs and releases the record, the
//!   running count and the user's active-job reservation in one script, once
//!   however often the entry is acked (and, like `hold`, promotes into
//!   recorded idle slots, since a lower running count may admit a capped
//!   user). A worker that dies mid-job leaves the entry pending; whoever
//!   finally acks it releases it.
//! - workers register their slot count ([`FairQueue::register`], refreshed by
//!   [`spawn_heartbeat`]) so the default running cap is half the live
//!   deployment's slots, rounded up (two busy users then fill every slot).
//!
//! Entries that reached the stream before this layer existed carry no record
//! and are acked as before. Key names come from [`Keys`]; the scripts append a
//! user id to the holding-list and active-set prefixes Keys gives them
//! (standalone Redis, like the rest of rce).

use crate::job::Job;
use crate::queue::{Keys, JOB_FIELD, TRACEPARENT_FIELD};
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Helpers every script starts with.
const COMMON: &str = r"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Splits 'a|b' at the first '|'.
local function split(value)
  local sep = string.find(value, '|', 1, true)
  return string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
end

-- Sums the fresh 'count|expiry_ms' values of a hash; forgets stale ones.
local function fresh_sum(key, now)
  local all = redis.call('HGETALL', key)
  local sum = 0
  for i = 1, #all, 2 do
    local count, expiry = split(all[i + 1])
    if tonumber(expiry) < now then
      redis.call('HDEL', key, all[i])
    else
      sum = sum + tonumber(count)
    end
  end
  return sum
end

-- Entries of the stream the group has not delivered yet, at most `limit`.
local function undelivered(stream, group, limit)
  if limit <= 0 or redis.call('EXISTS', stream) == 0 then return 0 end
  local last = '0-0'
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
    local name, id
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then id = g[i + 1] end
    end
    if name == group then last = id end
  end
  return #redis.call('XRANGE', stream, '(' .. last, '+', 'COUNT', limit)
end

-- The per-user running cap: the configured one, else half the live slots
-- (rounded up, at least 1).
local function running_cap(configured, slots_key, now)
  if configured > 0 then return configured end
  return math.max(1, math.ceil(fresh_sum(slots_key, now) / 2))
end

-- Moves up to n held jobs into the stream, fewest running first, round robin
-- among equals (the ring's order; a served user goes to its end). A user at
-- the cap is skipped while another user has backlog.
-- S: {stream, ring, running, dispatched, held, queue_prefix, job_field, trace_field}
local function promote(n, S, cap)
  local promoted = 0
  while promoted < n do
    local users = redis.call('LRANGE', S.ring, 0, -1)
    if #users == 0 then break end
    local best, fewest
    for _, user in ipairs(users) do
      local running = tonumber(redis.call('HGET', S.running, user) or '0')
      if (#users == 1 or running < cap) and (fewest == nil or running < fewest) then
        best, fewest = user, running
      end
    end
    if best == nil then break end
    local queue = S.queue_prefix .. best
    local item = redis.call('LPOP', queue)
    redis.call('LREM', S.ring, 1, best)
    if redis.call('LLEN', queue) > 0 then redis.call('RPUSH', S.ring, best) end
    if item then
      local job_id, rest = split(item)
      local traceparent, payload = split(rest)
      local id
      if traceparent == '' then
        id = redis.call('XADD', S.stream, '*', S.job_field, payload)
      else
        id = redis.call('XADD', S.stream, '*', S.job_field, payload, S.trace_field, traceparent)
      end
      redis.call('HSET', S.dispatched, id, best .. '|' .. job_id)
      redis.call('HINCRBY', S.running, best, 1)
      redis.call('LPOP', S.held)
      promoted = promoted + 1
    end
  end
  return promoted
end

-- Promotes into the idle slots workers recorded (beyond the entries still
-- undelivered), taking those slots from the records so the next call does
-- not count them again. The XADD wakes a worker blocked in XREADGROUP.
local function promote_into_idle(S, slots_key, idle_key, configured, now)
  local idle = fresh_sum(idle_key, now)
  if idle <= 0 then return 0 end
  local n = idle - undelivered(S.stream, S.group, idle)
  if n <= 0 then return 0 end
  local promoted = promote(n, S, running_cap(configured, slots_key, now))
  local left = promoted
  local all = redis.call('HGETALL', idle_key)
  for i = 1, #all, 2 do
    if left <= 0 then break end
    local count, expiry = split(all[i + 1])
    local take = math.min(tonumber(count), left)
    left = left - take
    if tonumber(count) - take <= 0 then
      redis.call('HDEL', idle_key, all[i])
    else
      redis.call('HSET', idle_key, all[i], (tonumber(count) - take) .. '|' .. expiry)
    end
  end
  return promoted
end

local function structures(first_key, first_arg)
  return {
    stream = KEYS[first_key], ring = KEYS[first_key + 1], running = KEYS[first_key + 2],
    dispatched = KEYS[first_key + 3], held = KEYS[first_key + 4],
    group = ARGV[first_arg], queue_prefix = ARGV[first_arg + 1],
    job_field = ARGV[first_arg + 2], trace_field = ARGV[first_arg + 3],
  }
end
";

/// KEYS: stream, ring, running, dispatched, held, slots, idle, the user's
/// holding list. ARGV: group, queue prefix, job field, trace field, user,
/// item (`job_id|traceparent|payload`), configured cap, job id.
/// Returns how many held jobs went into the stream now (idle slots were
/// waiting).
const HOLD: &str = r"
local S = structures(1, 1)
local user, item, configured = ARGV[5], ARGV[6], tonumber(ARGV[7])
local now = now_ms()
if redis.call('RPUSH', KEYS[8], item) == 1 then redis.call('RPUSH', S.ring, user) end
redis.call('RPUSH', S.held, ARGV[8])
return promote_into_idle(S, KEYS[6], KEYS[7], configured, now)
";

/// KEYS: stream, ring, running, dispatched, held, slots, idle. ARGV: group,
/// queue prefix, job field, trace field, consumer, free slots, configured
/// cap, idle record ttl ms. Returns {promoted, users with backlog, held jobs}.
const PROMOTE: &str = r"
local S = structures(1, 1)
local consumer, free, configured, ttl = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now = now_ms()
local n = free - undelivered(S.stream, S.group, free)
local promoted = 0
if n > 0 then promoted = promote(n, S, running_cap(configured, KEYS[6], now)) end
-- Undelivered entries count as taken: this worker reads them next unless
-- another idle worker does first (then this one records its slots again
-- after one read_block_ms).
if n - promoted > 0 then
  redis.call('HSET', KEYS[7], consumer, (n - promoted) .. '|' .. (now + ttl))
else
  redis.call('HDEL', KEYS[7], consumer)
end
return {promoted, redis.call('LLEN', S.ring), redis.call('LLEN', S.held)}
";

/// KEYS: stream, ring, running, dispatched, held, slots, idle. ARGV: group,
/// queue prefix, job field, trace field, entry id, active-set prefix,
/// configured cap. XACKs the entry and, the first time only, releases its
/// running count and its user's active-job reservation; a released running
/// count can let a capped user's held job into a recorded idle slot, so it
/// promotes like `hold`. Returns XACK's count.
const ACK: &str = r"
local S = structures(1, 1)
local entry, active_prefix, configured = ARGV[5], ARGV[6], tonumber(ARGV[7])
local acked = redis.call('XACK', S.stream, S.group, entry)
local owner = redis.call('HGET', S.dispatched, entry)
if owner then
  redis.call('HDEL', S.dispatched, entry)
  local user, job_id = split(owner)
  if redis.call('HINCRBY', S.running, user, -1) <= 0 then redis.call('HDEL', S.running, user) end
  redis.call('ZREM', active_prefix .. user, job_id)
  promote_into_idle(S, KEYS[6], KEYS[7], configured, now_ms())
end
return acked
";

/// KEYS: slots. ARGV: consumer, slots, expiry ttl ms. Returns the live
/// deployment's slots, this worker's included.
const REGISTER: &str = r"
local now = now_ms()
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. (now + tonumber(ARGV[3])))
return fresh_sum(KEYS[1], now)
";

/// How long a worker's slot registration lives without a heartbeat.
const REGISTRATION_TTL: Duration = Duration::from_secs(15);
/// How often a worker refreshes its registration.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// The fair admission layer's Redis side; cheap to clone.
#[derive(Clone)]
pub struct FairQueue {
    connection: ConnectionManager,
    keys: Keys,
    /// Per-user running cap while others wait (0 = half the live slots).
    running_cap: u64,
    hold: Arc<redis::Script>,
    promote: Arc<redis::Script>,
    ack: Arc<redis::Script>,
    register: Arc<redis::Script>,
}

/// What one promotion did and saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promoted {
    /// Jobs moved into the stream.
    pub jobs: usize,
    /// Users with jobs still held.
    pub backlog_users: u64,
    /// Jobs still held, all users together.
    pub held_jobs: u64,
}

impl FairQueue {
    pub fn new(connection: ConnectionManager, keys: Keys, running_cap: u64) -> FairQueue {
        let script = |body: &str| Arc::new(redis::Script::new(&format!("{COMMON}\n{body}")));
        FairQueue {
            connection,
            keys,
            running_cap,
            hold: script(HOLD),
            promote: script(PROMOTE),
            ack: script(ACK),
            register: script(REGISTER),
        }
    }

    fn shared(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        let keys = &self.keys;
        invocation
            .key(keys.jobs_stream())
            .key(keys.fair_ring())
            .key(keys.fair_running())
            .key(keys.fair_dispatched())
            .key(keys.fair_held())
            .key(keys.fair_slots())
            .key(keys.fair_idle())
            .arg(keys.group())
            .arg(keys.fair_queue_prefix())
            .arg(JOB_FIELD)
            .arg(TRACEPARENT_FIELD);
    }

    /// Holds `job` (with the W3C trace context of its enqueue) for fair
    /// dispatch; returns how many held jobs went into the stream at once
    /// (idle workers were waiting).
    pub async fn hold(&self, job: &Job, traceparent: Option<&str>) -> redis::RedisResult<usize> {
        let payload = serde_json::to_string(job).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "job serialisation", e.to_string()))
        })?;
        // `|` separates the fields; neither a job id nor a traceparent has one.
        let item = format!("{}|{}|{payload}", job.id, traceparent.unwrap_or(""));
        let mut invocation = self.hold.prepare_invoke();
        self.shared(&mut invocation);
        invocation
            .key(self.keys.fair_queue(&job.user_id))
            .arg(&job.user_id)
            .arg(item)
            .arg(self.running_cap)
            .arg(job.id.to_string());
        invocation.invoke_async(&mut self.connection.clone()).await
    }

    /// Before `consumer` reads the stream with `free` slots: moves the next
    /// fair share of held jobs into the stream and records the slots left
    /// idle (for `idle_ttl`, refreshed at the next call).
    pub async fn promote(
        &self,
        consumer: &str,
        free: usize,
        idle_ttl: Duration,
    ) -> redis::RedisResult<Promoted> {
        let mut invocation = self.promote.prepare_invoke();
        self.shared(&mut invocation);
        invocation
            .arg(consumer)
            .arg(free)
            .arg(self.running_cap)
            .arg(idle_ttl.as_millis() as u64);
        let (jobs, backlog_users, held_jobs): (usize, u64, u64) = invocation
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(Promoted {
            jobs,
            backlog_users,
            held_jobs,
        })
    }

    /// Users with held jobs and held jobs in all (totals only), for the
    /// metrics.
    pub async fn backlog(&self) -> redis::RedisResult<(u64, u64)> {
        redis::pipe()
            .llen(self.keys.fair_ring())
            .llen(self.keys.fair_held())
            .query_async(&mut self.connection.clone())
            .await
    }

    /// XACKs a stream entry and releases what its promotion reserved (its
    /// user's running count and active-job reservation), once.
    pub async fn ack(&self, entry_id: &str) -> redis::RedisResult<i64> {
        let mut invocation = self.ack.prepare_invoke();
        self.shared(&mut invocation);
        invocation
            .arg(entry_id)
            .arg(self.keys.fair_active_prefix())
            .arg(self.running_cap);
        invocation.invoke_async(&mut self.connection.clone()).await
    }

    /// Records that `consumer` runs `slots` jobs at once (for `ttl`).
    pub async fn register(
        &self,
        consumer: &str,
        slots: usize,
        ttl: Duration,
    ) -> redis::RedisResult<usize> {
        self.register
            .key(self.keys.fair_slots())
            .arg(consumer)
            .arg(slots)
            .arg(ttl.as_millis() as u64)
            .invoke_async::<usize>(&mut self.connection.clone())
            .await
    }

    /// Forgets `consumer`'s slots and idle record (it stopped reading).
    pub async fn unregister(&self, consumer: &str) -> redis::RedisResult<()> {
        redis::pipe()
            .hdel(self.keys.fair_slots(), consumer)
            .ignore()
            .hdel(self.keys.fair_idle(), consumer)
            .ignore()
            .query_async::<()>(&mut self.connection.clone())
            .await
    }
}

/// Keeps `consumer`'s slot registration alive until `shutdown`, then removes
/// it (and its idle record), so the running cap follows the live deployment;
/// each heartbeat stores the live deployment's slots in `live_slots` (the
/// warm pool sizes this worker's share of its memory budget by it).
pub fn spawn_heartbeat(
    fair: FairQueue,
    consumer: String,
    slots: usize,
    live_slots: Arc<AtomicUsize>,
    shutdown: CancellationToken,
) {
    actix_rt::spawn(async move {
        loop {
            match fair.register(&consumer, slots, REGISTRATION_TTL).await {
                Ok(live) => live_slots.store(live.max(slots), Ordering::Relaxed),
                Err(error) => tracing::warn!(%error, consumer, "registering worker slots failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if let Err(error) = fair.unregister(&consumer).await {
            tracing::warn!(%error, consumer, "unregistering worker slots failed");
        }
    });
}
