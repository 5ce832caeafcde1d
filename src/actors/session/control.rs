//! The per-session forwarder of `stdin` and `kill`: [`ControlRequest`]s go,
//! in order, through a bounded queue to [`forward_control`], which checks
//! the job is the user's (via the store, cached) and hands them to
//! [`ControlClient`] (Redis; the worker running the job applies them).
//! Failures come back to the client as `error` frames through the outbox.

use crate::actors::store::{GetJob, StoreActor};
use crate::control::{ControlClient, ControlError};
use crate::job::{JobId, JobStatus};
use crate::stdin::StdinChunk;
use crate::ws::Outbox;
use actix::prelude::*;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// `stdin`/`kill` frames waiting for the forwarder; when full the session
/// stops reading the socket until there is room (back-pressure, not loss).
pub(super) const CONTROL_QUEUE: usize = 64;
/// Jobs whose ownership the forwarder remembers.
const OWNED_CACHE: usize = 256;

/// A `stdin` or `kill` frame on its way to the forwarder.
pub(super) enum ControlRequest {
    Stdin {
        id: JobId,
        chunks: Vec<StdinChunk>,
        reference: Option<String>,
    },
    Kill {
        id: JobId,
        reference: Option<String>,
    },
    /// The job has finished: forget that it was running.
    Forget { id: JobId },
}

/// Checks ownership and carries `stdin`/`kill` to Redis, in order; a
/// request that cannot be carried gets an `error` reply.
pub(super) async fn forward_control(
    mut requests: mpsc::Receiver<ControlRequest>,
    user_id: String,
    store: Addr<StoreActor>,
    control: ControlClient,
    outbox: Outbox,
) {
    // Jobs of this user seen running or queued: id → interactive.
    let mut known: HashMap<JobId, bool> = HashMap::new();
    while let Some(request) = requests.recv().await {
        let (id, reference) = match &request {
            ControlRequest::Forget { id } => {
                known.remove(id);
                continue;
            }
            ControlRequest::Stdin { id, reference, .. }
            | ControlRequest::Kill { id, reference } => (*id, reference.clone()),
        };
        let interactive = match known.get(&id) {
            Some(interactive) => *interactive,
            None => match owned_job(&store, &user_id, id).await {
                Ok(interactive) => {
                    if known.len() >= OWNED_CACHE {
                        known.clear();
                    }
                    known.insert(id, interactive);
                    interactive
                }
                Err(Refusal(code, message)) => {
                    outbox.error(Some(id), reference, code, message);
                    continue;
                }
            },
        };
        if let Err(Refusal(code, message)) = send_request(&control, request, id, interactive).await
        {
            outbox.error(Some(id), reference, code, message);
        }
    }
}

/// Why a request was not carried: the code and message of its `error` reply.
struct Refusal(&'static str, String);

/// Whether job `id` is one of the user's unfinished jobs, and if so whether
/// it is interactive.
async fn owned_job(store: &Addr<StoreActor>, user_id: &str, id: JobId) -> Result<bool, Refusal> {
    match store.send(GetJob { id }).await {
        Ok(Ok(Some(stored))) if stored.job.user_id == user_id => {
            if stored.status == JobStatus::Completed {
                return Err(Refusal(
                    "job.finished",
                    "the job has already finished".into(),
                ));
            }
            Ok(stored.job.interactive)
        }
        Ok(Ok(_)) => Err(Refusal("not_found", "no such submission".into())),
        _ => Err(Refusal("unavailable", "the store is unavailable".into())),
    }
}

/// Hands one request for the user's job `id` to Redis.
async fn send_request(
    control: &ControlClient,
    request: ControlRequest,
    id: JobId,
    interactive: bool,
) -> Result<(), Refusal> {
    let sent = match request {
        ControlRequest::Stdin { chunks, .. } => {
            if !interactive {
                return Err(Refusal(
                    "stdin.not_interactive",
                    "the job was not submitted with \"interactive\": true".into(),
                ));
            }
            let mut sent = Ok(());
            for chunk in &chunks {
                sent = control.push_stdin(id, chunk).await;
                if sent.is_err() {
                    break;
                }
            }
            sent
        }
        ControlRequest::Kill { .. } => control.request_kill(id).await,
        ControlRequest::Forget { .. } => Ok(()),
    };
    match sent {
        Ok(()) => Ok(()),
        Err(ControlError::BufferFull) => Err(Refusal(
            "stdin.buffer_full",
            ControlError::BufferFull.to_string(),
        )),
        Err(error) => {
            tracing::warn!(job_id = %id, %error, "job control request failed");
            Err(Refusal("unavailable", "job control is unavailable".into()))
        }
    }
}
