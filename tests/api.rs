//! The HTTP API v1 against a real `rce serve` (real Redis; real Docker where
//! a job must actually run): accounts and login tokens, logout-all, API keys, who may see
//! what, quotas (429 + Retry-After, shared across API processes), the
//! WebSocket's token check, `?wait=true`, pagination, `/metrics`, the OpenAPI
//! document, hostile input, and the production secret check. Most tests run
//! `--role api` (no worker), so their jobs stay queued and no container is
//! started.

mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "integration-test-secret-0123456789abcdef";

fn api_only(env: &[(&str, &str)]) -> Rce {
    let mut all = vec![("RCE_AUTH__JWT_SECRET".to_string(), SECRET.to_string())];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    start_rce_with(RceOptions {
        role: "api",
        env: all,
        share_with: None,
    })
}

fn hello() -> Value {
    json!({"language": "python", "source": "print(6*7)"})
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(reply.body["error"]["message"].is_string(), "{}", reply.body);
}

fn forge(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Register → 201 `{id,username}`; the same name in another case → 409;
/// invalid, over-long and injection-shaped names and bad passwords → 400;
/// login → 200 `{token,expires_in}`, and a wrong password or unknown user →
/// the same 401; `/auth/me` names the token's user.
#[actix_rt::test]
async fn register_login_and_me() {
    let rce = api_only(&[]);
    let register = rce.url("/api/v1/auth/register");
    let reply = request(
        "POST",
        &register,
        None,
        Some(&json!({"username": "Alice_1", "password": "s3cret pass"})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["username"], "Alice_1");
    let id = reply.body["id"].as_str().unwrap().to_string();
    let again = request(
        "POST",
        &register,
        None,
        Some(&json!({"username": "alice_1", "password": "another pass"})),
    )
    .await;
    assert_error(&again, 409, "username.taken");
    for bad in [
        "ab",
        "' OR '1'='1",
        "robert'); DROP TABLE users;--",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "a b",
        "ünïcödé",
        "$where",
        "{\"$gt\":\"\"}",
        &"x".repeat(33),
        &"y".repeat(100_000),
    ] {
        let reply = request(
            "POST",
            &register,
            None,
            Some(&json!({"username": bad, "password": "long enough"})),
        )
        .await;
        assert_error(&reply, 400, "username");
    }
    for bad in ["short", &"p".repeat(129)] {
        let reply = request(
            "POST",
            &register,
            None,
            Some(&json!({"username": "bobby", "password": bad})),
        )
        .await;
        assert_error(&reply, 400, "password");
    }
    let extra = request(
        "POST",
        &register,
        None,
        Some(&json!({"username": "bobby", "password": "long enough", "admin": true})),
    )
    .await;
    assert_error(&extra, 400, "body.json");
    let not_object = request("POST", &register, None, Some(&json!(["alice"]))).await;
    assert_error(&not_object, 400, "body.json");

    let login = rce.url("/api/v1/auth/login");
    let started = Instant::now();
    let reply = request(
        "POST",
        &login,
        None,
        Some(&json!({"username": "ALICE_1", "password": "s3cret pass"})),
    )
    .await;
    let login_took = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["expires_in"], 86400);
    let token = reply.body["token"].as_str().unwrap().to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    eprintln!("login (Argon2id m=19456 KiB, t=2, p=1) took {login_took:?}");
    let wrong = request(
        "POST",
        &login,
        None,
        Some(&json!({"username": "Alice_1", "password": "wrong pass"})),
    )
    .await;
    assert_error(&wrong, 401, "auth.bad_credentials");
    let unknown = request(
        "POST",
        &login,
        None,
        Some(&json!({"username": "nobody", "password": "wrong pass"})),
    )
    .await;
    assert_error(&unknown, 401, "auth.bad_credentials");
    assert_eq!(
        wrong.body["error"]["message"],
        unknown.body["error"]["message"]
    );
    let huge = request(
        "POST",
        &login,
        None,
        Some(&json!({"username": "x".repeat(10_000), "password": "y".repeat(10_000)})),
    )
    .await;
    assert_error(&huge, 401, "auth.bad_credentials");

    let me = request("GET", &rce.url("/api/v1/auth/me"), Some(&token), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body, json!({"id": id, "username": "Alice_1"}));
}

/// Every user route answers 401 JSON (with `WWW-Authenticate: Bearer`) to a
/// missing, malformed, forged, `alg: none`, tampered, wrong-issuer or expired
/// credential; the public routes need none.
#[actix_rt::test]
async fn protected_routes_refuse_bad_credentials() {
    let rce = api_only(&[]);
    let token = rce.token().await;
    let me = request("GET", &rce.url("/api/v1/auth/me"), Some(&token), None).await;
    let user_id = me.body["id"].as_str().unwrap().to_string();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |iss: &str, exp: i64| json!({"sub": user_id, "name": "x", "iss": iss, "iat": now, "exp": exp});
    let parts: Vec<&str> = token.split('.').collect();
    let other_payload = b64url(
        json!({"sub": "someone-else", "name": "x", "iss": "rce", "iat": now, "exp": now + 999})
            .to_string()
            .as_bytes(),
    );
    let bad: Vec<(String, &str)> = vec![
        ("garbage".into(), "auth.invalid_token"),
        (
            forge(
                &claims("rce", now + 600),
                "not-the-secret-at-all-0123456789",
            ),
            "auth.invalid_token",
        ),
        (
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                other_payload
            ),
            "auth.invalid_token",
        ),
        (
            format!("{}.{}.{}", parts[0], other_payload, parts[2]),
            "auth.invalid_token",
        ),
        (
            forge(&claims("someone-else", now + 600), SECRET),
            "auth.invalid_token",
        ),
        (
            forge(&claims("rce", now - 600), SECRET),
            "auth.expired_token",
        ),
        (
            forge(&json!({"sub": user_id, "iss": "rce"}), SECRET),
            "auth.invalid_token",
        ),
        (
            "rce_0000000000000000000000000000000000000000000000000000000000000000".into(),
            "auth.invalid_key",
        ),
    ];
    // A correctly signed, unexpired token is accepted (the forgeries differ only in what they break).
    let good = forge(&claims("rce", now + 600), SECRET);
    assert_eq!(
        request("GET", &rce.url("/api/v1/submissions"), Some(&good), None)
            .await
            .status,
        200
    );

    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("POST", rce.url("/api/v1/submissions"), Some(hello())),
        ("GET", rce.url("/api/v1/submissions"), None),
        (
            "GET",
            rce.url("/api/v1/submissions/00000000-0000-7000-8000-000000000000"),
            None,
        ),
        ("GET", rce.url("/api/v1/auth/me"), None),
        ("POST", rce.url("/api/v1/auth/logout-all"), None),
        ("POST", rce.url("/api/v1/keys"), Some(json!({"name": "x"}))),
        ("GET", rce.url("/api/v1/keys"), None),
        ("DELETE", rce.url("/api/v1/keys/whatever"), None),
        ("GET", rce.url("/api/v1/ws"), None),
    ];
    for (method, url, body) in &routes {
        let missing = request(method, url, None, body.as_ref()).await;
        assert_error(&missing, 401, "auth.required");
        assert_eq!(
            missing
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{method} {url}"
        );
        for (credential, code) in &bad {
            let reply = request(method, url, Some(credential), body.as_ref()).await;
            assert_error(&reply, 401, code);
        }
    }
    // Another scheme is not a bearer credential.
    let mut basic = client()
        .get(rce.url("/api/v1/submissions"))
        .insert_header(("authorization", "Basic YTpi"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    let body: Value = serde_json::from_slice(&basic.body().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "auth.invalid_token");

    for public in [
        "/api/v1/languages",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/openapi.json",
    ] {
        let reply = request("GET", &rce.url(public), None, None).await;
        assert_eq!(reply.status, 200, "{public}: {}", reply.body);
    }
}

/// Logs `username` in and returns the token.
async fn login_as(rce: &Rce, username: &str, password: &str) -> String {
    let reply = request(
        "POST",
        &rce.url("/api/v1/auth/login"),
        None,
        Some(&json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["token"].as_str().unwrap().to_string()
}

/// `GET /auth/me` with `credential`.
async fn me_with(rce: &Rce, credential: &str) -> Reply {
    request("GET", &rce.url("/api/v1/auth/me"), Some(credential), None).await
}

/// Logout-all answers 204 and from then on refuses every login token of
/// the user issued before it (401 `auth.revoked_token`, on every route,
/// logout-all itself included), on the process that handled it at once;
/// a new login works, the user's API key keeps working, and another
/// user's tokens are untouched.
#[actix_rt::test]
async fn logout_all_revokes_earlier_tokens_only() {
    let rce = api_only(&[]);
    let register = |name: &'static str| {
        let rce = &rce;
        async move {
            let reply = request(
                "POST",
                &rce.url("/api/v1/auth/register"),
                None,
                Some(&json!({"username": name, "password": "logout pass 1"})),
            )
            .await;
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
    };
    register("carla").await;
    register("dmitri").await;
    let first = login_as(&rce, "carla", "logout pass 1").await;
    let second = login_as(&rce, "carla", "logout pass 1").await;
    let other_user = login_as(&rce, "dmitri", "logout pass 1").await;
    let key = request(
        "POST",
        &rce.url("/api/v1/keys"),
        Some(&first),
        Some(&json!({"name": "ci"})),
    )
    .await;
    assert_eq!(key.status, 201, "{}", key.body);
    let key = key.body["key"].as_str().unwrap().to_string();
    assert_eq!(me_with(&rce, &second).await.status, 200);

    let logout = request(
        "POST",
        &rce.url("/api/v1/auth/logout-all"),
        Some(&first),
        None,
    )
    .await;
    assert_eq!(logout.status, 204, "{}", logout.body);

    for revoked in [&first, &second] {
        assert_error(&me_with(&rce, revoked).await, 401, "auth.revoked_token");
        let listing = request("GET", &rce.url("/api/v1/submissions"), Some(revoked), None).await;
        assert_error(&listing, 401, "auth.revoked_token");
    }
    let again = request(
        "POST",
        &rce.url("/api/v1/auth/logout-all"),
        Some(&first),
        None,
    )
    .await;
    assert_error(&again, 401, "auth.revoked_token");

    let fresh = login_as(&rce, "carla", "logout pass 1").await;
    let me = me_with(&rce, &fresh).await;
    assert_eq!((me.status, &me.body["username"]), (200, &json!("carla")));
    let by_key = me_with(&rce, &key).await;
    assert_eq!(
        by_key.status, 200,
        "the API key stopped working: {}",
        by_key.body
    );
    assert_eq!(me_with(&rce, &other_user).await.status, 200);

    // An API key may log its user out everywhere too; it keeps working.
    let by_key_logout = request(
        "POST",
        &rce.url("/api/v1/auth/logout-all"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(by_key_logout.status, 204, "{}", by_key_logout.body);
    assert_error(&me_with(&rce, &fresh).await, 401, "auth.revoked_token");
    assert_eq!(me_with(&rce, &key).await.status, 200);
    assert!(
        rce.log().contains("every login token of the user revoked"),
        "{}",
        rce.log()
    );
}

/// Another API process (same store) trusts the token version it cached
/// for `auth.user_cache_ttl_ms`, here ten minutes so nothing depends on
/// timing: until then it still accepts a token revoked elsewhere (the
/// documented window). A token issued after the logout-all makes it read
/// the store at once instead of refusing the newer token, and from then on
/// it refuses the revoked one too.
#[actix_rt::test]
async fn other_api_processes_see_logout_all_within_their_cache_ttl() {
    let first = api_only(&[]);
    let second = start_rce_with(RceOptions {
        role: "api",
        env: env(&[
            ("RCE_AUTH__JWT_SECRET", SECRET),
            ("RCE_AUTH__USER_CACHE_TTL_MS", "600000"),
        ]),
        share_with: Some((first.prefix.clone(), first.dir.clone())),
    });
    let old = first.token().await;
    let me = me_with(&second, &old).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let username = me.body["username"].as_str().unwrap().to_string();
    let logout = request(
        "POST",
        &first.url("/api/v1/auth/logout-all"),
        Some(&old),
        None,
    )
    .await;
    assert_eq!(logout.status, 204, "{}", logout.body);
    assert_error(&me_with(&first, &old).await, 401, "auth.revoked_token");
    assert_eq!(
        me_with(&second, &old).await.status,
        200,
        "the second process read the store although its cached version was fresh"
    );
    // The default user's password, as tests/common registers it.
    let fresh = login_as(&first, &username, "default user password").await;
    assert_eq!(
        me_with(&second, &fresh).await.status,
        200,
        "the newer token was refused"
    );
    assert_error(&me_with(&second, &old).await, 401, "auth.revoked_token");
}

/// An API key is shown once on creation, listed without its secret, works
/// wherever a token does (HTTP and the WebSocket's `?token=`), and stops
/// working when deleted; nobody can delete or list another user's keys, and
/// the per-user key cap holds.
#[actix_rt::test]
async fn api_keys_work_like_tokens_until_deleted() {
    let rce = api_only(&[("RCE_AUTH__MAX_API_KEYS", "3")]);
    let alice = rce.token().await;
    let bob = register_and_login(&rce).await;
    let keys = rce.url("/api/v1/keys");
    let created = request("POST", &keys, Some(&alice), Some(&json!({"name": "ci"}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["key"].as_str().unwrap().to_string();
    let key_id = created.body["id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("rce_") && secret.len() == 68, "{secret}");
    assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));
    assert_eq!(created.body["name"], "ci");

    let listed = request("GET", &keys, Some(&alice), None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["keys"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["keys"][0]["id"], key_id.as_str());
    assert!(
        !listed.body.to_string().contains(&secret[4..]),
        "the secret leaked into the list: {}",
        listed.body
    );
    assert_eq!(
        request("GET", &keys, Some(&bob), None).await.body["keys"],
        json!([])
    );

    // The key acts for alice.
    let me = request("GET", &rce.url("/api/v1/auth/me"), Some(&secret), None).await;
    let me_token = request("GET", &rce.url("/api/v1/auth/me"), Some(&alice), None).await;
    assert_eq!(me.body, me_token.body);
    let id = submit_as(&rce, &secret, hello()).await;
    let fetched = request(
        "GET",
        &rce.url(&format!("/api/v1/submissions/{id}")),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(fetched.status, 200, "{}", fetched.body);
    let mut ws = WsClient::connect(&format!("{}?token={secret}", rce.ws_url("/api/v1/ws"))).await;
    ws.send(&json!({"type": "watch", "id": id})).await;

    // Bob cannot delete it; a name that is too long is refused; the cap holds.
    let theirs = request(
        "DELETE",
        &rce.url(&format!("/api/v1/keys/{key_id}")),
        Some(&bob),
        None,
    )
    .await;
    assert_error(&theirs, 404, "not_found");
    let long = request(
        "POST",
        &keys,
        Some(&alice),
        Some(&json!({"name": "n".repeat(65)})),
    )
    .await;
    assert_error(&long, 400, "name");
    assert_eq!(
        request("POST", &keys, Some(&alice), Some(&json!({})))
            .await
            .status,
        201
    );
    assert_eq!(
        request("POST", &keys, Some(&alice), Some(&json!({"name": null})))
            .await
            .status,
        201
    );
    let over = request("POST", &keys, Some(&alice), Some(&json!({"name": "4th"}))).await;
    assert_error(&over, 409, "keys.too_many");

    // Deleted: 204, then the key is refused everywhere.
    let deleted = request(
        "DELETE",
        &rce.url(&format!("/api/v1/keys/{key_id}")),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_error(
        &request("GET", &rce.url("/api/v1/auth/me"), Some(&secret), None).await,
        401,
        "auth.invalid_key",
    );
    assert_error(
        &request(
            "DELETE",
            &rce.url(&format!("/api/v1/keys/{key_id}")),
            Some(&alice),
            None,
        )
        .await,
        404,
        "not_found",
    );
    assert_eq!(
        request("GET", &keys, Some(&alice), None).await.body["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// A user sees only their own submissions (another's id is 404, lists are
/// per user), and the list pages newest first with `before`/`next`, the last
/// page carrying no `next`; a bad limit or cursor is 400.
#[actix_rt::test]
async fn submissions_are_private_and_paginated() {
    let rce = api_only(&[("RCE_QUOTA__MAX_ACTIVE_JOBS", "0")]);
    let alice = rce.token().await;
    let bob = register_and_login(&rce).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(submit_as(&rce, &alice, hello()).await);
    }
    let bob_id = submit_as(&rce, &bob, hello()).await;
    let theirs = request(
        "GET",
        &rce.url(&format!("/api/v1/submissions/{}", ids[0])),
        Some(&bob),
        None,
    )
    .await;
    assert_error(&theirs, 404, "not_found");
    let own = request(
        "GET",
        &rce.url(&format!("/api/v1/submissions/{bob_id}")),
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["status"], "queued");
    assert!(
        own.body["result"].is_null() && own.body["finished_at"].is_null(),
        "{}",
        own.body
    );

    let mut seen = Vec::new();
    let mut url = rce.url("/api/v1/submissions?limit=2");
    let mut pages = 0;
    loop {
        let page = request("GET", &url, Some(&alice), None).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages += 1;
        seen.extend(
            page.body["submissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string()),
        );
        match page.body["next"].as_str() {
            Some(next) => url = rce.url(&format!("/api/v1/submissions?limit=2&before={next}")),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, every one once");
    assert_eq!(pages, 3);
    let exact = request(
        "GET",
        &rce.url("/api/v1/submissions?limit=5"),
        Some(&alice),
        None,
    )
    .await;
    assert!(
        exact.body["next"].is_null(),
        "a page that ends the list has no next: {}",
        exact.body
    );
    let bobs = request("GET", &rce.url("/api/v1/submissions"), Some(&bob), None).await;
    assert_eq!(bobs.body["submissions"].as_array().unwrap().len(), 1);

    for (query, code) in [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("before=nope", "query.before"),
        ("limit=-1", "query"),
        ("bogus=1", "query"),
    ] {
        let reply = request(
            "GET",
            &rce.url(&format!("/api/v1/submissions?{query}")),
            Some(&alice),
            None,
        )
        .await;
        assert_error(&reply, 400, code);
    }
}

/// The submission rate limit answers 429 with `Retry-After` and the JSON
/// error once the burst is spent, and holds across two API processes sharing
/// Redis; another user is unaffected.
#[actix_rt::test]
async fn submission_rate_limit_is_shared_across_api_processes() {
    let env = [
        ("RCE_QUOTA__SUBMISSIONS_PER_MINUTE", "2"),
        ("RCE_QUOTA__SUBMISSION_BURST", "3"),
        ("RCE_QUOTA__MAX_ACTIVE_JOBS", "0"),
    ];
    let first = api_only(&env);
    let mut second_env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    second_env.push(("RCE_AUTH__JWT_SECRET".into(), SECRET.into()));
    let second = start_rce_with(RceOptions {
        role: "api",
        env: second_env,
        share_with: Some((first.prefix.clone(), first.dir.clone())),
    });
    let token = first.token().await;
    // Alternate between the processes: one bucket, wherever the request lands.
    for (n, rce) in [&first, &second, &first].into_iter().enumerate() {
        let reply = request(
            "POST",
            &rce.url("/api/v1/submissions"),
            Some(&token),
            Some(&hello()),
        )
        .await;
        assert_eq!(reply.status, 202, "submission {n}: {}", reply.body);
    }
    let limited = request(
        "POST",
        &second.url("/api/v1/submissions"),
        Some(&token),
        Some(&hello()),
    )
    .await;
    assert_error(&limited, 429, "rate_limit.submissions");
    let retry: u64 = limited
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    let other = register_and_login(&first).await;
    assert_eq!(
        request(
            "POST",
            &first.url("/api/v1/submissions"),
            Some(&other),
            Some(&hello())
        )
        .await
        .status,
        202
    );
    let metrics = get_text(&first.url("/metrics"))
        .await
        .expect("GET /metrics");
    assert!(
        metrics.contains(r#"rce_quota_refusals_total{reason="rate_limit.submissions"}"#)
            || second_metrics_has_refusal(&second).await,
        "{metrics}"
    );
}

async fn second_metrics_has_refusal(rce: &Rce) -> bool {
    get_text(&rce.url("/metrics"))
        .await
        .expect("GET /metrics")
        .contains(r#"rce_quota_refusals_total{reason="rate_limit.submissions"}"#)
}

/// The cap on a user's queued + running jobs answers 429 with Retry-After,
/// over HTTP and over the WebSocket (an error frame with the same code).
#[actix_rt::test]
async fn active_job_cap_is_429() {
    let rce = api_only(&[("RCE_QUOTA__MAX_ACTIVE_JOBS", "2")]);
    let token = rce.token().await;
    submit_as(&rce, &token, hello()).await;
    submit_as(&rce, &token, hello()).await;
    let capped = request(
        "POST",
        &rce.url("/api/v1/submissions"),
        Some(&token),
        Some(&hello()),
    )
    .await;
    assert_error(&capped, 429, "rate_limit.active_jobs");
    assert!(capped.headers.get("retry-after").is_some());
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    ws.send(&json!({"type": "submit", "ref": "r", "language": "python", "source": "print(1)"}))
        .await;
    let event = ws
        .next_event(Duration::from_secs(10))
        .await
        .expect("an answer to submit");
    assert_eq!(event["type"], "error", "{event}");
    assert_eq!(event["code"], "rate_limit.active_jobs", "{event}");
}

/// A user whose stored jobs take `store.max_user_stored_bytes` or more is
/// refused with 429 `quota.stored_bytes` naming the limit (with
/// Retry-After: the purge frees room); another user is not.
#[actix_rt::test]
async fn stored_bytes_quota_is_429() {
    let rce = api_only(&[("RCE_STORE__MAX_USER_STORED_BYTES", "1")]);
    let token = rce.token().await;
    let url = rce.url("/api/v1/submissions");
    let first = request("POST", &url, Some(&token), Some(&hello())).await;
    assert_eq!(first.status, 202, "{}", first.body);
    let over = request("POST", &url, Some(&token), Some(&hello())).await;
    assert_error(&over, 429, "quota.stored_bytes");
    assert!(over.headers.get("retry-after").is_some());
    let message = over.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("maximum of 1 bytes"), "{message}");
    let other = register_and_login_as(&rce, "roomy", "another password").await;
    let fresh = request("POST", &url, Some(&other), Some(&hello())).await;
    assert_eq!(fresh.status, 202, "{}", fresh.body);
}

/// Login and register attempts from one address are throttled: 429 with
/// Retry-After once the minute's attempts are spent (tests/throttle.rs
/// covers proxies and the per-username lockout).
#[actix_rt::test]
async fn auth_attempts_are_throttled() {
    let rce = api_only(&[("RCE_AUTH__THROTTLE__ATTEMPTS_PER_MINUTE", "3")]);
    let login = rce.url("/api/v1/auth/login");
    let body = json!({"username": "nobody", "password": "wrong password"});
    for _ in 0..3 {
        assert_eq!(request("POST", &login, None, Some(&body)).await.status, 401);
    }
    let limited = request("POST", &login, None, Some(&body)).await;
    assert_error(&limited, 429, "rate_limit.auth");
    assert!(limited.headers.get("retry-after").is_some());
}

/// The WebSocket closes a bad token with 1008 (policy violation) before any
/// event, and a missing one unless the first frame authenticates (a browser
/// sees close codes, not handshake statuses); it accepts `?token=` (and the
/// header).
#[actix_rt::test]
async fn websocket_needs_a_token() {
    let rce = api_only(&[]);
    let mut ws = WsClient::connect(&format!("{}?token=bogus", rce.ws_url("/api/v1/ws"))).await;
    assert_eq!(ws.close_code(Duration::from_secs(10)).await, Some(1008));
    for url in [
        rce.ws_url("/api/v1/ws"),
        format!("{}?token=", rce.ws_url("/api/v1/ws")),
    ] {
        let mut ws = WsClient::connect(&url).await;
        ws.send(&json!({"type": "submit", "language": "python", "source": "print(1)"}))
            .await;
        assert_eq!(
            ws.close_code(Duration::from_secs(10)).await,
            Some(1008),
            "{url}"
        );
    }
    let token = rce.token().await;
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    ws.send(&json!({"type": "submit", "ref": "r1", "language": "python", "source": "print(1)"}))
        .await;
    let queued = ws
        .next_event(Duration::from_secs(10))
        .await
        .expect("queued");
    assert_eq!(queued["type"], "queued", "{queued}");
    let (_, framed) = client()
        .ws(rce.ws_url("/api/v1/ws"))
        .bearer_auth(&token)
        .connect()
        .await
        .expect("header auth");
    drop(framed);
    // A plain GET with a valid token is not a handshake: 400 JSON, not a bare page.
    let plain = request("GET", &rce.url("/api/v1/ws"), Some(&token), None).await;
    assert_error(&plain, 400, "websocket.handshake");
}

/// Oversized bodies, wrong methods and unknown routes get JSON 4xx errors.
#[actix_rt::test]
async fn hostile_requests_get_json_errors() {
    let rce = api_only(&[("RCE_HTTP__MAX_BODY_BYTES", "4096")]);
    let token = rce.token().await;
    let big = json!({"language": "python", "source": "x".repeat(10_000)});
    let reply = request(
        "POST",
        &rce.url("/api/v1/submissions"),
        Some(&token),
        Some(&big),
    )
    .await;
    assert_error(&reply, 413, "body.too_large");
    let reply = request(
        "POST",
        &rce.url("/api/v1/auth/register"),
        None,
        Some(&json!({"username": "abc", "password": "p".repeat(10_000)})),
    )
    .await;
    assert_error(&reply, 413, "body.too_large");
    let (status, body) = post_raw(
        &rce.url("/api/v1/auth/login"),
        "application/json",
        b"{\"username\":",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("body.json")),
        "{body}"
    );
    let (status, body) = post_raw(&rce.url("/api/v1/auth/login"), "text/plain", b"hi").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("body.content_type")),
        "{body}"
    );
    assert_error(
        &request(
            "DELETE",
            &rce.url("/api/v1/submissions"),
            Some(&token),
            None,
        )
        .await,
        405,
        "method_not_allowed",
    );
    assert_error(
        &request("PUT", &rce.url("/api/v1/auth/login"), None, None).await,
        405,
        "method_not_allowed",
    );
    assert_error(
        &request("GET", &rce.url("/api/v1/nope"), None, None).await,
        404,
        "not_found",
    );
    // A GET outside /api/ is the web editor's (its client-side routes); any
    // other method there is still the API's JSON 404.
    assert_error(
        &request("POST", &rce.url("/nope"), None, Some(&json!({}))).await,
        404,
        "not_found",
    );
    let limits = json!({"language": "python", "source": "x", "limits": {"time_ms": 0}});
    assert_error(
        &request(
            "POST",
            &rce.url("/api/v1/submissions"),
            Some(&token),
            Some(&limits),
        )
        .await,
        400,
        "limits.time_ms",
    );
    // A wrong type is refused naming the field (strict bodies).
    let wrong_type = json!({"language": "python", "source": 5});
    assert_error(
        &request(
            "POST",
            &rce.url("/api/v1/submissions"),
            Some(&token),
            Some(&wrong_type),
        )
        .await,
        400,
        "source",
    );
    let bad_wait = request(
        "POST",
        &rce.url("/api/v1/submissions?wait=maybe"),
        Some(&token),
        Some(&hello()),
    )
    .await;
    assert_error(&bad_wait, 400, "query");
}

/// With no worker, `?wait=true` gives up after `http.max_wait_ms` and answers
/// 202; `/metrics` then shows the job held for fair dispatch (no worker has
/// promoted it into the stream yet) and HTTP latency by route pattern; the
/// OpenAPI document is served.
#[actix_rt::test]
async fn wait_is_bounded_and_metrics_show_the_queue() {
    let rce = api_only(&[("RCE_HTTP__MAX_WAIT_MS", "400")]);
    let token = rce.token().await;
    let started = Instant::now();
    let reply = request(
        "POST",
        &rce.url("/api/v1/submissions?wait=true"),
        Some(&token),
        Some(&hello()),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "took {took:?}"
    );
    let id = reply.body["id"].as_str().unwrap().to_string();
    request(
        "GET",
        &rce.url(&format!("/api/v1/submissions/{id}")),
        Some(&token),
        None,
    )
    .await;

    let metrics = get_text(&rce.url("/metrics")).await.expect("GET /metrics");
    for expected in [
        r#"rce_queue_entries{state="length"} 0"#,
        r#"rce_queue_entries{state="pending"} 0"#,
        "rce_fair_held_jobs 1",
        "rce_fair_backlog_users 1",
        r#"rce_jobs_submitted_total{language="python"} 1"#,
        r#"route="/api/v1/submissions/{id}""#,
        r#"rce_http_request_duration_seconds_bucket{method="POST",route="/api/v1/submissions",status="202""#,
        "rce_running_containers 0",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
    assert!(!metrics.contains(&id), "a raw path leaked into a label");

    let doc = request("GET", &rce.url("/api/v1/openapi.json"), None, None).await;
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc.body["openapi"]
    );
    assert!(doc.body["paths"]["/api/v1/submissions"]["post"]["requestBody"].is_object());
    assert!(doc.body["components"]["schemas"]["SubmissionRequest"].is_object());
}

/// With a worker and the real sandbox, `?wait=true` answers 200 with the
/// finished submission, and `/metrics` counts it by language and verdict
/// with its execution time.
#[actix_rt::test]
async fn wait_returns_the_finished_submission() {
    let rce = start_rce();
    let token = rce.token().await;
    let reply = request(
        "POST",
        &rce.url("/api/v1/submissions?wait=true"),
        Some(&token),
        Some(&hello()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}\n{}", reply.body, rce.log());
    assert_eq!(reply.body["status"], "completed");
    assert_eq!(reply.body["result"]["stdout"], "42\n");
    let metrics = get_text(&rce.url("/metrics")).await.expect("GET /metrics");
    assert!(
        metrics.contains(r#"rce_jobs_finished_total{language="python",verdict="ok"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"rce_job_execution_seconds_count{language="python"} 1"#),
        "{metrics}"
    );
}

/// With `RCE_ENV=production` the server refuses to start with the built-in
/// development secret or a short one, and starts with a long one.
#[actix_rt::test]
async fn production_refuses_weak_secrets() {
    let run = |secret: Option<&str>| {
        let dir = std::env::temp_dir().join(format!("rce-prod-{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_rce"));
        command
            .args(["serve", "--role", "api"])
            .current_dir(repo())
            .env("RCE_CONFIG", dir.join("none.toml"))
            .env("RCE_ENV", "production")
            .env("RCE_HTTP__BIND", "127.0.0.1:0")
            .env("RCE_STORE__SQLITE_PATH", dir.join("rce.db"))
            .env_remove("RCE_AUTH__JWT_SECRET")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in service_env() {
            command.env(key, value);
        }
        if let Some(secret) = secret {
            command.env("RCE_AUTH__JWT_SECRET", secret);
        }
        let output = command.output().expect("running rce");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, log) = run(None);
    assert!(!status.success(), "started with the development secret");
    assert!(log.contains("development secret"), "{log}");
    let (status, log) = run(Some("too-short"));
    assert!(!status.success(), "started with a short secret");
    assert!(log.contains("too short"), "{log}");
    let rce = start_rce_with(RceOptions {
        role: "api",
        env: vec![
            ("RCE_ENV".into(), "production".into()),
            ("RCE_AUTH__JWT_SECRET".into(), SECRET.into()),
        ],
        share_with: None,
    });
    assert_eq!(
        request("GET", &rce.url("/healthz"), None, None)
            .await
            .status,
        200
    );
}

/// With `http.metrics_token` set, `/metrics` without `Authorization: Bearer
/// <token>` is a 401 JSON error like every other (`auth.required`, with
/// `WWW-Authenticate: Bearer`); another credential (a near miss, a user's
/// login token) is `auth.invalid_token`; the token itself gets the
/// Prometheus text. `/healthz` stays public.
#[actix_rt::test]
async fn metrics_token_guards_metrics() {
    let scrape = "metrics-token-for-tests-0123";
    let rce = api_only(&[("RCE_HTTP__METRICS_TOKEN", scrape)]);
    let missing = request("GET", &rce.url("/metrics"), None, None).await;
    assert_error(&missing, 401, "auth.required");
    assert_eq!(
        missing
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let user = rce.token().await;
    for wrong in ["metrics-token-for-tests-012", user.as_str()] {
        let refused = request("GET", &rce.url("/metrics"), Some(wrong), None).await;
        assert_error(&refused, 401, "auth.invalid_token");
    }
    let mut response = client()
        .get(rce.url("/metrics"))
        .bearer_auth(scrape)
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(response.status().as_u16(), 200);
    let text = response.body().limit(16 << 20).await.expect("body");
    assert!(
        String::from_utf8_lossy(&text).contains("rce_http_request_duration_seconds"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert_eq!(
        request("GET", &rce.url("/healthz"), None, None)
            .await
            .status,
        200
    );
}

/// Query strings never reach the log: requests whose handlers log inside
/// the request span (a Judge0 submission authenticated by the user's login
/// token as its `X-Auth-Token` query parameter, one refused for
/// `X-Auth-Token=SECRET123`, a WebSocket refused for its `?token=`, one
/// accepted for the login token) leave their path in the log but neither
/// SECRET123, the refused token nor the login token.
#[actix_rt::test]
async fn query_strings_never_reach_the_log() {
    let rce = api_only(&[]);
    let token = rce.token().await;
    let body = json!({"source_code": "print(1)", "language_id": 71});
    let forged = request(
        "POST",
        &rce.url("/judge0/submissions?base64_encoded=false&X-Auth-Token=SECRET123"),
        None,
        Some(&body),
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.body);
    let created = request(
        "POST",
        &rce.url(&format!(
            "/judge0/submissions?base64_encoded=false&X-Auth-Token={token}"
        )),
        None,
        Some(&body),
    )
    .await;
    assert_eq!(created.status, 201, "{}\n{}", created.body, rce.log());
    let mut refused = WsClient::connect(&format!(
        "{}?token=SECRET123-refused",
        rce.ws_url("/api/v1/ws")
    ))
    .await;
    assert_eq!(
        refused.close_code(Duration::from_secs(10)).await,
        Some(1008)
    );
    let mut accepted = WsClient::connect_authed(&rce, &token).await;
    accepted
        .send(&json!({"type": "submit", "ref": "r1", "language": "python", "source": "print(1)"}))
        .await;
    let _ = accepted.next_event(Duration::from_secs(5)).await;
    drop(accepted);
    // The log is written as events happen; give the last lines a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = rce.log();
    assert!(
        log.contains("http.target=/judge0/submissions"),
        "the request span is not in the log, so the test proves nothing:\n{log}"
    );
    assert!(log.contains("websocket refused"), "{log}");
    assert!(!log.contains("SECRET123"), "{log}");
    assert!(
        !log.contains(&token),
        "the login token is in the log:\n{log}"
    );
}
