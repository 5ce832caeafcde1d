//! The floor: what any fresh-container-per-job design pays on this machine.
//! The same image, started through the Engine API with the same limits and
//! no network (create → attach → start → read to the end → wait → remove),
//! running the program directly (no rce-runner, no queue, no store).

use super::procstat;
use crate::job::Job;
use crate::languages::Language;
use crate::sandbox::{container_body, ContainerLabels, SandboxSettings};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// Timings of the floor runs and the Docker stack's CPU per run.
pub struct Floor {
    pub samples: Vec<Duration>,
    pub docker_cpu_per_job: Duration,
}

/// Runs `program` (argv) in `language`'s image `runs` times, one at a time.
pub async fn measure(
    docker: &Docker,
    job: &Job,
    language: &Language,
    settings: &SandboxSettings,
    labels: &ContainerLabels,
    program: &[&str],
    runs: usize,
) -> Result<Floor, bollard::errors::Error> {
    let mut samples = Vec::with_capacity(runs);
    let cpu_before = procstat::docker_stack_cpu();
    for _ in 0..runs {
        let mut body = container_body(job, language, settings, labels);
        body.entrypoint = Some(program.iter().map(|s| s.to_string()).collect());
        body.open_stdin = Some(false);
        body.stdin_once = Some(false);
        body.attach_stdin = Some(false);
        let started = Instant::now();
        let id = docker.create_container(None, body).await?.id;
        let attach = AttachContainerOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let mut attached = docker.attach_container(&id, Some(attach)).await?;
        docker.start_container(&id, None).await?;
        while let Some(chunk) = attached.output.next().await {
            chunk?;
        }
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        while let Some(status) = wait.next().await {
            // A non-zero exit arrives as an error; the floor only needs it ended.
            if status.is_err() {
                break;
            }
        }
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await?;
        samples.push(started.elapsed());
    }
    let cpu = procstat::docker_stack_cpu().saturating_sub(cpu_before);
    Ok(Floor {
        samples,
        docker_cpu_per_job: cpu / runs.max(1) as u32,
    })
}
