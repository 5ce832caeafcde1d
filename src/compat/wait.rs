//! Waiting for a job to finish, for Judge0's `?wait=true` and Piston's
//! synchronous `/execute`: the store is polled (the same way
//! `POST /api/v1/submissions?wait=true` does) until the job is completed or
//! the caller's bound (`http.max_wait_ms`) passes. Polling the store rather
//! than listening for events works in every role split and cannot miss a
//! `finished` that happened before the wait began.

use crate::actors::store::{GetJob, StoreActor};
use crate::job::{JobId, JobStatus};
use crate::store::StoredJob;
use actix::Addr;
use std::time::Duration;

/// How often the store is asked.
const POLL: Duration = Duration::from_millis(40);

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("the store is unavailable: {0}")]
    Store(String),
    #[error("the job vanished from the store")]
    Missing,
}

/// The stored job, read once.
pub async fn load(store: &Addr<StoreActor>, id: JobId) -> Result<Option<StoredJob>, WaitError> {
    store
        .send(GetJob { id })
        .await
        .map_err(|e| WaitError::Store(e.to_string()))?
        .map_err(|e| WaitError::Store(e.to_string()))
}

/// The job once completed, or as it stands when `max` has passed.
pub async fn until_completed(
    store: &Addr<StoreActor>,
    id: JobId,
    max: Duration,
) -> Result<StoredJob, WaitError> {
    let deadline = tokio::time::Instant::now() + max;
    loop {
        let stored = load(store, id).await?.ok_or(WaitError::Missing)?;
        if stored.status == JobStatus::Completed || tokio::time::Instant::now() + POLL > deadline {
            return Ok(stored);
        }
        tokio::time::sleep(POLL).await;
    }
}
