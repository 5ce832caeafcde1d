//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Redis,
//! the store and, where this process runs jobs, the Docker engine answer).

use super::server::ApiState;
use crate::actors::store::PingStore;
use actix_web::{web, HttpResponse};
use serde_json::json;
use std::time::Duration;

/// Longest one dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let mut redis = state.redis.clone();
    let redis_ok = tokio::time::timeout(
        CHECK_TIMEOUT,
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await
    .is_ok_and(|reply| reply.is_ok());
    let store_ok = tokio::time::timeout(CHECK_TIMEOUT, state.intake.store.send(PingStore))
        .await
        .is_ok_and(|reply| matches!(reply, Ok(Ok(()))));
    let docker_ok = match &state.docker {
        None => None,
        Some(docker) => Some(
            tokio::time::timeout(CHECK_TIMEOUT, docker.ping())
                .await
                .is_ok_and(|r| r.is_ok()),
        ),
    };
    let ready = redis_ok && store_ok && docker_ok.unwrap_or(true);
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "checks": {"redis": redis_ok, "store": store_ok, "docker": docker_ok},
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
