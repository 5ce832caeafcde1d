//! files: puts the submitted source files into the work dir. Every name is
//! validated before anything is written (relative, no `.`/`..`, no NUL, no
//! empty components, bounded lengths, bounded count and total size), so a bad
//! submission writes nothing. Writing never follows a symlink: directories are
//! walked with `openat(O_NOFOLLOW | O_DIRECTORY)` from a descriptor of the
//! work dir, files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`. The
//! writing happens in a forked child that has dropped to the sandbox uid/gid
//! (needs only CAP_SETUID / CAP_SETGID, no CAP_CHOWN; setfsuid would do too,
//! but gVisor lacks it), so the files belong to the program, which may change
//! or delete them, and a planted link could at worst lead the sandbox uid to
//! where it may write anyway.

use crate::sys;
use rce_protocol::{Artifact, SourceFile};
use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub use rce_protocol::MAX_FILES;

/// Most bytes of file content one job may submit (equal to the frame cap, so a
/// job that fits the wire fits here).
pub const MAX_TOTAL_BYTES: usize = 16 * 1024 * 1024;

/// Mode of created files and directories (before the umask); owned by the
/// sandbox uid, which may chmod them itself.
const FILE_MODE: libc::mode_t = 0o644;
const DIR_MODE: libc::mode_t = 0o755;

/// Why the files could not be written. (Display by hand: the runner keeps its
/// dependencies to libc and serde_json.)
#[derive(Debug)]
pub enum FilesError {
    TooManyFiles {
        count: usize,
    },
    TooLarge {
        total: usize,
    },
    BadName {
        name: String,
        reason: String,
    },
    OpenWorkdir(io::Error),
    WorkdirNotWritable {
        mode: u32,
        owner: u32,
    },
    /// What the writer (running as the sandbox uid) reported.
    AsSandboxUid(String),
    CreateDir {
        path: String,
        source: io::Error,
    },
    CreateFile {
        path: String,
        source: io::Error,
    },
    Write {
        path: String,
        source: io::Error,
    },
}

impl fmt::Display for FilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilesError::TooManyFiles { count } => {
                write!(f, "{count} files submitted, at most {MAX_FILES} allowed")
            }
            FilesError::TooLarge { total } => {
                write!(
                    f,
                    "files total {total} bytes, at most {MAX_TOTAL_BYTES} allowed"
                )
            }
            FilesError::BadName { name, reason } => write!(f, "bad file name {name:?}: {reason}"),
            FilesError::OpenWorkdir(e) => write!(f, "cannot open the work dir: {e}"),
            FilesError::WorkdirNotWritable { mode, owner } => write!(
                f,
                "the work dir (mode {mode:o}, owner {owner}) is not writable by the sandbox uid; \
                 the image must create it with mode 1777"
            ),
            FilesError::AsSandboxUid(message) => f.write_str(message),
            FilesError::CreateDir { path, source } => {
                write!(f, "cannot create directory {path:?}: {source}")
            }
            FilesError::CreateFile { path, source } => {
                write!(f, "cannot create file {path:?}: {source}")
            }
            FilesError::Write { path, source } => write!(f, "cannot write file {path:?}: {source}"),
        }
    }
}

impl std::error::Error for FilesError {}

/// The components of a valid relative file name, or why it is refused (the
/// rule is `rce_protocol::check_file_name`, shared with the API).
pub fn components(name: &str) -> Result<Vec<&str>, String> {
    rce_protocol::check_file_name(name)?;
    Ok(name.split('/').collect())
}

/// Checks every file against the limits without touching the disk.
pub fn validate(files: &[SourceFile]) -> Result<(), FilesError> {
    if files.len() > MAX_FILES {
        return Err(FilesError::TooManyFiles { count: files.len() });
    }
    let total: usize = files.iter().map(|f| f.content.len()).sum();
    if total > MAX_TOTAL_BYTES {
        return Err(FilesError::TooLarge { total });
    }
    for file in files {
        components(&file.name).map_err(|reason| FilesError::BadName {
            name: file.name.clone(),
            reason,
        })?;
    }
    Ok(())
}

/// Validates, then writes every file under `workdir`, owned by `uid`/`gid`.
pub fn write_all(
    workdir: &Path,
    uid: u32,
    gid: u32,
    files: &[SourceFile],
) -> Result<(), FilesError> {
    validate(files)?;
    let files = files
        .iter()
        .map(|file| (file.name.as_str(), file.content.as_bytes(), FILE_MODE));
    write_as(workdir, uid, gid, files)
}

/// Writes what an earlier identical compile left (already unpacked, so
/// every name is checked) next to the source files, each with its mode.
pub fn write_artifacts(
    workdir: &Path,
    uid: u32,
    gid: u32,
    artifacts: &[Artifact],
) -> Result<(), FilesError> {
    let files = artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.content.as_slice(), a.mode & 0o777));
    write_as(workdir, uid, gid, files)
}

/// Writes `(name, content, mode)` files under `workdir` as `uid`/`gid`.
fn write_as<'a>(
    workdir: &Path,
    uid: u32,
    gid: u32,
    files: impl Iterator<Item = (&'a str, &'a [u8], libc::mode_t)>,
) -> Result<(), FilesError> {
    let root = File::open(workdir).map_err(FilesError::OpenWorkdir)?;
    let meta = root.metadata().map_err(FilesError::OpenWorkdir)?;
    if !meta.is_dir() {
        return Err(FilesError::OpenWorkdir(io::Error::from_raw_os_error(
            libc::ENOTDIR,
        )));
    }
    // Docker copies the image's directory mode onto a tmpfs mounted over
    // it, so a work dir left 0755 in the image is not writable here.
    if meta.mode() & 0o002 == 0 && meta.uid() != uid {
        return Err(FilesError::WorkdirNotWritable {
            mode: meta.mode() & 0o7777,
            owner: meta.uid(),
        });
    }
    let root = OwnedFd::from(root);
    sys::run_as(uid, gid, || {
        for (name, content, mode) in files {
            write_one(&root, name, content, mode).map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .map_err(FilesError::AsSandboxUid)
}

fn write_one(
    root: &OwnedFd,
    file_name: &str,
    content: &[u8],
    mode: libc::mode_t,
) -> Result<(), FilesError> {
    // unwrap-free: the caller already checked the name.
    let parts = components(file_name).map_err(|reason| FilesError::BadName {
        name: file_name.to_string(),
        reason,
    })?;
    let (last, dirs) = parts.split_last().ok_or(FilesError::BadName {
        name: file_name.to_string(),
        reason: "empty name".into(),
    })?;
    let mut dir: Option<OwnedFd> = None;
    let mut path = String::new();
    for part in dirs {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
        let parent = dir.as_ref().unwrap_or(root);
        let name = c_name(part, file_name)?;
        let made = |source| FilesError::CreateDir {
            path: path.clone(),
            source,
        };
        match sys::mkdirat(parent.as_fd(), &name, DIR_MODE) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(made(e)),
        }
        // An existing symlink here fails with ELOOP / ENOTDIR: never followed.
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
        dir = Some(sys::openat(parent.as_fd(), &name, flags, 0).map_err(made)?);
    }
    let parent = dir.as_ref().unwrap_or(root);
    let name = c_name(last, file_name)?;
    // O_EXCL with O_CREAT also refuses an existing symlink (or duplicate name).
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
    let fd = sys::openat(parent.as_fd(), &name, flags, mode).map_err(|source| {
        FilesError::CreateFile {
            path: file_name.to_string(),
            source,
        }
    })?;
    let mut out = File::from(fd);
    out.write_all(content).map_err(|source| FilesError::Write {
        path: file_name.to_string(),
        source,
    })
}

fn c_name(part: &str, whole: &str) -> Result<CString, FilesError> {
    CString::new(part).map_err(|_| FilesError::BadName {
        name: whole.to_string(),
        reason: "contains a NUL byte".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            content: content.into(),
        }
    }

    /// Plain and nested relative names are accepted and split on `/`.
    #[test]
    fn relative_names_are_split_into_components() {
        assert_eq!(components("main.py"), Ok(vec!["main.py"]));
        assert_eq!(components("src/lib.rs"), Ok(vec!["src", "lib.rs"]));
        assert_eq!(components(".hidden/..x"), Ok(vec![".hidden", "..x"]));
        assert_eq!(components(&"a".repeat(255)).map(|c| c.len()), Ok(1));
    }

    /// Each way out of the work dir (or into the kernel's limits) is refused.
    #[test]
    fn escaping_or_malformed_names_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\0b",
            &"a".repeat(256),
            &format!("{}/x", "a".repeat(256)),
            &format!("{}c", "ab/".repeat(1400)),
        ] {
            assert!(components(bad).is_err(), "{bad:?} must be refused");
        }
    }

    /// Count and total size are capped before any name is looked at.
    #[test]
    fn count_and_total_size_are_capped() {
        let many: Vec<SourceFile> = (0..=MAX_FILES)
            .map(|i| file(&format!("f{i}"), ""))
            .collect();
        assert!(matches!(
            validate(&many),
            Err(FilesError::TooManyFiles { count: 65 })
        ));
        assert!(validate(&many[..MAX_FILES]).is_ok());
        let big = vec![
            file("a", &"x".repeat(MAX_TOTAL_BYTES / 2)),
            file("b", &"x".repeat(MAX_TOTAL_BYTES / 2 + 1)),
        ];
        assert!(matches!(validate(&big), Err(FilesError::TooLarge { .. })));
    }

    /// One bad name among good ones fails the whole set, naming the culprit.
    #[test]
    fn one_bad_name_fails_the_set() {
        let err = validate(&[file("ok.py", ""), file("../evil", "")])
            .map(drop)
            .unwrap_err();
        assert!(err.to_string().contains("../evil"), "{err}");
    }
}
