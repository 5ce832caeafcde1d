//! Liveness (`/healthz`: every supervised actor of this process is alive
//! and not wedged, see [`crate::actors::supervisor`]; 503 otherwise, so an
//! orchestrator restarts the process), readiness (`/readyz`: Redis, the store
//! and, where this process runs jobs, the Docker engine answer, and no
//! supervised actor is restarting, dead or wedged; the body names each
//! actor's state) and
//! `/metrics` (Prometheus text; on the API the queue gauges are read from
//! Redis at scrape time). Public, except `/metrics` when
//! `http.metrics_token` is set ([`MetricsToken`]). The API mounts them through its state;
//! a worker-only process serves the same routes on its own small server
//! ([`probe_routes`]), so its job and container metrics can be scraped too.
//! Also the middleware that times every request by its route pattern.

use super::errors::{ApiError, ErrorBody};
use super::metrics_token::MetricsToken;
use crate::actors::store::{PingStore, StoreActor};
use crate::actors::supervisor::{self, ActorState, ActorStatus};
use crate::api_state::ApiState;
use crate::metrics::{self, QueueState};
use actix::Addr;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};
use bollard::Docker;
use redis::aio::ConnectionManager;
use redis::streams::StreamInfoGroupsReply;
use serde::Serialize;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// Longest one dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `failing` when an actor is dead or wedged.
    pub status: String,
    /// Every supervised actor of this process.
    pub actors: Vec<ActorStatus>,
}

/// Readiness and what it is made of.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessReport {
    /// `ready` or `not_ready`.
    pub status: String,
    pub checks: ReadinessChecks,
    /// Every supervised actor of this process; any not `running` makes the
    /// process not ready.
    pub actors: Vec<ActorStatus>,
}

/// One flag per dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    pub redis: bool,
    pub store: bool,
    /// Null where this process runs no jobs.
    pub docker: Option<bool>,
}

/// What readiness checks.
#[derive(Clone)]
pub struct Readiness {
    pub redis: ConnectionManager,
    pub store: Addr<StoreActor>,
    /// Present where this process runs jobs.
    pub docker: Option<Docker>,
}

impl Readiness {
    /// 200 when every dependency answers, else 503; the body says which.
    pub async fn report(&self) -> HttpResponse {
        let mut redis = self.redis.clone();
        let redis_ok = tokio::time::timeout(
            CHECK_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut redis),
        )
        .await
        .is_ok_and(|reply| reply.is_ok());
        let store_ok = tokio::time::timeout(CHECK_TIMEOUT, self.store.send(PingStore))
            .await
            .is_ok_and(|reply| matches!(reply, Ok(Ok(()))));
        let docker_ok = match &self.docker {
            None => None,
            Some(docker) => Some(
                tokio::time::timeout(CHECK_TIMEOUT, docker.ping())
                    .await
                    .is_ok_and(|r| r.is_ok()),
            ),
        };
        let actors = supervisor::statuses();
        let actors_ok = actors.iter().all(|a| a.state == ActorState::Running);
        let ready = redis_ok && store_ok && docker_ok.unwrap_or(true) && actors_ok;
        let body = ReadinessReport {
            status: if ready { "ready" } else { "not_ready" }.into(),
            checks: ReadinessChecks {
                redis: redis_ok,
                store: store_ok,
                docker: docker_ok,
            },
            actors,
        };
        if ready {
            HttpResponse::Ok().json(body)
        } else {
            HttpResponse::ServiceUnavailable().json(body)
        }
    }
}

/// Every supervised actor is alive and not wedged.
#[utoipa::path(get, path = "/healthz", tag = "health", responses(
    (status = 200, description = "Alive", body = Health),
    (status = 503, description = "An actor is dead or wedged: restart the process", body = Health),
))]
pub async fn healthz() -> HttpResponse {
    let actors = supervisor::statuses();
    let alive = actors
        .iter()
        .all(|a| !matches!(a.state, ActorState::Dead | ActorState::Wedged));
    let body = Health {
        status: if alive { "ok" } else { "failing" }.into(),
        actors,
    };
    if alive {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Redis, the store and (on workers) Docker answer.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready", body = ReadinessReport),
    (status = 503, description = "A dependency is down", body = ReadinessReport),
))]
pub async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    Readiness {
        redis: state.redis.clone(),
        store: state.intake.store.clone(),
        docker: state.docker.clone(),
    }
    .report()
    .await
}

async fn probe_readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    readiness.report().await
}

/// A worker-only process's metrics: its jobs and containers (the queue
/// gauges come from the API processes).
async fn probe_metrics(
    request: HttpRequest,
    token: web::Data<MetricsToken>,
) -> Result<HttpResponse, ApiError> {
    token.check(&request)?;
    Ok(metrics_response(None))
}

/// Mounts only `/healthz`, `/readyz` and `/metrics` (a worker-only process's
/// server); `/metrics` asks for `token` like the API's.
pub fn probe_routes(
    readiness: Readiness,
    token: MetricsToken,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(readiness))
            .app_data(web::Data::new(token))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(probe_readyz))
            .route("/metrics", web::get().to(probe_metrics));
    }
}

fn metrics_response(queue: Option<QueueState>) -> HttpResponse {
    for status in supervisor::statuses() {
        metrics::set_actor_up(&status.actor, status.state == ActorState::Running);
    }
    let text = metrics::render(queue).unwrap_or_else(|error| {
        tracing::error!(%error, "rendering metrics failed");
        String::new()
    });
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

/// The job stream's length, and its group's pending entries and lag; `None`
/// when Redis does not answer in time. A stream or group that does not
/// exist yet is an empty queue.
async fn queue_state(state: &ApiState) -> Option<QueueState> {
    let mut redis = state.redis.clone();
    let stream = state.keys.jobs_stream();
    let read = async {
        let length: u64 = redis::cmd("XLEN")
            .arg(&stream)
            .query_async(&mut redis)
            .await?;
        if length == 0 {
            return Ok(QueueState::default());
        }
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&stream)
            .query_async(&mut redis)
            .await?;
        let group = groups
            .groups
            .iter()
            .find(|group| group.name == state.keys.group());
        Ok::<_, redis::RedisError>(QueueState {
            length,
            pending: group.map_or(0, |g| g.pending as u64),
            // No group yet: nothing was delivered, the whole stream waits.
            lag: group.map_or(Some(length as usize), |g| g.lag).unwrap_or(0) as u64,
        })
    };
    match tokio::time::timeout(CHECK_TIMEOUT, read).await {
        Ok(Ok(queue)) => Some(queue),
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading the queue state for /metrics failed");
            None
        }
        Err(_) => None,
    }
}

/// Prometheus metrics in the text exposition format. When
/// `http.metrics_token` is set, only with `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "health", responses(
    (status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"),
    (status = 401, description = "`http.metrics_token` is set and the request did not present it", body = ErrorBody),
))]
pub async fn metrics(
    request: HttpRequest,
    state: web::Data<ApiState>,
) -> Result<HttpResponse, ApiError> {
    MetricsToken::new(state.http.metrics_token.as_deref()).check(&request)?;
    if let Ok(Ok((users, held))) =
        tokio::time::timeout(CHECK_TIMEOUT, state.intake.queue.backlog()).await
    {
        metrics::set_fair_backlog(users, held);
    }
    Ok(metrics_response(queue_state(&state).await))
}

/// Middleware: records every request's latency under its route pattern
/// (`unmatched` for paths no route takes, so the label set stays bounded).
pub async fn track_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let pattern = request.match_pattern();
    let response = next.call(request).await;
    let (route, status) = match &response {
        Ok(response) => (
            response.request().match_pattern().or(pattern),
            response.status().as_u16(),
        ),
        Err(error) => (pattern, error.as_response_error().status_code().as_u16()),
    };
    metrics::http_request(
        &method,
        route.as_deref().unwrap_or("unmatched"),
        status,
        started.elapsed(),
    );
    response
}
