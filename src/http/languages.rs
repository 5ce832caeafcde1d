//! `GET /api/v1/languages`: the languages this deployment runs.

use super::server::ApiState;
use actix_web::{web, HttpResponse};
use serde_json::json;

pub async fn list(state: web::Data<ApiState>) -> HttpResponse {
    let languages: Vec<_> = state
        .intake
        .languages
        .all()
        .iter()
        .map(|l| json!({"id": l.id, "name": l.name, "version": l.version, "aliases": l.aliases, "compiled": l.compile.is_some()}))
        .collect();
    HttpResponse::Ok().json(languages)
}
