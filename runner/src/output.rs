//! output: the read ends of a stage's stdout and stderr pipes. Each read
//! chunk is forwarded at once as a `Stdout`/`Stderr` frame (single-run mode's
//! run stage) and kept for the report, up to `output_bytes` for both streams
//! together. The first byte beyond the cap marks the stage truncated and
//! tells the stage to stop the program; later bytes are read and dropped, so
//! nothing is ever buffered beyond the cap (the pipe itself holds 64 KiB).

use crate::frames::FrameOut;
use crate::sys;
use rce_protocol::FrameKind;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Bytes read from a pipe per wakeup (and so the largest output frame).
const READ_CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What a stage keeps of its output: both streams share one byte budget.
#[derive(Debug, Default)]
pub struct Capture {
    cap: usize,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
}

impl Capture {
    pub fn new(cap: u64) -> Capture {
        Capture {
            cap: usize::try_from(cap).unwrap_or(usize::MAX),
            ..Capture::default()
        }
    }

    /// Keeps the part of `chunk` that fits the budget and returns its length;
    /// anything cut marks the capture truncated.
    pub fn keep(&mut self, stream: Stream, chunk: &[u8]) -> usize {
        let room = self
            .cap
            .saturating_sub(self.stdout.len() + self.stderr.len());
        let kept = chunk.len().min(room);
        if kept < chunk.len() {
            self.truncated = true;
        }
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(&chunk[..kept]),
            Stream::Stderr => self.stderr.extend_from_slice(&chunk[..kept]),
        }
        kept
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// (stdout, stderr) as lossy UTF-8, and whether output was cut.
    pub fn finish(self) -> (String, String, bool) {
        (
            String::from_utf8_lossy(&self.stdout).into_owned(),
            String::from_utf8_lossy(&self.stderr).into_owned(),
            self.truncated,
        )
    }
}

/// The stage's stdout and stderr pipes; a side becomes `None` at EOF.
pub struct OutputPipes {
    stdout: Option<File>,
    stderr: Option<File>,
    capture: Capture,
    /// Send chunks to the worker as they come (single-run mode only).
    forward: bool,
    buf: Vec<u8>,
}

impl OutputPipes {
    pub fn new(stdout: File, stderr: File, cap: u64, forward: bool) -> OutputPipes {
        OutputPipes {
            stdout: Some(stdout),
            stderr: Some(stderr),
            capture: Capture::new(cap),
            forward,
            buf: vec![0; READ_CHUNK],
        }
    }

    /// The pipes still open, to poll for readability.
    pub fn open_fds(&self) -> Vec<(Stream, BorrowedFd<'_>)> {
        let mut fds = Vec::with_capacity(2);
        if let Some(f) = &self.stdout {
            fds.push((Stream::Stdout, f.as_fd()));
        }
        if let Some(f) = &self.stderr {
            fds.push((Stream::Stderr, f.as_fd()));
        }
        fds
    }

    /// One read from `stream` (call when poll says readable, so it does not
    /// block). Returns true when this read went over the output cap.
    pub fn read(&mut self, stream: Stream, out: &mut FrameOut) -> bool {
        let slot = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let Some(pipe) = slot else { return false };
        let n = match pipe.read(&mut self.buf) {
            Ok(0) => {
                *slot = None;
                return false;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                ) =>
            {
                return false
            }
            Err(_) => {
                *slot = None;
                return false;
            }
        };
        let was_truncated = self.capture.truncated();
        let kept = self.capture.keep(stream, &self.buf[..n]);
        if self.forward && kept > 0 {
            let kind = match stream {
                Stream::Stdout => FrameKind::Stdout,
                Stream::Stderr => FrameKind::Stderr,
            };
            out.output(kind, &self.buf[..kept]);
        }
        !was_truncated && self.capture.truncated()
    }

    /// After every writer is dead: reads what is left in the pipes until EOF,
    /// or until `limit` passes if a writer somehow survives.
    pub fn drain(&mut self, out: &mut FrameOut, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let open: Vec<(Stream, i32)> = self
                .open_fds()
                .iter()
                .map(|(s, fd)| (*s, fd.as_raw_fd()))
                .collect();
            let now = Instant::now();
            if open.is_empty() || now >= deadline {
                break;
            }
            let mut fds: Vec<libc::pollfd> = open
                .iter()
                .map(|&(_, fd)| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            if sys::poll(&mut fds, deadline - now).is_err() {
                break;
            }
            for (pfd, (stream, _)) in fds.iter().zip(open) {
                if pfd.revents != 0 {
                    self.read(stream, out);
                }
            }
        }
        self.stdout = None;
        self.stderr = None;
    }

    /// (stdout, stderr, truncated) for the report.
    pub fn finish(self) -> (String, String, bool) {
        self.capture.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both streams share one budget; the chunk that crosses it is cut and
    /// marks the capture truncated, later chunks are dropped whole.
    #[test]
    fn cap_is_shared_and_cuts_the_crossing_chunk() {
        let mut c = Capture::new(10);
        assert_eq!(c.keep(Stream::Stdout, b"hello"), 5);
        assert!(!c.truncated());
        assert_eq!(c.keep(Stream::Stderr, b"oops!!"), 5);
        assert!(c.truncated());
        assert_eq!(c.keep(Stream::Stdout, b"more"), 0);
        assert_eq!(c.finish(), ("hello".into(), "oops!".into(), true));
    }

    /// Output of exactly the cap is not truncated.
    #[test]
    fn output_exactly_at_the_cap_is_complete() {
        let mut c = Capture::new(4);
        assert_eq!(c.keep(Stream::Stdout, b"abcd"), 4);
        assert_eq!(c.keep(Stream::Stdout, b""), 0);
        assert!(!c.truncated());
    }

    /// Invalid UTF-8 becomes U+FFFD in the report instead of failing it.
    #[test]
    fn report_strings_are_lossy_utf8() {
        let mut c = Capture::new(100);
        c.keep(Stream::Stdout, b"a\xffb");
        assert_eq!(c.finish().0, "a\u{fffd}b");
    }
}
