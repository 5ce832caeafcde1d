//! Piston v2 routes under `/api/v2`: `GET /runtimes`, `GET /packages`
//! (every runtime, installed), `POST /execute` (synchronous: the job goes
//! through the same [`Intake`](crate::actors::intake::Intake) as API v1 and the
//! answer waits for its result, at most `http.max_wait_ms`) and the
//! `/connect` WebSocket. Listing is public, as in Piston; running needs an
//! rce API key or login token (Bearer, or the password of Basic auth)
//! unless `compat.piston.allow_anonymous` is on.

use super::error::PistonError;
use super::request;
use super::result::execute_answer;
use super::runtimes;
use crate::api_state::ApiState;
use crate::compat::{auth, wait};
use crate::job::JobStatus;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::time::Duration;

/// The user anonymous Piston requests act for, when allowed.
pub const ANONYMOUS_USER: &str = "piston-anonymous";

/// The Piston scope.
pub fn scope(max_body: usize) -> actix_web::Scope {
    web::scope("/api/v2")
        .app_data(web::PayloadConfig::new(max_body))
        .route("/runtimes", web::get().to(list_runtimes))
        .route("/packages", web::get().to(packages))
        .route("/execute", web::post().to(execute))
        .route("/connect", web::get().to(super::ws::connect))
        // Never the editor's page: an unknown path here is Piston's JSON 404.
        .default_service(web::to(no_route))
}

async fn no_route(request: HttpRequest) -> Result<HttpResponse, PistonError> {
    Err(PistonError::NotFound(request.path().to_string()))
}

/// The user a Piston request acts for.
pub async fn caller(state: &ApiState, request: &HttpRequest) -> Result<String, PistonError> {
    let credential = auth::authorization(request.headers()).or_else(|| {
        web::Query::<std::collections::HashMap<String, String>>::from_query(request.query_string())
            .ok()
            .and_then(|q| q.get("token").cloned())
            .filter(|t| !t.is_empty())
    });
    if credential.is_none() && state.compat.piston.allow_anonymous {
        return Ok(ANONYMOUS_USER.to_string());
    }
    Ok(auth::user_of(&state.accounts, credential).await?)
}

async fn list_runtimes(state: web::Data<ApiState>) -> HttpResponse {
    let list: Vec<Value> = runtimes::all(&state.intake.languages)
        .iter()
        .map(runtimes::Runtime::to_json)
        .collect();
    HttpResponse::Ok().json(list)
}

async fn packages(state: web::Data<ApiState>) -> HttpResponse {
    let list: Vec<Value> = runtimes::all(&state.intake.languages)
        .iter()
        .map(|r| json!({"language": r.language, "language_version": r.version, "installed": true}))
        .collect();
    HttpResponse::Ok().json(list)
}

async fn execute(
    state: web::Data<ApiState>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, PistonError> {
    let user = caller(&state, &request).await?;
    let object = request::body_object(&body).map_err(PistonError::BadRequest)?;
    let parsed = request::parse(&object, &state.intake.languages, &state.intake.bounds)
        .map_err(PistonError::BadRequest)?;
    let job = state.intake.submit(parsed.request, &user).await?;
    let max = state.http.max_wait_ms;
    let stored = wait::until_completed(&state.intake.store, job.id, Duration::from_millis(max))
        .await
        .map_err(|e| PistonError::Unavailable(e.to_string()))?;
    let result = match (stored.status, stored.result) {
        (JobStatus::Completed, Some(result)) => result,
        _ => return Err(PistonError::Timeout(max)),
    };
    let compiles = state
        .intake
        .languages
        .get(&job.language)
        .is_some_and(|l| l.compile.is_some());
    Ok(HttpResponse::Ok().json(execute_answer(&parsed.runtime, compiles, &result)))
}
