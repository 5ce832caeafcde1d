//! Live output: coalesces a running program's output chunks for a short
//! interval and publishes them as `output` events, so a program printing in a
//! tight loop costs a few events per second instead of one per write, and a
//! program printing a line now and then has each line sent at once. Keeps
//! multi-byte UTF-8 characters whole across chunk boundaries and splits
//! large batches into events of at most [`MAX_EVENT_DATA`] bytes (so a slow
//! client's session can drop output in small pieces). The total published
//! never exceeds the job's output cap: rce-runner enforces it, and the
//! budget here enforces it again, so the queue between the sandbox and the
//! publisher holds at most the cap. Owned by WorkerPool's run of one job;
//! `finish` returns once every event is published, and WorkerPool publishes
//! `finished` only after it, so `finished` always follows the last chunk.

use crate::events::{OutputStream, ServerEvent};
use crate::job::JobId;
use crate::queue::EventPublisher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long chunks are gathered before they are published together.
pub const COALESCE_INTERVAL: Duration = Duration::from_millis(30);
/// Largest `data` of one `output` event, in bytes (a character is never split).
pub const MAX_EVENT_DATA: usize = 64 * 1024;

type Chunk = (OutputStream, Vec<u8>);

/// The sending half, shared with the job's sandbox; `finish` waits until
/// every chunk pushed before it has been published.
pub struct LiveOutput {
    /// `None` once finished: later pushes are dropped. A std mutex: it is
    /// held only to clone or take the sender, never across an await.
    sender: Mutex<Option<mpsc::UnboundedSender<Chunk>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Bytes that may still be published (the job's output cap).
    room: AtomicUsize,
}

impl LiveOutput {
    pub fn start(
        publisher: EventPublisher,
        user_id: String,
        job_id: JobId,
        budget: usize,
    ) -> LiveOutput {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(forward(receiver, publisher, user_id, job_id));
        LiveOutput {
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
            room: AtomicUsize::new(budget),
        }
    }

    pub fn push(&self, stream: OutputStream, bytes: &[u8]) {
        let Ok(room) = self
            .room
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |room| {
                Some(room - room.min(bytes.len()))
            })
        else {
            return;
        };
        let take = room.min(bytes.len());
        if take == 0 {
            return;
        }
        let sender = self.sender.lock().ok().and_then(|sender| sender.clone());
        if let Some(sender) = sender {
            // The forwarder lives until `finish`; a send can only fail after it.
            let _ = sender.send((stream, bytes[..take].to_vec()));
        }
    }

    /// Publishes what is left and returns once all output events are out;
    /// anything pushed afterwards is dropped.
    pub async fn finish(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::warn!(%error, "live output forwarder failed");
            }
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
    for data in split_text(data, MAX_EVENT_DATA) {
        let event = ServerEvent::Output { id, stream, data };
        if let Err(error) = publisher.publish(user_id, &event).await {
            tracing::warn!(job_id = %id, user_id, %error, "publishing output failed");
        }
    }
}

/// `text` in pieces of at most `max` bytes (at least one character each),
/// cut at character boundaries; nothing for empty text.
fn split_text(text: String, max: usize) -> Vec<String> {
    if text.len() <= max {
        return if text.is_empty() { vec![] } else { vec![text] };
    }
    let mut pieces = Vec::with_capacity(text.len() / max + 1);
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let mut cut = max.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        pieces.push(rest[..cut].to_string());
        rest = &rest[cut..];
    }
    pieces
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

    /// Large text is split into pieces within the limit, at character
    /// boundaries, losing and reordering nothing.
    #[test]
    fn splits_large_text_at_char_boundaries() {
        assert!(split_text(String::new(), 4).is_empty());
        assert_eq!(split_text("abc".into(), 4), vec!["abc"]);
        let text = "aé€😀".repeat(50);
        for max in [1, 2, 3, 5, 7, 64] {
            let pieces = split_text(text.clone(), max);
            assert_eq!(pieces.concat(), text);
            assert!(
                pieces
                    .iter()
                    .all(|p| p.len() <= max.max(4) && !p.is_empty()),
                "max {max}"
            );
        }
    }

    /// Output beyond the budget is never published: pushes past it are cut.
    #[tokio::test]
    async fn budget_caps_what_is_queued() {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let live = LiveOutput {
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(None),
            room: AtomicUsize::new(5),
        };
        live.push(OutputStream::Stdout, b"abc");
        live.push(OutputStream::Stderr, b"defg");
        live.push(OutputStream::Stdout, b"h");
        live.finish().await;
        live.push(OutputStream::Stdout, b"late");
        let mut got = vec![];
        while let Some(chunk) = receiver.recv().await {
            got.push(chunk);
        }
        assert_eq!(
            got,
            vec![
                (OutputStream::Stdout, b"abc".to_vec()),
                (OutputStream::Stderr, b"de".to_vec())
            ]
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
