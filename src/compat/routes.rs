//! Mounts the compatibility APIs on the app, next to API v1: Judge0 under
//! `compat.judge0.prefix` (default `/judge0`) and Piston under `/api/v2`,
//! each only when enabled. Called from `http::server::configure`, so tests
//! and the binary build the same service.

use crate::api_state::ApiState;
use actix_web::web;

/// Adds the enabled compatibility scopes to `config`.
pub fn configure(state: &ApiState, config: &mut web::ServiceConfig) {
    let max_body = state.http.max_body_bytes;
    if state.compat.judge0.enabled {
        config.service(super::judge0::scope(&state.compat.judge0.prefix, max_body));
    }
    if state.compat.piston.enabled {
        config.service(super::piston::scope(max_body));
    }
}
