//! Job control across processes: how an owner's `stdin` and `kill` travel
//! from the API process that holds the WebSocket to the worker process that
//! runs the job. Owns the wire format and the Redis calls of both sides.
//!
//! API side ([`ControlClient::push_stdin`], [`ControlClient::request_kill`]):
//! a stdin chunk is appended to the job's Redis list (`rce:job:{id}:stdin`),
//! a kill sets the job's flag (`rce:job:{id}:kill`), and in the same atomic
//! step a [`ControlNotice`] naming the job is published on the one control
//! channel (`rce:control`) every worker listens on.
//!
//! Worker side (the JobControl actor): the worker running the job hears the
//! notice and drains the list in order ([`ControlClient::take_stdin`]) or
//! stops the job; every other worker ignores it. Because chunks and the flag
//! wait in Redis, input or a kill sent before the job starts (still queued,
//! or between delivery and container start) is applied when it starts, and
//! a notice lost while a worker reconnects is recovered from Redis.
//!
//! The API side also reads a running job's recorded output for `watch`
//! ([`ControlClient::recorded_output`]; recorded by [`crate::output`]).
//!
//! Bounds: one chunk is at most [`MAX_STDIN_CHUNK_BYTES`]; at most
//! [`MAX_BUFFERED_CHUNKS`] wait per job (a program that does not read its
//! input back-pressures into Redis, and the sender is told the buffer is
//! full); both keys expire after [`BUFFER_TTL`] and are deleted when the job
//! ends.

use crate::job::JobId;
use crate::queue::Keys;
use crate::stdin::StdinChunk;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::num::NonZeroUsize;
use std::time::Duration;

/// Largest `data` of one `stdin` frame; a paste beyond it is split by the client.
pub const MAX_STDIN_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks a job's stdin list may hold before its worker takes them: with
/// 64 KiB chunks, at most 16 MiB per job waits in Redis.
pub const MAX_BUFFERED_CHUNKS: usize = 256;
/// How long buffered input and a kill flag wait for their job to start (a
/// job queued longer than this loses them). Refreshed on every push.
pub const BUFFER_TTL: Duration = Duration::from_secs(3600);

/// Tag of a data chunk in the stdin list (followed by the bytes).
const TAG_DATA: u8 = b'd';
/// Tag of the end of input in the stdin list.
const TAG_END: u8 = b'e';

/// Appends a chunk unless the list is full, refreshes its expiry and
/// publishes the notice, atomically. KEYS: list, channel. ARGV: entry, max
/// entries, ttl ms, notice. Returns the new length, or -1 when full.
const PUSH_STDIN: &str = r#"
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4])
return length
"#;

/// What the control channel carries: which job, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlNotice {
    pub op: ControlOp,
    pub id: JobId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlOp {
    /// New chunks wait in the job's stdin list.
    Stdin,
    /// The owner asked to stop the job (its kill flag is set).
    Kill,
}

impl ControlNotice {
    pub fn parse(payload: &[u8]) -> Option<ControlNotice> {
        serde_json::from_slice(payload).ok()
    }

    fn to_json(&self) -> String {
        // unwrap: a struct of an enum and a uuid always serialises.
        serde_json::to_string(self).expect("ControlNotice serialises")
    }
}

/// A chunk's entry in the stdin list: a tag byte, then the data.
fn encode(chunk: &StdinChunk) -> Vec<u8> {
    match chunk {
        StdinChunk::Data(bytes) => {
            let mut entry = Vec::with_capacity(bytes.len() + 1);
            entry.push(TAG_DATA);
            entry.extend_from_slice(bytes);
            entry
        }
        StdinChunk::End => vec![TAG_END],
    }
}

fn decode(mut entry: Vec<u8>) -> Option<StdinChunk> {
    match entry.first() {
        Some(&TAG_DATA) => {
            entry.remove(0);
            Some(StdinChunk::Data(entry))
        }
        Some(&TAG_END) => Some(StdinChunk::End),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("at most {MAX_BUFFERED_CHUNKS} stdin chunks may wait for the program; it is not reading them")]
    BufferFull,
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The Redis calls of job control; cheap to clone.
#[derive(Clone)]
pub struct ControlClient {
    connection: ConnectionManager,
    keys: Keys,
    push_stdin: std::sync::Arc<redis::Script>,
}

impl ControlClient {
    pub fn new(connection: ConnectionManager, keys: Keys) -> ControlClient {
        ControlClient {
            connection,
            keys,
            push_stdin: std::sync::Arc::new(redis::Script::new(PUSH_STDIN)),
        }
    }

    /// API side: buffers `chunk` for the job and tells the workers.
    pub async fn push_stdin(&self, id: JobId, chunk: &StdinChunk) -> Result<(), ControlError> {
        let notice = ControlNotice {
            op: ControlOp::Stdin,
            id,
        }
        .to_json();
        let length: i64 = self
            .push_stdin
            .key(self.keys.stdin_list(&id))
            .key(self.keys.control_channel())
            .arg(encode(chunk))
            .arg(MAX_BUFFERED_CHUNKS)
            .arg(BUFFER_TTL.as_millis() as u64)
            .arg(notice)
            .invoke_async(&mut self.connection.clone())
            .await?;
        if length < 0 {
            return Err(ControlError::BufferFull);
        }
        Ok(())
    }

    /// API side: flags the job to be stopped and tells the workers.
    pub async fn request_kill(&self, id: JobId) -> Result<(), ControlError> {
        let notice = ControlNotice {
            op: ControlOp::Kill,
            id,
        }
        .to_json();
        redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(self.keys.kill_flag(&id))
            .arg(1)
            .arg("PX")
            .arg(BUFFER_TTL.as_millis() as u64)
            .ignore()
            .cmd("PUBLISH")
            .arg(self.keys.control_channel())
            .arg(notice)
            .ignore()
            .query_async::<()>(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    /// API side: the output events a running job has published so far, in
    /// order (for `watch`).
    pub async fn recorded_output(&self, id: JobId) -> Result<Vec<String>, ControlError> {
        Ok(redis::cmd("LRANGE")
            .arg(self.keys.output_list(&id))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.connection.clone())
            .await?)
    }

    /// Worker side: takes up to `max` waiting chunks, oldest first.
    pub async fn take_stdin(
        &self,
        id: JobId,
        max: NonZeroUsize,
    ) -> Result<Vec<StdinChunk>, ControlError> {
        let entries: Option<Vec<Vec<u8>>> = redis::cmd("LPOP")
            .arg(self.keys.stdin_list(&id))
            .arg(max.get())
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(entries
            .unwrap_or_default()
            .into_iter()
            .filter_map(decode)
            .collect())
    }

    /// Worker side: whether the owner asked to stop the job.
    pub async fn kill_requested(&self, id: JobId) -> Result<bool, ControlError> {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(self.keys.kill_flag(&id))
            .query_async(&mut self.connection.clone())
            .await?;
        Ok(exists > 0)
    }

    /// Worker side: the job has ended; its buffered input, kill flag and
    /// recorded output go (its result is in the store).
    pub async fn forget(&self, id: JobId) -> Result<(), ControlError> {
        redis::cmd("DEL")
            .arg(self.keys.stdin_list(&id))
            .arg(self.keys.kill_flag(&id))
            .arg(self.keys.output_list(&id))
            .query_async::<i64>(&mut self.connection.clone())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks survive the round trip through their Redis encoding, including
    /// empty data and bytes that look like tags.
    #[test]
    fn chunks_round_trip() {
        for chunk in [
            StdinChunk::Data(b"ada\n".to_vec()),
            StdinChunk::Data(vec![]),
            StdinChunk::Data(b"e".to_vec()),
            StdinChunk::End,
        ] {
            assert_eq!(decode(encode(&chunk)), Some(chunk));
        }
        assert_eq!(decode(vec![]), None);
        assert_eq!(decode(b"x".to_vec()), None);
    }

    /// The notice's wire shape is small and stable.
    #[test]
    fn notice_shape() {
        let id: JobId = "0190a5b2-0000-7000-8000-000000000000".parse().unwrap();
        let notice = ControlNotice {
            op: ControlOp::Kill,
            id,
        };
        assert_eq!(notice.to_json(), format!(r#"{{"op":"kill","id":"{id}"}}"#));
        assert_eq!(
            ControlNotice::parse(notice.to_json().as_bytes()),
            Some(notice)
        );
        assert_eq!(ControlNotice::parse(b"junk"), None);
    }
}
