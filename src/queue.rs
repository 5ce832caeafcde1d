//! Redis: every key, stream, group and channel name (one place, so the API,
//! the workers and the tests can never drift apart), plus the two small
//! writers the roles share: [`JobQueue`] (XADD a job) and [`EventPublisher`]
//! (PUBLISH an event to its owner's channel). The job-control names (stdin
//! buffer, kill flag, control channel) are used by [`crate::control`].

use crate::events::ServerEvent;
use crate::job::{Job, JobId};
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

    /// One rate-limit bucket (`rce:ratelimit:{bucket}:{subject}`), e.g. a
    /// user's submissions or a client address's login attempts.
    pub fn rate_limit(&self, bucket: &str, subject: &str) -> String {
        format!("{}:ratelimit:{}:{}", self.prefix, bucket, subject)
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

/// Appends jobs to the job stream.
#[derive(Clone)]
pub struct JobQueue {
    connection: ConnectionManager,
    keys: Keys,
}

impl JobQueue {
    pub fn new(connection: ConnectionManager, keys: Keys) -> JobQueue {
        JobQueue { connection, keys }
    }

    /// XADDs the job; returns the stream entry id.
    pub async fn push(&self, job: &Job) -> redis::RedisResult<String> {
        let payload = serde_json::to_string(job).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Client, "job serialisation", e.to_string()))
        })?;
        redis::cmd("XADD")
            .arg(self.keys.jobs_stream())
            .arg("*")
            .arg(JOB_FIELD)
            .arg(payload)
            .query_async(&mut self.connection.clone())
            .await
    }
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
    }
}
