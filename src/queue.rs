//! Redis: every key, stream, group and channel name (one place, so the API,
//! the workers and the tests can never drift apart), plus the small writer
//! the roles share: [`EventPublisher`] (PUBLISH an event to its owner's
//! channel). Jobs enter the stream through [`crate::fair::FairQueue`]. The job-control names (stdin
//! buffer, kill flag, control channel) are used by [`crate::control`].

use crate::events::ServerEvent;
use crate::job::JobId;
use redis::aio::ConnectionManager;
use serde::Deserialize;

/// Where Redis is and which names this deployment uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    /// Prefix of every key and channel, so several deployments (or test runs)
    /// can share one Redis without seeing each other's jobs.
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: "redis://127.0.0.1:6379/".into(),
            prefix: "rce".into(),
        }
    }
}

/// Field of a stream entry that holds the job as JSON.
pub const JOB_FIELD: &str = "job";
pub use crate::telemetry::TRACEPARENT_FIELD;

/// The names derived from the prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    /// The job stream (`rce:jobs`).
    pub fn jobs_stream(&self) -> String {
        format!("{}:jobs", self.prefix)
    }

    /// The dead-letter stream for jobs that failed too often.
    pub fn dead_stream(&self) -> String {
        format!("{}:jobs:dead", self.prefix)
    }

    /// The consumer group all workers read the job stream in.
    pub fn group(&self) -> &'static str {
        "workers"
    }

    /// The Pub/Sub channel of one user's events (`rce:events:{user}`).
    pub fn events_channel(&self, user_id: &str) -> String {
        format!("{}:events:{}", self.prefix, user_id)
    }

    /// The user id a channel belongs to, if it is one of ours.
    pub fn user_of_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel.strip_prefix(&self.prefix)?.strip_prefix(":events:")
    }

    /// The Pub/Sub channel every worker listens on for stdin and kill
    /// notices (`rce:control`); the notice names the job, and only the
    /// worker running it acts.
    pub fn control_channel(&self) -> String {
        format!("{}:control", self.prefix)
    }

    /// The list buffering an interactive job's stdin chunks until its worker
    /// takes them (`rce:job:{id}:stdin`), so input sent before the job
    /// starts is not lost.
    pub fn stdin_list(&self, job_id: &JobId) -> String {
        format!("{}:job:{}:stdin", self.prefix, job_id)
    }

    /// Set when the owner asked to stop a job (`rce:job:{id}:kill`); a worker
    /// checks it when the job starts, so a kill sent while the job is still
    /// queued stops it too.
    pub fn kill_flag(&self, job_id: &JobId) -> String {
        format!("{}:job:{}:kill", self.prefix, job_id)
    }

    /// The output events a running job has published so far
    /// (`rce:job:{id}:output`), replayed to a client that `watch`es it.
    pub fn output_list(&self, job_id: &JobId) -> String {
        format!("{}:job:{}:output", self.prefix, job_id)
    }

    /// One rate-limit bucket (`rce:ratelimit:{bucket}:{subject}`), e.g. a
    /// user's submissions or a client address's login attempts.
    pub fn rate_limit(&self, bucket: &str, subject: &str) -> String {
        format!("{}:ratelimit:{}:{}", self.prefix, bucket, subject)
    }

    /// The Judge0-only fields of one submission made through the Judge0
    /// compatibility API (`rce:judge0:submission:{id}`, a JSON string).
    pub fn judge0_submission(&self, id: &str) -> String {
        format!("{}:judge0:submission:{}", self.prefix, id)
    }

    /// Judge0 callbacks waiting for their job to finish (a hash: job id →
    /// owner), claimed by the worker that delivers them.
    pub fn judge0_callbacks(&self) -> String {
        format!("{}:judge0:callbacks", self.prefix)
    }

    /// Fair dispatch (see [`crate::fair`]): the prefix of the per-user
    /// holding lists; the scripts append the user id.
    pub fn fair_queue_prefix(&self) -> String {
        format!("{}:fair:q:", self.prefix)
    }

    /// One user's holding list (`rce:fair:q:{user}`): jobs accepted and not
    /// yet in the stream, oldest first.
    pub fn fair_queue(&self, user_id: &str) -> String {
        format!("{}{}", self.fair_queue_prefix(), user_id)
    }

    /// The ring of users with held jobs (`rce:fair:ring`, a list; each user
    /// at most once).
    pub fn fair_ring(&self) -> String {
        format!("{}:fair:ring", self.prefix)
    }

    /// Jobs held, all users together (`rce:fair:held`, a list with one
    /// element per held job, so its length is the count; an autoscaler can
    /// read it with LLEN, e.g. KEDA's `redis` list trigger).
    pub fn fair_held(&self) -> String {
        format!("{}:fair:held", self.prefix)
    }

    /// Promoted, not yet acked jobs per user (`rce:fair:running`, a hash
    /// user → count).
    pub fn fair_running(&self) -> String {
        format!("{}:fair:running", self.prefix)
    }

    /// Promoted entries not yet acked (`rce:fair:dispatched`, a hash entry
    /// id → `user|job id`), so an ack releases each exactly once.
    pub fn fair_dispatched(&self) -> String {
        format!("{}:fair:dispatched", self.prefix)
    }

    /// Live workers' slots (`rce:fair:slots`, a hash consumer →
    /// `slots|expiry ms`).
    pub fn fair_slots(&self) -> String {
        format!("{}:fair:slots", self.prefix)
    }

    /// Workers' slots left without work at their last read (`rce:fair:idle`,
    /// a hash consumer → `free|expiry ms`).
    pub fn fair_idle(&self) -> String {
        format!("{}:fair:idle", self.prefix)
    }

    /// The prefix of the per-user active-job sets; the ack script appends
    /// the user id.
    pub fn fair_active_prefix(&self) -> String {
        format!("{}:fair:active:", self.prefix)
    }

    /// One user's queued + running jobs (`rce:fair:active:{user}`, a sorted
    /// set job id → reservation time ms): the active-job cap.
    pub fn fair_active(&self, user_id: &str) -> String {
        format!("{}{}", self.fair_active_prefix(), user_id)
    }

    /// The label value that marks this deployment's containers.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Opens a multiplexed, self-reconnecting connection for short commands
/// (the client's default reply timeout applies; never use it for BLOCK reads).
pub async fn connect(settings: &RedisSettings) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(settings.url.as_str())?;
    client.get_connection_manager().await
}

/// Publishes events on their owner's channel.
#[derive(Clone)]
pub struct EventPublisher {
    connection: ConnectionManager,
    keys: Keys,
}

impl EventPublisher {
    pub fn new(connection: ConnectionManager, keys: Keys) -> EventPublisher {
        EventPublisher { connection, keys }
    }

    pub async fn publish(&self, user_id: &str, event: &ServerEvent) -> redis::RedisResult<()> {
        redis::cmd("PUBLISH")
            .arg(self.keys.events_channel(user_id))
            .arg(event.to_json())
            .query_async::<i64>(&mut self.connection.clone())
            .await
            .map(|_| ())
    }

    /// Publishes a running job's output event and records it in the job's
    /// output list (one round trip), so `watch` can replay it. The list
    /// lives while the job runs (at most its output cap) and expires after
    /// `ttl` in case its worker dies.
    pub async fn publish_output(
        &self,
        user_id: &str,
        job_id: &JobId,
        event: &ServerEvent,
        ttl: std::time::Duration,
    ) -> redis::RedisResult<()> {
        let (text, list) = (event.to_json(), self.keys.output_list(job_id));
        redis::pipe()
            .cmd("RPUSH")
            .arg(&list)
            .arg(&text)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&list)
            .arg(ttl.as_millis() as u64)
            .ignore()
            .cmd("PUBLISH")
            .arg(self.keys.events_channel(user_id))
            .arg(&text)
            .ignore()
            .query_async::<()>(&mut self.connection.clone())
            .await
    }

    /// Forgets a job run's recorded output (a new run starts from seq 1).
    pub async fn clear_output(&self, job_id: &JobId) -> redis::RedisResult<()> {
        redis::cmd("DEL")
            .arg(self.keys.output_list(job_id))
            .query_async::<i64>(&mut self.connection.clone())
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Channel names round-trip to their user, and foreign channels are not ours.
    #[test]
    fn channel_names_round_trip() {
        let keys = Keys::new("t1");
        assert_eq!(keys.jobs_stream(), "t1:jobs");
        assert_eq!(keys.events_channel("alice"), "t1:events:alice");
        assert_eq!(keys.user_of_channel("t1:events:alice"), Some("alice"));
        assert_eq!(keys.user_of_channel("t2:events:alice"), None);
        let id: JobId = "0190a5b2-0000-7000-8000-000000000000".parse().unwrap();
        assert_eq!(keys.control_channel(), "t1:control");
        assert_eq!(keys.stdin_list(&id), format!("t1:job:{id}:stdin"));
        assert_eq!(keys.kill_flag(&id), format!("t1:job:{id}:kill"));
        assert_eq!(keys.output_list(&id), format!("t1:job:{id}:output"));
    }
}
