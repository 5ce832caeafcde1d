//! Safe defaults against a real `rce serve`: a production API refuses to
//! start with a signing secret published in the repository (so a token
//! forged with the shipped Kubernetes placeholder can never be accepted by
//! a production rce) and with the Docker image's environment alone (no
//! secret); a worker needs no secret; and a correctly signed token for a
//! user that does not exist is refused with `auth.unknown_user`.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};

const SECRET: &str = "safe-defaults-test-secret-0123456789abcdef";
/// The value deploy/k8s/base/config.yaml shipped as RCE_AUTH__JWT_SECRET.
const SHIPPED_K8S_PLACEHOLDER: &str = "change-me-to-at-least-32-random-bytes";

/// Runs `rce serve --role <role>` to its exit with the services' variables,
/// a throwaway store and `env` (nothing inherited names a secret); returns
/// whether it succeeded and its log.
fn serve_until_exit(role: &str, env: &[(String, String)]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("rce-safe-{}", uuid::Uuid::new_v4().simple()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_rce"));
    command
        .args(["serve", "--role", role])
        .current_dir(repo())
        .env("RCE_CONFIG", dir.join("none.toml"))
        .env("RCE_HTTP__BIND", "127.0.0.1:0")
        .env("RCE_STORE__SQLITE_PATH", dir.join("rce.db"))
        .env_remove("RCE_AUTH__JWT_SECRET")
        .env_remove("RCE_ENV")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (key, value) in service_env() {
        command.env(key, value);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("running rce");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A production API given the placeholder that deploy/k8s once shipped
/// exits non-zero before serving, saying the secret is published; so no
/// production rce ever verifies a token signed with it. A development one
/// still starts with it (only production is strict), and a production API
/// with a real secret refuses a token forged with the placeholder.
#[actix_rt::test]
async fn production_refuses_the_shipped_placeholder_secret() {
    let (started, log) = serve_until_exit(
        "api",
        &env(&[
            ("RCE_ENV", "production"),
            ("RCE_AUTH__JWT_SECRET", SHIPPED_K8S_PLACEHOLDER),
        ]),
    );
    assert!(!started, "production rce ran with the shipped placeholder");
    assert!(
        log.contains("auth.jwt_secret") && log.contains("published"),
        "the refusal does not name the problem: {log}"
    );

    let rce = start_rce_with(RceOptions {
        role: "api",
        env: env(&[("RCE_ENV", "production"), ("RCE_AUTH__JWT_SECRET", SECRET)]),
        share_with: None,
    });
    let token = rce.token().await;
    let me = request("GET", &rce.url("/api/v1/auth/me"), Some(&token), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"sub": me.body["id"], "name": "x", "ver": 0, "iss": "rce", "iat": now, "exp": now + 600});
    let forged = sign(&claims, SHIPPED_K8S_PLACEHOLDER);
    let reply = request("GET", &rce.url("/api/v1/auth/me"), Some(&forged), None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], "auth.invalid_token");
}

/// The Docker image's own environment (its `ENV` lines) makes an API
/// refuse to start without a secret, naming the variable to set, instead
/// of signing with the development secret.
#[actix_rt::test]
async fn the_image_environment_refuses_to_start_without_a_secret() {
    let image: Vec<(String, String)> = dockerfile_env()
        .into_iter()
        // Where this machine's rce finds its files and binds, not the image's.
        .filter(|(key, _)| {
            !matches!(
                key.as_str(),
                "RCE_HTTP__BIND" | "RCE_SANDBOX__LANGUAGES_FILE" | "RCE_STORE__SQLITE_PATH"
            )
        })
        .collect();
    assert!(
        image.contains(&("RCE_ENV".to_string(), "production".to_string())),
        "{image:?}"
    );
    let (started, log) = serve_until_exit("api", &image);
    assert!(!started, "the image's environment started without a secret");
    assert!(
        log.contains("development secret") && log.contains("RCE_AUTH__JWT_SECRET"),
        "the refusal does not say what to set: {log}"
    );
}

/// A production worker starts without any signing secret: it never signs
/// or checks tokens, so the Kubernetes and compose workers are not given one.
#[actix_rt::test]
async fn a_production_worker_needs_no_secret() {
    let worker = start_rce_with(RceOptions {
        role: "worker",
        env: env(&[("RCE_ENV", "production")]),
        share_with: None,
    });
    let (status, body) = get_json(&worker.url("/healthz")).await;
    assert_eq!(status, 200, "{body}");
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A token signed with the deployment's real secret but naming a user
/// that was never registered is 401 `auth.unknown_user` on every kind of
/// route, while the same kind of token for a real user works.
#[actix_rt::test]
async fn a_token_for_an_unknown_user_is_refused() {
    let rce = start_rce_with(RceOptions {
        role: "api",
        env: env(&[("RCE_AUTH__JWT_SECRET", SECRET)]),
        share_with: None,
    });
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |sub: &Value| json!({"sub": sub, "name": "ghost", "ver": 0, "iss": "rce", "iat": now, "exp": now + 600});
    let ghost = sign(&claims(&json!(uuid::Uuid::now_v7().to_string())), SECRET);
    for (method, path) in [
        ("GET", "/api/v1/auth/me"),
        ("GET", "/api/v1/submissions"),
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/auth/logout-all"),
    ] {
        let reply = request(method, &rce.url(path), Some(&ghost), None).await;
        assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        assert_eq!(
            reply.body["error"]["code"], "auth.unknown_user",
            "{method} {path}"
        );
    }
    let token = rce.token().await;
    let me = request("GET", &rce.url("/api/v1/auth/me"), Some(&token), None).await;
    let real = sign(&claims(&me.body["id"]), SECRET);
    let reply = request("GET", &rce.url("/api/v1/auth/me"), Some(&real), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        rce.log().contains("a user that does not exist"),
        "the refusal was not logged: {}",
        rce.log()
    );
}
