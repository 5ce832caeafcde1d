//! The fixed tables of Judge0 CE 1.13.1: which of its language ids run on
//! which rce language, its fourteen statuses, and how an rce result maps to
//! one of them. The README's mapping tables are these tables.

use crate::job::{JobResult, JobStatus, Verdict};

/// One Judge0 language id that rce serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judge0Language {
    /// Judge0 CE 1.13.1's id.
    pub id: u32,
    /// The rce language it runs as.
    pub language: &'static str,
    /// The name shown, with `{}` replaced by rce's version of the language.
    pub label: &'static str,
}

/// Judge0 CE 1.13.1 ids mapped to rce languages. Judge0 lists several
/// compiler versions of C and C++ (GCC 7.4.0, 8.3.0, 9.2.0); all of them run
/// rce's one GCC. Its GNU Prolog (69) runs as SWI-Prolog and its DMD D (56)
/// as GDC. Ids not listed (Plain Text, Executable, Basic, Python 2,
/// Objective-C, Swift, VB.NET, F#, multi-file programs) are refused with
/// 422.
pub const LANGUAGES: &[Judge0Language] = &[
    Judge0Language {
        id: 45,
        language: "nasm",
        label: "Assembly (NASM {})",
    },
    Judge0Language {
        id: 46,
        language: "bash",
        label: "Bash ({})",
    },
    Judge0Language {
        id: 48,
        language: "c",
        label: "C (GCC {})",
    },
    Judge0Language {
        id: 49,
        language: "c",
        label: "C (GCC {})",
    },
    Judge0Language {
        id: 50,
        language: "c",
        label: "C (GCC {})",
    },
    Judge0Language {
        id: 51,
        language: "csharp",
        label: "C# (Mono {})",
    },
    Judge0Language {
        id: 52,
        language: "cpp",
        label: "C++ (GCC {})",
    },
    Judge0Language {
        id: 53,
        language: "cpp",
        label: "C++ (GCC {})",
    },
    Judge0Language {
        id: 54,
        language: "cpp",
        label: "C++ (GCC {})",
    },
    Judge0Language {
        id: 55,
        language: "commonlisp",
        label: "Common Lisp (SBCL {})",
    },
    Judge0Language {
        id: 56,
        language: "d",
        label: "D (GDC {})",
    },
    Judge0Language {
        id: 57,
        language: "elixir",
        label: "Elixir ({})",
    },
    Judge0Language {
        id: 58,
        language: "erlang",
        label: "Erlang (OTP {})",
    },
    Judge0Language {
        id: 59,
        language: "fortran",
        label: "Fortran (GFortran {})",
    },
    Judge0Language {
        id: 60,
        language: "go",
        label: "Go ({})",
    },
    Judge0Language {
        id: 61,
        language: "haskell",
        label: "Haskell (GHC {})",
    },
    Judge0Language {
        id: 62,
        language: "java",
        label: "Java (OpenJDK {})",
    },
    Judge0Language {
        id: 63,
        language: "javascript",
        label: "JavaScript (Node.js {})",
    },
    Judge0Language {
        id: 64,
        language: "lua",
        label: "Lua ({})",
    },
    Judge0Language {
        id: 65,
        language: "ocaml",
        label: "OCaml ({})",
    },
    Judge0Language {
        id: 66,
        language: "octave",
        label: "Octave ({})",
    },
    Judge0Language {
        id: 67,
        language: "pascal",
        label: "Pascal (FPC {})",
    },
    Judge0Language {
        id: 68,
        language: "php",
        label: "PHP ({})",
    },
    Judge0Language {
        id: 69,
        language: "prolog",
        label: "Prolog (SWI-Prolog {})",
    },
    Judge0Language {
        id: 71,
        language: "python",
        label: "Python ({})",
    },
    Judge0Language {
        id: 72,
        language: "ruby",
        label: "Ruby ({})",
    },
    Judge0Language {
        id: 73,
        language: "rust",
        label: "Rust ({})",
    },
    Judge0Language {
        id: 74,
        language: "typescript",
        label: "TypeScript ({})",
    },
    Judge0Language {
        id: 75,
        language: "c-clang",
        label: "C (Clang {})",
    },
    Judge0Language {
        id: 76,
        language: "cpp-clang",
        label: "C++ (Clang {})",
    },
    Judge0Language {
        id: 77,
        language: "cobol",
        label: "COBOL (GnuCOBOL {})",
    },
    Judge0Language {
        id: 78,
        language: "kotlin",
        label: "Kotlin ({})",
    },
    Judge0Language {
        id: 80,
        language: "r",
        label: "R ({})",
    },
    Judge0Language {
        id: 81,
        language: "scala",
        label: "Scala ({})",
    },
    Judge0Language {
        id: 82,
        language: "sqlite",
        label: "SQL (SQLite {})",
    },
    Judge0Language {
        id: 85,
        language: "perl",
        label: "Perl ({})",
    },
    Judge0Language {
        id: 86,
        language: "clojure",
        label: "Clojure ({})",
    },
    Judge0Language {
        id: 88,
        language: "groovy",
        label: "Groovy ({})",
    },
];

/// The Judge0 language of an id.
pub fn language_by_id(id: u32) -> Option<&'static Judge0Language> {
    LANGUAGES.iter().find(|l| l.id == id)
}

/// The id reported for an rce language: the newest Judge0 version of it.
pub fn id_of_language(language: &str) -> Option<u32> {
    LANGUAGES
        .iter()
        .rev()
        .find(|l| l.language == language)
        .map(|l| l.id)
}

/// A Judge0 status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub id: u32,
    pub description: &'static str,
}

/// Judge0's statuses, in id order.
pub const STATUSES: [Status; 14] = [
    Status {
        id: 1,
        description: "In Queue",
    },
    Status {
        id: 2,
        description: "Processing",
    },
    Status {
        id: 3,
        description: "Accepted",
    },
    Status {
        id: 4,
        description: "Wrong Answer",
    },
    Status {
        id: 5,
        description: "Time Limit Exceeded",
    },
    Status {
        id: 6,
        description: "Compilation Error",
    },
    Status {
        id: 7,
        description: "Runtime Error (SIGSEGV)",
    },
    Status {
        id: 8,
        description: "Runtime Error (SIGXFSZ)",
    },
    Status {
        id: 9,
        description: "Runtime Error (SIGFPE)",
    },
    Status {
        id: 10,
        description: "Runtime Error (SIGABRT)",
    },
    Status {
        id: 11,
        description: "Runtime Error (NZEC)",
    },
    Status {
        id: 12,
        description: "Runtime Error (Other)",
    },
    Status {
        id: 13,
        description: "Internal Error",
    },
    Status {
        id: 14,
        description: "Exec Format Error",
    },
];

fn status(id: u32) -> Status {
    // Ids come from this file only, 1 to 14.
    STATUSES[(id as usize).clamp(1, STATUSES.len()) - 1]
}

/// The runtime-error status of a signal, as Judge0 names them.
fn signal_status(signal: Option<i32>) -> u32 {
    match signal {
        Some(11) => 7,
        Some(25) => 8,
        Some(8) => 9,
        Some(6) => 10,
        _ => 12,
    }
}

/// The Judge0 status of a job: queued and running are 1 and 2; a result
/// maps by verdict. An out-of-memory kill keeps Judge0's runtime-error
/// status (its clients know no other) and says why in `message`; output over
/// the cap is SIGXFSZ, as Judge0's file-size limit reports it.
pub fn status_of(status: JobStatus, result: Option<&JobResult>) -> Status {
    let Some(result) = result.filter(|_| status == JobStatus::Completed) else {
        return match status {
            JobStatus::Queued => self::status(1),
            _ => self::status(2),
        };
    };
    let id = match result.verdict {
        Verdict::Ok => 3,
        Verdict::WrongAnswer => 4,
        Verdict::TimeLimitExceeded => 5,
        Verdict::CompileError => 6,
        Verdict::RuntimeError => match result.signal {
            None => 11,
            signal => signal_status(signal),
        },
        Verdict::MemoryLimitExceeded => signal_status(result.signal),
        Verdict::OutputLimitExceeded => 8,
        Verdict::InternalError => {
            let exec_format = result
                .message
                .as_deref()
                .is_some_and(|m| m.to_ascii_lowercase().contains("exec format"));
            if exec_format {
                14
            } else {
                13
            }
        }
    };
    self::status(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(verdict: Verdict, signal: Option<i32>) -> JobResult {
        JobResult {
            verdict,
            signal,
            ..JobResult::internal_error("x")
        }
    }

    /// Every verdict (and each runtime-error signal) lands on Judge0's id.
    #[test]
    fn verdicts_map_to_judge0_statuses() {
        let done = JobStatus::Completed;
        let cases = [
            (Verdict::Ok, None, 3),
            (Verdict::WrongAnswer, None, 4),
            (Verdict::TimeLimitExceeded, Some(9), 5),
            (Verdict::CompileError, None, 6),
            (Verdict::RuntimeError, Some(11), 7),
            (Verdict::RuntimeError, Some(25), 8),
            (Verdict::RuntimeError, Some(8), 9),
            (Verdict::RuntimeError, Some(6), 10),
            (Verdict::RuntimeError, None, 11),
            (Verdict::RuntimeError, Some(15), 12),
            (Verdict::MemoryLimitExceeded, Some(9), 12),
            (Verdict::OutputLimitExceeded, None, 8),
            (Verdict::InternalError, None, 13),
        ];
        for (verdict, signal, id) in cases {
            assert_eq!(
                status_of(done, Some(&result(verdict, signal))).id,
                id,
                "{verdict:?} {signal:?}"
            );
        }
        assert_eq!(status_of(JobStatus::Queued, None).id, 1);
        assert_eq!(status_of(JobStatus::Running, None).id, 2);
        let exec = JobResult::internal_error("exec format error");
        assert_eq!(
            status_of(done, Some(&exec)).description,
            "Exec Format Error"
        );
    }

    /// The status table is Judge0's: ids 1..=14 in order.
    #[test]
    fn statuses_are_numbered_in_order() {
        for (index, status) in STATUSES.iter().enumerate() {
            assert_eq!(status.id as usize, index + 1);
        }
        assert_eq!(STATUSES[10].description, "Runtime Error (NZEC)");
    }

    /// The SDK's ids for Python (71) and C++ (52) resolve, Python 2 (70) does
    /// not, and a language reports its newest id.
    #[test]
    fn language_ids_resolve() {
        assert_eq!(language_by_id(71).unwrap().language, "python");
        assert_eq!(language_by_id(52).unwrap().language, "cpp");
        assert!(language_by_id(70).is_none());
        assert_eq!(language_by_id(75).unwrap().language, "c-clang");
        assert_eq!(id_of_language("c"), Some(50));
        assert_eq!(id_of_language("cpp"), Some(54));
    }
}
