//! Confinement: the pinned seccomp profile and no-new-privileges are in
//! force in real sandbox containers, refused syscalls fail with EPERM from
//! inside, the start-up probe passes on a confined container and names what
//! is missing on one that is not, and a worker that cannot run the probe
//! does not start. Needs the Docker engine and the sandbox images (`make
//! test`); the gVisor cases skip visibly where runsc is not registered.

mod common;

use common::*;
use rce::languages::Languages;
use rce::sandbox::{
    check_confinement, probe_body, run_probe, ConfinementError, ContainerLabels, SandboxSettings,
};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Labels that no live worker's reaper takes for a dead worker's (the
/// "pid" after the last dash is not a number), under a prefix of its own so
/// the test can count what it left.
fn test_labels() -> ContainerLabels {
    let id = uuid::Uuid::new_v4().simple().to_string();
    ContainerLabels {
        worker: format!("confinement-test-{id}"),
        prefix: format!("test-{id}"),
    }
}

fn languages() -> Languages {
    Languages::load(&repo().join("images/languages.toml")).expect("the language manifest")
}

/// Prints, as one JSON object, the process's NoNewPrivs and Seccomp lines
/// and the errno (0 = it worked) of syscalls the profile refuses or rules.
const SYSCALL_PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void status_field(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            char *value = line + n + 1;
            while (*value == ' ' || *value == '\t') value++;
            value[strcspn(value, "\n")] = 0;
            printf("\"%s\": \"%s\", ", key, value);
        }
    }
    if (f) fclose(f);
}

static void attempt(const char *name, long result) {
    printf("\"%s\": %d, ", name, result == -1 ? errno : 0);
    errno = 0;
}

int main(void) {
    printf("{");
    status_field("NoNewPrivs");
    status_field("Seccomp");
    attempt("unshare_newuser", unshare(CLONE_NEWUSER));
    attempt("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2, 1));
    long child = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, 0, 0);
    attempt("clone_newuser", child);
    attempt("clone3", syscall(SYS_clone3, 0, 0));
    char params[120] = {0};
    attempt("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
    attempt("personality_linux32", personality(PER_LINUX32));
    attempt("personality_query", personality(0xffffffff));
    pid_t forked = fork();
    if (forked == 0) _exit(7);
    int status = 0;
    waitpid(forked, &status, 0);
    printf("\"fork_exit\": %d}\n", WEXITSTATUS(status));
    return 0;
}
"#;

/// A C program in a sandbox (runc, through a real `rce serve`) runs with
/// `NoNewPrivs: 1` and `Seccomp: 2`; unshare(CLONE_NEWUSER), keyctl, clone
/// with a namespace flag, io_uring and a non-default personality fail with
/// EPERM; clone3 answers ENOSYS (so libc falls back to clone); reading the
/// personality and fork still work.
#[actix_rt::test]
async fn refused_syscalls_fail_with_eperm_inside_a_sandbox() {
    let rce = start_rce_with(RceOptions {
        env: env(&[("RCE_SANDBOX__RUNTIME", "runc")]),
        ..Default::default()
    });
    let id = submit(&rce, json!({"language": "c", "source": SYSCALL_PROBE_C})).await;
    let done = wait_completed(&rce, &id, Duration::from_secs(90)).await;
    let result = &done["result"];
    assert_eq!(result["verdict"], "ok", "{result}\n{}", rce.log());
    let seen: Value = serde_json::from_str(result["stdout"].as_str().unwrap_or_default().trim())
        .unwrap_or_else(|e| panic!("the program printed no JSON ({e}): {result}"));
    const EPERM: i64 = 1;
    const ENOSYS: i64 = 38;
    let expected = json!({
        "NoNewPrivs": "1",
        "Seccomp": "2",
        "unshare_newuser": EPERM,
        "keyctl": EPERM,
        "clone_newuser": EPERM,
        "clone3": ENOSYS,
        "io_uring_setup": EPERM,
        "personality_linux32": EPERM,
        "personality_query": 0,
        "fork_exit": 7,
    });
    assert_eq!(seen, expected, "{result}");
    let left = containers_left(&rce.prefix, Duration::from_secs(10)).await;
    assert!(left.is_empty(), "containers left: {left:?}");
}

/// The start-up probe passes on a real sandbox container under runc (and
/// says which image it used), quickly, and leaves no container behind.
#[actix_rt::test]
async fn the_probe_passes_on_a_confined_container_under_runc() {
    let docker = docker().await;
    let labels = test_labels();
    let started = Instant::now();
    let report = check_confinement(&docker, &SandboxSettings::default(), &languages(), &labels)
        .await
        .expect("the probe passes on a confined container");
    eprintln!(
        "probe under runc: {:?} in the container, {:?} with the image lookup and removal",
        report.took,
        started.elapsed()
    );
    assert_eq!(report.language, languages().all()[0].id);
    // Well under a second on an idle machine; generous for a loaded one.
    assert!(report.took < Duration::from_secs(5), "{report:?}");
    assert!(containers_on(&docker, &labels.prefix).await.is_empty());
}

/// Under gVisor the probe passes too (the host filter is not visible to
/// its kernel, so only NoNewPrivs is checked where reported).
#[actix_rt::test]
async fn the_probe_passes_under_gvisor() {
    if let Some(why) = runsc_unavailable().await {
        eprintln!("SKIPPED the_probe_passes_under_gvisor: {why}");
        return;
    }
    let docker = docker().await;
    let labels = test_labels();
    let settings = SandboxSettings {
        runtime: "runsc".into(),
        ..SandboxSettings::default()
    };
    let report = check_confinement(&docker, &settings, &languages(), &labels)
        .await
        .expect("the probe passes under runsc");
    eprintln!("probe under runsc: {:?}", report.took);
    assert!(containers_on(&docker, &labels.prefix).await.is_empty());
}

/// The probe's own script, run in a container deliberately stripped of the
/// filter (and then of no-new-privileges too), names what is missing, and
/// the container is removed after a failed probe as well.
#[actix_rt::test]
async fn the_probe_names_what_an_unconfined_container_lacks() {
    let docker = docker().await;
    let labels = test_labels();
    let languages = languages();
    let python = languages.get("python").expect("python in the manifest");
    let settings = SandboxSettings::default();

    let mut no_filter = probe_body(python, &settings, &labels);
    no_filter.host_config.as_mut().unwrap().security_opt = Some(vec![
        "no-new-privileges".into(),
        "seccomp=unconfined".into(),
    ]);
    let error = run_probe(&docker, no_filter).await.unwrap_err();
    assert!(
        matches!(error, ConfinementError::SeccompDisabled),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("seccomp is not in force in sandbox containers ("),
        "{error}"
    );

    let mut nothing = probe_body(python, &settings, &labels);
    nothing.host_config.as_mut().unwrap().security_opt = Some(vec!["seccomp=unconfined".into()]);
    let error = run_probe(&docker, nothing).await.unwrap_err();
    assert!(matches!(error, ConfinementError::NoNewPrivsOff), "{error}");

    assert!(containers_on(&docker, &labels.prefix).await.is_empty());
}

/// A worker whose language manifest names no image that exists has nothing
/// to run (nor an image to probe the confinement with), so it does not
/// start: it exits non-zero, naming the missing images, before taking any
/// job.
#[actix_rt::test]
async fn a_worker_without_a_probe_image_refuses_to_start() {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("test-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let image = format!("rce-missing-{id}");
    let manifest = dir.join("languages.toml");
    std::fs::write(
        &manifest,
        format!(
            "[[language]]\nid = \"nothing\"\nname = \"Nothing\"\nversion = \"0\"\n\
             image = \"{image}\"\nfile = \"main.sh\"\nrun = [\"sh\", \"main.sh\"]\n"
        ),
    )
    .unwrap();
    let log = dir.join("worker.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rce"));
    command
        .args(["serve", "--role", "worker"])
        .current_dir(repo())
        .env("RCE_CONFIG", dir.join("none.toml"))
        .env("RCE_REDIS__PREFIX", format!("test-{id}"))
        .env("RCE_STORE__SQLITE_PATH", dir.join("rce.db"))
        .env("RCE_WORKER__HEALTH_BIND", "127.0.0.1:0")
        .env("RCE_SANDBOX__LANGUAGES_FILE", &manifest)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    for (key, value) in service_env() {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("starting rce");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the worker did not stop within 60 s\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{status:?}\n{log}");
    assert!(
        log.contains("no language's image is built") && log.contains(&format!("{image}:latest")),
        "{log}"
    );
    assert!(!log.contains("worker started"), "{log}");
}
