//! Stdin framing shared by the WebSocket sessions: both protocols carry a
//! program's input as a `data` string of at most
//! [`MAX_STDIN_CHUNK_BYTES`] (one chunk in the job's Redis list) plus an
//! optional `eof: true`; each protocol words its own refusals.

use crate::control::MAX_STDIN_CHUNK_BYTES;
use serde_json::{Map, Value};

/// Why a frame's `data` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinDataError {
    /// Longer than [`MAX_STDIN_CHUNK_BYTES`]; the client splits it.
    TooLarge,
    NotAString,
}

/// A frame's `data`: `None` when absent or null.
pub fn stdin_data(frame: &Map<String, Value>) -> Result<Option<&str>, StdinDataError> {
    match frame.get("data") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(data)) if data.len() > MAX_STDIN_CHUNK_BYTES => {
            Err(StdinDataError::TooLarge)
        }
        Some(Value::String(data)) => Ok(Some(data)),
        Some(_) => Err(StdinDataError::NotAString),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `data` is a bounded string or absent; anything else is refused.
    #[test]
    fn data_is_a_bounded_string() {
        let frame = |value: Value| value.as_object().cloned().unwrap();
        assert_eq!(stdin_data(&frame(json!({"data": "x"}))), Ok(Some("x")));
        assert_eq!(stdin_data(&frame(json!({"data": null}))), Ok(None));
        assert_eq!(stdin_data(&frame(json!({}))), Ok(None));
        assert_eq!(
            stdin_data(&frame(json!({"data": 1}))),
            Err(StdinDataError::NotAString)
        );
        let big = "x".repeat(MAX_STDIN_CHUNK_BYTES + 1);
        assert_eq!(
            stdin_data(&frame(json!({"data": big}))),
            Err(StdinDataError::TooLarge)
        );
    }
}
