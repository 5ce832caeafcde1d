//! Self-healing with injected faults: every long-lived actor panics on demand
//! (the `fault-injection` feature, on in test builds: a file named after the
//! point in `FAULT_INJECTION_DIR` arms it) under load, a SandboxActor dies
//! mid-job, the actors' thread wedges, and SIGTERM arrives while Redis or the
//! Docker engine is away. Real rce processes, Redis and Docker throughout.

mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A directory for arming faults, and the variable that points rce at it.
fn fault_dir() -> (PathBuf, Vec<(String, String)>) {
    let dir = std::env::temp_dir().join(format!("rce-faults-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let pair = ("FAULT_INJECTION_DIR".to_string(), dir.display().to_string());
    (dir, vec![pair])
}

/// Arms `point` once; returns when rce has taken the arming (deleted the
/// file), so what the test does next meets the armed point.
fn arm(dir: &std::path::Path, point: &str) {
    let file = dir.join(point);
    std::fs::write(&file, b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while file.exists() {
        assert!(Instant::now() < deadline, "rce did not arm {point}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `rce_actor_restarts_total{actor}` from /metrics (0 when absent).
async fn restarts(rce: &Rce, actor: &str) -> u64 {
    let text = get_text(&rce.url("/metrics")).await.unwrap_or_default();
    let series = format!("rce_actor_restarts_total{{actor=\"{actor}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Jobs this process executed (sum of `rce_jobs_finished_total`): a job run
/// twice counts twice.
async fn jobs_executed(rce: &Rce) -> u64 {
    let text = get_text(&rce.url("/metrics")).await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with("rce_jobs_finished_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// `actor`'s state in /healthz.
async fn actor_state(rce: &Rce, actor: &str) -> Option<String> {
    let (_, health) = get_json(&rce.url("/healthz")).await;
    health["actors"]
        .as_array()?
        .iter()
        .find(|a| a["actor"] == actor)
        .map(|a| a["state"].as_str().unwrap_or_default().to_string())
}

/// Every long-lived actor panics once while 24 jobs run: each is running
/// again within 5 s (counted in `rce_actor_restarts_total`, `running` in
/// /healthz), and every job finishes exactly once with its own output,
/// nothing stays pending and no container is left.
#[actix_rt::test]
async fn every_actor_panics_under_load_and_every_job_finishes_once() {
    let (faults, fault_env) = fault_dir();
    // Judge0 callbacks on, so the CallbackDispatcher runs too.
    let callbacks = env(&[
        (
            "RCE_COMPAT__JUDGE0__CALLBACK_ALLOWED_HOSTS",
            "callbacks.invalid",
        ),
        ("RCE_COMPAT__JUDGE0__CALLBACK_SECRET", "a test secret"),
    ]);
    let rce = start_rce_with(RceOptions {
        env: [fast_recovery(), fault_env, callbacks].concat(),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(submit(&rce, sleepy_job(i, 0.3)).await);
    }
    // (armed point, the actor it restarts, restarts expected by then)
    let points = [
        ("stream_consumer.read_loop", "stream_consumer", 1),
        ("worker_pool", "worker_pool", 1),
        ("store", "store", 1),
        ("job_control", "job_control", 1),
        ("pubsub_bridge", "pubsub_bridge", 1),
        ("callback_dispatcher", "callback_dispatcher", 1),
        ("stream_consumer", "stream_consumer", 2),
    ];
    for (point, actor, expected) in points {
        arm(&faults, point);
        let armed = Instant::now();
        loop {
            if restarts(&rce, actor).await >= expected
                && actor_state(&rce, actor).await.as_deref() == Some("running")
            {
                break;
            }
            assert!(
                armed.elapsed() < Duration::from_secs(5),
                "{actor} not running again 5 s after a panic at {point}\n{}",
                rce.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        eprintln!("{point}: {actor} running again after {:?}", armed.elapsed());
    }
    assert_each_printed_its_index(&rce, &ids, Duration::from_secs(120)).await;
    assert_eq!(
        jobs_executed(&rce).await,
        24,
        "a job ran twice\n{}",
        rce.log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_count(&redis_url(), &rce.prefix).await > 0 {
        assert!(Instant::now() < deadline, "entries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
    let _ = std::fs::remove_dir_all(faults);
}

/// A SandboxActor that panics while its job runs: the job still gets a
/// result (internal_error), its container is removed, and the worker runs
/// the next job normally.
#[actix_rt::test]
async fn sandbox_panic_mid_job_gives_a_result_and_leaves_no_container() {
    let (faults, fault_env) = fault_dir();
    let rce = start_rce_with(RceOptions {
        env: fault_env,
        ..Default::default()
    });
    arm(&faults, "sandbox");
    let id = submit(&rce, sleepy_job(1, 3.0)).await;
    let submission = wait_completed(&rce, &id, Duration::from_secs(60)).await;
    assert_eq!(
        submission["result"]["verdict"], "internal_error",
        "{submission}"
    );
    let left = containers_left(&rce.prefix, Duration::from_secs(15)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
    let next = submit(&rce, sleepy_job(2, 0.1)).await;
    let submission = wait_completed(&rce, &next, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["stdout"], "2\n", "{submission}");
    let _ = std::fs::remove_dir_all(faults);
}

/// The actors' thread blocked past `supervision.wedged_after_ms` (the store's
/// supervisor blocks it, so the actors sharing that thread stop beating):
/// /healthz answers 503 naming an actor as wedged while it lasts (so an
/// orchestrator would restart the process), and 200 again once the thread
/// is free. Which of the actors sharing the thread lapse first is timing: a
/// full run has seen only the store, and the store alone still running.
#[actix_rt::test]
async fn a_wedged_actor_fails_liveness() {
    let (faults, fault_env) = fault_dir();
    let rce = start_rce_with(RceOptions {
        env: [
            fault_env,
            env(&[("RCE_SUPERVISION__WEDGED_AFTER_MS", "1000")]),
        ]
        .concat(),
        ..Default::default()
    });
    let (status, health) = get_json(&rce.url("/healthz")).await;
    assert_eq!(status, 200, "{health}");
    arm(&faults, "store.wedge");
    let deadline = Instant::now() + Duration::from_secs(4);
    let failing: Value = loop {
        let (status, health) = get_json(&rce.url("/healthz")).await;
        if status == 503 {
            break health;
        }
        assert!(Instant::now() < deadline, "/healthz never failed: {health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failing["status"], "failing", "{failing}");
    assert!(
        failing["actors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["state"] == "wedged"),
        "{failing}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, health) = get_json(&rce.url("/healthz")).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz stayed failing: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = std::fs::remove_dir_all(faults);
}

/// Drain timeout of the SIGTERM tests.
const DRAIN_MS: u64 = 2000;

/// rce on `service` (where Redis or Docker is) with a [`DRAIN_MS`] drain
/// timeout, running a job that sleeps 6 s and prints `n`.
async fn rce_running_a_job(service: &[(String, String)], n: usize) -> (Rce, String) {
    let rce = start_rce_with(RceOptions {
        env: [
            service.to_vec(),
            fast_recovery(),
            env(&[("RCE_SHUTDOWN__DRAIN_TIMEOUT_MS", &DRAIN_MS.to_string())]),
        ]
        .concat(),
        ..Default::default()
    });
    let id = submit(&rce, sleepy_job(n, 6.0)).await;
    wait_running(&rce, &id).await;
    (rce, id)
}

/// SIGTERMs `rce` and asserts it exits 0 within the drain timeout plus a
/// second of slack.
fn terminate_within_the_drain(rce: &mut Rce, outage: &str) {
    let signalled = Instant::now();
    let status = rce.terminate();
    let took = signalled.elapsed();
    eprintln!("exited {took:?} after SIGTERM with {outage}");
    assert!(status.success(), "exit status {status:?}\n{}", rce.log());
    assert!(
        took < Duration::from_millis(DRAIN_MS + 1000),
        "took {took:?}\n{}",
        rce.log()
    );
}

/// A new process on `rce`'s prefix and store finishes job `id` with its own
/// output `n`, and no container of it is left.
async fn finished_by_the_next_worker(rce: &Rce, service: &[(String, String)], id: &str, n: usize) {
    let again = start_rce_with(RceOptions {
        env: [service.to_vec(), fast_recovery()].concat(),
        share_with: Some((rce.prefix.clone(), rce.dir.clone())),
        ..Default::default()
    });
    let submission = wait_completed(&again, id, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["verdict"], "ok", "{submission}");
    assert_eq!(
        submission["result"]["stdout"],
        format!("{n}\n"),
        "{submission}"
    );
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
}

/// SIGTERM while Redis is down and a job runs: the process exits 0 within
/// `shutdown.drain_timeout_ms` (plus a second of slack) and removes the
/// job's container, leaving its entry pending; once Redis is back a new
/// worker finishes the job with its own output and nothing stays pending.
#[actix_rt::test]
async fn sigterm_during_a_redis_outage_exits_within_the_drain_timeout() {
    let mut redis = OwnRedis::start();
    let service = vec![("RCE_REDIS__URL".to_string(), redis.url())];
    let (mut rce, id) = rce_running_a_job(&service, 5).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    terminate_within_the_drain(&mut rce, "Redis down");
    let left = containers_left(&rce.prefix, Duration::from_secs(10)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
    redis.spawn();
    finished_by_the_next_worker(&rce, &service, &id, 5).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_count(&redis.url(), &rce.prefix).await > 0 {
        assert!(Instant::now() < deadline, "entries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM while the Docker engine is away and a job runs: the process exits
/// 0 within `shutdown.drain_timeout_ms` (plus a second of slack) without
/// completing the job; a new worker, with the engine back, finishes it with
/// its own output and no container is left.
#[actix_rt::test]
async fn sigterm_with_the_docker_engine_away_exits_within_the_drain_timeout() {
    let proxy = DockerProxy::start();
    let service = vec![("DOCKER_HOST".to_string(), proxy.docker_host())];
    let (mut rce, id) = rce_running_a_job(&service, 4).await;
    proxy.cut();
    terminate_within_the_drain(&mut rce, "the engine away");
    proxy.restore();
    finished_by_the_next_worker(&rce, &service, &id, 4).await;
}

/// Subscribers of a user's event channel on the shared Redis.
async fn subscribers(prefix: &str, user_id: &str) -> i64 {
    let mut redis = redis_connection(&redis_url()).await;
    let counts: Vec<(String, i64)> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg(format!("{prefix}:events:{user_id}"))
        .query_async(&mut redis)
        .await
        .unwrap();
    counts.first().map_or(0, |(_, n)| *n)
}

/// A SessionActor that panics does not leak its user's subscription: the
/// user is unsubscribed (by `stopped()`, which actix 0.13 runs while it drops
/// the panicked actor, or else by the PubSubBridge's sweep of dead sessions,
/// both within 10 s), and a new session subscribes again.
#[actix_rt::test]
async fn a_panicking_session_is_unsubscribed() {
    let (faults, fault_env) = fault_dir();
    let rce = start_rce_with(RceOptions {
        env: fault_env,
        ..Default::default()
    });
    let token = rce.token().await;
    let (_, me) = get_json_as(&token, &rce.url("/api/v1/auth/me")).await;
    let user_id = me["id"].as_str().unwrap().to_string();
    let mut ws = WsClient::connect_authed(&rce, &token).await;
    assert_eq!(subscribers(&rce.prefix, &user_id).await, 1);
    arm(&faults, "session");
    ws.send(&serde_json::json!({"type": "watch", "id": "00000000-0000-0000-0000-000000000000"}))
        .await;
    let panicked = Instant::now();
    let deadline = panicked + Duration::from_secs(10);
    while subscribers(&rce.prefix, &user_id).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the dead session's subscription leaked\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("unsubscribed {:?} after the panic", panicked.elapsed());
    let _again = WsClient::connect_authed(&rce, &token).await;
    assert_eq!(subscribers(&rce.prefix, &user_id).await, 1);
    let _ = std::fs::remove_dir_all(faults);
}
