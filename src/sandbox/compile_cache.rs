//! The compile cache: a worker's memory of recent successful compiles, so a
//! job whose compile input is identical to an earlier one's skips the compile
//! stage. The key is a SHA-256 over everything a compile sees — the language
//! and its image's version, the compile command with the job's compiler
//! arguments, the compile stage's limits, and every submitted file's name and
//! content — so only identical input can reuse an entry, whoever sent it.
//! What is kept is what the trusted runner read back from the work dir right
//! after the compile ended (every process of it dead) and before the program
//! ran (rce-runner's `artifacts`), plus the compile's report, which the
//! cached job returns as its own (the same compile output and warnings). The
//! program of a cached job still runs in a fresh container. Entries are
//! evicted least recently used first to stay within
//! `sandbox.compile_cache_mb`; 0 turns the cache off.

use crate::languages::Language;
use rce_protocol::{JobSpec, StageReport};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Names one compile input.
pub type CompileKey = [u8; 32];

/// A compile to reuse.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// rce-runner's packed artifacts (`rce_protocol::pack_artifacts`).
    pub artifacts: Arc<Vec<u8>>,
    /// The compile stage's report, returned again by each job reusing it.
    pub report: StageReport,
}

impl Compiled {
    /// What the entry is charged against the budget.
    fn cost(&self) -> usize {
        self.artifacts.len() + self.report.stdout.len() + self.report.stderr.len() + 256
    }
}

/// The key of `spec`'s compile, or `None` when the language does not compile.
pub fn compile_key(language: &Language, spec: &JobSpec) -> Option<CompileKey> {
    let compile = spec.compile.as_ref()?;
    // JSON of plain structs and strings: one encoding per value, and every
    // string is quoted, so no two inputs share a byte sequence.
    let input = serde_json::json!({
        "language": language.id,
        "version": language.version,
        "compile": compile,
        "limits": spec.compile_limits,
        "files": spec.files,
    });
    Some(Sha256::digest(input.to_string().as_bytes()).into())
}

/// Least recently used compiles within a byte budget; shared by every
/// sandbox of a worker.
pub struct CompileCache {
    budget: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<CompileKey, (Compiled, u64)>,
    /// Last use → key; the first is the next to evict.
    by_use: BTreeMap<u64, CompileKey>,
    clock: u64,
    bytes: usize,
}

impl CompileCache {
    /// A cache of at most `budget_mb` megabytes (0: keeps nothing).
    pub fn new(budget_mb: u64) -> CompileCache {
        CompileCache {
            budget: usize::try_from(budget_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
            inner: Mutex::default(),
        }
    }

    /// Whether the cache keeps anything at all.
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// The compile of `key`, if kept (it becomes the most recently used).
    pub fn get(&self, key: &CompileKey) -> Option<Compiled> {
        let mut entries = self.entries();
        let tick = entries.tick();
        let (compiled, used) = entries.by_key.get_mut(key)?;
        let (compiled, previous) = (compiled.clone(), std::mem::replace(used, tick));
        entries.by_use.remove(&previous);
        entries.by_use.insert(tick, *key);
        Some(compiled)
    }

    /// Keeps `compiled` under `key`, evicting the least recently used
    /// entries to make room; one larger than the whole budget is not kept.
    pub fn insert(&self, key: CompileKey, compiled: Compiled) {
        let cost = compiled.cost();
        if cost > self.budget {
            return;
        }
        let mut entries = self.entries();
        entries.remove(&key);
        while entries.bytes + cost > self.budget {
            let Some((_, oldest)) = entries.by_use.pop_first() else {
                break;
            };
            entries.remove(&oldest);
        }
        let tick = entries.tick();
        entries.bytes += cost;
        entries.by_use.insert(tick, key);
        entries.by_key.insert(key, (compiled, tick));
        crate::metrics::set_compile_cache_bytes(entries.bytes);
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.entries().bytes
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves consistent maps (every
        // update is a few infallible steps), so a poisoned lock is usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn remove(&mut self, key: &CompileKey) {
        if let Some((compiled, used)) = self.by_key.remove(key) {
            self.by_use.remove(&used);
            self.bytes -= compiled.cost();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rce_protocol::{SourceFile, StageLimits, Termination};

    fn compiled(bytes: usize) -> Compiled {
        Compiled {
            artifacts: Arc::new(vec![0; bytes]),
            report: StageReport {
                termination: Termination::Exited,
                exit_code: Some(0),
                signal: None,
                cpu_time_ms: 1,
                wall_time_ms: 1,
                memory_kb: 1,
                stdout: String::new(),
                stderr: "warning: unused".into(),
                truncated: false,
            },
        }
    }

    fn spec(source: &str) -> JobSpec {
        let limits = StageLimits {
            cpu_time_ms: 1,
            wall_time_ms: 1,
            memory_kb: 1,
            processes: 1,
            output_bytes: 1,
            file_size_bytes: 1,
        };
        JobSpec {
            files: vec![SourceFile {
                name: "main.c".into(),
                content: source.into(),
            }],
            compile: Some(vec!["gcc".into(), "main.c".into()]),
            run: vec!["./a.out".into()],
            args: vec![],
            stdin: String::new(),
            interactive: false,
            compile_limits: limits,
            run_limits: limits,
            tests: vec![],
            prebuilt: false,
            collect_artifacts: false,
        }
    }

    /// Only the same language, version, compile command, limits and files
    /// give the same key; the program's stdin, arguments and run limits do
    /// not matter.
    #[test]
    fn the_key_covers_every_compile_input() {
        let c = Language::python_for_tests();
        let base = spec("int main(){}");
        let key = compile_key(&c, &base).unwrap();
        let mut same = base.clone();
        same.stdin = "input".into();
        same.args = vec!["x".into()];
        same.run_limits.memory_kb = 99;
        assert_eq!(compile_key(&c, &same), Some(key));

        let mut other_source = base.clone();
        other_source.files[0].content.push(' ');
        let mut other_name = base.clone();
        other_name.files[0].name = "other.c".into();
        let mut other_flags = base.clone();
        other_flags.compile = Some(vec!["gcc".into(), "-O0".into(), "main.c".into()]);
        let mut other_limits = base.clone();
        other_limits.compile_limits.memory_kb = 2;
        let mut extra_file = base.clone();
        extra_file.files.push(SourceFile {
            name: "util.h".into(),
            content: String::new(),
        });
        for changed in [
            other_source,
            other_name,
            other_flags,
            other_limits,
            extra_file,
        ] {
            assert_ne!(compile_key(&c, &changed), Some(key), "{changed:?}");
        }
        let mut newer = c.clone();
        newer.version = "99".into();
        assert_ne!(compile_key(&newer, &base), Some(key));
        let mut no_compile = base;
        no_compile.compile = None;
        assert_eq!(compile_key(&c, &no_compile), None);
    }

    /// The least recently used entry goes first, a read counts as a use,
    /// and an entry larger than the budget is not kept.
    #[test]
    fn evicts_least_recently_used_within_the_budget() {
        let cache = CompileCache::new(1);
        let half = 512 * 1024 - 400;
        cache.insert([1; 32], compiled(half));
        cache.insert([2; 32], compiled(half));
        assert!(cache.get(&[1; 32]).is_some(), "1 is now the most recent");
        cache.insert([3; 32], compiled(half));
        assert!(cache.get(&[2; 32]).is_none(), "2 was the least recent");
        assert!(cache.get(&[1; 32]).is_some());
        assert!(cache.get(&[3; 32]).is_some());
        assert!(cache.bytes() <= 1024 * 1024);
        cache.insert([4; 32], compiled(2 * 1024 * 1024));
        assert!(cache.get(&[4; 32]).is_none(), "larger than the budget");
        assert!(cache.get(&[3; 32]).is_some(), "and nothing evicted for it");
        let off = CompileCache::new(0);
        assert!(!off.enabled());
        off.insert([1; 32], compiled(0));
        assert!(off.get(&[1; 32]).is_none());
    }
}
