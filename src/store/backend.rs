//! The persistence contract: the [`Store`] trait every backend implements
//! (users with their token versions, API keys and jobs), its settings, its error type, and [`open`],
//! which picks the backend the configuration names (SQLite or MongoDB).
//! StoreActor is the only caller in the service; the shared backend test
//! suite (`tests/store.rs`) is the other.

use crate::job::{FileInput, Job, JobId, JobResult, JobStatus, Submission};
use async_trait::async_trait;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

/// Which backend and where its data lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `sqlite` (embedded, the default) or `mongodb`.
    pub backend: String,
    /// The SQLite database file; its directory is created if missing.
    pub sqlite_path: PathBuf,
    /// MongoDB connection string (`mongodb://…`); the conventional
    /// `RCE_MONGODB_URL` variable fills it when unset (see `config.rs`).
    pub mongodb_url: Option<String>,
    /// MongoDB database name.
    pub mongodb_database: String,
    /// Completed jobs are deleted this many days after they finished (0 =
    /// kept forever). Queued and running jobs are never deleted.
    pub retention_days: u64,
    /// Bytes one user's stored jobs (requests and results, as stored) may
    /// take; beyond it new submissions are refused with 429 until old jobs
    /// are purged (0 = unlimited).
    pub max_user_stored_bytes: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            backend: "sqlite".into(),
            sqlite_path: PathBuf::from(".rce/rce.db"),
            mongodb_url: None,
            mongodb_database: "rce".into(),
            retention_days: 30,
            max_user_stored_bytes: 256 * 1024 * 1024,
        }
    }
}

impl StoreSettings {
    /// How long completed jobs are kept, when they are not kept forever.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (self.retention_days > 0)
            .then(|| std::time::Duration::from_secs(self.retention_days.saturating_mul(86_400)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening the store: {0}")]
    Open(String),
    #[error("store query failed: {0}")]
    Query(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A unique value (a username, a key hash) is already taken.
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("unknown store backend {0:?} (expected \"sqlite\" or \"mongodb\")")]
    UnknownBackend(String),
    #[error("store.backend = \"mongodb\" needs store.mongodb_url or RCE_MONGODB_URL")]
    MissingMongoUrl,
}

/// An account. `username_key` (the lowercased name) is what is unique, so
/// `Alice` and `alice` cannot both register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    /// Argon2id PHC string (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    /// Login tokens carry the version current when they were issued; a
    /// logout-all raises it, refusing every older token. New users start
    /// at 0, and so do accounts stored before the field existed.
    pub token_version: u64,
}

impl User {
    /// The case-folded name uniqueness and look-ups use.
    pub fn username_key(username: &str) -> String {
        username.to_lowercase()
    }
}

/// A long-lived API key. Only the SHA-256 of the secret is stored; the
/// secret itself is shown once, when the key is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    /// The owner's label for it.
    pub name: String,
    /// The first characters of the secret (`rce_ab12…`), to recognise it in a list.
    pub prefix: String,
    /// Hex SHA-256 of the whole secret.
    pub hash: String,
    pub created_at: OffsetDateTime,
}

/// A job with everything the store knows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJob {
    pub job: Job,
    pub status: JobStatus,
    pub finished_at: Option<OffsetDateTime>,
    pub result: Option<JobResult>,
}

impl StoredJob {
    /// Decodes a job as both backends keep it: the job as JSON text, the
    /// status by name, the result as JSON text and the finish time as RFC
    /// 3339. Anything else is [`StoreError::Corrupt`].
    pub(crate) fn from_columns(
        job: &str,
        status: &str,
        result: Option<String>,
        finished_at: Option<String>,
    ) -> Result<StoredJob, StoreError> {
        let job: Job =
            serde_json::from_str(job).map_err(|e| StoreError::Corrupt(format!("job: {e}")))?;
        let status = JobStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?;
        let result = result
            .map(|text| serde_json::from_str::<JobResult>(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("result: {e}")))?;
        let finished_at = finished_at
            .map(|text| {
                OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            })
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("finished_at: {e}")))?;
        Ok(StoredJob {
            job,
            status,
            finished_at,
            result,
        })
    }

    /// The job as the API shows it.
    pub fn submission(&self) -> Submission {
        Submission {
            id: self.job.id,
            status: self.status,
            language: self.job.language.clone(),
            created_at: self.job.created_at,
            finished_at: self.finished_at,
            result: self.result.clone(),
            files: self
                .job
                .files
                .iter()
                .map(|f| FileInput {
                    name: f.name.clone(),
                    content: f.content.clone(),
                })
                .collect(),
        }
    }
}

/// Persistence of users, API keys and jobs. Every job method is idempotent
/// where the pipeline may repeat it (a redelivered job): the first stored
/// result wins.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new user; `Conflict` when the username (case-folded) is taken.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// The user with this name (case-insensitive).
    async fn find_user_by_name(&self, username: &str) -> Result<Option<User>, StoreError>;
    async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Raises the user's token version by one, atomically, and returns the
    /// new version; `None` when there is no such user.
    async fn bump_token_version(&self, user_id: &str) -> Result<Option<u64>, StoreError>;
    /// Stores a new API key; `Conflict` when its hash already exists.
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    /// The user's keys, oldest first.
    async fn list_api_keys(&self, user_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    /// Deletes the user's key; false when the user has no such key.
    async fn delete_api_key(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;
    /// The key whose secret hashes to `hash`.
    async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StoreError>;
    /// How many of the user's jobs are queued or running.
    async fn count_active_jobs(&self, user_id: &str) -> Result<u64, StoreError>;
    /// Stores a new job as `queued`.
    async fn insert_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Marks a queued job `running`; false when it is already completed.
    async fn mark_running(&self, id: JobId) -> Result<bool, StoreError>;
    /// Stores the result; false when the job was already completed (the
    /// earlier result stays) or is unknown.
    async fn complete_job(&self, id: JobId, result: &JobResult) -> Result<bool, StoreError>;
    async fn get_job(&self, id: JobId) -> Result<Option<StoredJob>, StoreError>;
    /// The user's jobs, newest first, older than `before` when given.
    async fn list_jobs(
        &self,
        user_id: &str,
        before: Option<JobId>,
        limit: usize,
    ) -> Result<Vec<StoredJob>, StoreError>;
    /// Answers when the backend is usable (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Deletes completed jobs that finished before `cutoff`; returns how
    /// many. Queued and running jobs are never deleted.
    async fn purge_finished_before(&self, cutoff: OffsetDateTime) -> Result<u64, StoreError>;
    /// Bytes the user's stored jobs take: each job's stored request plus
    /// its result. Purging their jobs lowers it.
    async fn stored_bytes(&self, user_id: &str) -> Result<u64, StoreError>;
}

/// Opens the configured backend (MongoDB: connects, creates the indexes and
/// checks the schema version).
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    match settings.backend.as_str() {
        "sqlite" => Ok(Arc::new(super::SqliteStore::open(&settings.sqlite_path)?)),
        "mongodb" => {
            let url = settings
                .mongodb_url
                .as_deref()
                .filter(|url| !url.is_empty())
                .ok_or(StoreError::MissingMongoUrl)?;
            Ok(Arc::new(
                super::MongoStore::connect(url, &settings.mongodb_database).await?,
            ))
        }
        other => Err(StoreError::UnknownBackend(other.to_string())),
    }
}
