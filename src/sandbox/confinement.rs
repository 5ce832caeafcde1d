//! The start-up confinement probe: before a worker takes its first job it
//! runs one container built by [`container_body`] (the same hardening,
//! runtime and seccomp profile as a job's) for the first configured
//! language whose image exists, with `/bin/sh -c` in place of rce-runner,
//! and has it read `/proc/self/status` from the inside. Under runc it must
//! see `NoNewPrivs: 1` and `Seccomp: 2` (a filter in force); an engine that
//! dropped the profile, or a kernel without seccomp, fails the check and
//! the worker does not start. Under gVisor the host-side filter is not
//! visible inside the sandbox kernel, whose own syscall boundary stands in
//! for it; the probe then checks NoNewPrivs where that kernel reports it.
//! The script uses shell builtins only, so it runs in every image, and
//! answers with a distinct exit code per failure ([`verdict_of_exit`]).
//! The container is removed on every path; one the engine created but never
//! named back (a create that timed out) carries this worker's labels, so
//! the reaper removes it.

use super::container::{container_body, ContainerLabels, LABEL_JOB};
use super::images::inspect_language_image;
use super::run::remove;
use super::settings::SandboxSettings;
use crate::languages::{Language, Languages};
use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{CreateContainerOptionsBuilder, WaitContainerOptions};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

/// The most create+start+wait may take (gVisor on a busy host needs a few
/// seconds; runc well under one). Past it the worker does not start.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most the probe's removal may take; a container left then is reaped.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Exit codes of the probe script, one per failure (far from the shell's
/// own 1, 2, 126 and 127).
const EXIT_STATUS_UNREADABLE: i64 = 71;
const EXIT_NO_NEW_PRIVS_OFF: i64 = 72;
const EXIT_SECCOMP_UNSUPPORTED: i64 = 73;
const EXIT_SECCOMP_DISABLED: i64 = 74;
const EXIT_SECCOMP_NOT_FILTER: i64 = 75;

#[derive(Debug, thiserror::Error)]
pub enum ConfinementError {
    #[error(
        "no sandbox image to probe the confinement with: none of {} exists on the \
         Docker engine (build them with `make images`)",
        missing.join(", ")
    )]
    NoImage { missing: Vec<String> },
    #[error("looking up image {image} for the confinement probe: {source}")]
    InspectImage {
        image: String,
        source: bollard::errors::Error,
    },
    #[error("creating the confinement probe container: {0}")]
    CreateContainer(bollard::errors::Error),
    #[error("starting the confinement probe container: {0}")]
    StartContainer(bollard::errors::Error),
    #[error("waiting for the confinement probe container: {0}")]
    Wait(bollard::errors::Error),
    #[error("the confinement probe container did not finish within {0:?}")]
    Timeout(Duration),
    #[error(
        "no-new-privileges is not in force in sandbox containers \
         (NoNewPrivs is not 1 in /proc/self/status)"
    )]
    NoNewPrivsOff,
    #[error(
        "seccomp is not in force in sandbox containers (/proc/self/status has no \
         Seccomp line: the host kernel lacks seccomp support)"
    )]
    SeccompUnsupported,
    #[error(
        "seccomp is not in force in sandbox containers (Seccomp: 0 in /proc/self/status: \
         the engine did not apply the pinned profile; is it running with seccomp off?)"
    )]
    SeccompDisabled,
    #[error(
        "seccomp is not in force in sandbox containers (the Seccomp mode in \
         /proc/self/status is not 2, filter)"
    )]
    SeccompNotFilter,
    #[error("the confinement probe could not read /proc/self/status in a sandbox container")]
    StatusUnreadable,
    #[error(
        "the confinement probe exited with {0}, not one of its answers (is /bin/sh in the image?)"
    )]
    UnexpectedExit(i64),
}

/// What a passed probe found.
#[derive(Debug, Clone)]
pub struct ConfinementReport {
    /// The language whose image the probe ran in.
    pub language: String,
    /// Create to exit (removal not counted).
    pub took: Duration,
}

/// The probe's shell script: builtins only. `require_seccomp` is false
/// under gVisor, whose kernel neither shows the host filter nor (in some
/// releases) a NoNewPrivs line.
fn probe_script(require_seccomp: bool) -> String {
    let strict = u8::from(require_seccomp);
    format!(
        r#"strict={strict}
[ -r /proc/self/status ] || exit {EXIT_STATUS_UNREADABLE}
nnp=; seccomp=
while read -r key value rest; do
  case "$key" in
    NoNewPrivs:) nnp=$value ;;
    Seccomp:) seccomp=$value ;;
  esac
done < /proc/self/status
if [ "$strict" = 1 ] || [ -n "$nnp" ]; then
  [ "$nnp" = 1 ] || exit {EXIT_NO_NEW_PRIVS_OFF}
fi
if [ "$strict" = 1 ]; then
  [ -n "$seccomp" ] || exit {EXIT_SECCOMP_UNSUPPORTED}
  [ "$seccomp" != 0 ] || exit {EXIT_SECCOMP_DISABLED}
  [ "$seccomp" = 2 ] || exit {EXIT_SECCOMP_NOT_FILTER}
fi
exit 0
"#
    )
}

/// Maps the probe's exit code to its finding.
pub fn verdict_of_exit(code: i64) -> Result<(), ConfinementError> {
    match code {
        0 => Ok(()),
        EXIT_STATUS_UNREADABLE => Err(ConfinementError::StatusUnreadable),
        EXIT_NO_NEW_PRIVS_OFF => Err(ConfinementError::NoNewPrivsOff),
        EXIT_SECCOMP_UNSUPPORTED => Err(ConfinementError::SeccompUnsupported),
        EXIT_SECCOMP_DISABLED => Err(ConfinementError::SeccompDisabled),
        EXIT_SECCOMP_NOT_FILTER => Err(ConfinementError::SeccompNotFilter),
        other => Err(ConfinementError::UnexpectedExit(other)),
    }
}

/// The probe's create body: a job's body for `language` (default limits)
/// with the script in place of rce-runner and nothing attached.
pub fn probe_body(
    language: &Language,
    settings: &SandboxSettings,
    labels: &ContainerLabels,
) -> ContainerCreateBody {
    // The body a warm container would get: no user, default limits.
    let job = super::warm::warm_job(language, settings);
    let mut body = container_body(&job, language, settings, labels);
    body.entrypoint = Some(vec![
        "/bin/sh".into(),
        "-c".into(),
        probe_script(!settings.is_gvisor()),
    ]);
    body.cmd = Some(vec![]);
    body.attach_stdin = Some(false);
    body.attach_stdout = Some(false);
    body.attach_stderr = Some(false);
    body.open_stdin = Some(false);
    body.stdin_once = Some(false);
    body
}

/// The first language (manifest order) whose image exists on the engine.
async fn probe_language<'a>(
    docker: &Docker,
    languages: &'a Languages,
) -> Result<&'a Language, ConfinementError> {
    let mut missing = Vec::new();
    for language in languages.all() {
        match inspect_language_image(docker, language).await {
            Ok(Some(_)) => return Ok(language),
            Ok(None) => missing.push(language.image_ref()),
            Err(source) => {
                return Err(ConfinementError::InspectImage {
                    image: language.image_ref(),
                    source,
                })
            }
        }
    }
    Err(ConfinementError::NoImage { missing })
}

/// Starts the created probe and returns its exit code.
async fn start_and_wait(docker: &Docker, id: &str) -> Result<i64, ConfinementError> {
    docker
        .start_container(id, None)
        .await
        .map_err(ConfinementError::StartContainer)?;
    // Condition "not-running" answers at once for a container that has
    // already exited, so waiting after the start misses nothing.
    let mut wait = docker.wait_container(id, None::<WaitContainerOptions>);
    match wait.next().await {
        Some(Ok(response)) => Ok(response.status_code),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(error)) => Err(ConfinementError::Wait(error)),
        None => Err(ConfinementError::Wait(
            bollard::errors::Error::DockerStreamError {
                error: "the wait stream ended without an answer".into(),
            },
        )),
    }
}

/// Runs `body` (a [`probe_body`]) and returns its finding and how long it
/// took; the container is removed whatever happens.
pub async fn run_probe(
    docker: &Docker,
    body: ContainerCreateBody,
) -> Result<Duration, ConfinementError> {
    let started = Instant::now();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let job = body
        .labels
        .as_ref()
        .and_then(|labels| labels.get(LABEL_JOB))
        .cloned()
        .unwrap_or_default();
    let options = CreateContainerOptionsBuilder::default()
        .name(&format!("rce-probe-{job}-{}", &nonce[..8]))
        .build();
    let id = tokio::time::timeout(PROBE_TIMEOUT, docker.create_container(Some(options), body))
        .await
        .map_err(|_| ConfinementError::Timeout(PROBE_TIMEOUT))?
        .map_err(ConfinementError::CreateContainer)?
        .id;
    let exit = tokio::time::timeout(PROBE_TIMEOUT, start_and_wait(docker, &id)).await;
    let took = started.elapsed();
    if tokio::time::timeout(REMOVE_TIMEOUT, remove(docker, &id))
        .await
        .is_err()
    {
        tracing::warn!(container = %id, "removing the confinement probe timed out; the reaper will");
    }
    let code = exit.map_err(|_| ConfinementError::Timeout(PROBE_TIMEOUT))??;
    verdict_of_exit(code)?;
    Ok(took)
}

/// Checks that sandbox containers run confined as configured; the worker
/// must not take jobs when this fails.
pub async fn check_confinement(
    docker: &Docker,
    settings: &SandboxSettings,
    languages: &Languages,
    labels: &ContainerLabels,
) -> Result<ConfinementReport, ConfinementError> {
    let language = probe_language(docker, languages).await?;
    let took = run_probe(docker, probe_body(language, settings, labels)).await?;
    Ok(ConfinementReport {
        language: language.id.clone(),
        took,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exit code the script can answer with maps to its own error,
    /// and anything else (a shell that could not run the script) is named
    /// as unexpected rather than taken for a pass.
    #[test]
    fn exit_codes_map_to_distinct_findings() {
        assert!(verdict_of_exit(0).is_ok());
        let messages: Vec<String> = [
            EXIT_STATUS_UNREADABLE,
            EXIT_NO_NEW_PRIVS_OFF,
            EXIT_SECCOMP_UNSUPPORTED,
            EXIT_SECCOMP_DISABLED,
            EXIT_SECCOMP_NOT_FILTER,
            127,
        ]
        .into_iter()
        .map(|code| verdict_of_exit(code).unwrap_err().to_string())
        .collect();
        let distinct: std::collections::HashSet<_> = messages.iter().collect();
        assert_eq!(distinct.len(), messages.len(), "{messages:?}");
        for code in [
            EXIT_SECCOMP_UNSUPPORTED,
            EXIT_SECCOMP_DISABLED,
            EXIT_SECCOMP_NOT_FILTER,
        ] {
            let message = verdict_of_exit(code).unwrap_err().to_string();
            assert!(
                message.starts_with("seccomp is not in force in sandbox containers ("),
                "{message}"
            );
        }
        assert!(matches!(
            verdict_of_exit(EXIT_NO_NEW_PRIVS_OFF),
            Err(ConfinementError::NoNewPrivsOff)
        ));
        assert!(verdict_of_exit(127)
            .unwrap_err()
            .to_string()
            .contains("127"));
        assert!(verdict_of_exit(1).is_err());
    }

    /// The probe is a job's container (same hardening, runtime and seccomp
    /// profile) with only the entry point and the attachments changed; under
    /// gVisor the script does not demand a host-side filter.
    #[test]
    fn probe_body_keeps_the_hardening() {
        let language = Language::python_for_tests();
        let labels = ContainerLabels {
            worker: "w".into(),
            prefix: "p".into(),
        };
        let settings = SandboxSettings::default();
        let body = probe_body(&language, &settings, &labels);
        let host = body.host_config.clone().unwrap();
        assert_eq!(
            host.security_opt,
            Some(vec![
                "no-new-privileges".to_string(),
                super::super::seccomp::seccomp_security_opt()
            ])
        );
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
        assert_eq!(host.runtime.as_deref(), Some("runc"));
        assert_eq!(body.image.as_deref(), Some("rce-python:latest"));
        assert_eq!(body.labels.as_ref().unwrap()["rce.worker"], "w");
        let entrypoint = body.entrypoint.unwrap();
        assert_eq!(entrypoint[..2], ["/bin/sh".to_string(), "-c".to_string()]);
        assert!(entrypoint[2].starts_with("strict=1\n"));
        assert_eq!(body.open_stdin, Some(false));

        let gvisor = SandboxSettings {
            runtime: "runsc".into(),
            ..SandboxSettings::default()
        };
        let body = probe_body(&language, &gvisor, &labels);
        assert_eq!(body.host_config.unwrap().runtime.as_deref(), Some("runsc"));
        assert!(body.entrypoint.unwrap()[2].starts_with("strict=0\n"));
    }

    /// The script parses with the shell the images use.
    #[test]
    fn script_is_valid_shell() {
        for strict in [true, false] {
            let status = std::process::Command::new("/bin/sh")
                .args(["-n", "-c", &probe_script(strict)])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}
