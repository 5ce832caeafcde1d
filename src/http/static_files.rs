//! Serves the browser editor — the Vite build in `http.web_dir` (default
//! `web/dist`) — at `/`, on the same origin as the API, so the page needs no
//! CORS and its WebSocket goes to its own host. It is the app's default
//! service, so it only sees what no API route matched: a GET or HEAD outside
//! `/api/` gets the file at that path, or `index.html` for an extension-less
//! path (the editor's client-side routes); everything else stays the API's
//! JSON 404. Hashed files under `/assets/` are cached for a year, the rest
//! is revalidated, and the page carries a CSP that allows only its own origin
//! (nothing is fetched from a CDN). A missing build answers a plain-text hint,
//! not an error page.

use super::errors::ApiError;
use crate::api_state::ApiState;
use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use std::path::{Path, PathBuf};

/// Hashed build output: the name changes with the content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Everything else (index.html, favicon): always revalidated (ETag).
const REVALIDATE: &str = "no-cache";
/// Only this origin: scripts, workers, fonts, API and WebSocket. Monaco sets
/// inline styles, hence `'unsafe-inline'` for styles only.
const CSP: &str =
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; \
                   style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
                   object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// The app's default service: the editor's files, or the API's JSON 404.
pub async fn serve(state: web::Data<ApiState>, request: HttpRequest) -> HttpResponse {
    respond(&request, &state.http.web_dir).await
}

/// Answers `request` from the build in `web_dir`.
pub async fn respond(request: &HttpRequest, web_dir: &Path) -> HttpResponse {
    let path = request.path();
    let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
    if !is_read || path == "/api" || path.starts_with("/api/") {
        return actix_web::ResponseError::error_response(&ApiError::not_found("route"));
    }
    if !web_dir.join("index.html").is_file() {
        return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body(format!(
            "The rce web editor is not built (no {}/index.html).\n\
             Build it with `make web` (cd web && npm ci && npm run build), or point http.web_dir at a build.\n\
             The API is at /api/v1 (GET /api/v1/languages).\n",
            web_dir.display()
        ));
    }
    let file = match file_for(path) {
        Some(relative) => web_dir.join(relative),
        None => return not_found(),
    };
    let (target, immutable) = if file.is_file() {
        let immutable = path.starts_with("/assets/");
        (file, immutable)
    } else if has_extension(path) {
        // A missing asset must not come back as the page: a module loaded as
        // HTML fails in confusing ways.
        return not_found();
    } else {
        (web_dir.join("index.html"), false)
    };
    page_or_file(request, &target, immutable).await
}

/// The file a request path names, relative to the build; `None` when the
/// path tries to leave it or names a hidden file. `/` is `index.html`.
fn file_for(path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        // Percent-escapes, dot-files, `..` and backslashes never name a file
        // of a Vite build; refusing them keeps the path inside web_dir.
        if segment.starts_with('.') || segment.contains(['%', '\\', '\0']) {
            return None;
        }
        relative.push(segment);
    }
    if relative.as_os_str().is_empty() {
        relative.push("index.html");
    }
    Some(relative)
}

fn has_extension(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
}

/// The content type for the files a Vite + Monaco build holds; others are
/// left to actix-files' guess.
fn content_type(path: &Path) -> Option<&'static str> {
    let extension = path.extension()?.to_str()?;
    Some(match extension {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "ttf" => "font/ttf",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

async fn page_or_file(request: &HttpRequest, target: &Path, immutable: bool) -> HttpResponse {
    let file = match NamedFile::open_async(target).await {
        Ok(file) => file.disable_content_disposition(),
        Err(_) => return not_found(),
    };
    let mut response = file.into_response(request);
    let headers = response.headers_mut();
    if let Some(kind) = content_type(target) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable { IMMUTABLE } else { REVALIDATE }),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if target.extension().is_some_and(|e| e == "html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

fn not_found() -> HttpResponse {
    HttpResponse::build(StatusCode::NOT_FOUND)
        .content_type("text/plain; charset=utf-8")
        .body("not found\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, App};

    fn build() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rce-web-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>rce</title>").unwrap();
        std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
        std::fs::write(dir.join("assets/index-abc123.js"), "export {}").unwrap();
        std::fs::write(dir.join("assets/codicon-x.ttf"), [0u8, 1, 0, 0]).unwrap();
        std::fs::write(dir.join("assets/w.wasm"), b"\0asm").unwrap();
        dir
    }

    async fn get(
        dir: &Path,
        method: Method,
        path: &str,
    ) -> (StatusCode, header::HeaderMap, String) {
        let dir = dir.to_path_buf();
        let app = test::init_service(App::new().default_service(web::to(
            move |request: HttpRequest| {
                let dir = dir.clone();
                async move { respond(&request, &dir).await }
            },
        )))
        .await;
        let response = test::call_service(
            &app,
            test::TestRequest::default()
                .method(method)
                .uri(path)
                .to_request(),
        )
        .await;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = test::read_body(response).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn h(headers: &header::HeaderMap, name: header::HeaderName) -> &str {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `/` and client-side routes get index.html, revalidated, with the CSP.
    #[actix_rt::test]
    async fn index_and_spa_fallback() {
        let dir = build();
        for path in ["/", "/history", "/a/b/c"] {
            let (status, headers, body) = get(&dir, Method::GET, path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(body.contains("<title>rce</title>"), "{path}: {body}");
            assert_eq!(h(&headers, header::CACHE_CONTROL), REVALIDATE);
            assert_eq!(
                h(&headers, header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
            assert!(h(&headers, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Hashed assets are cached for a year with the right MIME types; a
    /// missing asset is a 404, not the page.
    #[actix_rt::test]
    async fn assets_are_immutable_with_their_types() {
        let dir = build();
        let (status, headers, _) = get(&dir, Method::GET, "/assets/index-abc123.js").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            h(&headers, header::CONTENT_TYPE),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(h(&headers, header::CACHE_CONTROL), IMMUTABLE);
        assert!(headers.get(header::CONTENT_DISPOSITION).is_none());
        let (_, headers, _) = get(&dir, Method::GET, "/assets/codicon-x.ttf").await;
        assert_eq!(h(&headers, header::CONTENT_TYPE), "font/ttf");
        let (_, headers, _) = get(&dir, Method::GET, "/assets/w.wasm").await;
        assert_eq!(h(&headers, header::CONTENT_TYPE), "application/wasm");
        let (_, headers, _) = get(&dir, Method::GET, "/favicon.svg").await;
        assert_eq!(h(&headers, header::CACHE_CONTROL), REVALIDATE);
        let (status, _, body) = get(&dir, Method::GET, "/assets/missing-123.js").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!body.contains("<title>"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Nothing outside the build is reachable: `..`, encoded dots and
    /// dot-files are refused.
    #[actix_rt::test]
    async fn paths_cannot_leave_the_build() {
        let dir = build();
        std::fs::write(dir.join(".secret"), "s").unwrap();
        for path in [
            "/../Cargo.toml",
            "/assets/..%2f..%2fCargo.toml",
            "/.secret",
            "/%2e%2e/Cargo.toml",
            "/assets/%2e%2e",
        ] {
            let (status, _, body) = get(&dir, Method::GET, path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
            assert_eq!(body, "not found\n", "{path}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// API paths and other methods keep the API's JSON 404.
    #[actix_rt::test]
    async fn api_paths_and_writes_are_json_404() {
        let dir = build();
        for (method, path) in [
            (Method::GET, "/api/v1/nope"),
            (Method::GET, "/api"),
            (Method::POST, "/"),
            (Method::DELETE, "/x"),
        ] {
            let (status, headers, body) = get(&dir, method.clone(), path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(
                h(&headers, header::CONTENT_TYPE),
                "application/json",
                "{method} {path}"
            );
            assert!(body.contains("\"not_found\""), "{body}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Without a build, `/` says how to make one (a 404 with a plain-text
    /// hint, never a 500).
    #[actix_rt::test]
    async fn missing_build_answers_a_hint() {
        let dir = std::env::temp_dir().join("rce-web-missing-build");
        let (status, headers, body) = get(&dir, Method::GET, "/").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            h(&headers, header::CONTENT_TYPE),
            "text/plain; charset=utf-8"
        );
        assert!(body.contains("npm run build"), "{body}");
    }
}
