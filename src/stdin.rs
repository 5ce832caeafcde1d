//! The one data type a job's standard input travels as, from the API side
//! (a WebSocket `stdin` frame), through [`crate::control`] (Redis), to the
//! worker's sandbox (runner frames). It lives here, apart from all three, so
//! none of them has to import another just to name it.

/// Input for an interactive job's stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdinChunk {
    /// Bytes to write to the program's standard input.
    Data(Vec<u8>),
    /// End of input: the program's stdin is closed.
    End,
}
