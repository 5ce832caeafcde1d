//! Self-healing with injected faults: every long-lived actor panics on demand
//! (the `fault-injection` feature, on in test builds: a file named after the
//! point in `FAULT_INJECTION_DIR` arms it) under load, a SandboxActor dies
//! mid-job, the actors' thread wedges, and SIGTERM arrives while Redis or the
//! Docker engine is away. Real rce processes, Redis and Docker throughout.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A directory for arming faults, and the variable that points rce at it.
fn fault_dir() -> (PathBuf, Vec<(String, String)>) {
    let dir = std::env::temp_dir().join(format!("rce-faults-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let pair = ("FAULT_INJECTION_DIR".to_string(), dir.display().to_string());
    (dir, vec![pair])
}

/// Arms `point` once.
fn arm(dir: &std::path::Path, point: &str) {
    std::fs::write(dir.join(point), b"").unwrap();
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
    let rce = start_rce_with(RceOptions {
        env: [fast_recovery(), fault_env].concat(),
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
    for (i, id) in ids.iter().enumerate() {
        let submission = wait_completed(&rce, id, Duration::from_secs(120)).await;
        assert_eq!(
            submission["result"]["stdout"],
            format!("{i}\n"),
            "{submission}"
        );
    }
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
/// /healthz answers 503 naming the wedged actors while it lasts (so an orchestrator would
/// restart the process), and 200 again once the thread is free.
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
            .any(|a| a["actor"] == "stream_consumer" && a["state"] == "wedged"),
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

/// SIGTERM while Redis is down and a job runs: the process exits 0 within
/// `shutdown.drain_timeout_ms` (plus a second of slack), removes the job's
/// container and leaves its entry pending; once Redis is back a new worker
/// finishes the job with its own output and nothing stays pending.
#[actix_rt::test]
async fn sigterm_during_a_redis_outage_exits_within_the_drain_timeout() {
    let mut redis = OwnRedis::start();
    let redis_env = vec![("RCE_REDIS__URL".to_string(), redis.url())];
    let mut rce = start_rce_with(RceOptions {
        env: [
            redis_env.clone(),
            fast_recovery(),
            env(&[("RCE_SHUTDOWN__DRAIN_TIMEOUT_MS", "2000")]),
        ]
        .concat(),
        ..Default::default()
    });
    let id = submit(
        &rce,
        json!({"language": "python", "source": "import time\ntime.sleep(6)\nprint(5)"}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_submission(&rce, &id).await.1["status"] != "running" {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    let status = rce.terminate();
    let took = signalled.elapsed();
    eprintln!("exited {took:?} after SIGTERM with Redis down");
    assert!(status.success(), "exit status {status:?}\n{}", rce.log());
    assert!(
        took < Duration::from_millis(2000 + 1000),
        "took {took:?}\n{}",
        rce.log()
    );
    let left = containers_left(&rce.prefix, Duration::from_secs(10)).await;
    assert!(left.is_empty(), "containers left: {left:?}");

    redis.spawn();
    let again = start_rce_with(RceOptions {
        env: [redis_env, fast_recovery()].concat(),
        share_with: Some((rce.prefix.clone(), rce.dir.clone())),
        ..Default::default()
    });
    let submission = wait_completed(&again, &id, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["verdict"], "ok", "{submission}");
    assert_eq!(submission["result"]["stdout"], "5\n", "{submission}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_count(&redis.url(), &rce.prefix).await > 0 {
        assert!(Instant::now() < deadline, "entries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM while the Docker engine is away and a job runs: the process exits
/// 0 within `shutdown.drain_timeout_ms` (plus a second of slack) and the job
/// is not completed by the outage; a new worker, with the engine back,
/// finishes it with its own output and removes every container.
#[actix_rt::test]
async fn sigterm_with_the_docker_engine_away_exits_within_the_drain_timeout() {
    let proxy = DockerProxy::start();
    let engine = vec![("DOCKER_HOST".to_string(), proxy.docker_host())];
    let mut rce = start_rce_with(RceOptions {
        env: [
            engine.clone(),
            fast_recovery(),
            env(&[("RCE_SHUTDOWN__DRAIN_TIMEOUT_MS", "2000")]),
        ]
        .concat(),
        ..Default::default()
    });
    let id = submit(&rce, sleepy_job(4, 6.0)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_submission(&rce, &id).await.1["status"] != "running" {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.cut();
    let signalled = Instant::now();
    let status = rce.terminate();
    let took = signalled.elapsed();
    eprintln!("exited {took:?} after SIGTERM with the engine away");
    assert!(status.success(), "exit status {status:?}\n{}", rce.log());
    assert!(
        took < Duration::from_millis(2000 + 1000),
        "took {took:?}\n{}",
        rce.log()
    );
    proxy.restore();
    let again = start_rce_with(RceOptions {
        env: [engine, fast_recovery()].concat(),
        share_with: Some((rce.prefix.clone(), rce.dir.clone())),
        ..Default::default()
    });
    let submission = wait_completed(&again, &id, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["stdout"], "4\n", "{submission}");
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
}
