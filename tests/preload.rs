//! Preloaded launchers with a real rce and real containers: for every
//! language with a `preload` in images/languages.toml, a program that shows
//! its arguments, stdin and script name, then dies of an uncaught error, is
//! run once cold (other limits: no warm container, no launcher) and once in
//! a warm container's launcher; both must print and end exactly alike, and
//! the warm one must have run in the launcher (`rce_preloaded_runs_total`).
//! A compiled language's cold run also fills the compile cache, so its warm
//! run skips the compile, which is when the launcher can take it.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Each preloaded language's program: argv, stdin and its own name, then
/// an uncaught error (the runtime's own report of it goes to stderr).
const PROGRAMS: &[(&str, &str)] = &[
    (
        "javascript",
        "const input = require('fs').readFileSync(0, 'utf8');\n\
         console.log(process.argv.slice(1), JSON.stringify(input), require.main === module);\n\
         throw new Error('boom');\n",
    ),
    (
        "typescript",
        "import * as fs from 'fs';\n\
         const input: string = fs.readFileSync(0, 'utf8');\n\
         console.log(process.argv.slice(1), JSON.stringify(input), require.main === module);\n\
         throw new Error('boom');\n",
    ),
    (
        "ruby",
        "p ARGV, $stdin.read, $0, __FILE__, DATA.read\n\
         raise 'boom'\n\
         __END__\n\
         data after the end\n",
    ),
    (
        "python-scientific",
        "import sys\nimport numpy as np\n\
         print(sys.argv, repr(sys.stdin.read()), __name__, __file__, sys.path[0], np.arange(3).sum())\n\
         raise ValueError('boom')\n",
    ),
    (
        "java",
        "public class Main {\n  public static void main(String[] args) throws Exception {\n    \
         System.out.println(String.join(\"|\", args) + new String(System.in.readAllBytes()));\n    \
         throw new IllegalStateException(\"boom\");\n  }\n}\n",
    ),
    (
        "kotlin",
        "fun main(args: Array<String>) {\n    \
         println(args.joinToString(\"|\") + String(System.`in`.readBytes()))\n    \
         error(\"boom\")\n}\n",
    ),
    (
        "scala",
        "object Main {\n  def main(args: Array[String]): Unit = {\n    \
         println(args.mkString(\"|\") + scala.io.Source.stdin.mkString)\n    \
         throw new IllegalStateException(\"boom\")\n  }\n}\n",
    ),
    (
        "groovy",
        "println args.join('|') + System.in.text\n\
         throw new IllegalStateException('boom')\n",
    ),
    (
        "clojure",
        "(println *command-line-args* (pr-str (slurp *in*)) *file*)\n\
         (throw (IllegalStateException. \"boom\"))\n",
    ),
    (
        "erlang",
        "#!/usr/bin/env escript\n\
         main(Args) ->\n    \
         io:format(\"~p ~p ~p~n\", [Args, io:get_chars(\"\", 1000), escript:script_name()]),\n    \
         erlang:error(boom).\n",
    ),
    (
        "elixir",
        "IO.inspect({System.argv(), IO.read(:stdio, :eof), __ENV__.file})\n\
         raise \"boom\"\n",
    ),
    (
        "racket",
        "#lang racket/base\n\
         (require racket/port)\n\
         (define (next x) (+ x 1))\n\
         (writeln (list (current-command-line-arguments) (port->string (current-input-port))\n\
                        (find-system-path 'run-file)))\n\
         (list 1 \"printed as its language prints it\")\n\
         (module+ main (next 'boom))\n",
    ),
    (
        // Rscript's command line, the global environment, search path, namespaces
        // and native libraries as a fresh R has them; top-level values printed;
        // the error with its "Calls:" line and "Execution halted".
        "r",
        "print(commandArgs())\n\
         cat(readLines(file(\"stdin\")), sep = \"|\"); cat(\"\\n\")\n\
         print(ls(all.names = TRUE)); print(search())\n\
         print(sort(loadedNamespaces())); print(names(getLoadedDLLs()))\n\
         x <- 1 + 1\n\
         x\n\
         f <- function() stop(\"boom\"); g <- function() f()\n\
         g()\n\
         cat(\"not reached\\n\")\n",
    ),
    (
        // argv(), the program's name, stdin, the workspace (nothing of the launcher
        // in it), a displayed value, then an error with its "called from" lines.
        "octave",
        "printf(\"[%s]\\n\", strjoin(argv()', \",\"));\n\
         printf(\"%s\\n\", program_name());\n\
         printf(\"%s|%s\\n\", fgetl(stdin), fgetl(stdin));\n\
         x = 1 + 1\n\
         who\n\
         getenv(\"OCTAVE_VERSION_INITFILE\")\n\
         function boom()\n  error(\"boom\");\nend\n\
         boom();\n",
    ),
];

/// Languages whose launcher takes no arguments (`preload_no_arguments`): their
/// program gets none here, since a job with arguments starts them anew.
const WITHOUT_ARGUMENTS: &[&str] = &["octave"];

/// What must be alike between a cold and a preloaded run.
fn observed(submission: &Value) -> Value {
    let result = &submission["result"];
    json!({
        "verdict": result["verdict"],
        "exit_code": result["exit_code"],
        "stdout": result["stdout"],
        "stderr": normalized(result["stderr"].as_str().unwrap_or_default()),
    })
}

/// Clojure names its error report file at random (/tmp/clojure-123.edn).
fn normalized(stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .map(|line| {
            if line.starts_with("/tmp/clojure-") && line.trim_end().ends_with(".edn") {
                "/tmp/clojure-N.edn\n"
            } else {
                line
            }
        })
        .collect()
}

async fn run(rce: &Rce, language: &str, source: &str, limits: Value) -> Value {
    let id = submit(
        rce,
        json!({
            "language": language,
            "source": source,
            "args": if WITHOUT_ARGUMENTS.contains(&language) { json!([]) } else { json!(["a b", "", "ü"]) },
            "stdin": "line one\nline two\n",
            "limits": limits,
        }),
    )
    .await;
    wait_completed(rce, &id, Duration::from_secs(180)).await
}

/// Every preloaded language runs alike with and without its launcher.
#[actix_rt::test]
async fn preloaded_runs_match_cold_runs() {
    let rce = start_preloading(&[]);
    for (language, source) in PROGRAMS {
        let (cold, warm) = cold_then_warm(&rce, language, source, true).await;
        assert_eq!(
            preloaded_runs(&rce, language).await,
            1,
            "{language}: the warm run took the launcher\n{}",
            rce.log()
        );
        assert_eq!(
            observed(&warm),
            observed(&cold),
            "{language}: preloaded and cold runs differ"
        );
        assert!(
            !warm["result"]["stderr"]
                .as_str()
                .unwrap_or_default()
                .contains("/opt/rce/preload"),
            "{language}: the launcher shows: {warm}"
        );
    }
}

/// Under gVisor (runsc) a warm container's job runs alike too: gVisor
/// refuses to change a pipe's mode, so the runner starts no launcher (the
/// JVM's could not reopen its go pipe) and the program starts anew. Skipped
/// visibly where runsc is not installed or not registered with the engine.
#[actix_rt::test]
async fn warm_jobs_under_gvisor_match_cold_runs() {
    if let Some(why) = runsc_unavailable().await {
        eprintln!("SKIPPED warm_jobs_under_gvisor_match_cold_runs: {why}");
        return;
    }
    let rce = start_preloading(&[("RCE_SANDBOX__RUNTIME", "runsc")]);
    for (language, source) in PROGRAMS
        .iter()
        .filter(|(l, _)| ["javascript", "java"].contains(l))
    {
        let (cold, warm) = cold_then_warm(&rce, language, source, false).await;
        assert_eq!(
            observed(&warm),
            observed(&cold),
            "{language}: warm and cold runs differ under gVisor"
        );
        assert_eq!(preloaded_runs(&rce, language).await, 0, "{language}");
    }
}

/// An rce whose warm pool seeds one container of every preloaded language.
fn start_preloading(extra: &[(&str, &str)]) -> Rce {
    let languages: Vec<&str> = PROGRAMS.iter().map(|(language, _)| *language).collect();
    let languages = languages.join(",");
    let mut settings = vec![
        ("RCE_SANDBOX__WARM_POOL_SIZE", "1"),
        ("RCE_SANDBOX__WARM_LANGUAGES", languages.as_str()),
        ("RCE_SANDBOX__WARM_MEMORY_MB", "4096"),
    ];
    settings.extend_from_slice(extra);
    start_rce_with(RceOptions {
        env: env(&settings),
        ..Default::default()
    })
}

/// `source` run cold (other limits: no warm container), then with the
/// default limits: once, or with `until_preloaded` until a run took a
/// launcher (the warm container may not be ready yet) or a minute passed.
async fn cold_then_warm(
    rce: &Rce,
    language: &str,
    source: &str,
    until_preloaded: bool,
) -> (Value, Value) {
    let cold = run(rce, language, source, json!({"memory_mb": 300})).await;
    assert_eq!(
        cold["result"]["verdict"], "runtime_error",
        "{language}: the program runs and dies of its error: {cold}"
    );
    let preloaded = preloaded_runs(rce, language).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let warm = run(rce, language, source, json!({})).await;
        if !until_preloaded
            || preloaded_runs(rce, language).await > preloaded
            || Instant::now() > deadline
        {
            return (cold, warm);
        }
    }
}

/// An escript whose `%%!` line gives the emulator flags (here a process
/// limit) needs a fresh BEAM: with an idle launcher ready, it still starts
/// anew (the language's `preload_cold_marker`) and gets its flags.
#[actix_rt::test]
async fn escript_emulator_flags_take_a_fresh_start() {
    let rce = start_preloading(&[]);
    wait_idle(&rce, "erlang").await;
    let source = "#!/usr/bin/env escript\n%%! +P 4096\n\
                  main(_) -> io:format(\"~p~n\", [erlang:system_info(process_limit)]).\n";
    let finished = run(&rce, "erlang", source, json!({})).await;
    assert_eq!(finished["result"]["stdout"], "4096\n", "{finished}");
    assert_eq!(preloaded_runs(&rce, "erlang").await, 0);
}

/// Octave's launcher cannot take arguments (`argv()` is fixed when Octave
/// starts): with an idle launcher ready, a job with arguments still starts
/// Octave anew and gets them.
#[actix_rt::test]
async fn octave_arguments_take_a_fresh_start() {
    let rce = start_preloading(&[]);
    wait_idle(&rce, "octave").await;
    let id = submit(
        &rce,
        json!({"language": "octave", "source": "disp(strjoin(argv()', ','))", "args": ["a", "b c"]}),
    )
    .await;
    let finished = wait_completed(&rce, &id, Duration::from_secs(120)).await;
    assert_eq!(finished["result"]["stdout"], "a,b c\n", "{finished}");
    assert_eq!(preloaded_runs(&rce, "octave").await, 0);
}

/// Waits (a minute at most) until `language` has an idle warm container.
async fn wait_idle(rce: &Rce, language: &str) {
    let idle = format!("rce_warm_idle_containers{{language=\"{language}\"}}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while counter(rce, &idle).await < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        counter(rce, &idle).await >= 1,
        "no idle {language} container\n{}",
        rce.log()
    );
}

/// Interactive programs (the web editor's Run) that ask before they read.
const PROMPTING: &[(&str, &str)] = &[
    (
        "javascript",
        "process.stdout.write('name? ');\n\
         process.stdin.once('data', (d) => { console.log(`hello ${d.toString().trim()}`); process.exit(0); });\n",
    ),
    (
        "ruby",
        "$stdout.sync = true\nprint 'name? '\nputs \"hello #{$stdin.gets.strip}\"\n",
    ),
    (
        "java",
        "public class Main {\n  public static void main(String[] args) {\n    \
         System.out.print(\"name? \");\n    System.out.flush();\n    \
         System.out.println(\"hello \" + new java.util.Scanner(System.in).nextLine());\n  }\n}\n",
    ),
];

/// Submits `source` interactively, answers its prompt once seen, and
/// returns the `finished` event.
async fn greet_interactively(ws: &mut WsClient, language: &str, source: &str) -> Value {
    let body = json!({"language": language, "source": source, "interactive": true});
    let id = submit_ws(ws, body).await;
    // The prompt comes out live, before any input: only then the answer.
    Transcript::of(&id)
        .until(ws, "name? ", Duration::from_secs(120))
        .await;
    ws.send(&json!({"type": "stdin", "id": id, "data": "Ada\n", "eof": true}))
        .await;
    let events = ws.events_until_finished(&id, Duration::from_secs(60)).await;
    events.last().cloned().expect("the finished event")
}

/// A preloaded launcher is interactive like a program started anew: its
/// prompt streams out before it reads, and the typed answer reaches it.
#[actix_rt::test]
async fn preloaded_programs_are_interactive() {
    let languages: Vec<&str> = PROMPTING.iter().map(|(language, _)| *language).collect();
    let rce = start_rce_with(RceOptions {
        env: env(&[
            ("RCE_SANDBOX__WARM_POOL_SIZE", "1"),
            ("RCE_SANDBOX__WARM_LANGUAGES", &languages.join(",")),
            ("RCE_SANDBOX__WARM_MEMORY_MB", "4096"),
        ]),
        ..Default::default()
    });
    let mut ws = WsClient::connect_authed(&rce, &rce.token().await).await;
    for (language, source) in PROMPTING {
        let deadline = Instant::now() + Duration::from_secs(20);
        let finished = loop {
            let finished = greet_interactively(&mut ws, language, source).await;
            if preloaded_runs(&rce, language).await >= 1 || Instant::now() > deadline {
                break finished;
            }
        };
        assert!(
            preloaded_runs(&rce, language).await >= 1,
            "{language}: never preloaded\n{}",
            rce.log()
        );
        assert_eq!(
            finished["result"]["verdict"], "ok",
            "{language}: {finished}"
        );
        assert_eq!(
            finished["result"]["stdout"], "name? hello Ada\n",
            "{language}: {finished}"
        );
    }
}
