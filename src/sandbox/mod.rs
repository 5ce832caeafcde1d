mod compile_cache;
mod confinement;
mod container;
mod demand;
mod docker;
mod images;
mod reaper;
mod run;
mod seccomp;
mod settings;
mod uids;
mod warm;

pub use compile_cache::{compile_key, CompileCache, CompileKey, Compiled};
pub use confinement::{
    check_confinement, probe_body, run_probe, verdict_of_exit, ConfinementError, ConfinementReport,
};
pub use container::{
    container_body, ContainerLabels, LABEL_JOB, LABEL_PREFIX, LABEL_WARM, LABEL_WORKER,
};
pub use demand::{Demand, Sizing};
pub use docker::{connect, DockerError};
pub use images::{served_languages, ImagesError, LABEL_VERSION};
pub use reaper::{reap_orphans, worker_name};
pub use run::{
    pending_removals, prepare, run_job, stopped_on_request, Prepared, RunControl, SandboxError,
};
pub use seccomp::seccomp_security_opt;
pub use settings::SandboxSettings;
pub use uids::UidRange;
pub use warm::{Refill, WarmPool};
