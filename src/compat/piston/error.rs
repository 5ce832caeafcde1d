//! The Piston layer's one error type. Piston answers every problem as
//! `{"message": "…"}` (400 for a bad request, 404 for an unknown route);
//! rce adds 401 for missing credentials, 429 for the quota and 503/504 for
//! its own dependencies.

use crate::actors::intake::IntakeError;
use crate::auth::AuthError;
use crate::quota::QuotaError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum PistonError {
    #[error("{0}")]
    Authenticate(#[from] AuthError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} is not a Piston route")]
    NotFound(String),
    #[error("{0}")]
    Quota(QuotaError),
    #[error("{0}")]
    Unavailable(String),
    #[error("the job did not finish within {0} ms")]
    Timeout(u64),
}

impl From<IntakeError> for PistonError {
    fn from(error: IntakeError) -> PistonError {
        match error {
            IntakeError::Rejected(rejection) => PistonError::BadRequest(rejection.message),
            IntakeError::Quota(QuotaError::Unavailable(message)) => {
                PistonError::Unavailable(message)
            }
            IntakeError::Quota(quota) => PistonError::Quota(quota),
            IntakeError::Store(message) | IntakeError::Queue(message) => {
                PistonError::Unavailable(message)
            }
        }
    }
}

impl ResponseError for PistonError {
    fn status_code(&self) -> StatusCode {
        match self {
            PistonError::Authenticate(AuthError::Store(_)) => StatusCode::SERVICE_UNAVAILABLE,
            PistonError::Authenticate(_) => StatusCode::UNAUTHORIZED,
            PistonError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PistonError::NotFound(_) => StatusCode::NOT_FOUND,
            PistonError::Quota(_) => StatusCode::TOO_MANY_REQUESTS,
            PistonError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PistonError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let PistonError::Quota(quota) = self {
            if let Some(seconds) = quota.retry_after_secs() {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
        }
        response.json(json!({"message": self.to_string()}))
    }
}
