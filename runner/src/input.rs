//! input: the write end of a stage's stdin pipe. Holds the bytes still to be
//! written (the job's `stdin`, then `Stdin` frames of an interactive job) and
//! writes them without blocking when poll says the pipe has room, so a
//! program that never reads its input cannot stall the runner. The pipe is
//! closed once everything is written and the input has ended; a program that
//! closed its stdin or exited (EPIPE) simply drops the rest.

use crate::frames::Input;
use crate::sys;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};

/// Interactive input buffered ahead of the program; beyond it the runner stops
/// reading frames until the program catches up (back-pressure to the worker).
pub const MAX_PENDING: usize = 1024 * 1024;

pub struct StdinFeed {
    pipe: Option<File>,
    pending: Vec<u8>,
    /// Bytes of `pending` already written.
    written: usize,
    /// No more input will come: close the pipe once `pending` is written.
    ended: bool,
}

impl StdinFeed {
    /// `initial` is written first; `ended` says whether more may follow.
    pub fn new(pipe: File, initial: &[u8], ended: bool) -> io::Result<StdinFeed> {
        sys::set_nonblocking(pipe.as_fd())?;
        let mut feed = StdinFeed {
            pipe: Some(pipe),
            pending: initial.to_vec(),
            written: 0,
            ended,
        };
        feed.close_if_done();
        Ok(feed)
    }

    /// More input from the worker.
    pub fn push(&mut self, input: Input) {
        match input {
            Input::Data(bytes) if self.pipe.is_some() => self.pending.extend_from_slice(&bytes),
            Input::Data(_) => {}
            Input::End => self.ended = true,
        }
        self.close_if_done();
    }

    /// The pipe to poll for writability, while there is something to write.
    pub fn writable_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.pipe {
            Some(pipe) if self.written < self.pending.len() => Some(pipe.as_fd()),
            _ => None,
        }
    }

    /// Room for more input frames (else leave them in the worker's pipe).
    pub fn wants_more(&self) -> bool {
        self.pipe.is_some() && !self.ended && self.pending.len() - self.written < MAX_PENDING
    }

    /// Writes as much as the pipe takes now.
    pub fn write_ready(&mut self) {
        let Some(pipe) = &mut self.pipe else { return };
        while self.written < self.pending.len() {
            match pipe.write(&self.pending[self.written..]) {
                Ok(0) => break,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // EPIPE: the program does not want (more) input.
                    self.pipe = None;
                    self.pending = Vec::new();
                    self.written = 0;
                    return;
                }
            }
        }
        if self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
        } else if self.written > MAX_PENDING {
            self.pending.drain(..self.written);
            self.written = 0;
        }
        self.close_if_done();
    }

    fn close_if_done(&mut self) {
        if self.ended && self.written >= self.pending.len() {
            self.pipe = None;
        }
    }
}
