//! Integration tests of what the runner keeps from user code: file names
//! that escape the work dir, planted symlinks, the runner's own /proc,
//! environment and descriptors, identity, and garbage on the wire.
//! Each test has its own sandbox uid (611xx) so kill sweeps stay apart.
// One test hands the runner an inherited descriptor, which needs a raw dup2.
#![allow(unsafe_code)]

mod common;

use common::{job, owner, python, sandbox};
use rce_protocol::{Frame, FrameKind, SourceFile, Termination};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

fn file(name: &str, content: &str) -> SourceFile {
    SourceFile {
        name: name.into(),
        content: content.into(),
    }
}

/// Names that escape the work dir or break the kernel's limits are refused
/// with an error, before anything is written or run.
#[test]
fn bad_file_names_are_refused_and_nothing_is_written() {
    let Some(sb) = sandbox("bad-names", 61101) else {
        return;
    };
    let long = "a".repeat(256);
    for bad in [
        "../escape.py",
        "/tmp/abs.py",
        "a/../../b.py",
        "",
        "a\0b",
        long.as_str(),
        "dir/",
    ] {
        let mut spec = job(&["/bin/echo", "ran"]);
        spec.files = vec![file("ok.py", "fine"), file(bad, "evil")];
        let outcome = sb.run(&spec);
        let error = outcome.report.error.as_deref().unwrap_or_default();
        assert!(error.contains("bad file name"), "{bad:?}: {error:?}");
        assert!(outcome.stages().is_empty(), "{bad:?}: nothing may run");
        assert_eq!(
            fs::read_dir(&sb.workdir).unwrap().count(),
            0,
            "{bad:?}: nothing may be written"
        );
    }
    let mut spec = job(&["/bin/true"]);
    spec.files = (0..65).map(|i| file(&format!("f{i}"), "")).collect();
    assert!(sb
        .run(&spec)
        .report
        .error
        .unwrap_or_default()
        .contains("at most 64"));
}

/// A symlink planted in the work dir (as a file name or as a directory on
/// the way) is never followed: the job fails and the target is untouched.
#[test]
fn planted_symlinks_are_not_followed() {
    let Some(sb) = sandbox("symlinks", 61102) else {
        return;
    };
    let outside = sb.outside("target");
    let victim = outside.join("victim.txt");
    fs::write(&victim, "original").unwrap();
    // Writable by the sandbox uid, so only not following the links protects them.
    fs::set_permissions(&outside, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::symlink(&victim, sb.workdir.join("main.py")).unwrap();
    std::os::unix::fs::symlink(&outside, sb.workdir.join("lib")).unwrap();

    for name in ["main.py", "lib/x.py", "lib/deeper/x.py"] {
        let mut spec = job(&["/bin/true"]);
        spec.files = vec![file(name, "pwned")];
        let outcome = sb.run(&spec);
        let error = outcome.report.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("cannot create"), "{name}: {error:?}");
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "original");
    let entries: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec!["victim.txt"]);
}

/// Files (and directories on the way) belong to the sandbox uid, so the
/// program may change its own files; nested names land where they should.
#[test]
fn files_are_nested_and_owned_by_the_sandbox_uid() {
    let Some(sb) = sandbox("ownership", 61103) else {
        return;
    };
    let mut spec =
        python("open('pkg/data.txt', 'a').write('+more'); print(open('pkg/data.txt').read())");
    spec.files = vec![
        file("main.py", "print('hi')\n"),
        file("pkg/data.txt", "base"),
    ];
    let outcome = sb.run(&spec);
    assert_eq!(outcome.run().stdout, "base+more\n", "{:?}", outcome.report);
    assert_eq!(owner(&sb.workdir.join("main.py")), sb.uid);
    assert_eq!(owner(&sb.workdir.join("pkg")), sb.uid);
    assert_eq!(owner(&sb.workdir.join("pkg/data.txt")), sb.uid);
}

/// User code cannot look into the runner (its parent): not its descriptors,
/// not its environment; and its own environment is exactly the clean one.
#[test]
fn user_code_cannot_read_the_runners_proc_or_environment() {
    let Some(sb) = sandbox("proc", 61104) else {
        return;
    };
    let code = "import os\n\
                ppid = os.getppid()\n\
                def probe(what, read):\n    try:\n        read(); print(what, 'READABLE')\n    except PermissionError:\n        print(what, 'denied')\n\
                probe('fd', lambda: os.listdir('/proc/%d/fd' % ppid))\n\
                probe('environ', lambda: open('/proc/%d/environ' % ppid, 'rb').read())\n\
                print(sorted(os.environ.items()))";
    let outcome = sb.run(&python(code));
    let workdir = sb.workdir.to_str().unwrap();
    let expected = format!(
        "fd denied\nenviron denied\n[('HOME', '{workdir}'), ('LANG', 'C.UTF-8'), \
         ('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'), ('TMPDIR', '/tmp')]\n"
    );
    assert_eq!(outcome.run().stdout, expected);
}

/// The runner's own environment (the worker's settings) cannot be read back
/// from its /proc/<pid>/environ even by root once the job runs (gVisor, unlike
/// runc, would show it to the sandbox uid).
#[test]
fn runners_environment_is_scrubbed_from_proc() {
    let Some(sb) = sandbox("environ", 61110) else {
        return;
    };
    let mut running = sb.start(&job(&["/bin/sleep", "1"]));
    running.wait_for(FrameKind::Stage);
    let environ = fs::read(format!("/proc/{}/environ", running.pid())).unwrap();
    running.close_stdin();
    let outcome = running.finish();
    assert_eq!(outcome.run().exit_code, Some(0));
    let text = String::from_utf8_lossy(&environ);
    assert!(
        !text.contains("hunter2") && !text.contains("RCE_"),
        "{text:?}"
    );
}

/// A descriptor the runner inherited (as from docker) does not reach user
/// code: the program sees only its stdin, stdout and stderr.
#[test]
fn inherited_descriptors_do_not_reach_user_code() {
    let Some(sb) = sandbox("fds", 61105) else {
        return;
    };
    let leak = fs::File::open("/etc/hostname").unwrap();
    let raw = leak.as_raw_fd();
    let code = "import os\n\
                def is_open(fd):\n    try:\n        os.fstat(fd); return True\n    except OSError:\n        return False\n\
                print([fd for fd in range(3, 256) if is_open(fd)])";
    let mut running = sb.start_with(&python(code), |command| {
        // SAFETY: dup2 is async-signal-safe and only touches the child's
        // descriptor table; `raw` stays open in the parent until spawn returns.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(raw, 9) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    running.close_stdin();
    let outcome = running.finish();
    drop(leak);
    assert_eq!(outcome.run().stdout, "[]\n");
}

/// User code runs as the sandbox uid and gid, with no supplementary groups,
/// and cannot become root again.
#[test]
fn user_code_runs_unprivileged() {
    let Some(sb) = sandbox("identity", 61106) else {
        return;
    };
    let code = "import os\n\
                print(os.getresuid(), os.getresgid(), os.getgroups())\n\
                try:\n    os.setuid(0); print('ROOT')\nexcept PermissionError:\n    print('no root')";
    let outcome = sb.run(&python(code));
    let uid = sb.uid;
    assert_eq!(
        outcome.run().stdout,
        format!("({uid}, {uid}, {uid}) ({uid}, {uid}, {uid}) []\nno root\n")
    );
}

/// Garbage on the wire still ends in exactly one Result frame with an error
/// and exit code 0: a bad job, a non-job first frame, no frame at all.
#[test]
fn garbage_input_still_gets_a_result() {
    let Some(sb) = sandbox("garbage", 61107) else {
        return;
    };
    let not_json = Frame::new(FrameKind::Job, b"{not json".to_vec()).encode();
    let stdin_first = Frame::new(FrameKind::Stdin, b"hi".to_vec()).encode();
    for (bytes, expected) in [
        (not_json, "bad job frame"),
        (stdin_first, "expected a job frame"),
        (vec![], "before a job frame"),
        (vec![99, 0, 0, 0, 0], "unknown frame kind"),
    ] {
        let outcome = sb.run_raw(&bytes);
        let error = outcome.report.error.unwrap_or_default();
        assert!(error.contains(expected), "{expected}: {error:?}");
        assert_eq!(outcome.frames.len(), 1);
    }
}

/// A program killing "everything it can" (kill -1) only hits its own uid's
/// processes (not itself, not the runner): the runner survives and reports.
#[test]
fn kill_minus_one_from_user_code_cannot_hurt_the_runner() {
    let Some(sb) = sandbox("kill-all", 61108) else {
        return;
    };
    let code = "import os, signal, time\n\
                if os.fork() == 0:\n    time.sleep(30)\n\
                time.sleep(0.1)\n\
                os.kill(-1, signal.SIGKILL)\n\
                print(os.waitpid(-1, 0)[1] & 0x7f)";
    let outcome = sb.run(&python(code));
    let run = outcome.run();
    assert_eq!(
        (run.termination, run.exit_code),
        (Termination::Exited, Some(0)),
        "{run:?}"
    );
    assert_eq!(run.stdout, "9\n", "its own child was killed");
}

/// Signals ignored by whoever started the runner (SIG_IGN survives exec) do
/// not stay ignored in user code, and an ignored SIGCHLD does not cost the
/// runner its children's exit status.
#[test]
fn inherited_ignored_signals_are_reset() {
    let Some(sb) = sandbox("signals", 61109) else {
        return;
    };
    let code = "import signal, sys\n\
                print(signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)\n\
                sys.exit(3)";
    let mut running = sb.start_with(&python(code), |command| {
        // SAFETY: signal() with SIG_IGN is async-signal-safe and runs no code.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    running.close_stdin();
    let outcome = running.finish();
    let run = outcome.run();
    assert_eq!(
        (run.stdout.as_str(), run.exit_code),
        ("True\n", Some(3)),
        "{run:?}"
    );
}
