//! The persistence contract: the [`Store`] trait every backend implements
//! (users and jobs), its settings, its error type, and [`open`], which picks
//! the backend the configuration names. StoreActor is the only caller.

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
    /// `sqlite` (embedded, the default).
    pub backend: String,
    /// The SQLite database file; its directory is created if missing.
    pub sqlite_path: PathBuf,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            backend: "sqlite".into(),
            sqlite_path: PathBuf::from(".rce/rce.db"),
        }
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
    #[error("unknown store backend {0:?} (expected \"sqlite\")")]
    UnknownBackend(String),
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

/// Persistence of jobs. Every method is idempotent where the pipeline may
/// repeat it (a redelivered job): the first stored result wins.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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
}

/// Opens the configured backend.
pub fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    match settings.backend.as_str() {
        "sqlite" => Ok(Arc::new(super::SqliteStore::open(&settings.sqlite_path)?)),
        other => Err(StoreError::UnknownBackend(other.to_string())),
    }
}
