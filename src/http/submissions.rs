//! `/api/v1/submissions`: create (202, or the finished submission with
//! `?wait=true`), fetch one (only the caller's own; anything else is 404) and
//! list the caller's own, newest first, with a cursor. Every route needs a
//! [`Caller`]; creating also passes the caller's quota (in `Intake`).

use super::caller::Caller;
use super::errors::{ApiError, ErrorBody};
use crate::actors::store::{GetJob, ListJobs};
use crate::api_state::ApiState;
use crate::job::{JobId, JobStatus, Submission, SubmissionRequest};
use crate::store::StoredJob;
use crate::strict_json;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// How often `?wait=true` looks at the store.
const WAIT_POLL: Duration = Duration::from_millis(50);
/// Most submissions one list page holds.
const MAX_PAGE: usize = 100;
/// Page size when the client names none.
const DEFAULT_PAGE: usize = 20;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    /// Hold the request until the job finishes (at most `http.max_wait_ms`).
    #[serde(default)]
    wait: bool,
}

/// A submission accepted for running.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub id: JobId,
    /// `queued`, or `running`/`completed` if it got that far.
    pub status: JobStatus,
}

/// One page of the caller's submissions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionPage {
    pub submissions: Vec<Submission>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next: Option<JobId>,
}

/// Submit a program.
#[utoipa::path(
    post, path = "/api/v1/submissions", tag = "submissions", request_body = SubmissionRequest,
    params(CreateQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "With ?wait=true: the finished submission", body = Submission),
        (status = 202, description = "Accepted and queued (or still running after the wait)", body = Queued),
        (status = 400, description = "Invalid submission (the code names the field)", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 429, description = "Over the rate limit or the active-job cap; see Retry-After", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<CreateQuery>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let request: SubmissionRequest = strict_json::from_value(body.into_inner())
        .map_err(|error| ApiError::bad_request(error.field, error.message))?;
    let job = state.intake.submit(request, &caller.user_id).await?;
    let mut status = JobStatus::Queued;
    if query.wait {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(state.http.max_wait_ms);
        loop {
            if let Some(stored) = load(&state, job.id).await? {
                if stored.status == JobStatus::Completed {
                    return Ok(HttpResponse::Ok().json(stored.submission()));
                }
                status = stored.status;
            }
            if tokio::time::Instant::now() + WAIT_POLL > deadline {
                break;
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
    Ok(HttpResponse::Accepted().json(Queued { id: job.id, status }))
}

async fn load(state: &ApiState, id: JobId) -> Result<Option<StoredJob>, ApiError> {
    state
        .intake
        .store
        .send(GetJob { id })
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .map_err(|e| ApiError::unavailable(e.to_string()))
}

/// One of the caller's submissions.
#[utoipa::path(
    get, path = "/api/v1/submissions/{id}", tag = "submissions", security(("bearer" = [])),
    params(("id" = String, Path, description = "The submission's id")),
    responses(
        (status = 200, description = "The submission", body = Submission),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 404, description = "No such submission of yours", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Submission>, ApiError> {
    let id: JobId = id.parse().map_err(|_| ApiError::not_found("submission"))?;
    match load(&state, id).await? {
        Some(stored) if stored.job.user_id == caller.user_id => Ok(web::Json(stored.submission())),
        _ => Err(ApiError::not_found("submission")),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size (1 to 100, default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// Cursor: the `next` of the previous page.
    before: Option<String>,
}

/// The caller's submissions, newest first.
#[utoipa::path(
    get, path = "/api/v1/submissions", tag = "submissions", params(ListQuery), security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of submissions", body = SubmissionPage),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 503, description = "A dependency is down", body = ErrorBody),
    )
)]
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<web::Json<SubmissionPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(
            "query.limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let before = match &query.before {
        None => None,
        Some(cursor) => Some(cursor.parse::<JobId>().map_err(|_| {
            ApiError::bad_request("query.before", "before must be a cursor from `next`")
        })?),
    };
    // One more than asked tells whether an older page exists, so the last
    // page has no `next` (no client ever fetches an empty page).
    let mut page = state
        .intake
        .store
        .send(ListJobs {
            user_id: caller.user_id,
            before,
            limit: limit + 1,
        })
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let more = page.len() > limit;
    page.truncate(limit);
    let next = if more {
        page.last().map(|s| s.job.id)
    } else {
        None
    };
    Ok(web::Json(SubmissionPage {
        submissions: page.iter().map(StoredJob::submission).collect(),
        next,
    }))
}
