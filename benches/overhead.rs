//! Per-job overhead of rce against a bare container, on this machine, in one
//! run: the median (and p10/p90) of 20 sequential runs of `print(1)` in the
//! `rce-python` image through four paths.
//!
//! - `docker run --rm --network none` with the Docker CLI (what a user of
//!   Docker alone would type);
//! - the same container through the Engine API (create with networking
//!   disabled, attach, start, read to the end, wait, remove): the floor any
//!   container-per-job design pays, without the CLI's own start-up. Two rows:
//!   until its output has ended (when the result is known; the row the
//!   overhead column compares with, since rce removes containers after
//!   reporting) and including wait and remove;
//! - rce, cold: a real `rce serve` (release build) with the warm pool off,
//!   submit over the WebSocket until its `finished` event: HTTP/WebSocket,
//!   store, Redis stream, worker, hardened container, rce-runner, events;
//! - rce, warm: the same with the default warm pool (the job takes a
//!   container started ahead of time), waiting between jobs so the pool is
//!   refilled, as it is for a job arriving at an idle worker.
//!
//! Run with `cargo bench --bench overhead` (Docker and Redis as for the
//! tests: `.rce/env` or `DOCKER_HOST` / `RCE_REDIS__URL`).

#[path = "../tests/common/mod.rs"]
mod common;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use common::*;
use futures_util::StreamExt;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs per path (after [`WARMUP`] unmeasured ones).
const RUNS: usize = 20;
const WARMUP: usize = 2;
const IMAGE: &str = "rce-python:latest";
const PROGRAM: &str = "print(1)";
/// Pause between warm-path jobs: the pool refills a taken container in the
/// background (a container start, ~100–300 ms here).
const REFILL_PAUSE: Duration = Duration::from_millis(1000);

fn main() {
    actix_rt::System::new().block_on(async {
        let mut rows = Vec::new();
        rows.push(("docker run --rm --network none (CLI)", measure_cli()));
        let (output_ended, removed) = measure_engine().await;
        rows.push(("Engine API, bare: until output ends", output_ended));
        rows.push(("Engine API, bare: + wait + remove", removed));
        let cold = start_rce_with(RceOptions {
            env: vec![("RCE_SANDBOX__WARM_POOL_SIZE".into(), "0".into())],
            ..Default::default()
        });
        rows.push(("rce submit→finished, cold", measure_rce(&cold, None).await));
        drop(cold);
        let warm = start_rce();
        rows.push((
            "rce submit→finished, warm pool",
            measure_rce(&warm, Some(REFILL_PAUSE)).await,
        ));
        drop(warm);
        print_table(&rows);
    });
}

/// `docker run --rm --network none … python3 -c 'print(1)'`.
fn measure_cli() -> Vec<Duration> {
    let docker_host = service_env().get("DOCKER_HOST").cloned();
    let mut samples = Vec::new();
    for run in 0..WARMUP + RUNS {
        let mut command = Command::new("docker");
        command.args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "python3",
            IMAGE,
            "-c",
            PROGRAM,
        ]);
        if let Some(host) = &docker_host {
            command.env("DOCKER_HOST", host);
        }
        let started = Instant::now();
        let output = command.output().expect("running the docker CLI");
        let took = started.elapsed();
        assert!(
            output.status.success() && output.stdout == b"1\n",
            "docker run failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if run >= WARMUP {
            samples.push(took);
        }
    }
    samples
}

/// The same container through the Engine API, nothing else: the time until
/// its output ended, and until it was removed.
async fn measure_engine() -> (Vec<Duration>, Vec<Duration>) {
    let docker = docker().await;
    let (mut output_ended, mut removed) = (Vec::new(), Vec::new());
    for run in 0..WARMUP + RUNS {
        let body = ContainerCreateBody {
            image: Some(IMAGE.into()),
            entrypoint: Some(vec!["python3".into(), "-c".into(), PROGRAM.into()]),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            network_disabled: Some(true),
            ..Default::default()
        };
        let started = Instant::now();
        let id = docker
            .create_container(None, body)
            .await
            .expect("create")
            .id;
        let attach = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let mut attached = docker
            .attach_container(&id, Some(attach))
            .await
            .expect("attach");
        docker.start_container(&id, None).await.expect("start");
        let mut output = Vec::new();
        while let Some(chunk) = attached.output.next().await {
            output.extend_from_slice(&chunk.expect("output").into_bytes());
        }
        let ended = started.elapsed();
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        while let Some(status) = wait.next().await {
            status.expect("the program exits 0");
        }
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
            .expect("remove");
        let took = started.elapsed();
        assert_eq!(output, b"1\n");
        if run >= WARMUP {
            output_ended.push(ended);
            removed.push(took);
        }
    }
    (output_ended, removed)
}

/// Submit over the WebSocket until the job's `finished` event.
async fn measure_rce(rce: &Rce, pause: Option<Duration>) -> Vec<Duration> {
    let mut ws = WsClient::connect_authed(rce, &rce.token().await).await;
    let mut samples = Vec::new();
    for run in 0..WARMUP + RUNS {
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
        let reference = format!("r{run}");
        let started = Instant::now();
        ws.send(
            &json!({"type": "submit", "ref": reference, "language": "python", "source": PROGRAM}),
        )
        .await;
        let id = loop {
            let event = ws
                .next_event(Duration::from_secs(30))
                .await
                .expect("queued event");
            if event["type"] == "queued" && event["ref"] == reference.as_str() {
                break event["id"].as_str().expect("id").to_string();
            }
        };
        let events = ws.events_until_finished(&id, Duration::from_secs(60)).await;
        let took = started.elapsed();
        let result = &events.last().expect("finished")["result"];
        assert_eq!(result["stdout"], "1\n", "{result}");
        if run >= WARMUP {
            samples.push(took);
        }
    }
    samples
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn print_table(rows: &[(&str, Vec<Duration>)]) {
    let medians: Vec<Duration> = rows
        .iter()
        .map(|(_, samples)| {
            let mut sorted = samples.clone();
            sorted.sort();
            percentile(&sorted, 0.5)
        })
        .collect();
    // The floor: a bare container until its output has ended.
    let (cli, engine) = (medians[0], medians[1]);
    println!(
        "\n`print(1)` in {IMAGE}, {RUNS} sequential runs per path (after {WARMUP} warm-up runs)\n"
    );
    println!("| path | median ms | p10 ms | p90 ms | vs docker run | vs bare container |");
    println!("|---|---:|---:|---:|---:|---:|");
    for ((name, samples), median) in rows.iter().zip(&medians) {
        let mut sorted = samples.clone();
        sorted.sort();
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:+.0} ms | {:+.0} ms |",
            ms(*median),
            ms(percentile(&sorted, 0.1)),
            ms(percentile(&sorted, 0.9)),
            ms(*median) - ms(cli),
            ms(*median) - ms(engine),
        );
    }
}
