//! Fair dispatch and per-user caps with real processes, Redis and
//! containers: a new user's job starts ahead of another user's backlog across
//! two API and two worker processes, a lone user still uses every slot, the
//! running cap holds while others wait, the active-job cap is exact under
//! parallel submissions, and a worker dying with promoted jobs loses nothing
//! (and leaves no count behind). Each test has its own prefix and store.

mod common;

use common::*;
use rce::queue::Keys;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A python job that sleeps `seconds`, then prints `tag`.
fn sleepy(tag: &str, seconds: f64) -> Value {
    json!({"language": "python", "source": format!("import time\ntime.sleep({seconds})\nprint('{tag}')")})
}

/// A second process sharing `rce`'s prefix and store, in `role`, with `env`.
fn sibling(rce: &Rce, role: &'static str, env: Vec<(String, String)>) -> Rce {
    start_rce_with(RceOptions {
        role,
        env,
        share_with: Some((rce.prefix.clone(), rce.dir.clone())),
    })
}

fn kill(child: &Child, signal: &str) {
    Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
}

/// A registered user acting through one API process.
struct User {
    token: String,
}

impl User {
    async fn new(rce: &Rce, name: &str) -> User {
        let token = register_and_login_as(rce, name, "a long enough password").await;
        User { token }
    }

    async fn status(&self, rce: &Rce, id: &str) -> String {
        let (status, submission) =
            get_json_as(&self.token, &rce.url(&format!("/api/v1/submissions/{id}"))).await;
        assert_eq!(status, 200, "{submission}");
        submission["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Submits `rounds` sleeping jobs for each of `users` in turn (a, b, a, b,
/// …); returns them as (user, owner tag, job id).
async fn alternate<'u>(
    api: &Rce,
    users: [(&'u User, &'static str); 2],
    rounds: usize,
    seconds: f64,
) -> Vec<(&'u User, &'static str, String)> {
    let mut jobs = Vec::new();
    for i in 0..rounds {
        for (user, owner) in users {
            let id = submit_as(api, &user.token, sleepy(&format!("{owner}{i}"), seconds)).await;
            jobs.push((user, owner, id));
        }
    }
    jobs
}

/// Polls every job until all are completed (panics after `within`); returns
/// the largest number of them seen running at once, overall and per owner.
async fn watch(
    rce: &Rce,
    jobs: &[(&User, &str, String)],
    within: Duration,
) -> (usize, HashMap<String, usize>) {
    let started = Instant::now();
    let (mut most, mut most_per_owner) = (0, HashMap::<String, usize>::new());
    loop {
        let mut running = HashMap::<String, usize>::new();
        let mut completed = 0;
        for (user, owner, id) in jobs {
            match user.status(rce, id).await.as_str() {
                "running" => *running.entry(owner.to_string()).or_default() += 1,
                "completed" => completed += 1,
                _ => {}
            }
        }
        most = most.max(running.values().sum());
        for (owner, count) in running {
            let seen = most_per_owner.entry(owner).or_default();
            *seen = (*seen).max(count);
        }
        if completed == jobs.len() {
            return (most, most_per_owner);
        }
        assert!(
            started.elapsed() < within,
            "jobs not completed within {within:?}\n{}",
            rce.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The fair layer's counters for `prefix`: (running per user, promoted
/// entries not acked, held jobs, users with backlog).
async fn fair_state(prefix: &str) -> (HashMap<String, i64>, usize, i64, usize) {
    let keys = Keys::new(prefix);
    let mut conn = redis().await;
    let running: HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(keys.fair_running())
        .query_async(&mut conn)
        .await
        .unwrap();
    let dispatched: usize = redis::cmd("HLEN")
        .arg(keys.fair_dispatched())
        .query_async(&mut conn)
        .await
        .unwrap();
    let held: i64 = redis::cmd("LLEN")
        .arg(keys.fair_held())
        .query_async(&mut conn)
        .await
        .unwrap();
    let ring: usize = redis::cmd("LLEN")
        .arg(keys.fair_ring())
        .query_async(&mut conn)
        .await
        .unwrap();
    (running, dispatched, held, ring)
}

/// The scenario across two API processes and two one-slot workers:
/// user A queues six 3 s jobs through the first API, then user B's
/// `print(1)` through the second API starts at the next free slot, ahead of
/// A's backlog: at most the two A jobs that held the slots finish before B's
/// (first in, first out would finish all six first).
#[actix_rt::test]
async fn a_new_users_job_starts_ahead_of_another_users_backlog() {
    let api = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let api2 = sibling(&api, "api", vec![]);
    let one_slot = || env(&[("RCE_WORKER__CONCURRENCY", "1")]);
    let mut workers = [
        start_worker(&api, one_slot()),
        start_worker(&api, one_slot()),
    ];
    let a = User::new(&api, "fair_a").await;
    let b = User::new(&api2, "fair_b").await;
    let mut a_jobs = Vec::new();
    for i in 0..6 {
        a_jobs.push(submit_as(&api, &a.token, sleepy(&format!("a{i}"), 3.0)).await);
    }
    // B arrives once A's first jobs hold both slots.
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.status(&api, &a_jobs[0]).await != "running"
        || a.status(&api, &a_jobs[1]).await != "running"
    {
        assert!(
            Instant::now() < deadline,
            "A's first jobs never ran\n{}",
            api.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b_job = submit_as(
        &api2,
        &b.token,
        json!({"language": "python", "source": "print(1)"}),
    )
    .await;
    let started = Instant::now();
    let a_done_before_b = loop {
        if b.status(&api2, &b_job).await == "completed" {
            let mut done = 0;
            for id in &a_jobs {
                done += usize::from(a.status(&api, id).await == "completed");
            }
            break done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "B's job never finished\n{}",
            api.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        a_done_before_b <= 2,
        "{a_done_before_b} of A's jobs finished before B's hello"
    );
    let jobs: Vec<_> = a_jobs.iter().map(|id| (&a, "a", id.clone())).collect();
    watch(&api, &jobs, Duration::from_secs(120)).await;
    for worker in &mut workers {
        kill(worker, "-TERM");
        assert!(worker.wait().unwrap().success());
    }
}

/// A user alone on the deployment uses every slot, even with a running cap
/// of 1: the cap only applies while another user has jobs waiting.
#[actix_rt::test]
async fn a_lone_user_uses_every_slot() {
    let rce = start_rce_with(RceOptions {
        env: env(&[("RCE_QUOTA__MAX_RUNNING_JOBS", "1")]),
        ..Default::default()
    });
    let user = User::new(&rce, "lone").await;
    let mut jobs = Vec::new();
    for i in 0..4 {
        let id = submit_as(&rce, &user.token, sleepy(&format!("l{i}"), 2.0)).await;
        jobs.push((&user, "lone", id));
    }
    let (most, _) = watch(&rce, &jobs, Duration::from_secs(90)).await;
    // At least: the store can still say "running" for a job whose slot was
    // already reused (its completion is written a moment later), so a poll
    // may count three; the worker's capacity is checked by the pool tests.
    assert!(
        most >= 2,
        "both slots of the worker were never busy at once"
    );
}

/// With a running cap of 1 and both users' jobs waiting, neither user runs
/// two jobs at once on a three-slot worker (the third slot stays free for a
/// third user) until a job finishes; every job still completes.
#[actix_rt::test]
async fn the_running_cap_holds_while_others_wait() {
    let cap = env(&[("RCE_QUOTA__MAX_RUNNING_JOBS", "1")]);
    let api = start_rce_with(RceOptions {
        role: "api",
        env: cap.clone(),
        ..Default::default()
    });
    let a = User::new(&api, "capped_a").await;
    let b = User::new(&api, "capped_b").await;
    // Queued before any worker exists, so both users have backlog when the
    // worker's first promotion picks.
    let jobs = alternate(&api, [(&a, "a"), (&b, "b")], 3, 3.0).await;
    let mut worker_env = cap;
    worker_env.push(("RCE_WORKER__CONCURRENCY".into(), "3".into()));
    let mut worker = start_worker(&api, worker_env);
    // Until the first job finishes nobody's running count drops, so the cap
    // decides alone: one job per user.
    let (mut most, started) = (0, Instant::now());
    'first: loop {
        let mut running = HashMap::<&str, usize>::new();
        for (user, owner, id) in &jobs {
            match user.status(&api, id).await.as_str() {
                "running" => *running.entry(owner).or_default() += 1,
                "completed" => break 'first,
                _ => {}
            }
        }
        assert!(running.values().all(|&n| n <= 1), "{running:?}");
        most = most.max(running.values().sum());
        assert!(started.elapsed() < Duration::from_secs(60), "{}", api.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(most, 2, "both users' first jobs should have run together");
    watch(&api, &jobs, Duration::from_secs(120)).await;
    kill(&worker, "-TERM");
    assert!(worker.wait().unwrap().success());
}

/// Twenty parallel submissions of one user, through two API processes,
/// against an active-job cap of 10: exactly 10 are accepted and 10 refused
/// with 429 `rate_limit.active_jobs`; once those jobs finish the user may
/// submit again (the reservations were released at the ack).
#[actix_rt::test]
async fn the_active_job_cap_is_exact_under_parallel_submissions() {
    let capped = env(&[("RCE_QUOTA__MAX_ACTIVE_JOBS", "10")]);
    let api = start_rce_with(RceOptions {
        env: capped.clone(),
        ..Default::default()
    });
    let api2 = sibling(&api, "api", capped);
    let user = User::new(&api, "parallel").await;
    let submissions = (0..20).map(|i| {
        let url = if i % 2 == 0 { &api } else { &api2 }.url("/api/v1/submissions");
        let body = sleepy(&format!("p{i}"), 0.5);
        let token = user.token.clone();
        async move { post_json_as(&token, &url, &body).await }
    });
    let replies = futures_util::future::join_all(submissions).await;
    let accepted: Vec<String> = replies
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, reply)| reply["id"].as_str().unwrap().to_string())
        .collect();
    let refused = replies
        .iter()
        .filter(|(status, reply)| {
            *status == 429 && reply["error"]["code"] == "rate_limit.active_jobs"
        })
        .count();
    assert_eq!((accepted.len(), refused), (10, 10), "{replies:?}");
    let jobs: Vec<_> = accepted.iter().map(|id| (&user, "u", id.clone())).collect();
    watch(&api, &jobs, Duration::from_secs(120)).await;
    // The ack releases a reservation just after the result is stored.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, reply) = post_json_as(
            &user.token,
            &api.url("/api/v1/submissions"),
            &json!({"language": "python", "source": "print(1)"}),
        )
        .await;
        if status == 202 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status} {reply}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A worker killed with SIGKILL while it runs promoted jobs loses none of
/// them: another worker takes its pending entries and the held ones, every
/// job completes, and the fair counters return to zero (each entry released
/// exactly once).
#[actix_rt::test]
async fn a_worker_dying_with_promoted_jobs_loses_nothing() {
    let api = start_rce_with(RceOptions {
        role: "api",
        ..Default::default()
    });
    let fast = || {
        env(&[
            ("RCE_WORKER__CLAIM_IDLE_MS", "2000"),
            ("RCE_WORKER__READ_BLOCK_MS", "500"),
        ])
    };
    let mut first = start_worker(&api, fast());
    let a = User::new(&api, "crash_a").await;
    let b = User::new(&api, "crash_b").await;
    let jobs = alternate(&api, [(&a, "a"), (&b, "b")], 4, 2.0).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.status(&api, &jobs[0].2).await != "running" {
        assert!(Instant::now() < deadline, "nothing ran\n{}", api.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(&first, "-KILL");
    first.wait().unwrap();
    let mut second = start_worker(&api, fast());
    watch(&api, &jobs, Duration::from_secs(180)).await;
    // The last ack lands just after the last result is stored.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = fair_state(&api.prefix).await;
        if state == (HashMap::new(), 0, 0, 0) {
            break;
        }
        assert!(Instant::now() < deadline, "fair state left: {state:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(&second, "-TERM");
    assert!(second.wait().unwrap().success());
}
