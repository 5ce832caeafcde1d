//! frames: the runner's two ends of the wire to the worker. `FrameIn` reads
//! the container's stdin (the job frame, then `Stdin`/`StdinEnd` frames of an
//! interactive job, or the `Prebuilt` frame of a prebuilt one) without any
//! read-ahead buffering, so the job frame can be
//! read blocking and the rest incrementally once poll says there is data.
//! `FrameOut` writes frames to the container's stdout, each with one
//! `write_all`; the runner is single-threaded, so frames never interleave.
//! Both use private duplicates of fd 0/1 (CLOEXEC), and user code never
//! holds either: its stdio are the runner's own pipes.

use rce_protocol::{
    unpack_artifacts, Artifact, Frame, FrameDecoder, FrameKind, JobSpec, RunReport, StageEvent,
    StageReport, MAX_FRAME_BYTES,
};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};

/// Bytes read from the container's stdin per wakeup.
const READ_CHUNK: usize = 64 * 1024;

/// What an interactive program's stdin receives next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Data(Vec<u8>),
    End,
}

/// Frames from the worker.
pub struct FrameIn {
    file: File,
    decoder: FrameDecoder,
    ended: bool,
}

impl FrameIn {
    /// Reads from a private duplicate of fd 0.
    pub fn stdin() -> io::Result<FrameIn> {
        Ok(FrameIn::new(File::from(
            io::stdin().as_fd().try_clone_to_owned()?,
        )))
    }

    pub fn new(file: File) -> FrameIn {
        FrameIn {
            file,
            decoder: FrameDecoder::new(),
            ended: false,
        }
    }

    /// Blocks for the first frame, which must be the job.
    pub fn read_job(&mut self) -> Result<JobSpec, String> {
        let frame =
            Frame::read_from(&mut self.file).map_err(|e| format!("reading the job frame: {e}"))?;
        let frame = frame.ok_or("stdin closed before a job frame arrived")?;
        if frame.kind != FrameKind::Job {
            return Err(format!("expected a job frame first, got {:?}", frame.kind));
        }
        frame.parse().map_err(|e| format!("bad job frame: {e}"))
    }

    /// Blocks for the frame that follows a prebuilt job: the artifacts of
    /// its earlier compile (names checked).
    pub fn read_prebuilt(&mut self) -> Result<Vec<Artifact>, String> {
        let frame = Frame::read_from(&mut self.file)
            .map_err(|e| format!("reading the prebuilt frame: {e}"))?
            .ok_or("stdin closed before the prebuilt frame arrived")?;
        if frame.kind != FrameKind::Prebuilt {
            return Err(format!(
                "expected a prebuilt frame after the job, got {:?}",
                frame.kind
            ));
        }
        unpack_artifacts(&frame.payload).map_err(|e| format!("bad prebuilt frame: {e}"))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// The worker has ended the program's input (StdinEnd, EOF, or a frame
    /// we cannot decode).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Reads what is available (call when poll says readable; one read, so
    /// it does not block) and hands out the decoded inputs.
    pub fn read_available(&mut self, out: &mut dyn FnMut(Input)) {
        if self.ended {
            return;
        }
        let mut buf = vec![0u8; READ_CHUNK];
        match self.file.read(&mut buf) {
            Ok(0) => return self.end(out),
            Ok(n) => self.decoder.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(_) => return self.end(out),
        }
        loop {
            match self.decoder.next_frame() {
                Ok(None) => return,
                Ok(Some(frame)) => match frame.kind {
                    FrameKind::Stdin => out(Input::Data(frame.payload)),
                    FrameKind::StdinEnd => return self.end(out),
                    // Anything else on this stream is a worker bug; ignore it.
                    _ => {}
                },
                Err(_) => return self.end(out),
            }
        }
    }

    fn end(&mut self, out: &mut dyn FnMut(Input)) {
        self.ended = true;
        out(Input::End);
    }
}

/// Frames to the worker.
pub struct FrameOut {
    file: File,
    /// The worker stopped reading; later frames are dropped, the job still
    /// runs to the end so its processes are killed.
    broken: bool,
}

impl FrameOut {
    /// Writes to a private duplicate of fd 1.
    pub fn stdout() -> io::Result<FrameOut> {
        Ok(FrameOut::new(File::from(
            io::stdout().as_fd().try_clone_to_owned()?,
        )))
    }

    pub fn new(file: File) -> FrameOut {
        FrameOut {
            file,
            broken: false,
        }
    }

    pub fn send(&mut self, frame: &Frame) {
        if !self.broken && frame.write_to(&mut self.file).is_err() {
            self.broken = true;
        }
    }

    pub fn output(&mut self, kind: FrameKind, bytes: &[u8]) {
        self.send(&Frame::new(kind, bytes.to_vec()));
    }

    pub fn stage(&mut self, stage: &str, index: Option<usize>) {
        let event = StageEvent {
            stage: stage.to_string(),
            index,
        };
        if let Ok(frame) = Frame::json(FrameKind::Stage, &event) {
            self.send(&frame);
        }
    }

    /// The last frame. Always sent, and always small enough for the
    /// worker's decoder (see [`encode_fitting`]).
    pub fn result(&mut self, report: &RunReport) {
        match encode_fitting(report, MAX_FRAME_BYTES) {
            Ok(payload) => self.send(&Frame::new(FrameKind::Result, payload)),
            Err(e) => {
                // Cannot happen for these plain types; still end with a Result.
                let fallback = RunReport {
                    error: Some(format!("encoding the report: {e}")),
                    ..RunReport::default()
                };
                if let Ok(frame) = Frame::json(FrameKind::Result, &fallback) {
                    self.send(&frame);
                }
            }
        }
    }
}

/// `report` as JSON of at most `max` bytes. Captured output is bounded per
/// stage, but many test cases, or output that JSON escapes to six bytes per
/// byte, could still add up past one frame; then the longest captured
/// strings are halved (and their stage marked truncated) until it fits.
pub fn encode_fitting(report: &RunReport, max: usize) -> serde_json::Result<Vec<u8>> {
    let encoded = serde_json::to_vec(report)?;
    if encoded.len() <= max {
        return Ok(encoded);
    }
    let mut report = report.clone();
    loop {
        let mut stages: Vec<&mut StageReport> = report
            .compile
            .iter_mut()
            .chain(report.run.iter_mut())
            .collect();
        stages.extend(report.tests.iter_mut().map(|t| &mut t.run));
        let longest = stages
            .iter()
            .map(|s| s.stdout.len().max(s.stderr.len()))
            .max()
            .unwrap_or(0);
        if longest == 0 {
            // Nothing left to cut: send what we have.
            return serde_json::to_vec(&report);
        }
        let keep = longest / 2;
        for stage in stages {
            for text in [&mut stage.stdout, &mut stage.stderr] {
                if text.len() > keep {
                    text.truncate(floor_char_boundary(text, keep));
                    stage.truncated = true;
                }
            }
        }
        let encoded = serde_json::to_vec(&report)?;
        if encoded.len() <= max {
            return Ok(encoded);
        }
    }
}

/// The largest char boundary of `text` at or below `index`.
fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pipe_with(name: &str, bytes: &[u8]) -> File {
        let path =
            std::env::temp_dir().join(format!("rce-runner-frames-{}-{name}", std::process::id()));
        let mut f = File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        let file = File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        file
    }

    /// The job frame is read exactly, leaving the following stdin frames for
    /// the incremental reader, which stops at StdinEnd.
    #[test]
    fn job_then_stdin_frames_then_end() {
        let job = JobSpec {
            files: vec![],
            compile: None,
            run: vec!["cat".into()],
            args: vec![],
            stdin: String::new(),
            interactive: true,
            compile_limits: limits(),
            run_limits: limits(),
            tests: vec![],
            prebuilt: false,
            collect_artifacts: false,
        };
        let mut bytes = Frame::json(FrameKind::Job, &job).unwrap().encode();
        bytes.extend(Frame::new(FrameKind::Stdin, b"ab".to_vec()).encode());
        bytes.extend(Frame::new(FrameKind::Stdin, b"c".to_vec()).encode());
        bytes.extend(Frame::new(FrameKind::StdinEnd, vec![]).encode());
        bytes.extend(Frame::new(FrameKind::Stdin, b"ignored".to_vec()).encode());
        let mut input = FrameIn::new(pipe_with("job", &bytes));
        assert_eq!(input.read_job().unwrap(), job);
        let mut got = vec![];
        while !input.ended() {
            input.read_available(&mut |i| got.push(i));
        }
        assert_eq!(
            got,
            vec![
                Input::Data(b"ab".to_vec()),
                Input::Data(b"c".to_vec()),
                Input::End
            ]
        );
    }

    /// A first frame that is not a job is refused with a message.
    #[test]
    fn non_job_first_frame_is_refused() {
        let mut input = FrameIn::new(pipe_with(
            "stdin-first",
            &Frame::new(FrameKind::Stdin, b"x".to_vec()).encode(),
        ));
        assert!(input
            .read_job()
            .unwrap_err()
            .contains("expected a job frame"));
        let mut empty = FrameIn::new(pipe_with("empty", b""));
        assert!(empty.read_job().unwrap_err().contains("before a job frame"));
    }

    /// A report too large for one frame is cut down to fit, longest output
    /// first, with the cut stages marked truncated; a small one is untouched.
    #[test]
    fn oversized_report_is_cut_to_fit_one_frame() {
        let stage = |stdout: &str| StageReport {
            termination: rce_protocol::Termination::Exited,
            exit_code: Some(0),
            signal: None,
            cpu_time_ms: 0,
            wall_time_ms: 0,
            memory_kb: 0,
            stdout: stdout.into(),
            stderr: "short".into(),
            truncated: false,
        };
        let report = RunReport {
            compile: Some(stage("ok")),
            run: Some(stage(&"é\u{1}".repeat(5000))),
            ..RunReport::default()
        };
        let small = encode_fitting(&report, usize::MAX).unwrap();
        assert_eq!(small, serde_json::to_vec(&report).unwrap());

        let fitted = encode_fitting(&report, 4000).unwrap();
        assert!(fitted.len() <= 4000, "{}", fitted.len());
        let back: RunReport = serde_json::from_slice(&fitted).unwrap();
        let run = back.run.unwrap();
        assert!(
            run.truncated
                && !run.stdout.is_empty()
                && report.run.unwrap().stdout.starts_with(&run.stdout)
        );
        assert_eq!(back.compile.unwrap(), stage("ok"));
    }

    fn limits() -> rce_protocol::StageLimits {
        rce_protocol::StageLimits {
            cpu_time_ms: 1,
            wall_time_ms: 1,
            memory_kb: 1,
            processes: 1,
            output_bytes: 1,
            file_size_bytes: 1,
        }
    }
}
