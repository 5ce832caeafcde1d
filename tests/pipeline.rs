//! The self-healing job pipeline with real processes: several `rce serve
//! --role worker` processes on one Redis stream, killed with SIGKILL or
//! SIGTERM mid-run, a Redis restart under load and a poison entry. Every test
//! runs its own API process (and, where it restarts Redis, its own
//! redis-server), so nothing here disturbs other tests.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Worker settings that make recovery quick enough to test.
fn fast_recovery() -> Vec<(String, String)> {
    env(&[
        ("RCE_WORKER__CLAIM_IDLE_MS", "3000"),
        ("RCE_WORKER__REAP_INTERVAL_MS", "1000"),
        ("RCE_WORKER__TRIM_INTERVAL_MS", "1000"),
        ("RCE_WORKER__READ_BLOCK_MS", "500"),
    ])
}

fn sleepy_job(i: usize, seconds: f64) -> serde_json::Value {
    json!({"language": "python", "source": format!("import time\ntime.sleep({seconds})\nprint({i})")})
}

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Entries pending in the workers group of `prefix`.
async fn pending_count(url: &str, prefix: &str) -> usize {
    let mut conn = redis_connection(url).await;
    let summary: (usize, Option<String>, Option<String>, redis::Value) = redis::cmd("XPENDING")
        .arg(format!("{prefix}:jobs"))
        .arg("workers")
        .query_async(&mut conn)
        .await
        .unwrap();
    summary.0
}

/// Polls the submission until it is running (panics after 30 s).
async fn wait_running(rce: &Rce, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, submission) = get_submission(rce, id).await;
        if submission["status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "job never started: {submission}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a completed submission took from its creation to its result,
/// by the server's own timestamps.
fn submit_to_finish(submission: &Value) -> time::Duration {
    let at = |field: &str| {
        let text = submission[field].as_str().expect("a timestamp");
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 timestamp")
    };
    at("finished_at") - at("created_at")
}

fn kill(child: &Child, signal: &str) {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
}

/// Three worker processes run 60 jobs; one is killed with SIGKILL while it
/// runs jobs. All 60 complete with their own output, nothing stays pending,
/// and the dead worker's containers are reaped.
#[actix_rt::test]
async fn sigkill_of_one_worker_loses_nothing() {
    let rce = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let mut workers: Vec<Child> = (0..3)
        .map(|_| start_worker(&rce, fast_recovery()))
        .collect();
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(submit(&rce, sleepy_job(i, 0.3)).await);
    }
    // Let every worker pick up work, then kill the first one mid-run.
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill(&workers[0], "-KILL");
    workers[0].wait().unwrap();
    let started = Instant::now();
    let mut longest = time::Duration::ZERO;
    for (i, id) in ids.iter().enumerate() {
        let submission = wait_completed(&rce, id, Duration::from_secs(240)).await;
        assert_eq!(submission["result"]["verdict"], "ok", "{submission}");
        assert_eq!(
            submission["result"]["stdout"],
            format!("{i}\n"),
            "{submission}"
        );
        longest = longest.max(submit_to_finish(&submission));
    }
    eprintln!(
        "all 60 jobs completed {:?} after the kill; the longest submit→finished was {:.2} s",
        started.elapsed(),
        longest.as_seconds_f64()
    );
    assert_eq!(pending_count(&redis_url(), &rce.prefix).await, 0);
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
    for worker in workers.iter_mut().skip(1) {
        kill(worker, "-TERM");
        assert!(worker.wait().unwrap().success());
    }
}

/// A job whose worker dies is finished by another worker within
/// claim_idle_ms plus its run time (plus container start and a margin).
#[actix_rt::test]
async fn job_of_a_dead_worker_is_finished_by_another() {
    let rce = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let mut first = start_worker(&rce, fast_recovery());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let id = submit(&rce, sleepy_job(7, 2.0)).await;
    // Wait until the job runs on the first worker, then start a second
    // worker and kill the first.
    wait_running(&rce, &id).await;
    let mut second = start_worker(&rce, fast_recovery());
    kill(&first, "-KILL");
    first.wait().unwrap();
    let killed_at = Instant::now();
    let submission = wait_completed(&rce, &id, Duration::from_secs(60)).await;
    let recovery = killed_at.elapsed();
    assert_eq!(submission["result"]["stdout"], "7\n", "{submission}");
    eprintln!("recovered in {recovery:?}");
    assert!(
        recovery < Duration::from_millis(3000 + 2000 + 5000),
        "recovery took {recovery:?}"
    );
    kill(&second, "-TERM");
    assert!(second.wait().unwrap().success());
    assert!(containers_left(&rce.prefix, Duration::from_secs(10))
        .await
        .is_empty());
}

/// SIGTERM while a job runs: the job completes and is acked, the process
/// exits 0, and nothing is left pending.
#[actix_rt::test]
async fn sigterm_drains_running_jobs() {
    let mut rce = start_rce();
    let id = submit(&rce, sleepy_job(3, 2.0)).await;
    wait_running(&rce, &id).await;
    let status = rce.terminate();
    assert!(status.success(), "exit status {status:?}\n{}", rce.log());
    assert_eq!(pending_count(&redis_url(), &rce.prefix).await, 0);
    // A new process on the same store shows the stored result.
    let again = start_rce_with(RceOptions {
        role: "api",
        share_with: Some((rce.prefix.clone(), rce.dir.clone())),
        ..Default::default()
    });
    let (_, submission) = get_submission(&again, &id).await;
    assert_eq!(submission["status"], "completed", "{submission}");
    assert_eq!(submission["result"]["stdout"], "3\n", "{submission}");
}

/// An undecodable entry is dead-lettered after max_attempts deliveries and
/// acked; the jobs around it complete.
#[actix_rt::test]
async fn poison_entry_is_dead_lettered() {
    let rce = start_rce_with(RceOptions {
        env: env(&[
            ("RCE_WORKER__CLAIM_IDLE_MS", "500"),
            ("RCE_WORKER__MAX_ATTEMPTS", "2"),
            ("RCE_WORKER__READ_BLOCK_MS", "200"),
        ]),
        ..Default::default()
    });
    let before = submit(
        &rce,
        json!({"language": "python", "source": "print('before')"}),
    )
    .await;
    let mut conn = redis_connection(&redis_url()).await;
    let poison: String = redis::cmd("XADD")
        .arg(format!("{}:jobs", rce.prefix))
        .arg("*")
        .arg("job")
        .arg("{this is not a job")
        .query_async(&mut conn)
        .await
        .unwrap();
    let after = submit(
        &rce,
        json!({"language": "python", "source": "print('after')"}),
    )
    .await;
    for (id, out) in [(&before, "before\n"), (&after, "after\n")] {
        let submission = wait_completed(&rce, id, Duration::from_secs(60)).await;
        assert_eq!(submission["result"]["stdout"], out);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let dead: Vec<redis::streams::StreamId> = {
            let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(format!("{}:jobs:dead", rce.prefix))
                .arg("-")
                .arg("+")
                .query_async(&mut conn)
                .await
                .unwrap();
            reply.ids
        };
        if dead
            .iter()
            .any(|entry| entry.get::<String>("entry").as_deref() == Some(poison.as_str()))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "poison entry {poison} never dead-lettered\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while pending_count(&redis_url(), &rce.prefix).await > 0 {
        assert!(Instant::now() < deadline, "entries still pending");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A redis-server of this test's own, on a free port, with appendonly.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("rce-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = OwnRedis {
            port,
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&child, "-TERM");
            child.wait().unwrap();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Redis restarts in the middle of a load of 30 jobs; every job completes
/// once it is back (appendonly keeps the stream and the group).
#[actix_rt::test]
async fn redis_restart_mid_load_loses_nothing() {
    let mut redis = OwnRedis::start();
    let rce = start_rce_with(RceOptions {
        env: [
            vec![("RCE_REDIS__URL".to_string(), redis.url())],
            fast_recovery(),
        ]
        .concat(),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(submit(&rce, sleepy_job(i, 0.2)).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.spawn();
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let submission = wait_completed(&rce, id, Duration::from_secs(180)).await;
        assert_eq!(
            submission["result"]["stdout"],
            format!("{i}\n"),
            "{submission}"
        );
    }
    eprintln!(
        "all 30 jobs completed {:?} after Redis returned",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while pending_count(&redis.url(), &rce.prefix).await > 0 {
        assert!(
            Instant::now() < deadline,
            "entries still pending after the restart\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A job running far longer than claim_idle_ms is never taken over while its
/// worker is alive: with two workers it starts once and finishes once (the
/// user sees exactly one `started` and one `finished`).
#[actix_rt::test]
async fn live_long_job_is_not_taken_over() {
    let rce = start_rce_with(RceOptions {
        env: env(&[
            ("RCE_WORKER__CLAIM_IDLE_MS", "300"),
            ("RCE_WORKER__READ_BLOCK_MS", "100"),
        ]),
        ..Default::default()
    });
    let mut other = start_worker(
        &rce,
        env(&[
            ("RCE_WORKER__CLAIM_IDLE_MS", "300"),
            ("RCE_WORKER__READ_BLOCK_MS", "100"),
        ]),
    );
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let id = submit(&rce, sleepy_job(1, 2.5)).await;
    let events = ws.events_until_finished(&id, Duration::from_secs(60)).await;
    // Anything published after `finished` (a duplicate run) would arrive soon.
    let mut late = Vec::new();
    while let Some(event) = ws.next_event(Duration::from_secs(2)).await {
        late.push(event);
    }
    let count = |kind: &str| {
        events
            .iter()
            .chain(&late)
            .filter(|e| e["type"] == kind && e["id"] == id.as_str())
            .count()
    };
    assert_eq!(count("started"), 1, "{events:?} {late:?}");
    assert_eq!(count("finished"), 1, "{events:?} {late:?}");
    kill(&other, "-TERM");
    assert!(other.wait().unwrap().success());
}

/// The Docker engine goes away while a job runs: the job is not lost and not
/// failed, the process reports not ready, and once the engine answers again
/// the job runs to completion and no container is left.
#[actix_rt::test]
async fn engine_outage_is_retried_not_lost() {
    let proxy = DockerProxy::start();
    let rce = start_rce_with(RceOptions {
        env: [
            env(&[
                ("RCE_WORKER__ENGINE_CHECK_MS", "300"),
                ("RCE_WORKER__CLAIM_IDLE_MS", "2000"),
            ]),
            vec![("DOCKER_HOST".to_string(), proxy.docker_host())],
            fast_recovery()
                .into_iter()
                .filter(|(k, _)| k != "RCE_WORKER__CLAIM_IDLE_MS")
                .collect(),
        ]
        .concat(),
        ..Default::default()
    });
    let id = submit(&rce, sleepy_job(5, 3.0)).await;
    wait_running(&rce, &id).await;
    proxy.cut();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, ready) = get_json(&rce.url("/readyz")).await;
        if status == 503 {
            assert_eq!(ready["checks"]["docker"], false, "{ready}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready with the engine away: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, submission) = get_submission(&rce, &id).await;
    assert_ne!(
        submission["status"], "completed",
        "the outage must not complete the job: {submission}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    let submission = wait_completed(&rce, &id, Duration::from_secs(60)).await;
    assert_eq!(
        submission["result"]["verdict"],
        "ok",
        "{submission}\n{}",
        rce.log()
    );
    assert_eq!(submission["result"]["stdout"], "5\n");
    let (status, _) = get_json(&rce.url("/readyz")).await;
    assert_eq!(status, 200);
    let left = containers_left(&rce.prefix, Duration::from_secs(20)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
}
