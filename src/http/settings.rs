//! The HTTP server's settings: where it listens, its worker threads and the
//! caps on what a client may send.

use crate::auth::Cidr;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Address to listen on; port 0 picks a free one (the bound address is
    /// printed on stdout as `rce listening on http://…`).
    pub bind: String,
    /// actix-web worker threads.
    pub workers: usize,
    /// Largest request body; larger is a 413 JSON error. Must hold the
    /// largest submission (sources + stdin + tests).
    pub max_body_bytes: usize,
    /// Largest WebSocket message (after joining continuation frames).
    pub max_ws_message_bytes: usize,
    /// Longest `?wait=true` holds a request before answering 202.
    pub max_wait_ms: u64,
    /// The browser editor's build (`web/dist`, made by `make web`), served
    /// at `/`; relative paths are from the working directory.
    pub web_dir: PathBuf,
    /// Reverse proxies (CIDRs or addresses) whose `X-Forwarded-For` names
    /// the client for the login throttle; from any other peer the header is
    /// ignored. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<Cidr>,
    /// Bearer token `GET /metrics` requires (on the API and on a worker's
    /// probe server); unset or empty leaves the metrics public. Metrics name
    /// languages, queue depths and actor health, which an operator may not
    /// want every client to read.
    pub metrics_token: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            bind: "127.0.0.1:8080".into(),
            workers: 2,
            max_body_bytes: 8 * 1024 * 1024,
            max_ws_message_bytes: 8 * 1024 * 1024,
            max_wait_ms: 60_000,
            web_dir: PathBuf::from("web/dist"),
            trusted_proxies: Vec::new(),
            metrics_token: None,
        }
    }
}
