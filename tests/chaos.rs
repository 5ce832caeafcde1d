//! Chaos: one API and three worker processes under 60 jobs while a worker is
//! SIGKILLed, Redis is SIGKILLed and restarted (appendonly), and the Docker
//! engine is restarted. The engine is a private dockerd of this test (its
//! own data root, exec root, socket, pid file and network namespace, no
//! bridge or iptables, the python image loaded from the shared engine), so
//! restarting it disturbs no other test; Redis is a private redis-server too. Prints the counts and
//! asserts every one is zero.

mod common;

use common::*;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A dockerd of this test's own; stopped and its directories removed on drop.
struct PrivateDocker {
    dir: PathBuf,
    /// Short: containerd's socket paths under it have a length limit.
    exec_root: PathBuf,
    child: Option<Child>,
}

impl PrivateDocker {
    fn start() -> PrivateDocker {
        let id = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let dir = std::env::temp_dir().join(format!("rce-chaos-docker-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut docker = PrivateDocker {
            dir,
            exec_root: PathBuf::from(format!("/tmp/rx{id}")),
            child: None,
        };
        docker.spawn();
        // The sandbox image, copied from the shared engine.
        let mut save = Command::new("docker")
            .args(["save", "rce-python:latest"])
            .envs(service_env())
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let load = Command::new("docker")
            .arg("load")
            .env("DOCKER_HOST", docker.host())
            .stdin(save.stdout.take().expect("piped"))
            .stdout(Stdio::null())
            .status()
            .expect("docker load");
        assert!(load.success(), "loading rce-python into the private engine");
        assert!(save.wait().unwrap().success(), "docker save rce-python");
        docker
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.join("d.sock").display())
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
            .unwrap();
        // In a network namespace of its own: a dockerd with --bridge=none
        // deletes any docker0 it sees, and the shared engine's docker0 is
        // what its image builds' RUN steps need.
        let child = Command::new("unshare")
            .args(["--net", "dockerd"])
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(&self.exec_root)
            .arg("--pidfile")
            .arg(self.dir.join("d.pid"))
            .args(["-H", &self.host()])
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .args(["--shutdown-timeout", "2"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !Command::new("docker")
            .arg("info")
            .env("DOCKER_HOST", self.host())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                Instant::now() < deadline,
                "the private dockerd did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill(&child, "-TERM");
            child.wait().unwrap();
        }
    }

    async fn client(&self) -> bollard::Docker {
        let socket = self.dir.join("d.sock");
        let docker = bollard::Docker::connect_with_unix(
            &socket.display().to_string(),
            120,
            bollard::API_DEFAULT_VERSION,
        )
        .unwrap();
        docker.negotiate_version().await.unwrap()
    }
}

impl Drop for PrivateDocker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(&self.exec_root);
    }
}

/// 60 jobs survive a worker's SIGKILL, a Redis SIGKILL and restart and a
/// Docker engine restart: 0 lost (every job completed with its own output),
/// 0 duplicated (no job's `finished` event seen twice), 0 pending and 0
/// containers left.
#[actix_rt::test]
async fn chaos_loses_nothing() {
    let started = Instant::now();
    let mut redis = OwnRedis::start();
    let mut engine = PrivateDocker::start();
    let services = vec![
        ("RCE_REDIS__URL".to_string(), redis.url()),
        ("DOCKER_HOST".to_string(), engine.host()),
    ];
    let worker_env = [
        services.clone(),
        fast_recovery(),
        env(&[("RCE_WORKER__ENGINE_CHECK_MS", "500")]),
    ]
    .concat();
    let rce = start_rce_with(RceOptions {
        role: "api",
        env: services.clone(),
        ..Default::default()
    });
    let mut workers: Vec<Child> = (0..3)
        .map(|_| start_worker(&rce, worker_env.clone()))
        .collect();

    // Every `finished` event, counted per job, from one WebSocket.
    let finished: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    let listener = actix_rt::spawn({
        let finished = finished.clone();
        async move {
            while let Some(event) = ws.next_event(Duration::from_secs(600)).await {
                if event["type"] == "finished" {
                    let id = event["id"].as_str().unwrap_or_default().to_string();
                    *finished.lock().unwrap().entry(id).or_default() += 1;
                }
            }
        }
    });

    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(submit(&rce, sleepy_job(i, 1.0)).await);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    eprintln!("chaos: SIGKILL a worker");
    kill(&workers[0], "-KILL");
    workers[0].wait().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    eprintln!("chaos: SIGKILL Redis, restart it");
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.spawn();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let done = finished.lock().unwrap().len();
    eprintln!("chaos: restart the Docker engine ({done} of 60 finished so far)");
    assert!(done < 60, "the load ended before the engine restart");
    engine.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.spawn();

    let mut lost = 0;
    for (i, id) in ids.iter().enumerate() {
        let submission = wait_completed(&rce, id, Duration::from_secs(120)).await;
        if submission["result"]["stdout"] != format!("{i}\n") {
            eprintln!("job {i} wrong or lost: {submission}");
            lost += 1;
        }
    }
    // Late duplicates would arrive within the claim time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let duplicated = finished
        .lock()
        .unwrap()
        .values()
        .filter(|n| **n > 1)
        .count();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut pending = pending_count(&redis.url(), &rce.prefix).await;
    while pending > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        pending = pending_count(&redis.url(), &rce.prefix).await;
    }
    let client = engine.client().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut containers = containers_on(&client, &rce.prefix).await;
    while !containers.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        containers = containers_on(&client, &rce.prefix).await;
    }
    println!(
        "chaos: 60 jobs, lost {lost}, duplicated {duplicated}, pending {pending}, containers left {} ({:?} in all)",
        containers.len(),
        started.elapsed()
    );
    listener.abort();
    for worker in workers.iter_mut().skip(1) {
        kill(worker, "-TERM");
        worker.wait().unwrap();
    }
    assert_eq!(
        (lost, duplicated, pending, containers.len()),
        (0, 0, 0, 0),
        "lost, duplicated, pending, containers left"
    );
}
