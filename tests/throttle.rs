//! The login/register throttle against a real `rce serve --role api` and the
//! real Redis: which address a request is counted under (the TCP peer, or
//! behind `http.trusted_proxies` the forwarded client, IPv6 by /64), and the
//! per-username lockout on failed logins that holds across addresses.

mod common;

use common::*;
use serde_json::{json, Value};

/// An API-only rce with these settings over the test defaults.
fn api_with(env: &[(&str, &str)]) -> Rce {
    start_rce_with(RceOptions {
        role: "api",
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        share_with: None,
    })
}

/// POSTs `body` to `path` claiming `X-Forwarded-For: forwarded_for`.
async fn post_from(rce: &Rce, path: &str, forwarded_for: &str, body: &Value) -> Reply {
    let mut response = client()
        .post(rce.url(path))
        .insert_header(("x-forwarded-for", forwarded_for))
        .send_json(body)
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.body().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn wrong_login(username: &str) -> Value {
    json!({"username": username, "password": "not the password"})
}

fn assert_limited(reply: &Reply, code: &str) {
    assert_eq!(reply.status, 429, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    let retry: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    assert!(retry >= 1, "Retry-After {retry}");
}

/// From a peer that is not a trusted proxy, X-Forwarded-For is ignored: a
/// client that makes up a new address per attempt is still counted as its
/// TCP address and throttled.
#[actix_rt::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let rce = api_with(&[("RCE_AUTH__THROTTLE__ATTEMPTS_PER_MINUTE", "3")]);
    for n in 0..3 {
        let reply = post_from(
            &rce,
            "/api/v1/auth/login",
            &format!("198.51.100.{n}"),
            &wrong_login("nobody"),
        )
        .await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let reply = post_from(
        &rce,
        "/api/v1/auth/login",
        "198.51.100.99",
        &wrong_login("nobody"),
    )
    .await;
    assert_limited(&reply, "rate_limit.auth");
    // Register draws from the same bucket.
    let reply = post_from(
        &rce,
        "/api/v1/auth/register",
        "203.0.113.1",
        &json!({"username": "newcomer", "password": "a long password"}),
    )
    .await;
    assert_limited(&reply, "rate_limit.auth");
}

/// Behind a trusted proxy (the test's 127.0.0.1), the forwarded client is
/// the subject: one client's spent bucket does not throttle another, a
/// client cannot escape by prepending entries, and IPv6 clients of one /64
/// share a bucket while the next /64 has its own.
#[actix_rt::test]
async fn forwarded_client_is_used_behind_a_trusted_proxy() {
    let rce = api_with(&[
        ("RCE_AUTH__THROTTLE__ATTEMPTS_PER_MINUTE", "2"),
        ("RCE_HTTP__TRUSTED_PROXIES", "127.0.0.0/8,::1"),
    ]);
    // Per group: two attempts that count as one client, a third that is
    // refused, and a neighbour that still gets through. IPv4: the same
    // client whatever it prepends itself; IPv6: the same /64.
    let groups = [
        (
            ["192.0.2.10", "6.6.6.6, 192.0.2.10"],
            "1.1.1.1, 192.0.2.10",
            "192.0.2.11",
        ),
        (
            ["2001:db8:0:5::1", "2001:db8:0:5:ffff::2"],
            "2001:db8:0:5::abcd",
            "2001:db8:0:6::1",
        ),
    ];
    let (login, body) = ("/api/v1/auth/login", wrong_login("nobody"));
    for (allowed, refused, neighbour) in groups {
        for forwarded in allowed {
            assert_eq!(post_from(&rce, login, forwarded, &body).await.status, 401);
        }
        assert_limited(
            &post_from(&rce, login, refused, &body).await,
            "rate_limit.auth",
        );
        assert_eq!(post_from(&rce, login, neighbour, &body).await.status, 401);
    }
}

/// Failed logins to one username lock it out across client addresses (a
/// guesser rotating addresses is still stopped), even for the right
/// password, with 429 + Retry-After; other accounts are untouched, and a
/// successful login before the limit clears the count.
#[actix_rt::test]
async fn failed_logins_lock_a_username_across_addresses() {
    let rce = api_with(&[
        ("RCE_AUTH__THROTTLE__FAILED_LOGINS", "3"),
        ("RCE_HTTP__TRUSTED_PROXIES", "127.0.0.1"),
    ]);
    let password = "the right password";
    for name in ["victim", "bystander", "typist"] {
        let reply = post_from(
            &rce,
            "/api/v1/auth/register",
            "192.0.2.1",
            &json!({"username": name, "password": password}),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let login = "/api/v1/auth/login";

    // Two failures, a success, then two more: never locked (the success
    // cleared the count).
    for forwarded in ["198.51.100.1", "198.51.100.2"] {
        assert_eq!(
            post_from(&rce, login, forwarded, &wrong_login("typist"))
                .await
                .status,
            401
        );
    }
    let right = json!({"username": "typist", "password": password});
    assert_eq!(
        post_from(&rce, login, "198.51.100.3", &right).await.status,
        200
    );
    for forwarded in ["198.51.100.4", "198.51.100.5"] {
        assert_eq!(
            post_from(&rce, login, forwarded, &wrong_login("typist"))
                .await
                .status,
            401
        );
    }
    assert_eq!(
        post_from(&rce, login, "198.51.100.6", &right).await.status,
        200
    );

    // Three failures from three addresses (the name in another case).
    for (n, name) in ["victim", "VICTIM", "Victim"].iter().enumerate() {
        let reply = post_from(&rce, login, &format!("203.0.113.{n}"), &wrong_login(name)).await;
        assert_eq!(reply.status, 401, "{}", reply.body);
    }
    let right = json!({"username": "victim", "password": password});
    assert_limited(
        &post_from(&rce, login, "203.0.113.200", &right).await,
        "rate_limit.login_failures",
    );
    let other = json!({"username": "bystander", "password": password});
    assert_eq!(
        post_from(&rce, login, "203.0.113.201", &other).await.status,
        200
    );
}
