//! `GET /api/v1/languages`: the languages this deployment runs (public).

use crate::api_state::ApiState;
use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

/// A language a submission may name (by `id` or an alias).
#[derive(Debug, Serialize, ToSchema)]
pub struct LanguageInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub aliases: Vec<String>,
    /// Whether it has a compile stage (`compile_output` may be set).
    pub compiled: bool,
}

/// The languages this deployment runs.
#[utoipa::path(get, path = "/api/v1/languages", tag = "languages",
    responses((status = 200, description = "Installed languages", body = [LanguageInfo])))]
pub async fn list(state: web::Data<ApiState>) -> web::Json<Vec<LanguageInfo>> {
    let languages = state
        .intake
        .languages
        .all()
        .iter()
        .map(|l| LanguageInfo {
            id: l.id.clone(),
            name: l.name.clone(),
            version: l.version.clone(),
            aliases: l.aliases.clone(),
            compiled: l.compile.is_some(),
        })
        .collect();
    web::Json(languages)
}
