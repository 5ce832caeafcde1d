//! The language manifest: which languages exist, their image, the name a
//! single source file is saved under, and their compile and run commands.
//! Read once at start-up from `images/languages.toml` (the same file the image
//! build script reads), then shared read-only.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One `[[language]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Docker image (tag `latest`) built from `images/<image without rce->/`.
    pub image: String,
    /// The file a single `source` is saved as; the entry point of the commands.
    pub file: String,
    /// Compile argv, for compiled languages.
    #[serde(default)]
    pub compile: Option<Vec<String>>,
    /// Run argv; a submission's `args` are appended and `{memory_mb}` becomes
    /// the job's memory limit (see [`Language::run_command`]).
    pub run: Vec<String>,
    /// Run in the built image by scripts/images.sh; the first dotted number
    /// it prints is the version the image is labelled with.
    #[serde(default)]
    pub version_command: Option<Vec<String>>,
    /// The launcher a warm container starts before its job (see
    /// `rce_protocol::PreloadSpec` and images/preload/): the runtime's slow
    /// start is paid while the container waits. `{memory_mb}` as in `run`.
    #[serde(default)]
    pub preload: Option<Vec<String>>,
    /// What an idle launcher holds (MB), charged against the warm budget on
    /// top of `sandbox.warm_container_mb`.
    #[serde(default)]
    pub preload_mb: u64,
    /// A source line near the top starting with this needs a fresh start
    /// (`rce_protocol::PreloadSpec::cold_marker`).
    #[serde(default)]
    pub preload_cold_marker: Option<String>,
    /// The launcher cannot take a job's arguments: jobs with arguments start
    /// the runtime anew (`rce_protocol::PreloadSpec::no_arguments`).
    #[serde(default)]
    pub preload_no_arguments: bool,
}

/// What `{memory_mb}` in a run command stands for.
const MEMORY_PLACEHOLDER: &str = "{memory_mb}";

impl Language {
    /// The image reference containers of this language run: `<image>:latest`.
    pub fn image_ref(&self) -> String {
        format!("{}:latest", self.image)
    }

    /// The run argv for a job limited to `memory_mb`: the JVM languages put
    /// the limit in their heap size, so a program needing more is stopped
    /// for its memory rather than failing with OutOfMemoryError below it.
    pub fn run_command(&self, memory_mb: u64) -> Vec<String> {
        with_memory(&self.run, memory_mb)
    }

    /// The preload launcher's argv for jobs limited to `memory_mb`.
    pub fn preload_command(&self, memory_mb: u64) -> Option<Vec<String>> {
        self.preload
            .as_ref()
            .map(|argv| with_memory(argv, memory_mb))
    }
}

/// `argv` with `{memory_mb}` replaced by `memory_mb`.
fn with_memory(argv: &[String], memory_mb: u64) -> Vec<String> {
    argv.iter()
        .map(|arg| arg.replace(MEMORY_PLACEHOLDER, &memory_mb.to_string()))
        .collect()
}

#[derive(Debug, Deserialize)]
struct Manifest {
    language: Vec<Language>,
}

#[derive(Debug, thiserror::Error)]
pub enum LanguagesError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("parsing {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("language id or alias {0:?} appears twice")]
    Duplicate(String),
    #[error("sandbox.languages names {0:?}, which images/languages.toml does not list")]
    Unknown(String),
}

#[cfg(test)]
impl Language {
    /// Python as images/languages.toml describes it, for unit tests that
    /// need a language without reading the manifest.
    pub(crate) fn python_for_tests() -> Language {
        Language {
            id: "python".into(),
            name: "Python".into(),
            version: "3".into(),
            aliases: vec![],
            image: "rce-python".into(),
            file: "main.py".into(),
            compile: None,
            run: vec!["python3".into(), "main.py".into()],
            version_command: None,
            preload: None,
            preload_mb: 0,
            preload_cold_marker: None,
            preload_no_arguments: false,
        }
    }
}

/// All languages, looked up by id or alias.
#[derive(Debug, Clone)]
pub struct Languages {
    ordered: Arc<Vec<Language>>,
    by_name: Arc<HashMap<String, usize>>,
}

impl Languages {
    pub fn load(path: &Path) -> Result<Languages, LanguagesError> {
        let text = std::fs::read_to_string(path).map_err(|source| LanguagesError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Languages::parse(&text).map_err(|error| match error {
            LanguagesError::Parse { source, .. } => LanguagesError::Parse {
                path: path.display().to_string(),
                source,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Languages, LanguagesError> {
        let manifest: Manifest = toml::from_str(text).map_err(|source| LanguagesError::Parse {
            path: "<manifest>".into(),
            source,
        })?;
        Languages::from_list(manifest.language)
    }

    fn from_list(languages: Vec<Language>) -> Result<Languages, LanguagesError> {
        let mut by_name = HashMap::new();
        for (index, language) in languages.iter().enumerate() {
            for name in std::iter::once(&language.id).chain(&language.aliases) {
                if by_name.insert(name.clone(), index).is_some() {
                    return Err(LanguagesError::Duplicate(name.clone()));
                }
            }
        }
        Ok(Languages {
            ordered: Arc::new(languages),
            by_name: Arc::new(by_name),
        })
    }

    /// Only the languages with these ids (all of them when `ids` is empty),
    /// in manifest order; an id the manifest lacks is an error, so a typo in
    /// `sandbox.languages` stops the server instead of hiding a language.
    pub fn only(&self, ids: &[String]) -> Result<Languages, LanguagesError> {
        if let Some(unknown) = ids.iter().find(|id| self.get(id).is_none()) {
            return Err(LanguagesError::Unknown(unknown.clone()));
        }
        let wanted = |language: &Language| {
            ids.is_empty() || ids.iter().any(|id| self.get(id) == Some(language))
        };
        self.filter_map(|language| wanted(language).then(|| language.clone()))
    }

    /// The languages `keep` returns, changed as it returns them.
    pub fn filter_map(
        &self,
        keep: impl FnMut(&Language) -> Option<Language>,
    ) -> Result<Languages, LanguagesError> {
        Languages::from_list(self.ordered.iter().filter_map(keep).collect())
    }

    /// The language with this id or alias.
    pub fn get(&self, name: &str) -> Option<&Language> {
        self.by_name.get(name).map(|&index| &self.ordered[index])
    }

    /// All languages in manifest order.
    pub fn all(&self) -> &[Language] {
        &self.ordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        [[language]]
        id = "python"
        name = "Python"
        version = "3.11"
        aliases = ["py"]
        image = "rce-python"
        file = "main.py"
        run = ["python3", "main.py"]

        [[language]]
        id = "c"
        name = "C"
        version = "12"
        image = "rce-c"
        file = "main.c"
        compile = ["gcc", "-o", "main", "main.c"]
        run = ["./main"]
    "#;

    /// Ids and aliases both resolve; order is kept.
    #[test]
    fn looks_up_by_id_and_alias() {
        let languages = Languages::parse(MANIFEST).unwrap();
        assert_eq!(languages.get("py").unwrap().id, "python");
        assert_eq!(
            languages.get("c").unwrap().compile.as_ref().unwrap()[0],
            "gcc"
        );
        assert!(languages.get("cobol").is_none());
        assert_eq!(languages.all().len(), 2);
    }

    /// An alias that shadows another language's id is refused.
    #[test]
    fn duplicate_names_are_refused() {
        let text = MANIFEST.replace("aliases = [\"py\"]", "aliases = [\"c\"]");
        assert!(
            matches!(Languages::parse(&text), Err(LanguagesError::Duplicate(name)) if name == "c")
        );
    }

    /// `only` keeps the named languages (by id or alias) in manifest order,
    /// keeps everything for an empty list and refuses an unknown name.
    #[test]
    fn only_the_configured_languages() {
        let languages = Languages::parse(MANIFEST).unwrap();
        let only_c = languages.only(&["c".into()]).unwrap();
        assert_eq!(only_c.all().len(), 1);
        assert!(only_c.get("py").is_none());
        let by_alias = languages.only(&["c".into(), "py".into()]).unwrap();
        let ids: Vec<&str> = by_alias.all().iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["python", "c"]);
        assert_eq!(languages.only(&[]).unwrap().all().len(), 2);
        assert!(matches!(
            languages.only(&["cobol".into()]),
            Err(LanguagesError::Unknown(name)) if name == "cobol"
        ));
    }

    /// `{memory_mb}` in a run command becomes the job's limit.
    #[test]
    fn run_command_carries_the_memory_limit() {
        let mut java = Language::python_for_tests();
        java.run = vec!["java".into(), "-Xmx{memory_mb}m".into(), "Main".into()];
        assert_eq!(java.run_command(300), ["java", "-Xmx300m", "Main"]);
        assert_eq!(
            Language::python_for_tests().run_command(300),
            ["python3", "main.py"]
        );
    }

    /// A shipped launcher starts its runtime as the run command does: the
    /// same program (the runtime itself for a front end that starts it: R
    /// for Rscript, erl for escript) and environment (a launcher may add
    /// variables of its own, such as Octave's OCTAVE_VERSION_INITFILE, which
    /// it unsets), and for the JVM the same options (heap, stack, GC) and
    /// class path, the launcher only appended to the boot class path.
    #[test]
    fn shipped_preloads_start_their_runtime_like_run() {
        const FRONT_ENDS: &[(&str, &str)] = &[("Rscript", "R"), ("escript", "erl")];
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/languages.toml");
        let languages = Languages::load(&path).unwrap();
        let mut preloaded = 0;
        for language in languages.all() {
            let (Some(preload), run) = (language.preload_command(256), language.run_command(256))
            else {
                continue;
            };
            preloaded += 1;
            assert!(language.preload_mb > 0, "{}: preload_mb", language.id);
            // `env NAME=VALUE… PROGRAM …`: the assignments and the program
            let split = |argv: &[String]| -> (Vec<String>, String) {
                let start = usize::from(argv[0] == "env");
                let assignments: Vec<String> = argv[start..]
                    .iter()
                    .take_while(|a| a.contains('='))
                    .cloned()
                    .collect();
                (assignments.clone(), argv[start + assignments.len()].clone())
            };
            let (preload_env, preload_program) = split(&preload);
            let (run_env, run_program) = split(&run);
            let started = FRONT_ENDS
                .iter()
                .find(|(front_end, _)| *front_end == run_program)
                .map_or(run_program.as_str(), |(_, runtime)| runtime);
            assert_eq!(preload_program, started, "{}: another program", language.id);
            for assignment in &run_env {
                assert!(
                    preload_env.contains(assignment),
                    "{}: {assignment}",
                    language.id
                );
            }
            if run[0] != "java" {
                continue;
            }
            let options = |argv: &[String]| {
                let at = argv.iter().position(|a| a == "-cp").expect("a class path");
                (argv[..at].to_vec(), argv[at + 1].clone())
            };
            // A class-data sharing archive (with -Xlog:cds*=off, which keeps a
            // failure to map it quiet) holds one class path's classes: the
            // launcher's boot class path differs, so it maps an archive of its own.
            let archive = |options: &mut Vec<String>| {
                options.retain(|o| o != "-Xlog:cds*=off");
                let at = options
                    .iter()
                    .position(|o| o.starts_with("-XX:SharedArchiveFile="));
                at.map(|at| options.remove(at))
            };
            let (mut preload_options, preload_path) = options(&preload);
            let (mut run_options, run_path) = options(&run);
            assert_eq!(
                preload_options.pop().as_deref(),
                Some("-Xbootclasspath/a:/opt/rce/preload/rce-launcher.jar"),
                "{}",
                language.id
            );
            let preload_archive = archive(&mut preload_options);
            let run_archive = archive(&mut run_options);
            assert!(
                run_archive.is_none() || preload_archive != run_archive,
                "{}: one archive for two class paths",
                language.id
            );
            assert_eq!(preload_options, run_options, "{}", language.id);
            assert_eq!(preload_path, run_path, "{}", language.id);
        }
        assert!(preloaded >= 14, "{preloaded} languages preload");
    }

    /// The shipped manifest parses (the server refuses to start otherwise).
    #[test]
    fn shipped_manifest_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/languages.toml");
        let languages = Languages::load(&path).unwrap();
        assert!(languages.get("python").is_some());
    }
}
