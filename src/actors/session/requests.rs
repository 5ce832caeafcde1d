//! The client's frames to an authenticated session: `submit` (through the
//! intake), `watch` (the job's state and recorded output, then its live
//! events), `stdin` and `kill` (to the control forwarder); malformed frames
//! get an `error` reply naming the field.

use super::actor::SessionActor;
use super::control::ControlRequest;
use crate::actors::intake::IntakeError;
use crate::actors::store::GetJob;
use crate::control::MAX_STDIN_CHUNK_BYTES;
use crate::events::ServerEvent;
use crate::job::{JobId, JobStatus, SubmissionRequest};
use crate::stdin::StdinChunk;
use crate::strict_json;
use crate::ws::stdin::{stdin_data, StdinDataError};
use actix::prelude::*;
use actix_ws::CloseCode;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A client frame, its `type` (and `ref`) taken out once read.
type Frame = serde_json::Map<String, serde_json::Value>;

impl SessionActor {
    /// One text frame: `auth` before authentication, a request after.
    pub(super) fn handle_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let Some(mut frame) = self.parse_frame(text, ctx) else {
            return;
        };
        let kind = match frame.remove("type") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => String::new(),
        };
        if self.user_id.is_none() {
            return self.authenticate(
                &kind,
                frame.get("token").and_then(|token| token.as_str()),
                ctx,
            );
        }
        let reference = match frame.remove("ref") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(reference)) => Some(reference),
            Some(_) => {
                return self
                    .outbox
                    .error(None, None, "frame.ref", "ref must be a string")
            }
        };
        let id = match frame
            .get("id")
            .and_then(|id| id.as_str())
            .map(str::parse::<JobId>)
        {
            Some(Ok(id)) => Some(id),
            _ => None,
        };
        self.dispatch(&kind, id, reference, frame, ctx);
    }

    /// A text frame as a JSON object; anything else is answered (or, before
    /// authentication, closes the socket) and gives `None`.
    fn parse_frame(&mut self, text: &str, ctx: &mut Context<Self>) -> Option<Frame> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(frame)) => Some(frame),
            _ if self.user_id.is_none() => {
                self.close(ctx, CloseCode::Policy, "authenticate first");
                None
            }
            Ok(_) => {
                self.outbox
                    .error(None, None, "frame", "a frame must be a JSON object");
                None
            }
            Err(error) => {
                self.outbox
                    .error(None, None, "frame.json", format!("invalid JSON: {error}"));
                None
            }
        }
    }

    /// An authenticated client's request, by its `type`.
    fn dispatch(
        &mut self,
        kind: &str,
        id: Option<JobId>,
        reference: Option<String>,
        frame: Frame,
        ctx: &mut Context<Self>,
    ) {
        match (kind, id) {
            ("submit", _) => {
                match strict_json::from_value::<SubmissionRequest>(serde_json::Value::Object(frame))
                {
                    Ok(request) => self.submit(request, reference, ctx),
                    Err(error) => self
                        .outbox
                        .error(None, reference, &error.field, error.message),
                }
            }
            ("watch", Some(id)) => self.watch(id, reference, ctx),
            ("stdin", Some(id)) => match stdin_chunks(&frame) {
                Ok(chunks) => self.forward(
                    ControlRequest::Stdin {
                        id,
                        chunks,
                        reference,
                    },
                    ctx,
                ),
                Err((code, message)) => self.outbox.error(Some(id), reference, code, message),
            },
            ("kill", Some(id)) => self.forward(ControlRequest::Kill { id, reference }, ctx),
            ("watch" | "stdin" | "kill", None) => {
                self.outbox
                    .error(None, reference, "frame.id", "id must be a job id")
            }
            ("auth", _) => self
                .outbox
                .error(None, reference, "auth", "already authenticated"),
            ("", _) => self
                .outbox
                .error(None, reference, "frame.type", "type is missing"),
            (other, _) => self.outbox.error(
                None,
                reference,
                "frame.type",
                format!("unknown frame type {other:?}"),
            ),
        }
    }

    /// Queues a stdin/kill request; waits for room rather than losing it.
    pub(super) fn forward(&mut self, request: ControlRequest, ctx: &mut Context<Self>) {
        let Some(requests) = self.control_requests.clone() else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(request)) = requests.try_send(request) {
            // ctx.wait: a client sending faster than Redis takes it is
            // slowed down (its frames wait in the socket) instead of losing
            // input; events wait in the mailbox meanwhile.
            ctx.wait(
                async move {
                    let _ = requests.send(request).await;
                }
                .into_actor(self),
            );
        }
    }

    pub(super) fn submit(
        &mut self,
        request: SubmissionRequest,
        reference: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let Some(user_id) = self.user_id.clone() else {
            return;
        };
        let intake = self.services.intake.clone();
        let accept = async move {
            let job = intake.accept(request, &user_id).await?;
            Ok::<_, IntakeError>((job, intake))
        };
        ctx.spawn(accept.into_actor(self).then(move |accepted, session, _| {
            let enqueue = match accepted {
                Ok((job, intake)) => {
                    // Queued goes out before the job is on the stream, so it
                    // always precedes the worker's started/finished.
                    session.outbox.event(&ServerEvent::Queued {
                        id: job.id,
                        reference: reference.clone(),
                    });
                    Some((job, intake))
                }
                Err(error) => {
                    let (code, message) = intake_error_code(&error);
                    session
                        .outbox
                        .error(None, reference.clone(), &code, message);
                    None
                }
            };
            async move {
                match enqueue {
                    Some((job, intake)) => intake.enqueue(&job).await.err().map(|e| (job.id, e)),
                    None => None,
                }
            }
            .into_actor(session)
            .map(move |failed, session, _| {
                if let Some((id, error)) = failed {
                    let (code, message) = intake_error_code(&error);
                    session.outbox.error(Some(id), reference, &code, message);
                }
            })
        }));
    }

    /// The job's state now; its later events arrive like every event of the user.
    pub(super) fn watch(&mut self, id: JobId, reference: Option<String>, ctx: &mut Context<Self>) {
        let Some(user_id) = self.user_id.clone() else {
            return;
        };
        let (store, control) = (
            self.services.intake.store.clone(),
            self.services.control.clone(),
        );
        let lookup = async move {
            match store.send(GetJob { id }).await {
                Ok(Ok(Some(stored))) if stored.job.user_id == user_id => {
                    let recorded = match stored.status {
                        JobStatus::Completed => Vec::new(),
                        // Empty when the job has not started.
                        _ => control.recorded_output(id).await.unwrap_or_else(|error| {
                            tracing::warn!(job_id = %id, %error, "reading recorded output failed");
                            Vec::new()
                        }),
                    };
                    Ok((stored, recorded))
                }
                Ok(Ok(_)) => Err("not_found"),
                _ => Err("unavailable"),
            }
        };
        // ctx.wait: the user's live events wait in the mailbox until the
        // state and the replay are out, so replay and live output join
        // without a gap or reordering (live events already replayed are
        // skipped by their seq).
        ctx.wait(
            lookup
                .into_actor(self)
                .map(move |found, session, ctx| match found {
                    Ok((stored, recorded)) => match (stored.status, stored.result) {
                        (JobStatus::Completed, Some(result)) => {
                            let text = Arc::from(ServerEvent::Finished { id, result }.to_json());
                            session.deliver_final(text, Some(id), ctx);
                        }
                        (JobStatus::Queued, _) if recorded.is_empty() => {
                            session.outbox.event(&ServerEvent::Queued { id, reference });
                        }
                        _ => {
                            session.outbox.event(&ServerEvent::Started { id });
                            session.replay(id, recorded);
                        }
                    },
                    Err("not_found") => {
                        session
                            .outbox
                            .error(Some(id), reference, "not_found", "no such submission")
                    }
                    Err(_) => session.outbox.error(
                        Some(id),
                        reference,
                        "unavailable",
                        "the store is unavailable",
                    ),
                }),
        );
    }
}

/// The chunks of a `stdin` frame: `data` (a string) and/or `eof: true`.
fn stdin_chunks(frame: &Frame) -> Result<Vec<StdinChunk>, (&'static str, String)> {
    let mut chunks = Vec::with_capacity(2);
    match stdin_data(frame) {
        Ok(None) => {}
        Ok(Some(data)) => chunks.push(StdinChunk::Data(data.as_bytes().to_vec())),
        Err(StdinDataError::TooLarge) => {
            return Err((
                "stdin.data",
                format!(
                    "at most {MAX_STDIN_CHUNK_BYTES} bytes per stdin frame; split larger input"
                ),
            ));
        }
        Err(StdinDataError::NotAString) => {
            return Err(("stdin.data", "data must be a string".into()))
        }
    }
    match frame.get("eof") {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => chunks.push(StdinChunk::End),
        Some(_) => return Err(("stdin.eof", "eof must be a boolean".into())),
    }
    if chunks.is_empty() {
        return Err((
            "stdin.data",
            "a stdin frame needs data or \"eof\": true".into(),
        ));
    }
    Ok(chunks)
}

/// The stable code and message of an intake failure.
pub fn intake_error_code(error: &IntakeError) -> (String, String) {
    match error {
        IntakeError::Rejected(rejection) => (rejection.code.clone(), rejection.message.clone()),
        IntakeError::Store(_) | IntakeError::Queue(_) => ("unavailable".into(), error.to_string()),
        IntakeError::Quota(quota) => (quota.code().into(), error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stdin frame gives data, end of input, or both in that order; bad
    /// shapes and oversized data are refused with a field code.
    #[test]
    fn stdin_frames() {
        let frame = |value: serde_json::Value| value.as_object().cloned().unwrap();
        assert_eq!(
            stdin_chunks(&frame(json!({"data": "ada\n"}))),
            Ok(vec![StdinChunk::Data(b"ada\n".to_vec())])
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"eof": true}))),
            Ok(vec![StdinChunk::End])
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"data": "x", "eof": true}))),
            Ok(vec![StdinChunk::Data(b"x".to_vec()), StdinChunk::End])
        );
        assert_eq!(stdin_chunks(&frame(json!({}))).unwrap_err().0, "stdin.data");
        assert_eq!(
            stdin_chunks(&frame(json!({"data": 1}))).unwrap_err().0,
            "stdin.data"
        );
        assert_eq!(
            stdin_chunks(&frame(json!({"eof": "yes"}))).unwrap_err().0,
            "stdin.eof"
        );
        let big = "x".repeat(MAX_STDIN_CHUNK_BYTES + 1);
        assert_eq!(
            stdin_chunks(&frame(json!({"data": big}))).unwrap_err().0,
            "stdin.data"
        );
    }
}
