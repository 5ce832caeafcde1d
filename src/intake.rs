//! Accepting a submission, the one path shared by `POST /api/v1/submissions`
//! and the WebSocket `submit` frame: check the user's quota (rate and active
//! jobs), validate it, store it as queued, then
//! append it to the job stream. A job is stored before it is queued, so a
//! worker never runs a job the store does not know; if queueing fails the job
//! is completed as internal_error at once rather than left queued forever.

use crate::actors::store::{CompleteJob, InsertJob, StoreActor};
use crate::job::{Job, JobResult, Rejection, SubmissionBounds, SubmissionRequest};
use crate::languages::Languages;
use crate::queue::JobQueue;
use crate::quota::{Quota, QuotaError};
use actix::Addr;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("the store is unavailable: {0}")]
    Store(String),
    #[error("the job queue is unavailable: {0}")]
    Queue(String),
    /// Over the user's rate or active-job cap.
    #[error("{0}")]
    Quota(#[from] QuotaError),
}

/// Everything needed to accept submissions; cheap to clone per request.
#[derive(Clone)]
pub struct Intake {
    pub store: Addr<StoreActor>,
    pub queue: JobQueue,
    pub languages: Languages,
    pub bounds: SubmissionBounds,
    pub quota: Quota,
    /// `store.max_user_stored_bytes` (0 = unlimited).
    pub max_user_stored_bytes: u64,
}

impl Intake {
    /// Validates, stores and queues `request` for `user_id`.
    pub async fn submit(
        &self,
        request: SubmissionRequest,
        user_id: &str,
    ) -> Result<Job, IntakeError> {
        let job = self.accept(request, user_id).await?;
        self.enqueue(&job).await?;
        Ok(job)
    }

    /// Checks the user's quota, validates `request` and stores it as queued
    /// (not yet on the stream).
    pub async fn accept(
        &self,
        request: SubmissionRequest,
        user_id: &str,
    ) -> Result<Job, IntakeError> {
        self.quota.check_submission(user_id).await?;
        crate::store::check_stored_bytes(&self.store, user_id, self.max_user_stored_bytes).await?;
        let job = Job::from_request(request, user_id, &self.languages, &self.bounds)
            .map_err(IntakeError::Rejected)?;
        self.store
            .send(InsertJob { job: job.clone() })
            .await
            .map_err(|e| IntakeError::Store(e.to_string()))?
            .map_err(|e| IntakeError::Store(e.to_string()))?;
        Ok(job)
    }

    /// Appends an accepted job to the stream, in an `enqueue` span whose
    /// trace context travels with the entry (a child of the HTTP request's
    /// span, or the root of a new trace for a WebSocket submit).
    pub async fn enqueue(&self, job: &Job) -> Result<(), IntakeError> {
        let span = tracing::info_span!(
            "enqueue",
            job_id = %job.id,
            trace_id = tracing::field::Empty,
            otel.kind = "producer",
        );
        crate::telemetry::record_trace_id(&span);
        self.enqueue_in(job, crate::telemetry::traceparent(&span))
            .instrument(span)
            .await
    }

    async fn enqueue_in(&self, job: &Job, traceparent: Option<String>) -> Result<(), IntakeError> {
        let user_id = job.user_id.as_str();
        if let Err(error) = self.queue.push(job, traceparent.as_deref()).await {
            tracing::error!(job_id = %job.id, user_id, %error, "queueing a stored job failed");
            let result = JobResult::internal_error("the job could not be queued");
            let _ = self.store.send(CompleteJob { id: job.id, result }).await;
            return Err(IntakeError::Queue(error.to_string()));
        }
        crate::metrics::job_submitted(&job.language);
        tracing::info!(job_id = %job.id, user_id, language = %job.language, "job queued");
        Ok(())
    }
}
