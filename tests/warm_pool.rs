//! The warm pool with a real rce and real containers: containers are
//! prepared ahead of time, a default-limit job takes one, a job with other
//! limits takes the cold path, the pool never grows past its size, pools
//! follow demand (a language's first job starts one, idle ones shrink to
//! zero), and shutdown removes the idle ones.

mod common;

use common::*;
use serde_json::json;
use std::collections::HashMap;
use std::ops::AsyncFnMut;
use std::time::{Duration, Instant};

/// Warm containers (idle or serving) of this test's prefix.
async fn warm_containers(prefix: &str) -> usize {
    warm_containers_where(prefix, &[]).await
}

async fn warm_containers_where(prefix: &str, status: &[&str]) -> usize {
    warm_container_ids(prefix, status).await.len()
}

/// Ids of this prefix's warm containers in one of `status` (any when empty).
async fn warm_container_ids(prefix: &str, status: &[&str]) -> Vec<String> {
    let docker = docker().await;
    let mut filters = HashMap::from([(
        "label",
        vec![format!("rce.prefix={prefix}"), "rce.warm".to_string()],
    )]);
    if !status.is_empty() {
        filters.insert("status", status.iter().map(|s| s.to_string()).collect());
    }
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let containers = docker.list_containers(Some(options)).await.unwrap();
    containers.into_iter().filter_map(|c| c.id).collect()
}

fn warm_env(size: &str) -> Vec<(String, String)> {
    vec![
        ("RCE_SANDBOX__WARM_POOL_SIZE".into(), size.into()),
        ("RCE_SANDBOX__WARM_LANGUAGES".into(), "python".into()),
    ]
}

/// An rce with a python pool of two, once both containers are ready.
async fn start_with_full_pool() -> Rce {
    let rce = start_rce_with(RceOptions {
        env: warm_env("2"),
        ..Default::default()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while warm_containers_where(&rce.prefix, &["running"]).await < 2 {
        assert!(
            Instant::now() < deadline,
            "the pool never filled\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Running is reported just before the pool files the container as ready.
    tokio::time::sleep(Duration::from_millis(500)).await;
    rce
}

/// The pool fills to its size, a default-limit job runs in a warm container
/// and one with other limits runs cold, the pool never holds more than its
/// size, and SIGTERM removes the idle warm containers.
#[actix_rt::test]
async fn warm_pool_serves_default_jobs_and_stays_bounded() {
    let mut rce = start_with_full_pool().await;

    let warm = submit(
        &rce,
        json!({"language": "python", "source": "print('warm')"}),
    )
    .await;
    let submission = wait_completed(&rce, &warm, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["stdout"], "warm\n");
    let cold = submit(
        &rce,
        json!({"language": "python", "source": "print('cold')", "limits": {"memory_mb": 100}}),
    )
    .await;
    let submission = wait_completed(&rce, &cold, Duration::from_secs(60)).await;
    assert_eq!(submission["result"]["stdout"], "cold\n");
    let log = rce.log();
    let started = |id: &str| {
        log.lines()
            .find(|l| l.contains("starting a sandbox") && l.contains(id))
            .map(str::to_string)
    };
    assert!(
        started(&warm).is_some_and(|l| l.contains("warm=true")),
        "{:?}",
        started(&warm)
    );
    assert!(
        started(&cold).is_some_and(|l| l.contains("warm=false")),
        "{:?}",
        started(&cold)
    );

    // A burst of jobs: the pool is drawn down and refilled, never above 2
    // idle containers plus the ones serving jobs (2 slots).
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            submit(
                &rce,
                json!({"language": "python", "source": format!("print({i})")}),
            )
            .await,
        );
    }
    let mut most = 0;
    for id in &ids {
        most = most.max(warm_containers(&rce.prefix).await);
        wait_completed(&rce, id, Duration::from_secs(60)).await;
    }
    assert!(
        most <= 4,
        "at most 2 idle + 2 serving warm containers, saw {most}"
    );
    assert!(containers_left(&rce.prefix, Duration::from_secs(10))
        .await
        .is_empty());

    let status = rce.terminate();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while warm_containers(&rce.prefix).await > 0 {
        assert!(
            Instant::now() < deadline,
            "warm containers left after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Idle warm containers that die behind the worker's back (killed from
/// outside, here) do not fail the jobs that take them: each job still ends
/// `ok`, in a fresh container, and nothing is left behind.
#[actix_rt::test]
async fn jobs_survive_dead_warm_containers() {
    let mut rce = start_with_full_pool().await;
    let docker = docker().await;
    for id in warm_container_ids(&rce.prefix, &["running"]).await {
        docker
            .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
            .await
            .unwrap();
    }
    for i in 0..2 {
        let id = submit(
            &rce,
            json!({"language": "python", "source": format!("print({i})")}),
        )
        .await;
        let done = wait_completed(&rce, &id, Duration::from_secs(60)).await;
        assert_eq!(done["result"]["verdict"], "ok", "{done}\n{}", rce.log());
        assert_eq!(done["result"]["stdout"], format!("{i}\n"), "{done}");
    }
    let status = rce.terminate();
    assert!(status.success(), "exit status {status:?}");
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
}

/// Warm containers of `prefix` running `image` (`rce-c:latest`, …).
async fn warm_of(prefix: &str, image: &str) -> usize {
    let docker = docker().await;
    let filters = HashMap::from([
        (
            "label",
            vec![format!("rce.prefix={prefix}"), "rce.warm".to_string()],
        ),
        ("status", vec!["running".to_string()]),
    ]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let containers = docker.list_containers(Some(options)).await.unwrap();
    containers
        .iter()
        .filter(|c| c.image.as_deref() == Some(image))
        .count()
}

/// Waits until `done` holds, or fails with `what` and the log.
async fn eventually(rce: &Rce, within: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}\n{}", rce.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pools follow demand: a language nobody asked for has none; its first
/// job starts one (and the next job of it runs warm, compiling in the warm
/// container); once the demand has decayed (a 2 s half-life here) every
/// pool, the seeded python one included, shrinks to zero.
#[actix_rt::test]
async fn pools_follow_demand_and_shrink_to_zero() {
    let mut rce = start_rce_with(RceOptions {
        env: vec![
            ("RCE_SANDBOX__WARM_POOL_SIZE".into(), "2".into()),
            ("RCE_SANDBOX__WARM_LANGUAGES".into(), "python".into()),
            ("RCE_SANDBOX__WARM_HALF_LIFE_MS".into(), "2000".into()),
        ],
        ..Default::default()
    });
    let prefix = rce.prefix.clone();
    eventually(
        &rce,
        Duration::from_secs(30),
        "python starts warm",
        async || warm_of(&prefix, "rce-python:latest").await >= 1,
    )
    .await;
    assert_eq!(
        warm_of(&prefix, "rce-c:latest").await,
        0,
        "no demand for c yet"
    );

    let source = "#include <stdio.h>\nint main(void){puts(\"hi\");return 0;}\n";
    let first = submit(&rce, json!({"language": "c", "source": source})).await;
    let done = wait_completed(&rce, &first, Duration::from_secs(60)).await;
    assert_eq!(done["result"]["stdout"], "hi\n", "{done}");
    eventually(
        &rce,
        Duration::from_secs(10),
        "c's first job starts its pool",
        async || warm_of(&prefix, "rce-c:latest").await >= 1,
    )
    .await;
    // Running is reported just before the pool files the container as ready.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = submit(&rce, json!({"language": "c", "source": source})).await;
    let done = wait_completed(&rce, &second, Duration::from_secs(60)).await;
    assert_eq!(done["result"]["stdout"], "hi\n", "{done}");
    let started = rce
        .log()
        .lines()
        .find(|l| l.contains("starting a sandbox") && l.contains(&second))
        .map(str::to_string);
    assert!(
        started.as_deref().is_some_and(|l| l.contains("warm=true")),
        "the second c job runs warm: {started:?}"
    );

    eventually(
        &rce,
        Duration::from_secs(60),
        "idle pools shrink to zero",
        async || warm_containers(&prefix).await == 0,
    )
    .await;
    let status = rce.terminate();
    assert!(status.success(), "exit status {status:?}");
}
