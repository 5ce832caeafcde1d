//! The JVM commands' class-data sharing archives (`-XX:SharedArchiveFile=` in
//! images/languages.toml, trained by the language's Dockerfile) against the
//! real images: each command that names one runs in its image as the manifest
//! gives it (through `docker run`, not the runner), with `-Xshare:on` added,
//! which makes the JVM refuse to start when the archive does not load (a class
//! path that drifted from the one the Dockerfile trained with, a missing file).
//! The compile must succeed and the run, plain and through the preloaded
//! launcher, must print the hello fixture's output. Without `-Xshare:on` a JVM
//! falls back to no archive, and `-Xlog:cds*=off` must keep it from saying so
//! on the program's stdout: the launcher with the run command's archive
//! (trained without the launcher on the boot class path, so refused) still
//! prints exactly the fixture's output.

mod common;

use common::*;
use rce::languages::{Language, Languages};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const ARCHIVE_OPTION: &str = "-XX:SharedArchiveFile=";
/// The heap the commands get (`{memory_mb}`), a job's default memory limit.
const MEMORY_MB: u64 = 256;
/// The languages whose images build archives today: the list may grow, not
/// silently shrink.
const ARCHIVED: [&str; 5] = ["java", "kotlin", "scala", "groovy", "clojure"];

fn languages() -> Languages {
    Languages::load(&repo().join("images/languages.toml")).expect("images/languages.toml")
}

/// A JVM option as `argv`'s program takes it: javac passes its JVM's through `-J`.
fn jvm_option(argv: &[String], option: &str) -> String {
    if argv[0] == "javac" {
        format!("-J{option}")
    } else {
        option.to_string()
    }
}

/// The archive `argv` maps, if any.
fn archive_of(argv: &[String]) -> Option<&str> {
    let option = jvm_option(argv, ARCHIVE_OPTION);
    argv.iter().find_map(|a| a.strip_prefix(option.as_str()))
}

/// `argv` with `-Xshare:on` right after the program.
fn sharing_required(argv: &[String]) -> Vec<String> {
    let mut required = argv.to_vec();
    required.insert(1, jvm_option(argv, "-Xshare:on"));
    required
}

/// `language`'s commands as the manifest writes them: compile, run, launcher.
fn commands(language: &Language) -> impl Iterator<Item = &Vec<String>> {
    [
        language.compile.as_ref(),
        Some(&language.run),
        language.preload.as_ref(),
    ]
    .into_iter()
    .flatten()
}

/// A work dir holding the fixture's files, as the runner writes them.
struct WorkDir {
    path: PathBuf,
    stdin: String,
    expected: String,
}

impl WorkDir {
    fn with_fixture(language: &Language) -> WorkDir {
        let fixtures = repo().join("images").join(&language.id);
        let body: Value = serde_json::from_str(
            &std::fs::read_to_string(fixtures.join("hello.json")).expect("hello.json"),
        )
        .expect("hello.json is JSON");
        let path = std::env::temp_dir().join(format!(
            "rce-cds-{}-{}",
            language.id,
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir_all(&path).unwrap();
        for file in body["files"].as_array().expect("files") {
            let name = file["name"].as_str().expect("name");
            std::fs::write(path.join(name), file["content"].as_str().expect("content")).unwrap();
        }
        WorkDir {
            path,
            stdin: body["stdin"].as_str().unwrap_or_default().to_string(),
            expected: std::fs::read_to_string(fixtures.join("hello.out")).expect("hello.out"),
        }
    }

    /// Runs `argv` in `image` with this dir as /sandbox, descriptor 3 reading
    /// `go` when given (a launcher's go signal): (exit code, stdout, stderr).
    fn run(&self, image: &str, argv: &[String], go: Option<&[String]>) -> (i32, String, String) {
        let mut script = String::from(r#"exec "$@""#);
        if let Some(go) = go {
            std::fs::write(self.path.join(".go"), rce_protocol::go_signal(go)).unwrap();
            script.push_str(" 3</sandbox/.go");
        }
        let mut child = Command::new("docker")
            .envs(service_env())
            .args([
                "run",
                "--rm",
                "-i",
                "--network",
                "none",
                "--entrypoint",
                "/bin/sh",
            ])
            .arg("-v")
            .arg(format!("{}:/sandbox", self.path.display()))
            .args(["-w", "/sandbox", image, "-c", &script, "sh"])
            .args(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker run");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(self.stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().expect("docker run");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn assert_ran(what: &str, (code, stdout, stderr): &(i32, String, String), expected: Option<&str>) {
    assert_eq!(
        *code, 0,
        "{what}: exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    if let Some(expected) = expected {
        assert_eq!(stdout, expected, "{what}: stdout (stderr: {stderr})");
    }
}

/// Every archive-naming command of `language`, in order: compile, run, the
/// launcher with the run command as its go signal.
fn check_language(language: &Language) {
    let image = language.image_ref();
    let work = WorkDir::with_fixture(language);
    let run = language.run_command(MEMORY_MB);
    if let Some(compile) = &language.compile {
        let argv = if archive_of(compile).is_some() {
            sharing_required(compile)
        } else {
            compile.clone()
        };
        assert_ran(
            &format!("{}: compile {argv:?}", language.id),
            &work.run(&image, &argv, None),
            None,
        );
    }
    if archive_of(&run).is_some() {
        let argv = sharing_required(&run);
        assert_ran(
            &format!("{}: run {argv:?}", language.id),
            &work.run(&image, &argv, None),
            Some(&work.expected),
        );
    }
    if let Some(preload) = language.preload_command(MEMORY_MB) {
        if archive_of(&preload).is_some() {
            let argv = sharing_required(&preload);
            let ran = work.run(&image, &argv, Some(&run));
            assert_ran(
                &format!("{}: launcher {argv:?}", language.id),
                &ran,
                Some(&work.expected),
            );
        }
    }
}

fn archived_languages() -> Vec<Language> {
    languages()
        .all()
        .iter()
        .filter(|l| commands(l).any(|argv| archive_of(argv).is_some()))
        .cloned()
        .collect()
}

#[test]
fn every_archive_loads_for_the_command_that_names_it() {
    let archived = archived_languages();
    let ids: Vec<&str> = archived.iter().map(|l| l.id.as_str()).collect();
    for id in ARCHIVED {
        assert!(
            ids.contains(&id),
            "{id} has no class-data sharing archive: {ids:?}"
        );
    }
    for language in &archived {
        check_language(language);
    }
}

#[test]
fn an_archive_that_does_not_load_leaves_stdout_alone() {
    let languages = languages();
    for language in languages
        .all()
        .iter()
        .filter(|l| ARCHIVED.contains(&l.id.as_str()))
    {
        for argv in commands(language).filter(|argv| archive_of(argv).is_some()) {
            let silenced = jvm_option(argv, "-Xlog:cds*=off");
            assert!(
                argv.contains(&silenced),
                "{}: {argv:?} lacks {silenced}",
                language.id
            );
        }
    }
    // The launcher with the run command's archive, trained without the
    // launcher's jar on the boot class path: the JVM refuses that archive.
    let groovy = languages.get("groovy").expect("groovy");
    let work = WorkDir::with_fixture(groovy);
    let launcher = groovy.preload_command(MEMORY_MB).expect("groovy preloads");
    let wrong: Vec<String> = launcher
        .iter()
        .map(|a| match a.strip_prefix(ARCHIVE_OPTION) {
            Some(path) => format!("{ARCHIVE_OPTION}{}", path.replace("-launcher.jsa", ".jsa")),
            None => a.clone(),
        })
        .collect();
    assert_ne!(wrong, launcher, "the launcher names an archive of its own");
    let run = groovy.run_command(MEMORY_MB);
    let ran = work.run(&groovy.image_ref(), &wrong, Some(&run));
    assert_ran(&format!("groovy: {wrong:?}"), &ran, Some(&work.expected));
    let refused = work.run(&groovy.image_ref(), &sharing_required(&wrong), Some(&run));
    assert_ne!(
        refused.0, 0,
        "-Xshare:on accepted a mismatched archive: {refused:?}"
    );
}
