//! Scaling out on one machine with real processes: two API processes and
//! three, then four, worker processes on one Redis stream. 300 jobs are
//! submitted across both APIs; every one completes with its own output and
//! exactly one `finished` event; the consumer group's lag rises while jobs
//! wait and falls back to zero; and a fourth worker started in the middle of
//! the second half drains it faster than three drained the first.
//!
//! The lag and pending counts are read from an API process's `/metrics`
//! (`rce_queue_entries{state="lag"|"pending"}`, taken from `XINFO GROUPS`
//! at scrape time, plus `rce_fair_held_jobs`: jobs waiting for fair dispatch
//! count as lag). Jobs sleep a second so execution
//! slots, not the two shared cores of the test machine, bound the drain
//! rate: that is what adding a worker changes.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Jobs per half of the test (two halves: 300 jobs).
const BATCH: usize = 150;
/// Seconds each job sleeps: long beside a container's CPU cost (about
/// 0.1 s), so a worker's slot, not the shared cores, bounds throughput
/// (with 0.5 s, a loaded machine left a fourth worker only ~5 % faster).
const JOB_SLEEP: f64 = 1.0;
/// Longest a half may take to drain before the test fails.
const DRAIN_LIMIT: Duration = Duration::from_secs(240);

fn job(i: usize) -> Value {
    json!({"language": "python", "source": format!("import time\ntime.sleep({JOB_SLEEP})\nprint({i})")})
}

/// One slot per worker, so worker count and throughput go together.
fn worker_env() -> Vec<(String, String)> {
    [
        ("RCE_WORKER__CONCURRENCY", "1"),
        ("RCE_WORKER__READ_BLOCK_MS", "500"),
        ("RCE_WORKER__TRIM_INTERVAL_MS", "2000"),
        ("RCE_LOG__LEVEL", "warn"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One sample of `rce_queue_entries{state="…"}` from `metrics` text.
fn queue_entries(metrics: &str, state: &str) -> Option<i64> {
    let name = format!("rce_queue_entries{{state=\"{state}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name.as_str()))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as i64)
}

/// The jobs waiting (held for fair dispatch, or in the stream and not yet
/// delivered: `rce_fair_held_jobs` + the group's lag) and the pending count
/// (delivered, not yet acked), as the API at `base` reports them.
async fn group_state(base: &str) -> Option<(i64, i64)> {
    let text = get_text(&format!("{base}/metrics")).await?;
    let held = text
        .lines()
        .find_map(|line| line.strip_prefix("rce_fair_held_jobs "))
        .and_then(|value| value.trim().parse::<i64>().ok())?;
    Some((
        queue_entries(&text, "lag")? + held,
        queue_entries(&text, "pending")?,
    ))
}

/// Samples the group every 100 ms into `samples` as (seconds, lag, pending).
fn sample_lag(base: String, samples: Arc<Mutex<Vec<(f64, i64, i64)>>>, started: Instant) {
    actix_rt::spawn(async move {
        loop {
            if let Some((lag, pending)) = group_state(&base).await {
                samples
                    .lock()
                    .unwrap()
                    .push((started.elapsed().as_secs_f64(), lag, pending));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Counts `finished` events per job id on one WebSocket (the anonymous
/// user's events reach every API process through Pub/Sub).
fn count_finished(mut socket: WsClient, counts: Arc<Mutex<HashMap<String, usize>>>) {
    actix_rt::spawn(async move {
        while let Some(event) = socket.next_event(Duration::from_secs(600)).await {
            if event["type"] == "finished" {
                let id = event["id"].as_str().unwrap_or_default().to_string();
                *counts.lock().unwrap().entry(id).or_default() += 1;
            }
        }
    });
}

/// Submits `range` alternately to the two APIs; returns (index, id) pairs.
async fn submit_batch(apis: [&Rce; 2], range: std::ops::Range<usize>) -> Vec<(usize, String)> {
    let mut ids = Vec::new();
    for i in range {
        ids.push((i, submit(apis[i % 2], job(i)).await));
    }
    ids
}

/// Waits until the group has nothing waiting and nothing unacked (every
/// result stored); returns the time since `since`.
async fn drained(api: &Rce, since: Instant) -> Duration {
    let base = api.url("");
    loop {
        if let Some((0, 0)) = group_state(&base).await {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < DRAIN_LIMIT,
            "not drained within {DRAIN_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The largest lag seen in `samples` between `from` and `to` seconds.
fn peak_lag(samples: &[(f64, i64, i64)], from: f64, to: f64) -> i64 {
    samples
        .iter()
        .filter(|(t, _, _)| (from..=to).contains(t))
        .map(|(_, lag, _)| *lag)
        .max()
        .unwrap_or(0)
}

fn stop(worker: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(worker.wait().unwrap().success());
}

/// 300 jobs through two API processes and three, then four, workers: each
/// completes once with its own output, the lag rises and falls in both
/// halves, and the half with a fourth worker drains faster.
#[actix_rt::test]
async fn two_apis_and_more_workers_drain_300_jobs() {
    let quiet = vec![("RCE_LOG__LEVEL".to_string(), "warn".to_string())];
    let api_a = start_rce_with(RceOptions {
        role: "api",
        env: quiet.clone(),
        ..Default::default()
    });
    let api_b = start_rce_with(RceOptions {
        role: "api",
        env: quiet,
        share_with: Some((api_a.prefix.clone(), api_a.dir.clone())),
    });
    let mut workers: Vec<Child> = (0..3).map(|_| start_worker(&api_a, worker_env())).collect();

    let counts = Arc::new(Mutex::new(HashMap::new()));
    count_finished(
        WsClient::connect(&api_a.ws_url_authed("/api/v1/ws").await).await,
        counts.clone(),
    );
    let counts_b = Arc::new(Mutex::new(HashMap::new()));
    count_finished(
        WsClient::connect(&api_b.ws_url_authed("/api/v1/ws").await).await,
        counts_b.clone(),
    );
    let clock = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    sample_lag(api_b.url(""), samples.clone(), clock);
    // The sessions subscribe asynchronously; give the bridges a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // First half: three workers.
    let first_start = Instant::now();
    let t0 = clock.elapsed().as_secs_f64();
    let mut ids = submit_batch([&api_a, &api_b], 0..BATCH).await;
    let three = drained(&api_a, first_start).await;
    let t1 = clock.elapsed().as_secs_f64();

    // Second half: a fourth worker joins while the queue is full.
    let second_start = Instant::now();
    ids.extend(submit_batch([&api_a, &api_b], BATCH..2 * BATCH).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    workers.push(start_worker(&api_a, worker_env()));
    let four = drained(&api_a, second_start).await;
    let t2 = clock.elapsed().as_secs_f64();

    eprintln!(
        "drain time, 3 workers: {:.1} s for {BATCH} jobs",
        three.as_secs_f64()
    );
    eprintln!(
        "drain time, 4th worker joining after 1 s: {:.1} s for {BATCH} jobs",
        four.as_secs_f64()
    );
    {
        let samples = samples.lock().unwrap();
        let timeline: Vec<String> = samples
            .iter()
            .step_by(10)
            .map(|(t, lag, pending)| format!("{t:.0}s:{lag}+{pending}"))
            .collect();
        eprintln!("lag+pending every ~1 s: {}", timeline.join(" "));
        let (peak_first, peak_second) = (peak_lag(&samples, t0, t1), peak_lag(&samples, t1, t2));
        eprintln!("peak lag: {peak_first} (first half), {peak_second} (second half)");
        assert!(
            peak_first >= (BATCH / 3) as i64,
            "lag never rose in the first half: {peak_first}"
        );
        assert!(
            peak_second >= (BATCH / 3) as i64,
            "lag never rose in the second half: {peak_second}"
        );
    }

    for (i, id) in &ids {
        let (status, submission) = get_submission(&api_b, id).await;
        assert_eq!(status, 200, "{submission}");
        assert_eq!(submission["status"], "completed", "{submission}");
        assert_eq!(submission["result"]["verdict"], "ok", "{submission}");
        assert_eq!(
            submission["result"]["stdout"],
            format!("{i}\n"),
            "{submission}"
        );
    }
    // The last finished events may trail the stored result by a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    for counts in [&counts, &counts_b] {
        loop {
            let seen = counts.lock().unwrap().clone();
            let all_once = ids.iter().all(|(_, id)| seen.get(id) == Some(&1));
            if all_once || Instant::now() > deadline {
                for (_, id) in &ids {
                    assert_eq!(seen.get(id), Some(&1), "finished events for {id}");
                }
                assert_eq!(seen.len(), ids.len(), "finished events for unknown jobs");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        four < three,
        "a fourth worker did not shorten the drain: {three:?} with 3, {four:?} with 4"
    );
    for worker in &mut workers {
        stop(worker);
    }
}
