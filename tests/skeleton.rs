//! The walking skeleton end to end: a real `rce serve` with real Redis, a real
//! Docker engine and real containers. Submit → stream → worker → container →
//! store → event → poll and WebSocket.

mod common;

use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// `print(6*7)` submitted over HTTP completes with stdout `42\n`, seen by
/// polling the submission.
#[actix_rt::test]
async fn python_hello_completes_by_polling() {
    let rce = start_rce();
    let id = submit(&rce, json!({"language": "python", "source": "print(6*7)"})).await;
    let submission = wait_completed(&rce, &id, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["verdict"], "ok", "{submission}");
    assert_eq!(submission["result"]["stdout"], "42\n", "{submission}");
    assert_eq!(submission["language"], "python");
    assert!(submission["finished_at"].is_string());
    assert!(containers_left(&rce.prefix, Duration::from_secs(5))
        .await
        .is_empty());
}

/// A WebSocket client receives `finished` for a job submitted over HTTP, and
/// a job submitted over the socket itself goes queued → started → finished.
#[actix_rt::test]
async fn websocket_receives_finished_events() {
    let rce = start_rce();
    // `ready` means the session's subscription exists: no event is missed.
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let id = submit(&rce, json!({"language": "python", "source": "print(6*7)"})).await;
    let events = ws.events_until_finished(&id, Duration::from_secs(60)).await;
    let finished = events.last().unwrap();
    assert_eq!(finished["result"]["stdout"], "42\n", "{events:?}");

    ws.send(&json!({"type": "submit", "ref": "r1", "language": "python", "source": "print('hi')"}))
        .await;
    let queued = ws
        .next_event(Duration::from_secs(10))
        .await
        .expect("queued event");
    assert_eq!(queued["type"], "queued", "{queued}");
    assert_eq!(queued["ref"], "r1");
    let id = queued["id"].as_str().unwrap().to_string();
    let events = ws.events_until_finished(&id, Duration::from_secs(60)).await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["id"] == id.as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{events:?}");
    assert!(kinds.contains(&"output"), "{events:?}");
    assert_eq!(events.last().unwrap()["result"]["stdout"], "hi\n");
}

/// An infinite loop ends as time_limit_exceeded within its limit plus 2 s,
/// and leaves no container behind. The bound is taken from the `started`
/// event to `finished` against the wall-clock limit, so a loaded machine
/// (where a CPU second takes longer) cannot make it flaky.
#[actix_rt::test]
async fn infinite_loop_is_time_limit_exceeded_and_cleaned_up() {
    let rce = start_rce();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let body = json!({"language": "python", "source": "while True: pass", "limits": {"time_ms": 1000, "wall_ms": 2000}});
    let id = submit(&rce, body).await;
    let mut started_at = None;
    let finished = loop {
        let event = ws
            .next_event(Duration::from_secs(30))
            .await
            .expect("an event");
        if event["id"] != id.as_str() {
            continue;
        }
        match event["type"].as_str() {
            Some("started") => started_at = Some(Instant::now()),
            Some("finished") => break event,
            _ => {}
        }
    };
    let took = started_at.expect("started before finished").elapsed();
    assert_eq!(
        finished["result"]["verdict"], "time_limit_exceeded",
        "{finished}"
    );
    assert!(took < Duration::from_millis(2000 + 2000), "took {took:?}");
    assert!(containers_left(&rce.prefix, Duration::from_secs(5))
        .await
        .is_empty());
}

/// Garbage JSON, a wrong content type, an unknown language and an empty
/// source each get a 4xx JSON error naming the problem, never a 5xx.
#[actix_rt::test]
async fn bad_input_gets_json_4xx() {
    let rce = start_rce();
    let token = rce.token().await;
    let url = rce.url("/api/v1/submissions");
    let (status, body) = post_raw_as(Some(&token), &url, "application/json", b"{not json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "body.json");
    let (status, body) = post_raw_as(Some(&token), &url, "text/plain", b"print(1)").await;
    assert_eq!(status, 415, "{body}");
    let (status, body) = post_json_as(
        &token,
        &url,
        &json!({"language": "brainfuck", "source": "x"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "language");
    let (status, body) =
        post_json_as(&token, &url, &json!({"language": "python", "source": ""})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_json_as(
        &token,
        &url,
        &json!({"language": "python", "source": "x", "limits": {"memory_mb": 999999}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2048"),
        "{body}"
    );
    let (status, body) = get_json_as(&token, &rce.url("/api/v1/submissions/not-an-id")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
}

/// The languages endpoint lists python, and health answers.
#[actix_rt::test]
async fn languages_and_health() {
    let rce = start_rce();
    let (status, languages) = get_json(&rce.url("/api/v1/languages")).await;
    assert_eq!(status, 200);
    assert!(
        languages
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["id"] == "python"),
        "{languages}"
    );
    let (status, _) = get_json(&rce.url("/healthz")).await;
    assert_eq!(status, 200);
    let (status, ready) = get_json(&rce.url("/readyz")).await;
    assert_eq!(status, 200, "{ready}");
}
