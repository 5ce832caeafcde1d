//! Live output: coalesces a running program's output chunks for a short
//! interval and publishes them as `output` events, so a program printing in a
//! tight loop costs a few events per second instead of one per write. Keeps
//! multi-byte UTF-8 characters whole across chunk boundaries. The total is
//! bounded by the job's output cap, which rce-runner enforces.

use crate::events::{OutputStream, ServerEvent};
use crate::job::JobId;
use crate::queue::EventPublisher;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long chunks are gathered before they are published together.
pub const COALESCE_INTERVAL: Duration = Duration::from_millis(30);

/// The sending half, owned by the job's run; `finish` waits until every
/// chunk pushed so far has been published.
pub struct LiveOutput {
    sender: mpsc::UnboundedSender<(OutputStream, Vec<u8>)>,
    task: JoinHandle<()>,
}

impl LiveOutput {
    pub fn start(publisher: EventPublisher, user_id: String, job_id: JobId) -> LiveOutput {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(forward(receiver, publisher, user_id, job_id));
        LiveOutput { sender, task }
    }

    pub fn push(&self, stream: OutputStream, bytes: &[u8]) {
        // The forwarder lives until `finish`; a send can only fail after it.
        let _ = self.sender.send((stream, bytes.to_vec()));
    }

    /// Publishes what is left and returns once all output events are out.
    pub async fn finish(self) {
        drop(self.sender);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "live output forwarder failed");
        }
    }
}

async fn forward(
    mut receiver: mpsc::UnboundedReceiver<(OutputStream, Vec<u8>)>,
    publisher: EventPublisher,
    user_id: String,
    job_id: JobId,
) {
    let mut carry = Utf8Carry::default();
    let mut open = true;
    while open {
        let Some(first) = receiver.recv().await else {
            break;
        };
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + COALESCE_INTERVAL;
        loop {
            tokio::select! {
                next = receiver.recv() => match next {
                    Some(chunk) => batch.push(chunk),
                    None => { open = false; break; }
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        for (stream, bytes) in merge_adjacent(batch) {
            let text = carry.decode(stream, &bytes, false);
            publish(&publisher, &user_id, job_id, stream, text).await;
        }
    }
    for stream in [OutputStream::Stdout, OutputStream::Stderr] {
        let rest = carry.decode(stream, &[], true);
        publish(&publisher, &user_id, job_id, stream, rest).await;
    }
}

async fn publish(
    publisher: &EventPublisher,
    user_id: &str,
    id: JobId,
    stream: OutputStream,
    data: String,
) {
    if data.is_empty() {
        return;
    }
    let event = ServerEvent::Output { id, stream, data };
    if let Err(error) = publisher.publish(user_id, &event).await {
        tracing::warn!(job_id = %id, user_id, %error, "publishing output failed");
    }
}

/// Joins consecutive chunks of the same stream, keeping their order.
fn merge_adjacent(batch: Vec<(OutputStream, Vec<u8>)>) -> Vec<(OutputStream, Vec<u8>)> {
    let mut merged: Vec<(OutputStream, Vec<u8>)> = Vec::new();
    for (stream, bytes) in batch {
        match merged.last_mut() {
            Some((last, buffer)) if *last == stream => buffer.extend_from_slice(&bytes),
            _ => merged.push((stream, bytes)),
        }
    }
    merged
}

/// Per stream, the bytes of a UTF-8 character cut at a chunk's end.
#[derive(Default)]
struct Utf8Carry {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Utf8Carry {
    /// Text of `carry + bytes`; an incomplete trailing character waits for
    /// the next chunk unless `last`. Invalid bytes become U+FFFD.
    fn decode(&mut self, stream: OutputStream, bytes: &[u8], last: bool) -> String {
        let carry = match stream {
            OutputStream::Stdout => &mut self.stdout,
            OutputStream::Stderr => &mut self.stderr,
        };
        carry.extend_from_slice(bytes);
        let keep = if last { 0 } else { incomplete_tail(carry) };
        let rest = carry.split_off(carry.len() - keep);
        let text = String::from_utf8_lossy(carry).into_owned();
        *carry = rest;
        text
    }
}

/// Length of an incomplete UTF-8 sequence at the end of `bytes` (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 != 0b1000_0000 {
            let needed = match byte {
                b if b & 0b1110_0000 == 0b1100_0000 => 2,
                b if b & 0b1111_0000 == 0b1110_0000 => 3,
                b if b & 0b1111_1000 == 0b1111_0000 => 4,
                _ => 1,
            };
            return if needed > back { back } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character split across chunks comes out whole, once.
    #[test]
    fn utf8_split_across_chunks_stays_whole() {
        let text = "héllo → wörld";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut carry = Utf8Carry::default();
            let mut out = carry.decode(OutputStream::Stdout, &bytes[..cut], false);
            out += &carry.decode(OutputStream::Stdout, &bytes[cut..], false);
            out += &carry.decode(OutputStream::Stdout, &[], true);
            assert_eq!(out, text, "cut at {cut}");
        }
    }

    /// Invalid bytes do not stall the stream.
    #[test]
    fn invalid_bytes_are_replaced() {
        let mut carry = Utf8Carry::default();
        assert_eq!(
            carry.decode(OutputStream::Stderr, b"a\xffb", false),
            "a\u{fffd}b"
        );
    }

    /// Adjacent chunks of one stream merge; order across streams is kept.
    #[test]
    fn merges_adjacent_chunks_only() {
        use OutputStream::{Stderr, Stdout};
        let merged = merge_adjacent(vec![
            (Stdout, b"a".to_vec()),
            (Stdout, b"b".to_vec()),
            (Stderr, b"c".to_vec()),
            (Stdout, b"d".to_vec()),
        ]);
        assert_eq!(
            merged,
            vec![
                (Stdout, b"ab".to_vec()),
                (Stderr, b"c".to_vec()),
                (Stdout, b"d".to_vec())
            ]
        );
    }
}
