//! Bounded state in the real Redis: after jobs have finished (an interactive
//! one fed over the WebSocket, a kill and input sent after its end, a
//! Judge0 submission, logins), every key rce left under its prefix either
//! expires on its own or is the job stream (trimmed by the workers, never
//! expired: it must not be evicted either). A key without a TTL would grow
//! Redis forever with the number of jobs.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Every key under the prefix (SCAN, so a shared Redis is not blocked).
async fn keys_of(redis: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(redis)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// The keys finished jobs leave behind all carry a TTL (or are the job
/// stream), and the ones this run must have made are among them, so the
/// check cannot pass on an empty prefix.
#[actix_rt::test]
async fn every_key_a_finished_job_leaves_expires() {
    let rce = start_rce();
    let token = rce.token().await;

    let id = submit(
        &rce,
        json!({"language": "python", "source": "print(input()[::-1])", "interactive": true}),
    )
    .await;
    let mut ws = WsClient::connect_authed(&rce, &token).await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "olleh\n"}))
        .await;
    let done = wait_completed(&rce, &id, Duration::from_secs(60)).await;
    assert_eq!(done["result"]["stdout"], "hello\n", "{done}");
    // Control sent after the end is refused and must leave nothing behind.
    ws.send(&json!({"type": "kill", "id": id})).await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "late\n"}))
        .await;

    let (status, created) = post_json_as(&token, &rce.url("/api/v1/keys"), &json!({})).await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    let mut response = client()
        .post(rce.url("/judge0/submissions?wait=true"))
        .insert_header(("X-Auth-Token", key.as_str()))
        .send_json(&json!({"source_code": "print(1)", "language_id": 71}))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let judged: Value = response.json().await.unwrap();
    let judge0_token = judged["token"]
        .as_str()
        .expect("a Judge0 token")
        .to_string();

    let reply = request(
        "POST",
        &rce.url("/api/v1/auth/login"),
        None,
        Some(&json!({"username": "nobody", "password": "wrong password"})),
    )
    .await;
    assert_eq!(reply.status, 401);
    // Let the WebSocket's late control frames land.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys = keys_of(&mut redis, &rce.prefix).await;
    // Not per job: the stream (trimmed by the workers), and the fair
    // dispatcher's per-worker hashes, one field per live worker whose value
    // carries its own expiry (pruned by the scripts that read them).
    let deployment_wide = [
        format!("{}:jobs", rce.prefix),
        format!("{}:fair:slots", rce.prefix),
        format!("{}:fair:idle", rce.prefix),
    ];
    let mut forever = Vec::new();
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        // -2: gone since the SCAN (expired or deleted) is fine.
        if ttl == -1 && !deployment_wide.contains(key) {
            forever.push(key.clone());
        }
    }
    eprintln!("keys left: {keys:?}");
    assert!(forever.is_empty(), "keys without a TTL: {forever:?}");
    for expected in [
        format!("{}:judge0:submission:{judge0_token}", rce.prefix),
        format!("{}:ratelimit:login_failures:nobody", rce.prefix),
    ] {
        assert!(keys.contains(&expected), "{expected} not in {keys:?}");
    }
    assert!(
        keys.iter().any(|k| k.contains(":ratelimit:auth:")),
        "{keys:?}"
    );
}
