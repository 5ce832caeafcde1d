//! `GET /api/v1/openapi.json`: the OpenAPI 3 document, generated from the
//! handlers' `#[utoipa::path]` annotations and the request/response types'
//! `ToSchema` derives, so it cannot drift from the code. The schemathesis
//! run in `tests/fuzz.rs` fuzzes the server against exactly this document.

use super::accounts::{
    CreatedKeyResponse, Credentials, KeyInfo, KeyList, NewKey, TokenResponse, UserInfo,
};
use super::errors::{ErrorBody, ErrorDetail};
use super::health::{Health, ReadinessChecks, ReadinessReport};
use super::languages::LanguageInfo;
use super::submissions::{Queued, SubmissionPage};
use super::{accounts, health, languages, submissions, ws};
use crate::job::{
    FileInput, JobId, JobResult, JobStatus, LimitsRequest, Submission, SubmissionRequest,
    TestCaseInput, TestResult, Verdict,
};
use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Declares the `bearer` scheme the protected routes name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A login token (POST /api/v1/auth/login) or an API key (rce_…)",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "rce", description = "Runs untrusted code in fresh, locked-down containers."),
    paths(
        accounts::register, accounts::login, accounts::me, accounts::logout_all,
        accounts::create_key, accounts::list_keys, accounts::delete_key,
        submissions::create, submissions::get, submissions::list,
        languages::list, ws::connect,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, Credentials, UserInfo, TokenResponse, NewKey, KeyInfo, KeyList, CreatedKeyResponse,
        SubmissionRequest, LimitsRequest, FileInput, TestCaseInput, Submission, JobId, JobStatus, JobResult,
        TestResult, Verdict, Queued, SubmissionPage, LanguageInfo, Health, ReadinessReport, ReadinessChecks,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and login tokens"),
        (name = "keys", description = "Long-lived API keys"),
        (name = "submissions", description = "Running programs"),
        (name = "languages"), (name = "health"),
    )
)]
pub struct ApiDoc;

/// The OpenAPI document.
pub async fn document() -> web::Json<utoipa::openapi::OpenApi> {
    web::Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document lists every route with its methods, and marks the
    /// user's routes as needing the bearer scheme while the public ones stay
    /// open.
    #[test]
    fn document_covers_the_routes() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/v1/auth/register", "post"),
            ("/api/v1/auth/login", "post"),
            ("/api/v1/auth/me", "get"),
            ("/api/v1/auth/logout-all", "post"),
            ("/api/v1/keys", "post"),
            ("/api/v1/keys", "get"),
            ("/api/v1/keys/{id}", "delete"),
            ("/api/v1/submissions", "post"),
            ("/api/v1/submissions", "get"),
            ("/api/v1/submissions/{id}", "get"),
            ("/api/v1/languages", "get"),
            ("/api/v1/ws", "get"),
            ("/healthz", "get"),
            ("/readyz", "get"),
            ("/metrics", "get"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path} missing");
        }
        assert!(paths["/api/v1/submissions"]["post"]["security"].is_array());
        assert!(paths["/api/v1/languages"]["get"]["security"].is_null());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
