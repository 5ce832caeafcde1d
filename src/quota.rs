//! Per-user quotas, shared by every API process of a deployment: a token
//! bucket on submissions (GCRA, kept in Redis by one small Lua script, so
//! several API processes draw from the same bucket and no process-local
//! counter can be bypassed by load balancing) and a cap on a user's queued +
//! running jobs (counted in the store, the source of truth). The login
//! throttle is [`crate::auth::Throttle`]. Refusals carry how long to wait, which becomes `Retry-After`.

use crate::actors::store::{CountActiveJobs, StoreActor};
use crate::queue::Keys;
use actix::Addr;
use redis::aio::ConnectionManager;
use serde::Deserialize;
use std::sync::Arc;

/// GCRA (the token bucket as one timestamp): the key holds the "theoretical
/// arrival time" in ms. A request is allowed when, after adding one emission
/// interval, the TAT is at most `burst` intervals ahead of now. Uses Redis'
/// clock (TIME), so API processes with skewed clocks still agree.
/// KEYS[1] bucket; ARGV[1] emission interval ms; ARGV[2] burst.
/// Returns {allowed (1/0), retry_after_ms}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, 0}
";

/// What a user may ask for, per API deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaSettings {
    /// Sustained submissions per minute per user (0 = unlimited).
    pub submissions_per_minute: u32,
    /// Submissions a user may make at once before the rate applies.
    pub submission_burst: u32,
    /// A user's queued + running jobs at most (0 = unlimited).
    pub max_active_jobs: u64,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            submissions_per_minute: 60,
            submission_burst: 20,
            max_active_jobs: 10,
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("rate limit: too many submissions; retry in {retry_after_secs} s")]
    SubmissionRate { retry_after_secs: u64 },
    #[error(
        "at most {max} of your jobs may be queued or running at once; retry when one finishes"
    )]
    ActiveJobs { max: u64, retry_after_secs: u64 },
    /// Over `store.max_user_stored_bytes` (checked by
    /// [`crate::store::check_stored_bytes`]).
    #[error("your stored submissions take {used} bytes, at or over the maximum of {max} bytes (store.max_user_stored_bytes); old results are purged after store.retention_days")]
    StoredBytes {
        used: u64,
        max: u64,
        retry_after_secs: u64,
    },
    /// Redis or the store did not answer; the request is refused rather than
    /// let through unmetered.
    #[error("the quota check is unavailable: {0}")]
    Unavailable(String),
}

impl QuotaError {
    /// Stable dotted code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            QuotaError::SubmissionRate { .. } => "rate_limit.submissions",
            QuotaError::ActiveJobs { .. } => "rate_limit.active_jobs",
            QuotaError::StoredBytes { .. } => "quota.stored_bytes",
            QuotaError::Unavailable(_) => "unavailable",
        }
    }

    /// Seconds to wait before retrying, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            QuotaError::SubmissionRate { retry_after_secs }
            | QuotaError::ActiveJobs {
                retry_after_secs, ..
            }
            | QuotaError::StoredBytes {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            QuotaError::Unavailable(_) => None,
        }
    }
}

/// How long to suggest waiting when the active-job cap is hit (jobs
/// typically finish within seconds).
const ACTIVE_JOBS_RETRY_SECS: u64 = 2;

/// Counts a refusal in the metrics and passes it on.
fn refused(error: QuotaError) -> QuotaError {
    crate::metrics::quota_refused(error.code());
    error
}

/// The quota checks; cheap to clone per request.
#[derive(Clone)]
pub struct Quota {
    redis: ConnectionManager,
    keys: Keys,
    store: Addr<StoreActor>,
    settings: QuotaSettings,
    script: Arc<redis::Script>,
}

impl Quota {
    pub fn new(
        redis: ConnectionManager,
        keys: Keys,
        store: Addr<StoreActor>,
        settings: QuotaSettings,
    ) -> Quota {
        Quota {
            redis,
            keys,
            store,
            settings,
            script: Arc::new(redis::Script::new(GCRA)),
        }
    }

    /// Takes one token from `bucket`; `Some(retry_after_ms)` when empty.
    async fn take(
        &self,
        bucket: String,
        per_minute: u32,
        burst: u32,
    ) -> Result<Option<u64>, QuotaError> {
        let interval_ms = 60_000 / u64::from(per_minute.max(1));
        let reply: Vec<i64> = self
            .script
            .key(bucket)
            .arg(interval_ms.max(1))
            .arg(burst.max(1))
            .invoke_async(&mut self.redis.clone())
            .await
            .map_err(|e| QuotaError::Unavailable(e.to_string()))?;
        match reply.as_slice() {
            [1, _] => Ok(None),
            [_, retry_ms] => Ok(Some((*retry_ms).max(0) as u64)),
            _ => Err(QuotaError::Unavailable(format!(
                "unexpected rate limiter reply {reply:?}"
            ))),
        }
    }

    /// May `user_id` submit one more job now?
    pub async fn check_submission(&self, user_id: &str) -> Result<(), QuotaError> {
        if self.settings.submissions_per_minute > 0 {
            let bucket = self.keys.rate_limit("submissions", user_id);
            let limited = self
                .take(
                    bucket,
                    self.settings.submissions_per_minute,
                    self.settings.submission_burst,
                )
                .await?;
            if let Some(retry_ms) = limited {
                return Err(refused(QuotaError::SubmissionRate {
                    retry_after_secs: retry_ms.div_ceil(1000).max(1),
                }));
            }
        }
        if self.settings.max_active_jobs > 0 {
            let active = self
                .store
                .send(CountActiveJobs {
                    user_id: user_id.to_string(),
                })
                .await
                .map_err(|e| QuotaError::Unavailable(e.to_string()))?
                .map_err(|e| QuotaError::Unavailable(e.to_string()))?;
            if active >= self.settings.max_active_jobs {
                return Err(refused(QuotaError::ActiveJobs {
                    max: self.settings.max_active_jobs,
                    retry_after_secs: ACTIVE_JOBS_RETRY_SECS,
                }));
            }
        }
        Ok(())
    }
}
