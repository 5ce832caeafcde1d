//! The events a client sees about its jobs, in the exact JSON shape sent over
//! the WebSocket and published on Redis (`queued`, `started`, `output`,
//! `finished`, `error`). Workers publish them; the PubSubBridge forwards the
//! text unchanged to the owner's sessions.

use crate::job::{JobId, JobResult};
use serde::{Deserialize, Serialize};

/// Which of the program's streams an output chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// A server → client frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    Queued {
        id: JobId,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    Started {
        id: JobId,
    },
    Output {
        id: JobId,
        stream: OutputStream,
        data: String,
    },
    Finished {
        id: JobId,
        result: JobResult,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<JobId>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        code: String,
        message: String,
    },
}

impl ServerEvent {
    pub fn to_json(&self) -> String {
        // unwrap: every variant is plain data with string keys; serialising
        // it cannot fail.
        serde_json::to_string(self).expect("ServerEvent serialises")
    }

    /// Events that end a job's stream; never dropped for a slow client.
    pub fn is_final(&self) -> bool {
        matches!(self, ServerEvent::Finished { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire shape is the one the architecture documents.
    #[test]
    fn events_have_the_documented_shape() {
        let id: JobId = "0190a5b2-0000-7000-8000-000000000000".parse().unwrap();
        let queued = ServerEvent::Queued {
            id,
            reference: Some("r1".into()),
        };
        assert_eq!(
            queued.to_json(),
            format!(r#"{{"type":"queued","id":"{id}","ref":"r1"}}"#)
        );
        let output = ServerEvent::Output {
            id,
            stream: OutputStream::Stderr,
            data: "x".into(),
        };
        assert_eq!(
            output.to_json(),
            format!(r#"{{"type":"output","id":"{id}","stream":"stderr","data":"x"}}"#)
        );
        let back: ServerEvent = serde_json::from_str(&output.to_json()).unwrap();
        assert_eq!(back, output);
    }
}
