//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Redis,
//! the store and, where this process runs jobs, the Docker engine answer).
//! The API mounts both through its state; a worker-only process serves the
//! same two routes on its own small server ([`probe_routes`]).

use super::server::ApiState;
use crate::actors::store::{PingStore, StoreActor};
use actix::Addr;
use actix_web::{web, HttpResponse};
use bollard::Docker;
use redis::aio::ConnectionManager;
use serde_json::json;
use std::time::Duration;

/// Longest one dependency check may take before it counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

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
}

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

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

/// Mounts only `/healthz` and `/readyz` (a worker-only process's server).
pub fn probe_routes(readiness: Readiness) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(web::Data::new(readiness))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(probe_readyz));
    }
}
