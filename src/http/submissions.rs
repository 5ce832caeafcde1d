//! `/api/v1/submissions`: create (202, or the finished submission with
//! `?wait=true`), fetch one (only the caller's own; anything else is 404) and
//! list the caller's own, newest first, with a cursor.

use super::caller::Caller;
use super::errors::ApiError;
use super::server::ApiState;
use crate::actors::store::{GetJob, ListJobs};
use crate::job::{JobId, JobStatus, Submission, SubmissionRequest};
use crate::store::StoredJob;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How often `?wait=true` looks at the store.
const WAIT_POLL: Duration = Duration::from_millis(50);
/// Most submissions one list page holds.
const MAX_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    #[serde(default)]
    wait: bool,
}

pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<CreateQuery>,
    body: web::Json<SubmissionRequest>,
) -> Result<HttpResponse, ApiError> {
    let job = state
        .intake
        .submit(body.into_inner(), &caller.user_id)
        .await?;
    if query.wait {
        let deadline = tokio::time::Instant::now() + Duration::from_millis(state.http.max_wait_ms);
        while tokio::time::Instant::now() < deadline {
            let stored = load(&state, job.id).await?;
            if let Some(stored) = stored.filter(|s| s.status == JobStatus::Completed) {
                return Ok(HttpResponse::Ok().json(stored.submission()));
            }
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
    Ok(HttpResponse::Accepted().json(json!({"id": job.id, "status": "queued"})))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Page size (1 to 100, default 20).
    limit: Option<usize>,
    /// Cursor: the `next` of the previous page.
    before: Option<String>,
}

pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "query.limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let before = match &query.before {
        None => None,
        Some(cursor) => Some(cursor.parse::<JobId>().map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "query.before",
                "before must be a cursor from `next`",
            )
        })?),
    };
    let page = state
        .intake
        .store
        .send(ListJobs {
            user_id: caller.user_id,
            before,
            limit,
        })
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|s| s.job.id))
        .flatten();
    let submissions: Vec<Submission> = page.iter().map(StoredJob::submission).collect();
    Ok(HttpResponse::Ok().json(json!({"submissions": submissions, "next": next})))
}
