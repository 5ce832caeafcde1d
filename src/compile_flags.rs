//! Which compiler flags a submission may add to its language's compile
//! command (Judge0's `compiler_options`, carried as a job's `compile_args`).
//! The flags run inside the sandbox, but a compiler is a program launcher:
//! gcc's `-wrapper`, `-B`, `-specs` and `-fplugin=`, javac's `-J`, go's
//! `-toolexec` and rustc's `-C linker=` run other programs, and `-include`,
//! `@file` or `-I` read files the compile output then shows. So each
//! compiler family has an allow-list of flags that only tune the compile
//! (optimisation, language standard, warnings, macros, debug info, a few
//! standard libraries); anything else, including every flag that takes its
//! value as a separate word and every bare word, is refused, naming the
//! flag. A compiler this module does not know takes no flags at all.

/// A compiler family, found in a language's compile command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compiler {
    /// gcc, g++, cc, c++, clang, clang++ (the C and C++ images).
    Gcc,
    /// javac.
    Javac,
    /// `go build`.
    Go,
    /// rustc.
    Rustc,
}

/// A flag the allow-list refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("flag {flag:?} is not allowed for {compiler}; allowed: {allowed}")]
    NotAllowed {
        flag: String,
        compiler: &'static str,
        allowed: &'static str,
    },
    #[error("flag {flag:?} is not allowed: this language's compiler takes no extra flags")]
    UnknownCompiler { flag: String },
}

/// Libraries `-l` may link (part of every C/C++ toolchain image).
const GCC_LIBRARIES: &[&str] = &["m", "pthread", "rt", "stdc++"];

/// `-f` options (after an optional `no-`) that name files, load code or
/// write dumps, refused although other `-f` options are allowed.
const GCC_REFUSED_F: &[&str] = &[
    "plugin",
    "dump",
    "profile",
    "auto-profile",
    "self-test",
    "debug-prefix-map",
    "file-prefix-map",
    "macro-prefix-map",
    "stack-usage",
    "callgraph-info",
    "record-gcc-switches",
    "compare-debug",
    "use-ld",
    "opt-info",
    "diagnostics-format",
];

impl Compiler {
    /// The compiler a compile command runs: the first word whose file name
    /// is a known compiler (so `env GOCACHE=… go build …` is Go).
    pub fn of(compile: &[String]) -> Option<Compiler> {
        compile.iter().find_map(|word| {
            let program = word.rsplit('/').next().unwrap_or(word);
            match program {
                "gcc" | "g++" | "cc" | "c++" | "clang" | "clang++" => Some(Compiler::Gcc),
                _ if program.starts_with("gcc-") || program.starts_with("g++-") => {
                    Some(Compiler::Gcc)
                }
                "javac" => Some(Compiler::Javac),
                "go" => Some(Compiler::Go),
                "rustc" => Some(Compiler::Rustc),
                _ => None,
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Compiler::Gcc => "gcc",
            Compiler::Javac => "javac",
            Compiler::Go => "go build",
            Compiler::Rustc => "rustc",
        }
    }

    /// The allowed forms, as the refusal lists them.
    fn allowed(self) -> &'static str {
        match self {
            Compiler::Gcc => {
                "-O, -O0..-O3, -Os, -Og, -Ofast, -Oz, -std=<standard>, -W<warning> (no -Wl,/-Wa,/-Wp,), \
                 -w, -pedantic, -pedantic-errors, -ansi, -D<name>[=<value>], -U<name>, -g, -g0..-g3, \
                 -ggdb, -f<option> (not plugins, dumps, profiles, prefix maps or paths), -pthread, \
                 -lm, -lpthread, -lrt, -lstdc++"
            }
            Compiler::Javac => {
                "-g, -g:none, -g:{lines,vars,source}, -nowarn, -deprecation, -parameters, -Werror, \
                 -Xlint, -Xlint:<keys>, -Xdiags:compact, -Xdiags:verbose"
            }
            Compiler::Go => "-trimpath, -tags=<tag>[,<tag>…]",
            Compiler::Rustc => {
                "-O, -g, --edition=<year>, -Copt-level=<0-3|s|z>, -Cdebuginfo=<level>, \
                 -Coverflow-checks=<bool>, -Cdebug-assertions=<bool>, -Ccodegen-units=<n>, \
                 -Cpanic=<abort|unwind>, --cfg=<name>, -A/-W/-D/-F<lint>, --cap-lints=<level>"
            }
        }
    }

    /// Whether this compiler's allow-list takes `flag`.
    pub fn allows(self, flag: &str) -> bool {
        match self {
            Compiler::Gcc => gcc_allows(flag),
            Compiler::Javac => javac_allows(flag),
            Compiler::Go => go_allows(flag),
            Compiler::Rustc => rustc_allows(flag),
        }
    }
}

/// Checks every flag against the allow-list of the compiler `compile` runs.
pub fn check(compile: &[String], flags: &[String]) -> Result<(), FlagError> {
    let Some(compiler) = Compiler::of(compile) else {
        return match flags.first() {
            Some(flag) => Err(FlagError::UnknownCompiler { flag: flag.clone() }),
            None => Ok(()),
        };
    };
    match flags.iter().find(|flag| !compiler.allows(flag)) {
        Some(flag) => Err(FlagError::NotAllowed {
            flag: flag.clone(),
            compiler: compiler.name(),
            allowed: compiler.allowed(),
        }),
        None => Ok(()),
    }
}

/// A C identifier (macro names).
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Non-empty and made only of `allowed` characters or ASCII alphanumerics.
fn is_made_of(text: &str, allowed: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || allowed.contains(c))
}

/// `NAME`, `NAME=value` or `NAME(a,b)=value`; the value is the macro's
/// body, which only ever reaches the program's own source.
fn is_macro_definition(text: &str) -> bool {
    let head = text.split_once('=').map_or(text, |(head, _)| head);
    match head.split_once('(') {
        None => is_identifier(head),
        Some((name, params)) => {
            is_identifier(name)
                && params.strip_suffix(')').is_some_and(|params| {
                    params.is_empty()
                        || params.split(',').all(|p| {
                            let p = p.trim();
                            is_identifier(p) || p == "..."
                        })
                })
        }
    }
}

fn gcc_allows(flag: &str) -> bool {
    const EXACT: &[&str] = &[
        "-O",
        "-O0",
        "-O1",
        "-O2",
        "-O3",
        "-Os",
        "-Og",
        "-Ofast",
        "-Oz",
        "-g",
        "-g0",
        "-g1",
        "-g2",
        "-g3",
        "-ggdb",
        "-w",
        "-pedantic",
        "-pedantic-errors",
        "-ansi",
        "-pthread",
    ];
    if EXACT.contains(&flag) {
        return true;
    }
    if let Some(standard) = flag.strip_prefix("-std=") {
        return is_made_of(standard, "+");
    }
    if let Some(library) = flag.strip_prefix("-l") {
        return GCC_LIBRARIES.contains(&library);
    }
    if let Some(definition) = flag.strip_prefix("-D") {
        return is_macro_definition(definition);
    }
    if let Some(name) = flag.strip_prefix("-U") {
        return is_identifier(name);
    }
    if let Some(warning) = flag.strip_prefix("-W") {
        // No comma: `-Wl,…`, `-Wa,…` and `-Wp,…` hand options to the
        // linker, assembler and preprocessor.
        return is_made_of(warning, "-_=+");
    }
    if let Some(option) = flag.strip_prefix("-f") {
        let name = option.strip_prefix("no-").unwrap_or(option);
        return is_made_of(option, "-_=+,.")
            && !GCC_REFUSED_F
                .iter()
                .any(|refused| name.starts_with(refused));
    }
    false
}

fn javac_allows(flag: &str) -> bool {
    const EXACT: &[&str] = &[
        "-g",
        "-g:none",
        "-nowarn",
        "-deprecation",
        "-parameters",
        "-Werror",
        "-Xlint",
        "-Xdiags:compact",
        "-Xdiags:verbose",
    ];
    if EXACT.contains(&flag) {
        return true;
    }
    if let Some(kinds) = flag.strip_prefix("-g:") {
        return kinds
            .split(',')
            .all(|kind| ["lines", "vars", "source"].contains(&kind));
    }
    if let Some(keys) = flag.strip_prefix("-Xlint:") {
        return is_made_of(keys, ",-");
    }
    false
}

fn go_allows(flag: &str) -> bool {
    if flag == "-trimpath" {
        return true;
    }
    flag.strip_prefix("-tags=")
        .is_some_and(|tags| is_made_of(tags, "_.,"))
}

fn rustc_allows(flag: &str) -> bool {
    const BOOLEAN: &[&str] = &["on", "off", "yes", "no", "y", "n", "true", "false"];
    if flag == "-O" || flag == "-g" {
        return true;
    }
    if let Some(edition) = flag.strip_prefix("--edition=") {
        return ["2015", "2018", "2021", "2024"].contains(&edition);
    }
    if let Some(level) = flag.strip_prefix("--cap-lints=") {
        return ["allow", "warn", "deny", "forbid"].contains(&level);
    }
    if let Some(cfg) = flag.strip_prefix("--cfg=") {
        return is_identifier(cfg);
    }
    if let Some(codegen) = flag.strip_prefix("-C") {
        let Some((option, value)) = codegen.split_once('=') else {
            return false;
        };
        return match option {
            "opt-level" => ["0", "1", "2", "3", "s", "z"].contains(&value),
            "debuginfo" => {
                ["0", "1", "2", "none", "limited", "full", "line-tables-only"].contains(&value)
            }
            "overflow-checks" | "debug-assertions" => BOOLEAN.contains(&value),
            "codegen-units" => !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()),
            "panic" => ["abort", "unwind"].contains(&value),
            _ => false,
        };
    }
    for level in ["-A", "-W", "-D", "-F"] {
        if let Some(lint) = flag.strip_prefix(level) {
            return is_made_of(lint, "_-:");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// The compile commands of images/languages.toml map to their family;
    /// a command with no known compiler maps to none.
    #[test]
    fn compilers_are_found_in_compile_commands() {
        let c = argv(&["gcc", "-O2", "-std=c17", "-o", "main", "main.c", "-lm"]);
        assert_eq!(Compiler::of(&c), Some(Compiler::Gcc));
        assert_eq!(
            Compiler::of(&argv(&["/usr/bin/g++", "main.cpp"])),
            Some(Compiler::Gcc)
        );
        assert_eq!(
            Compiler::of(&argv(&["javac", "-J-XX:+UseSerialGC", "Main.java"])),
            Some(Compiler::Javac)
        );
        let go = argv(&[
            "env",
            "GOCACHE=/tmp/go-cache",
            "go",
            "build",
            "-o",
            "main",
            "main.go",
        ]);
        assert_eq!(Compiler::of(&go), Some(Compiler::Go));
        assert_eq!(
            Compiler::of(&argv(&["rustc", "--edition=2021", "-O", "main.rs"])),
            Some(Compiler::Rustc)
        );
        assert_eq!(Compiler::of(&argv(&["make", "-j1"])), None);
    }

    /// gcc: optimisation, standards, warnings, macros (with quoted values
    /// and parameters), debug info, ordinary -f options and the fixed
    /// libraries pass.
    #[test]
    fn gcc_tuning_flags_pass() {
        for flag in [
            "-O0",
            "-O2",
            "-O3",
            "-Os",
            "-Og",
            "-std=c17",
            "-std=gnu++20",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-Wno-unused-variable",
            "-Werror=format",
            "-Wframe-larger-than=8192",
            "-pedantic",
            "-DX=1",
            "-DNDEBUG",
            "-DNAME=\"x y\"",
            "-DGREETING=\"hello, options\"",
            "-DMAX(a,b)=((a)>(b)?(a):(b))",
            "-UNDEBUG",
            "-g",
            "-g3",
            "-fno-exceptions",
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fopenmp",
            "-lm",
            "-lpthread",
            "-pthread",
        ] {
            assert!(Compiler::Gcc.allows(flag), "{flag}");
        }
    }

    /// gcc: everything that runs another program, reads a file, redirects
    /// the output, changes the input language or passes options on to the
    /// linker, assembler or preprocessor is refused, as are bare words.
    #[test]
    fn gcc_dangerous_flags_are_refused() {
        for flag in [
            "-wrapper",
            "-wrapper,/bin/sh",
            "-fplugin=/tmp/evil.so",
            "-fplugin-arg-evil-x=1",
            "-fdump-tree-all",
            "-fprofile-generate=/tmp",
            "-fprofile-use",
            "-fno-plugin",
            "-fuse-ld=gold",
            "-ffile-prefix-map=/a=/b",
            "-finput-charset=/etc/passwd",
            "@/etc/passwd",
            "@args.txt",
            "-B/tmp",
            "-B",
            "-specs=/tmp/evil.specs",
            "--specs=/tmp/evil.specs",
            "-o",
            "-o/tmp/x",
            "-x",
            "-xassembler",
            "--param",
            "--param=max-inline-insns-single=1",
            "-I/etc",
            "-include",
            "-include/etc/passwd",
            "-imacros",
            "-isystem/etc",
            "-L/tmp",
            "-ldl",
            "-l:libevil.so",
            "-Wl,-T,/tmp/script",
            "-Wa,-o,/tmp/x",
            "-Wp,-MD,/tmp/x",
            "-Xlinker",
            "-march=native",
            "-E",
            "-S",
            "-c",
            "-save-temps",
            "-v",
            "-###",
            "--sysroot=/",
            "-static",
            "-D",
            "-D1X",
            "-Dx y",
            "-U",
            "-std=",
            "-std=c17;id",
            "/bin/sh",
            "main.c",
            "touch",
            ";",
            "",
        ] {
            assert!(!Compiler::Gcc.allows(flag), "{flag}");
        }
    }

    /// javac: debug info, warnings and lint pass; JVM options (-J), class
    /// paths, output directories, annotation processors, plugins and
    /// argument files are refused.
    #[test]
    fn javac_flags() {
        for flag in [
            "-g",
            "-g:none",
            "-g:lines,vars",
            "-nowarn",
            "-Xlint",
            "-Xlint:all,-serial",
            "-Werror",
            "-parameters",
        ] {
            assert!(Compiler::Javac.allows(flag), "{flag}");
        }
        for flag in [
            "-J-javaagent:/tmp/a.jar",
            "-J-Xmx1g",
            "-cp",
            "-classpath",
            "-d",
            "-processorpath",
            "-processor",
            "-Xplugin:Evil",
            "@/etc/passwd",
            "--add-modules",
            "-g:all",
            "-O2",
            "Main.java",
        ] {
            assert!(!Compiler::Javac.allows(flag), "{flag}");
        }
    }

    /// go build: -trimpath and build tags pass; -toolexec (the wrapper),
    /// -gcflags/-ldflags (which reach the compiler and linker), -overlay
    /// and -o are refused.
    #[test]
    fn go_flags() {
        assert!(Compiler::Go.allows("-trimpath"));
        assert!(Compiler::Go.allows("-tags=integration,fast"));
        for flag in [
            "-toolexec=/bin/sh",
            "-toolexec",
            "-gcflags=all=-N",
            "-ldflags=-X main.v=1",
            "-overlay=/tmp/o.json",
            "-o",
            "-tags=a b",
            "-tags=",
            "-race",
            "-O2",
        ] {
            assert!(!Compiler::Go.allows(flag), "{flag}");
        }
    }

    /// rustc: optimisation, debug info, checks, editions, cfgs and lint
    /// levels pass; linkers, link arguments, library paths, unstable -Z
    /// options, emitted files and separate-word forms are refused.
    #[test]
    fn rustc_flags() {
        for flag in [
            "-O",
            "-g",
            "--edition=2018",
            "-Copt-level=3",
            "-Copt-level=s",
            "-Cdebuginfo=2",
            "-Coverflow-checks=off",
            "-Cpanic=abort",
            "-Ccodegen-units=1",
            "--cfg=fast",
            "-Dwarnings",
            "-Aunused",
            "--cap-lints=warn",
        ] {
            assert!(Compiler::Rustc.allows(flag), "{flag}");
        }
        for flag in [
            "-Clinker=/bin/sh",
            "-Clink-arg=-Wl,-T,/tmp/x",
            "-C",
            "-Copt-level=9",
            "-Ctarget-cpu=native",
            "-L/tmp",
            "-lfoo",
            "--extern",
            "-Zunstable-options",
            "--emit=asm=/tmp/x",
            "-o",
            "--out-dir=/tmp",
            "@/etc/passwd",
            "--edition=1999",
            "--cfg=feature=\"x\"",
            "--sysroot=/tmp",
        ] {
            assert!(!Compiler::Rustc.allows(flag), "{flag}");
        }
    }

    /// `check` names the first refused flag and the compiler in its
    /// message; an empty list always passes; a compiler outside the
    /// allow-lists takes no flags at all.
    #[test]
    fn check_names_the_offending_flag() {
        let gcc = argv(&["gcc", "-o", "main", "main.c"]);
        assert_eq!(check(&gcc, &argv(&["-O2", "-DX=1"])), Ok(()));
        assert_eq!(check(&gcc, &[]), Ok(()));
        let error = check(&gcc, &argv(&["-O2", "-wrapper,/bin/sh", "-B/tmp"])).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("\"-wrapper,/bin/sh\""), "{message}");
        assert!(message.contains("gcc"), "{message}");
        assert!(!message.contains("-B/tmp"), "{message}");
        let unknown = argv(&["make"]);
        assert_eq!(check(&unknown, &[]), Ok(()));
        assert_eq!(
            check(&unknown, &argv(&["-O2"])),
            Err(FlagError::UnknownCompiler { flag: "-O2".into() })
        );
    }
}
