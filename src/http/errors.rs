//! The one mapping from failures to HTTP responses: every error is a 4xx or
//! 503 with `{"error":{"code","message"}}` and a stable dotted code, never a
//! bare 500 page. Extractor failures (bad JSON, wrong content type, oversized
//! bodies, bad paths and queries), authentication and quota refusals are
//! routed here too; a 401 carries `WWW-Authenticate: Bearer` and a 429
//! carries `Retry-After`.

use crate::actors::intake::IntakeError;
use crate::auth::{AuthError, ThrottleError};
use crate::quota::QuotaError;
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after_secs: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable dotted code (`limits.memory_mb`,
/// `auth.invalid_token`, …) and a human-readable message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
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
            retry_after_secs: None,
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

    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
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
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.clone(),
                message: self.message.clone(),
            },
        })
    }
}

impl From<IntakeError> for ApiError {
    fn from(error: IntakeError) -> ApiError {
        match error {
            IntakeError::Rejected(rejection) => {
                ApiError::bad_request(rejection.code, rejection.message)
            }
            IntakeError::Quota(quota) => quota.into(),
            other => ApiError::unavailable(other.to_string()),
        }
    }
}

/// A quota or throttle refusal: 429 with `Retry-After` when it says how
/// long to wait, else 503 (the check itself could not be made).
fn refusal(code: &str, message: String, retry_after_secs: Option<u64>) -> ApiError {
    match retry_after_secs {
        Some(seconds) => ApiError {
            retry_after_secs: Some(seconds),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        },
        None => ApiError::unavailable(message),
    }
}

impl From<QuotaError> for ApiError {
    fn from(error: QuotaError) -> ApiError {
        refusal(error.code(), error.to_string(), error.retry_after_secs())
    }
}

impl From<ThrottleError> for ApiError {
    fn from(error: ThrottleError) -> ApiError {
        refusal(error.code(), error.to_string(), error.retry_after_secs())
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        let (status, code) = match &error {
            AuthError::MissingCredentials => (StatusCode::UNAUTHORIZED, "auth.required"),
            AuthError::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "auth.invalid_token"),
            AuthError::ExpiredToken => (StatusCode::UNAUTHORIZED, "auth.expired_token"),
            AuthError::RevokedToken => (StatusCode::UNAUTHORIZED, "auth.revoked_token"),
            AuthError::UnknownUser => (StatusCode::UNAUTHORIZED, "auth.unknown_user"),
            AuthError::UnknownKey => (StatusCode::UNAUTHORIZED, "auth.invalid_key"),
            AuthError::BadCredentials => (StatusCode::UNAUTHORIZED, "auth.bad_credentials"),
            AuthError::UsernameTaken(_) => (StatusCode::CONFLICT, "username.taken"),
            AuthError::InvalidUsername(_) => (StatusCode::BAD_REQUEST, "username"),
            AuthError::InvalidPassword(_) => (StatusCode::BAD_REQUEST, "password"),
            AuthError::InvalidKeyName(_) => (StatusCode::BAD_REQUEST, "name"),
            AuthError::TooManyKeys(_) => (StatusCode::CONFLICT, "keys.too_many"),
            AuthError::NoSuchKey => (StatusCode::NOT_FOUND, "not_found"),
            AuthError::WeakSecret(_)
            | AuthError::Hash(_)
            | AuthError::Sign(_)
            | AuthError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        ApiError::new(status, code, error.to_string())
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
            ApiError::bad_request("body.json", inner.to_string())
        }
        _ => ApiError::bad_request("body", error.to_string()),
    };
    api.into()
}

/// Maps a query string extractor failure.
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::bad_request("query", error.to_string()).into()
}

/// Maps a path extractor failure (an id that cannot exist is a 404).
#[allow(clippy::needless_pass_by_value)] // actix's error-handler signature
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::not_found("resource").into()
}

/// A known route asked with a method it does not have.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    ))
}

/// No route matches.
pub async fn no_route() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("route"))
}
