//! Accepting a submission, the one path shared by `POST /api/v1/submissions`
//! and the WebSocket `submit` frame: check the user's submission rate,
//! validate, reserve one of the user's active-job slots (atomically in
//! Redis), store the job as queued, then hand it to the fair dispatcher
//! ([`FairQueue::hold`]), which puts it on the job stream in its turn. A job
//! is stored before it is queued, so a worker never runs a job the store does
//! not know; if storing fails the reservation is given back, and if queueing
//! fails the job is completed as internal_error at once (and its reservation
//! given back) rather than left queued forever. It lives with the actors
//! (not an actor itself) because it drives StoreActor and SessionActor uses
//! it as the HTTP handlers do: no module cycle through it.

use super::store::{CompleteJob, InsertJob, StoreActor};
use crate::fair::FairQueue;
use crate::job::{Job, JobResult, Rejection, SubmissionBounds, SubmissionRequest};
use crate::languages::Languages;
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
    pub queue: FairQueue,
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

    /// Checks the user's rate, validates `request`, reserves an active-job
    /// slot and stores the job as queued (not yet queued for dispatch).
    pub async fn accept(
        &self,
        request: SubmissionRequest,
        user_id: &str,
    ) -> Result<Job, IntakeError> {
        self.quota.check_submission(user_id).await?;
        crate::store::check_stored_bytes(&self.store, user_id, self.max_user_stored_bytes).await?;
        let job = Job::from_request(request, user_id, &self.languages, &self.bounds)
            .map_err(IntakeError::Rejected)?;
        self.quota.reserve_active(user_id, &job.id).await?;
        let stored = match self.store.send(InsertJob { job: job.clone() }).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = stored {
            self.quota.release_active(user_id, &job.id).await;
            return Err(IntakeError::Store(error));
        }
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
        let promoted = match self.queue.hold(job, traceparent.as_deref()).await {
            Ok(promoted) => promoted,
            Err(error) => {
                tracing::error!(job_id = %job.id, user_id, %error, "queueing a stored job failed");
                let result = JobResult::internal_error("the job could not be queued");
                let _ = self.store.send(CompleteJob { id: job.id, result }).await;
                self.quota.release_active(user_id, &job.id).await;
                return Err(IntakeError::Queue(error.to_string()));
            }
        };
        crate::metrics::job_submitted(&job.language);
        tracing::info!(job_id = %job.id, user_id, language = %job.language, promoted, "job queued");
        Ok(())
    }
}
