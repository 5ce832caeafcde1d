//! The events a client sees about its jobs, in the exact JSON shape sent over
//! the WebSocket and published on Redis (`queued`, `started`, `output`,
//! `finished`, `error`). Workers publish them; the PubSubBridge forwards the
//! text unchanged to the owner's sessions, routing it by its [`EventHead`]
//! (kind, job id, `seq`), which is read by type without decoding the rest.

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
        /// 1, 2, 3… per job run: a client resuming with `watch` gets the
        /// events recorded so far, and live ones it already has are skipped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
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

    /// Which kind of event this is.
    pub fn kind(&self) -> EventKind {
        match self {
            ServerEvent::Queued { .. } => EventKind::Queued,
            ServerEvent::Started { .. } => EventKind::Started,
            ServerEvent::Output { .. } => EventKind::Output,
            ServerEvent::Finished { .. } => EventKind::Finished,
            ServerEvent::Error { .. } => EventKind::Error,
        }
    }

    /// Events that end a job's stream; never dropped for a slow client.
    pub fn is_final(&self) -> bool {
        self.kind().is_final()
    }
}

/// The `type` tag of a [`ServerEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Queued,
    Started,
    Output,
    Finished,
    Error,
}

impl EventKind {
    /// `finished` ends a job's stream: it must reach the client even when
    /// the client is slow (the one rule behind [`ServerEvent::is_final`]).
    pub fn is_final(self) -> bool {
        self == EventKind::Finished
    }
}

/// What routing a published event needs, decoded by type from its JSON:
/// `output` events are hot, so the payload (`data`, `result`) is skipped
/// (serde ignores unknown fields without allocating for them) and field
/// order does not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct EventHead {
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The job the event is about (absent on some `error`s).
    #[serde(default)]
    pub id: Option<JobId>,
    /// An `output` event's number within its job's run.
    #[serde(default)]
    pub seq: Option<u64>,
}

impl EventHead {
    /// The head of a published event; `None` when the text is not one.
    pub fn of(text: &str) -> Option<EventHead> {
        serde_json::from_str(text).ok()
    }

    pub fn is_final(&self) -> bool {
        self.kind.is_final()
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
            seq: Some(3),
            stream: OutputStream::Stderr,
            data: "x".into(),
        };
        assert_eq!(
            output.to_json(),
            format!(r#"{{"type":"output","id":"{id}","seq":3,"stream":"stderr","data":"x"}}"#)
        );
        let back: ServerEvent = serde_json::from_str(&output.to_json()).unwrap();
        assert_eq!(back, output);
    }

    /// The head is read by type whatever the field order or the payload,
    /// and agrees with the event it was read from.
    #[test]
    fn heads_are_decoded_by_type() {
        let id: JobId = "0190a5b2-0000-7000-8000-000000000000".parse().unwrap();
        let output = ServerEvent::Output {
            seq: Some(12),
            id,
            stream: OutputStream::Stdout,
            data: r#""id":"x","seq":1,"type":"finished""#.into(),
        };
        let head = EventHead::of(&output.to_json()).unwrap();
        assert_eq!(
            head,
            EventHead {
                kind: EventKind::Output,
                id: Some(id),
                seq: Some(12)
            }
        );
        assert!(!head.is_final());
        let started = ServerEvent::Started { id };
        let head = EventHead::of(&started.to_json()).unwrap();
        assert_eq!(
            (head.kind, head.id, head.seq),
            (EventKind::Started, Some(id), None)
        );
        let reordered =
            format!(r#"{{"seq":3,"id":"{id}","data":"x","type":"output","stream":"stdout"}}"#);
        assert_eq!(EventHead::of(&reordered).unwrap().seq, Some(3));
        let error = ServerEvent::Error {
            id: None,
            reference: None,
            code: "c".into(),
            message: "m".into(),
        };
        let head = EventHead::of(&error.to_json()).unwrap();
        assert_eq!((head.kind, head.id), (EventKind::Error, None));
        assert_eq!(EventHead::of(r#"{"type":"ready"}"#), None);
        assert_eq!(EventHead::of("not json"), None);
    }

    /// Finality has one rule: the head and the event agree on it, and only
    /// `finished` is final.
    #[test]
    fn only_finished_is_final() {
        let id = JobId::new();
        let events = [
            ServerEvent::Queued {
                id,
                reference: None,
            },
            ServerEvent::Started { id },
            ServerEvent::Finished {
                id,
                result: JobResult::internal_error("x"),
            },
        ];
        for event in events {
            let head = EventHead::of(&event.to_json()).unwrap();
            assert_eq!(head.kind, event.kind());
            assert_eq!(head.is_final(), event.is_final());
            assert_eq!(event.is_final(), event.kind() == EventKind::Finished);
        }
    }
}
