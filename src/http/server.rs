//! The API's routes and shared state: [`configure`] mounts every route with
//! the JSON/query/path error handlers, so the app in `app.rs` and the tests
//! build exactly the same service.

use super::errors::{json_error, path_error, query_error};
use super::settings::HttpSettings;
use super::{health, languages, static_files, submissions, ws};
use crate::actors::session::WsSettings;
use crate::actors::PubSubBridge;
use crate::control::ControlClient;
use crate::intake::Intake;
use actix::Addr;
use actix_web::web;
use bollard::Docker;
use redis::aio::ConnectionManager;

/// What every handler can reach.
pub struct ApiState {
    pub intake: Intake,
    pub bridge: Addr<PubSubBridge>,
    pub redis: ConnectionManager,
    /// Present where this process also runs jobs (readiness checks it).
    pub docker: Option<Docker>,
    pub http: HttpSettings,
    /// Carries WebSocket `stdin`/`kill` to the worker running the job.
    pub control: ControlClient,
    pub ws: WsSettings,
}

/// Mounts the API on an actix-web app.
pub fn configure(state: web::Data<ApiState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let max_body = state.http.max_body_bytes;
        config
            .app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .service(
                web::scope("/api/v1")
                    .route("/languages", web::get().to(languages::list))
                    .route("/submissions", web::post().to(submissions::create))
                    .route("/submissions", web::get().to(submissions::list))
                    .route("/submissions/{id}", web::get().to(submissions::get))
                    .route("/ws", web::get().to(ws::connect)),
            )
            // After every API route: the web editor, else the JSON 404.
            .default_service(web::to(static_files::serve));
    }
}
