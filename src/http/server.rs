//! The API's routes: [`configure`] mounts every route with
//! the JSON/query/path error handlers (and a JSON 405 for a known path asked
//! with the wrong method), so the app in `app.rs` and the tests build exactly
//! the same service. Public: languages, health, readiness, metrics, the
//! OpenAPI document, register and login; everything else needs a `Caller`.

use super::errors::{json_error, method_not_allowed, no_route, path_error, query_error};
use super::{accounts, health, languages, openapi, static_files, submissions, ws};
use crate::api_state::ApiState;
use actix_web::{web, Resource};

/// A path whose other methods get a JSON 405.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Mounts the API on an actix-web app.
pub fn configure(state: web::Data<ApiState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        let max_body = state.http.max_body_bytes;
        crate::compat::configure(&state, config);
        config
            .app_data(state)
            .app_data(
                web::JsonConfig::default()
                    .limit(max_body)
                    .error_handler(json_error),
            )
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(resource("/healthz").route(web::get().to(health::healthz)))
            .service(resource("/readyz").route(web::get().to(health::readyz)))
            .service(resource("/metrics").route(web::get().to(health::metrics)))
            .service(
                web::scope("/api/v1")
                    .service(resource("/openapi.json").route(web::get().to(openapi::document)))
                    .service(resource("/auth/register").route(web::post().to(accounts::register)))
                    .service(resource("/auth/login").route(web::post().to(accounts::login)))
                    .service(resource("/auth/me").route(web::get().to(accounts::me)))
                    .service(
                        resource("/auth/logout-all").route(web::post().to(accounts::logout_all)),
                    )
                    .service(
                        resource("/keys")
                            .route(web::post().to(accounts::create_key))
                            .route(web::get().to(accounts::list_keys)),
                    )
                    .service(resource("/keys/{id}").route(web::delete().to(accounts::delete_key)))
                    .service(resource("/languages").route(web::get().to(languages::list)))
                    .service(
                        resource("/submissions")
                            .route(web::post().to(submissions::create))
                            .route(web::get().to(submissions::list)),
                    )
                    .service(resource("/submissions/{id}").route(web::get().to(submissions::get)))
                    .service(resource("/ws").route(web::get().to(ws::connect)))
                    .default_service(web::to(no_route)),
            )
            // After every API route: the web editor, else the JSON 404.
            .default_service(web::to(static_files::serve));
    }
}
