mod container;
mod docker;
mod reaper;
mod run;
mod settings;

pub use container::{container_body, ContainerLabels, LABEL_JOB, LABEL_PREFIX, LABEL_WORKER};
pub use docker::{connect, DockerError};
pub use reaper::{reap_orphans, worker_name};
pub use run::{run_job, stopped_on_request, RunControl, SandboxError, StdinChunk};
pub use settings::SandboxSettings;
