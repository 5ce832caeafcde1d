//! Piston's view of rce's languages: each language as a Piston runtime
//! (`language`, semver `version`, `aliases`, `runtime`), the lookup Piston
//! does for `language` + `version` (name or alias; `*`, a missing version,
//! or a version prefix pick the newest match), and the names Piston gives
//! signals.

use crate::languages::{Language, Languages};
use serde_json::{json, Value};

/// Piston's name for an rce language and the extra aliases Piston's own
/// packages give it, plus the `runtime` field Piston shows for it.
fn piston_names(id: &str) -> (&str, &'static [&'static str], Option<&'static str>) {
    match id {
        "python" => ("python", &["py", "py3", "python3"], None),
        "javascript" => (
            "javascript",
            &["node-javascript", "node-js", "js"],
            Some("node"),
        ),
        "c" => ("c", &["gcc"], Some("gcc")),
        "cpp" => ("c++", &["cpp", "g++"], Some("gcc")),
        "go" => ("go", &["golang"], None),
        "rust" => ("rust", &["rs"], None),
        "ruby" => ("ruby", &["ruby3", "rb"], None),
        "bash" => ("bash", &["sh"], None),
        "typescript" => ("typescript", &["ts", "node-ts", "tsc"], Some("node")),
        "kotlin" => ("kotlin", &["kt"], None),
        "scala" => ("scala", &["sc"], None),
        "groovy" => ("groovy", &["gvy"], None),
        "clojure" => ("clojure", &["clj"], None),
        "csharp" => (
            "csharp",
            &["mono", "mono-csharp", "mono-c#", "mono-cs", "c#", "cs"],
            Some("mono"),
        ),
        "haskell" => ("haskell", &["hs"], None),
        "ocaml" => ("ocaml", &["ml"], None),
        "erlang" => ("erlang", &["erl", "escript"], None),
        "elixir" => ("elixir", &["exs"], None),
        "racket" => ("racket", &["rkt"], None),
        "scheme" => ("scheme", &["guile", "scm"], None),
        "commonlisp" => ("lisp", &["cl", "sbcl", "commonlisp"], None),
        "prolog" => ("prolog", &["plg"], None),
        "fortran" => ("fortran", &["fortran", "f90"], None),
        "pascal" => ("pascal", &["freepascal", "pp", "pas"], None),
        "d" => ("d", &["dmd"], None),
        "cobol" => ("cobol", &["cob"], None),
        "nasm" => ("nasm", &["asm", "nasm64"], None),
        "r" => ("rscript", &["r"], None),
        "octave" => ("octave", &["matlab", "m"], None),
        "sqlite" => ("sqlite3", &["sqlite", "sql"], None),
        "awk" => ("awk", &["gawk"], None),
        other => (other, &[], None),
    }
}

/// An rce language as a Piston runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    pub language: String,
    pub version: String,
    pub aliases: Vec<String>,
    pub runtime: Option<&'static str>,
    /// The rce language id it runs as.
    pub rce_id: String,
}

impl Runtime {
    fn of(language: &Language) -> Runtime {
        let (name, extra, runtime) = piston_names(&language.id);
        let mut aliases: Vec<String> = Vec::new();
        let candidates = std::iter::once(language.id.as_str())
            .chain(language.aliases.iter().map(String::as_str))
            .chain(extra.iter().copied());
        for alias in candidates {
            if alias != name && !aliases.iter().any(|a| a == alias) {
                aliases.push(alias.to_string());
            }
        }
        Runtime {
            language: name.to_string(),
            version: semver(&language.version),
            aliases,
            runtime,
            rce_id: language.id.clone(),
        }
    }

    /// The `GET /api/v2/runtimes` entry.
    pub fn to_json(&self) -> Value {
        let mut entry =
            json!({"language": self.language, "version": self.version, "aliases": self.aliases});
        if let Some(runtime) = self.runtime {
            entry["runtime"] = json!(runtime);
        }
        entry
    }
}

/// A version padded to three parts (`3.11` → `3.11.0`), as Piston's
/// versions are semver.
pub fn semver(version: &str) -> String {
    let mut parts: Vec<&str> = version.split('.').collect();
    while parts.len() < 3 {
        parts.push("0");
    }
    parts.join(".")
}

/// Every runtime, in manifest order.
pub fn all(languages: &Languages) -> Vec<Runtime> {
    languages.all().iter().map(Runtime::of).collect()
}

/// Whether `version` (a semver, maybe with `x`/`*` parts or fewer parts)
/// selects `actual`.
fn version_matches(wanted: &str, actual: &str) -> bool {
    let wanted = wanted.trim().trim_start_matches(['=', 'v']);
    if wanted.is_empty() || wanted == "*" || wanted == "x" {
        return true;
    }
    let actual: Vec<&str> = actual.split('.').collect();
    wanted
        .split('.')
        .enumerate()
        .all(|(i, part)| part == "x" || part == "*" || actual.get(i).is_some_and(|a| *a == part))
}

/// The runtime Piston would pick for `language` (name or alias) and
/// `version` (`None` or `*` for the newest).
pub fn find(languages: &Languages, language: &str, version: Option<&str>) -> Option<Runtime> {
    all(languages).into_iter().find(|runtime| {
        (runtime.language == language || runtime.aliases.iter().any(|a| a == language))
            && version.is_none_or(|v| version_matches(v, &runtime.version))
    })
}

/// Piston's name of a signal number (Linux numbering).
pub fn signal_name(signal: i32) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    usize::try_from(signal)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| NAMES.get(i).copied())
}

/// The number of a Piston signal name.
pub fn signal_number(name: &str) -> Option<i32> {
    (1..=31).find(|&n| signal_name(n) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn languages() -> Languages {
        Languages::parse(
            "[[language]]\nid='python'\nname='Python'\nversion='3.11'\naliases=['py','python3']\nimage='i'\nfile='main.py'\nrun=['python3','main.py']\n\
             [[language]]\nid='cpp'\nname='C++'\nversion='12.2'\naliases=['c++']\nimage='i'\nfile='main.cpp'\ncompile=['g++','main.cpp']\nrun=['./main']\n",
        )
        .unwrap()
    }

    /// Runtimes carry Piston's names, semver versions and aliases.
    #[test]
    fn runtimes_look_like_pistons() {
        let all = all(&languages());
        assert_eq!(
            all[0].to_json(),
            json!({"language": "python", "version": "3.11.0", "aliases": ["py", "python3", "py3"]})
        );
        assert_eq!(all[1].language, "c++");
        assert_eq!(all[1].to_json()["runtime"], "gcc");
        assert!(all[1].aliases.contains(&"cpp".to_string()));
    }

    /// Lookup by name or alias; `*`, no version, prefixes and exact
    /// versions match; another version does not.
    #[test]
    fn lookup_by_alias_and_version() {
        let languages = languages();
        assert_eq!(find(&languages, "py", None).unwrap().rce_id, "python");
        assert!(find(&languages, "python", Some("*")).is_some());
        assert!(find(&languages, "python", Some("3")).is_some());
        assert!(find(&languages, "python", Some("3.11.0")).is_some());
        assert!(find(&languages, "python", Some("3.10.0")).is_none());
        assert!(find(&languages, "cpp", Some("12.x")).is_some());
        assert!(find(&languages, "cobol", None).is_none());
    }

    /// Signal names follow Linux numbering both ways.
    #[test]
    fn signal_names() {
        assert_eq!(signal_name(9), Some("SIGKILL"));
        assert_eq!(signal_name(15), Some("SIGTERM"));
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_number("SIGINT"), Some(2));
        assert_eq!(signal_number("SIGFOO"), None);
    }
}
