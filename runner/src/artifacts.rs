//! artifacts: what a compile leaves in the work dir, read back right after
//! the compile stage so the worker can hand it to a later job with identical
//! input instead of compiling again. Read when every process of the sandbox
//! uid is dead (the stage killed them), so nothing changes the files while
//! they are read, and before the program runs, so it never touches what is
//! kept. Only plain files and directories of the work dir's own file system,
//! owned by the sandbox uid, are taken; anything else (a symlink, a FIFO, a
//! changed or deleted source file, more than the protocol's maximums) means
//! the compile is not reused, and the job runs on unaffected.

use rce_protocol::{Artifact, SourceFile, MAX_ARTIFACT_BYTES, MAX_ARTIFACT_FILES};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 32;

/// Every file in `workdir` that is not a submitted source file unchanged, or
/// why the compile's output cannot be reused.
pub fn collect(workdir: &Path, uid: u32, sources: &[SourceFile]) -> Result<Vec<Artifact>, String> {
    let root = fs::metadata(workdir).map_err(|e| format!("work dir: {e}"))?;
    let mut walk = Walk {
        device: root.dev(),
        uid,
        sources: sources
            .iter()
            .map(|s| (s.name.as_str(), s.content.as_bytes()))
            .collect(),
        seen_sources: 0,
        bytes: 0,
        artifacts: Vec::new(),
    };
    walk.dir(workdir, "", 0)?;
    if walk.seen_sources != sources.len() {
        return Err("the compile removed a source file".into());
    }
    Ok(walk.artifacts)
}

struct Walk<'a> {
    device: u64,
    uid: u32,
    sources: HashMap<&'a str, &'a [u8]>,
    seen_sources: usize,
    bytes: usize,
    artifacts: Vec<Artifact>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, prefix: &str, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("directories nested deeper than {MAX_DEPTH}"));
        }
        let mut entries: Vec<_> = fs::read_dir(dir)
            .and_then(|entries| entries.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("reading {prefix:?}: {e}"))?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| "a file name is not UTF-8".to_string())?;
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let path = entry.path();
            // Not following a link: this is the entry itself.
            let meta = fs::symlink_metadata(&path).map_err(|e| format!("{relative:?}: {e}"))?;
            if meta.dev() != self.device || meta.uid() != self.uid {
                return Err(format!("{relative:?} is not the program's own file"));
            }
            if meta.is_dir() {
                self.dir(&path, &relative, depth + 1)?;
            } else if meta.is_file() {
                self.file(&path, relative, meta.mode())?;
            } else {
                return Err(format!("{relative:?} is not a plain file or directory"));
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, name: String, mode: u32) -> Result<(), String> {
        let room = MAX_ARTIFACT_BYTES - self.bytes;
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| format!("{name:?}: {e}"))?;
        let content = read_at_most(file, room)
            .ok_or_else(|| format!("the compile's files are over {MAX_ARTIFACT_BYTES} bytes"))?;
        if let Some(source) = self.sources.get(name.as_str()) {
            if *source != content.as_slice() {
                return Err(format!("the compile changed the source file {name:?}"));
            }
            self.seen_sources += 1;
            return Ok(());
        }
        if self.artifacts.len() == MAX_ARTIFACT_FILES {
            return Err(format!("the compile left over {MAX_ARTIFACT_FILES} files"));
        }
        self.bytes += content.len();
        self.artifacts.push(Artifact {
            name,
            mode: mode & 0o777,
            content,
        });
        Ok(())
    }
}

/// The whole file, or `None` when it holds more than `max` bytes (or
/// cannot be read).
fn read_at_most(file: File, max: usize) -> Option<Vec<u8>> {
    let mut content = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut content).ok()?;
    (content.len() <= max).then_some(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, content: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            content: content.into(),
        }
    }

    /// A fresh directory, removed when dropped.
    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let path =
                std::env::temp_dir().join(format!("rce-runner-{test}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir(&path).unwrap();
            TempDir(path)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn own_uid() -> u32 {
        fs::metadata("/proc/self").map(|m| m.uid()).unwrap()
    }

    /// New files (nested ones too) are taken with their modes; unchanged
    /// sources are left out.
    #[test]
    fn takes_what_the_compile_added() {
        let dir = TempDir::new("adds");
        fs::write(dir.path().join("main.c"), "int main;").unwrap();
        fs::write(dir.path().join("main"), b"\x7fELF").unwrap();
        fs::set_permissions(
            dir.path().join("main"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        fs::create_dir(dir.path().join("pkg")).unwrap();
        fs::write(dir.path().join("pkg/A.class"), "cafe").unwrap();
        let artifacts = collect(dir.path(), own_uid(), &[source("main.c", "int main;")]).unwrap();
        let names: Vec<(&str, u32)> = artifacts
            .iter()
            .map(|a| (a.name.as_str(), a.mode))
            .collect();
        assert_eq!(names, vec![("main", 0o755), ("pkg/A.class", 0o644)]);
        assert_eq!(artifacts[0].content, b"\x7fELF");
    }

    /// A changed or removed source, a symlink, or another owner's file
    /// means the compile is not reused.
    #[test]
    fn refuses_what_it_cannot_reproduce() {
        let dir = TempDir::new("refuses");
        let uid = own_uid();
        fs::write(dir.path().join("main.c"), "changed").unwrap();
        assert!(collect(dir.path(), uid, &[source("main.c", "int main;")]).is_err());
        assert!(collect(dir.path(), uid, &[source("gone.c", "")]).is_err());
        assert!(collect(dir.path(), uid + 1, &[]).is_err());
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        assert!(collect(dir.path(), uid, &[source("main.c", "changed")]).is_err());
    }
}
