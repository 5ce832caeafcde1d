//! The one mapping from failures to HTTP responses: every error is a 4xx or
//! 503 with `{"error":{"code","message"}}` and a stable dotted code, never a
//! bare 500 page. Extractor failures (bad JSON, wrong content type, oversized
//! bodies, bad paths and queries) are routed here too.

use crate::intake::IntakeError;
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde_json::json;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({"error": {"code": self.code, "message": self.message}}))
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> ApiError {
        match error {
            IntakeError::Rejected(rejection) => {
                ApiError::new(StatusCode::BAD_REQUEST, rejection.code, rejection.message)
            }
            other => ApiError::unavailable(other.to_string()),
        }
    }
}

/// Maps a JSON body extractor failure.
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body.too_large",
                error.to_string(),
            )
        }
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "body.content_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(inner) => {
            ApiError::new(StatusCode::BAD_REQUEST, "body.json", inner.to_string())
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "body", error.to_string()),
    };
    api.into()
}

/// Maps a query string extractor failure.
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(StatusCode::BAD_REQUEST, "query", error.to_string()).into()
}

/// Maps a path extractor failure (an id that cannot exist is a 404).
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("resource").into()
}
