//! rce across processes, the way a deployment runs it: a job's trace id is
//! the same in the API's and the worker's JSON logs (the trace context
//! travels in the stream entry), an API process told to stop (SIGTERM, as in
//! a rolling restart) closes WebSockets with 1001 going-away, stops
//! accepting and still answers the request it is serving, and a worker-only
//! process answers orchestrators' probes.

mod common;

use awc::ws;
use common::*;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// JSON logs at info level (the defaults the tests use are text).
fn json_logs() -> Vec<(String, String)> {
    env(&[("RCE_LOG__FORMAT", "json"), ("RCE_LOG__LEVEL", "info")])
}

/// The trace ids on the log lines in `log` that concern `job_id` (the
/// line's own fields or one of its spans name the job), taken from the
/// lines' spans; also returns how many such lines there were.
fn trace_ids_of(log: &str, job_id: &str) -> (BTreeSet<String>, usize) {
    let mut ids = BTreeSet::new();
    let mut lines = 0;
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let spans = entry["spans"].as_array().cloned().unwrap_or_default();
        let concerns_job = entry["fields"]["job_id"] == job_id
            || spans.iter().any(|span| span["job_id"] == job_id);
        if !concerns_job {
            continue;
        }
        lines += 1;
        for span in &spans {
            if let Some(id) = span["trace_id"].as_str() {
                ids.insert(id.to_string());
            }
        }
    }
    (ids, lines)
}

/// Waits until `path`'s lines about `job_id` include `message` (a worker
/// writes its last line just after the result is stored).
async fn wait_for_line(path: &std::path::Path, job_id: &str, message: &str) -> String {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        let found = log.lines().any(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|entry| {
                entry["fields"]["message"] == message
                    && (entry["fields"]["job_id"] == job_id
                        || entry["spans"]
                            .as_array()
                            .is_some_and(|s| s.iter().any(|span| span["job_id"] == job_id)))
            })
        });
        if found {
            return log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no {message:?} line for {job_id} in {}:\n{log}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One job, two processes, one trace: the API's log lines for a job (the
/// request and the enqueue) and the worker's (dispatch, start, finish) all
/// carry the same trace id. With a `traceparent` header from the client it
/// is the client's trace id; without one, the API's new trace continues on
/// the worker.
#[actix_rt::test]
async fn a_jobs_trace_id_is_the_same_in_api_and_worker_logs() {
    let api = start_rce_with(RceOptions {
        role: "api",
        env: json_logs(),
        ..Default::default()
    });
    let mut worker = start_worker(&api, json_logs());

    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut response = client()
        .post(api.url("/api/v1/submissions"))
        .bearer_auth(api.token().await)
        .insert_header((
            "traceparent",
            format!("00-{client_trace}-00f067aa0ba902b7-01"),
        ))
        .send_json(&json!({"language": "python", "source": "print('traced')"}))
        .await
        .expect("POST");
    assert_eq!(response.status().as_u16(), 202);
    let reply: Value = response.json().await.expect("json");
    let with_header = reply["id"].as_str().expect("id").to_string();
    let without_header = submit(
        &api,
        json!({"language": "python", "source": "print('untraced')"}),
    )
    .await;

    for (id, expected) in [(&with_header, Some(client_trace)), (&without_header, None)] {
        let done = wait_completed(&api, id, Duration::from_secs(60)).await;
        assert_eq!(done["result"]["verdict"], "ok", "{done}");
        let worker_log = wait_for_line(&api.dir.join("worker.log"), id, "job finished").await;
        let api_log = wait_for_line(&api.dir.join("rce.log"), id, "job queued").await;
        let (api_ids, api_lines) = trace_ids_of(&api_log, id);
        let (worker_ids, worker_lines) = trace_ids_of(&worker_log, id);
        eprintln!("job {id}: api {api_ids:?} on {api_lines} lines, worker {worker_ids:?} on {worker_lines} lines");
        assert_eq!(
            api_ids.len(),
            1,
            "one trace id in the API's lines for {id}: {api_ids:?}"
        );
        assert!(worker_lines >= 2, "worker lines for {id}: {worker_lines}");
        assert_eq!(
            api_ids, worker_ids,
            "API and worker disagree on {id}'s trace"
        );
        if let Some(expected) = expected {
            assert!(
                api_ids.contains(expected),
                "{api_ids:?} is not the client's trace"
            );
        }
    }
    assert_ne!(
        trace_ids_of(
            &std::fs::read_to_string(api.dir.join("rce.log")).unwrap(),
            &with_header
        )
        .0,
        trace_ids_of(
            &std::fs::read_to_string(api.dir.join("rce.log")).unwrap(),
            &without_header
        )
        .0,
        "two requests must not share a trace"
    );
    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(worker.wait().unwrap().success());
}

/// A rolling restart's SIGTERM to an API process: an open WebSocket is
/// closed with 1001 going-away (so the editor reconnects elsewhere), the
/// listener closes at once (new connections are refused), and a
/// `?wait=true` request that is in flight still gets its result; then the
/// process exits 0.
#[actix_rt::test]
async fn sigterm_closes_websockets_with_going_away_and_finishes_requests() {
    let mut api = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let mut worker = start_worker(&api, vec![]);
    let (_, mut socket) = client()
        .ws(api.ws_url_authed("/api/v1/ws").await)
        .connect()
        .await
        .expect("websocket connect");

    // A request that stays open for about two seconds.
    let wait_url = api.url("/api/v1/submissions?wait=true");
    let token = api.token().await;
    let wait_token = token.clone();
    let waiting = actix_rt::spawn(async move {
        post_json_as(
            &wait_token,
            &wait_url,
            &json!({"language": "python", "source": "import time\ntime.sleep(2)\nprint('done')"}),
        )
        .await
    });
    // Until the job runs, so the request is surely in flight.
    let started = Instant::now();
    loop {
        let (_, page) = get_json_as(&token, &api.url("/api/v1/submissions")).await;
        if page["submissions"][0]["status"] == "running" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job never ran: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    Command::new("kill")
        .args(["-TERM", &api.child.id().to_string()])
        .status()
        .unwrap();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(ws::Frame::Close(reason)) => return reason,
                Ok(_) => continue,
                Err(error) => panic!("websocket error before close: {error}"),
            }
        }
        panic!("websocket ended without a close frame");
    })
    .await
    .expect("no close frame within 10 s of SIGTERM");
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, ws::CloseCode::Away, "{close:?}");

    let address = api.base.trim_start_matches("http://").to_string();
    let refused_by = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&address).is_ok() {
        assert!(Instant::now() < refused_by, "still accepting after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (status, finished) = waiting.await.expect("the waiting request");
    assert_eq!(status, 200, "{finished}");
    assert_eq!(finished["result"]["stdout"], "done\n", "{finished}");
    let exit = tokio::task::spawn_blocking(move || api.terminate())
        .await
        .unwrap();
    assert!(exit.success(), "api exited with {exit}");
    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(worker.wait().unwrap().success());
}

/// A worker-only process answers `/healthz` and `/readyz` on its own bind,
/// and readiness covers the Docker engine, Redis and the store.
#[actix_rt::test]
async fn worker_process_answers_probes() {
    let api = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let mut worker = start_rce_with(RceOptions {
        role: "worker",
        share_with: Some((api.prefix.clone(), api.dir.clone())),
        ..Default::default()
    });
    let (status, _) = get_json(&worker.url("/healthz")).await;
    assert_eq!(status, 200);
    let (status, ready) = get_json(&worker.url("/readyz")).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        ready["checks"],
        json!({"redis": true, "store": true, "docker": true})
    );
    // Nothing but the probes: the worker serves no API.
    let (status, _) = get_json(&worker.url("/api/v1/languages")).await;
    assert_eq!(status, 404);
    // And it still works as a worker.
    let id = submit(&api, json!({"language": "python", "source": "print(1)"})).await;
    let done = wait_completed(&api, &id, Duration::from_secs(60)).await;
    assert_eq!(done["result"]["stdout"], "1\n", "{done}");
    assert!(worker.terminate().success());
}

/// A minimal OTLP/HTTP collector on port 0: answers every POST with 200 and
/// keeps the decoded trace export requests.
struct FakeCollector {
    endpoint: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<ExportTraceServiceRequest>>>,
}

fn start_collector() -> FakeCollector {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let store = store.clone();
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(request) =
                        <ExportTraceServiceRequest as prost::Message>::decode(body.as_slice())
                    {
                        store.lock().unwrap().push(request);
                    }
                    let _ = writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    FakeCollector { endpoint, received }
}

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// With `telemetry.otlp_endpoint` set, the API and the worker export one
/// trace per job: the HTTP request, `enqueue` under it, `queue wait` and the
/// worker's `job` under the enqueue, and `container` under the job, all with
/// one trace id, from two processes.
#[actix_rt::test]
async fn spans_of_one_job_are_exported_as_one_trace() {
    let collector = start_collector();
    let export = env(&[("RCE_TELEMETRY__OTLP_ENDPOINT", &collector.endpoint)]);
    let mut api = start_rce_with(RceOptions {
        role: "api",
        env: export.clone(),
        ..Default::default()
    });
    let mut worker = start_worker(&api, export);
    let id = submit(&api, json!({"language": "python", "source": "print(2)"})).await;
    wait_completed(&api, &id, Duration::from_secs(60)).await;
    // Stopping flushes each process's span buffer.
    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(worker.wait().unwrap().success());
    assert!(api.terminate().success());

    let received = collector.received.lock().unwrap();
    // (name, span id, parent span id, trace id, service name)
    let mut spans = Vec::new();
    for request in received.iter() {
        for resource in &request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in &resource.scope_spans {
                for span in &scope.spans {
                    spans.push((
                        span.name.clone(),
                        span.span_id.clone(),
                        span.parent_span_id.clone(),
                        span.trace_id.clone(),
                        service.clone(),
                    ));
                }
            }
        }
    }
    let named = |name: &str| {
        spans
            .iter()
            .filter(|s| s.0 == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let enqueue = named("enqueue");
    assert_eq!(
        enqueue.len(),
        1,
        "spans: {:?}",
        spans.iter().map(|s| &s.0).collect::<Vec<_>>()
    );
    let enqueue = &enqueue[0];
    let request = spans
        .iter()
        .find(|s| s.1 == enqueue.2)
        .expect("the enqueue span's parent (the HTTP request) was exported");
    assert_eq!(request.0, "POST /api/v1/submissions");
    let child_of = |name: &str, parent: &(String, Vec<u8>, Vec<u8>, Vec<u8>, String)| {
        let found = named(name);
        assert_eq!(found.len(), 1, "{name}: {found:?}");
        assert_eq!(
            found[0].2, parent.1,
            "{name} is not a child of {}",
            parent.0
        );
        assert_eq!(found[0].3, enqueue.3, "{name} is in another trace");
        found[0].clone()
    };
    child_of("queue wait", enqueue);
    let job = child_of("job", enqueue);
    child_of("container", &job);
    assert!(job.4.contains("rce"), "service name {}", job.4);
}
