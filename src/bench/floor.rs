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
    /// Everything the machine spent per run: engine, runtime, kernel, program.
    pub machine_cpu_per_job: Duration,
}

/// One floor container: what the runs have in common.
pub struct FloorJob<'a> {
    pub docker: &'a Docker,
    pub job: &'a Job,
    pub language: &'a Language,
    pub settings: &'a SandboxSettings,
    pub labels: &'a ContainerLabels,
    /// The program's argv, run as the entrypoint.
    pub program: &'a [&'a str],
}

impl FloorJob<'_> {
    /// Runs the program `runs` times, one at a time.
    pub async fn measure(&self, runs: usize) -> Result<Floor, bollard::errors::Error> {
        let mut samples = Vec::with_capacity(runs);
        let cpu_before = procstat::docker_stack_cpu();
        let machine_before = procstat::machine_busy_cpu();
        for _ in 0..runs {
            samples.push(self.run_once().await?);
        }
        let cpu = procstat::docker_stack_cpu().saturating_sub(cpu_before);
        let machine = procstat::machine_busy_cpu().saturating_sub(machine_before);
        Ok(Floor {
            samples,
            docker_cpu_per_job: cpu / runs.max(1) as u32,
            machine_cpu_per_job: machine / runs.max(1) as u32,
        })
    }

    /// Containers per second the engine finishes with `concurrency` runs in
    /// flight: what the Docker stack alone allows, measured rather than
    /// derived from its CPU per run.
    pub async fn throughput(
        &self,
        concurrency: usize,
        runs: usize,
    ) -> Result<f64, bollard::errors::Error> {
        let started = Instant::now();
        let mut finished = futures_util::stream::iter(0..runs)
            .map(|_| self.run_once())
            .buffer_unordered(concurrency.max(1));
        while let Some(run) = finished.next().await {
            run?;
        }
        Ok(runs as f64 / started.elapsed().as_secs_f64())
    }

    /// create → attach → start → read to the end → wait → remove.
    async fn run_once(&self) -> Result<Duration, bollard::errors::Error> {
        let docker = self.docker;
        let mut body = container_body(self.job, self.language, self.settings, self.labels);
        body.entrypoint = Some(self.program.iter().map(|s| s.to_string()).collect());
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
        Ok(started.elapsed())
    }
}
