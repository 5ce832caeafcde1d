//! The Judge0 layer's one error type and its wire form: Judge0 answers
//! `{"error": "…"}` with a status, and validation problems as a 422 whose body
//! is the per-field message lists. Rejections from rce's intake (limits over
//! the server's maxima, oversized input) are translated to the Judge0 field
//! they came from.

use super::request::FieldErrors;
use crate::actors::intake::IntakeError;
use crate::auth::AuthError;
use crate::quota::QuotaError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum Judge0Error {
    #[error("authentication failed: {0}")]
    Authenticate(#[from] AuthError),
    #[error("invalid submission")]
    Validate(FieldErrors),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("queue is full")]
    QueueFull,
    #[error("{0}")]
    Quota(QuotaError),
    #[error("{0}")]
    Unavailable(String),
}

/// The Judge0 field an rce rejection code names.
fn field_of(code: &str) -> &str {
    match code {
        "limits.time_ms" => "cpu_time_limit",
        "limits.wall_ms" => "wall_time_limit",
        "limits.memory_mb" => "memory_limit",
        "limits.pids" => "max_processes_and_or_threads",
        "limits.output_kb" => "max_file_size",
        "source" | "files" | "files.name" => "source_code",
        "args" => "command_line_arguments",
        "compile_args" => "compiler_options",
        "language" => "language_id",
        "tests" => "expected_output",
        other => other,
    }
}

impl From<IntakeError> for Judge0Error {
    fn from(error: IntakeError) -> Judge0Error {
        match error {
            IntakeError::Rejected(rejection) => {
                let mut errors = FieldErrors::new();
                errors.insert(
                    field_of(&rejection.code).to_string(),
                    vec![rejection.message],
                );
                Judge0Error::Validate(errors)
            }
            IntakeError::Quota(QuotaError::Unavailable(message)) => {
                Judge0Error::Unavailable(message)
            }
            IntakeError::Quota(quota) => Judge0Error::Quota(quota),
            IntakeError::Store(message) | IntakeError::Queue(message) => {
                Judge0Error::Unavailable(message)
            }
        }
    }
}

impl ResponseError for Judge0Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Judge0Error::Authenticate(AuthError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Judge0Error::Authenticate(_) => StatusCode::UNAUTHORIZED,
            Judge0Error::Validate(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Judge0Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Judge0Error::NotFound(_) => StatusCode::NOT_FOUND,
            Judge0Error::QueueFull | Judge0Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Judge0Error::Quota(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Judge0Error::Validate(errors) => response.json(errors),
            Judge0Error::Quota(quota) => {
                if let Some(seconds) = quota.retry_after_secs() {
                    response.insert_header((header::RETRY_AFTER, seconds.to_string()));
                }
                response.json(json!({"error": self.to_string()}))
            }
            _ => response.json(json!({"error": self.to_string()})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Rejection;

    /// An intake rejection becomes a 422 naming the Judge0 field.
    #[test]
    fn rejections_name_judge0_fields() {
        let error: Judge0Error = IntakeError::Rejected(Rejection::new(
            "limits.memory_mb",
            "over the maximum of 2048",
        ))
        .into();
        assert_eq!(error.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let Judge0Error::Validate(errors) = error else {
            panic!("not a validation error")
        };
        assert_eq!(errors["memory_limit"], ["over the maximum of 2048"]);
        assert_eq!(
            Judge0Error::QueueFull.status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
