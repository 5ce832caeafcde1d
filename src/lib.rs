//! rce: runs untrusted code in fresh, locked-down containers and streams the
//! result back. One binary, many roles; Redis is the only thing the roles share.
//!
//! # Layout
//!
//! - [`config`]: composes every module's settings and loads them
//!   (defaults < `rce.toml` < `RCE_*` environment).
//! - [`languages`]: the language manifest (`images/languages.toml`).
//! - [`job`]: what a submission is (request, limits, validation) and what its
//!   result is ([`verdict`] turns runner facts into a verdict).
//! - [`strict_json`]: request bodies read strictly (objects only where a
//!   struct is expected, wrong types refused naming the field).
//! - [`compile_flags`]: the per-compiler allow-list of extra compiler flags
//!   (Judge0's `compiler_options`).
//! - [`events`]: the events a client sees (queued, started, output, finished).
//! - [`auth`]: accounts, Argon2id passwords, login JWTs, API keys, the
//!   login/register throttle (client address behind trusted proxies, username).
//! - [`quota`]: per-user rate limit (GCRA in Redis) and active-job cap
//!   (an atomic reservation in Redis).
//! - [`fair`]: fair dispatch across users (per-user holding lists promoted
//!   into the job stream by Lua scripts; running cap; worker slot registry).
//! - [`metrics`]: the Prometheus registry every module records into.
//! - [`queue`]: Redis names (stream, group, channels) and the job queue writer.
//! - [`control`]: stdin and kill from the API process holding the WebSocket
//!   to the worker running the job (Redis list/flag + control channel).
//! - [`stdin`]: the chunk a job's standard input travels as (WebSocket →
//!   control → sandbox).
//! - [`output`]: coalesces live output into `output` events.
//! - [`sandbox`]: Docker: hardened container settings, the pinned seccomp
//!   profile, the start-up confinement probe, one job's container
//!   lifecycle, the start-up reaper.
//! - [`store`]: the `Store` trait and its SQLite and MongoDB backends.
//! - [`actors`]: StreamConsumer, WorkerPool, SandboxActor, JobControl,
//!   StoreActor, PubSubBridge, SessionActor, and the intake every submission
//!   passes (validate, store, enqueue).
//! - [`http`]: the actix-web API (accounts, keys, submissions, languages,
//!   WebSocket, health, metrics, the generated OpenAPI document).
//! - [`api_state`]: what every handler of `http` and `compat` can reach.
//! - [`ws`]: the WebSocket session engine of API v1 and Piston sessions
//!   (settings, ordered byte-bounded outbox and writer, heartbeat).
//! - [`compat`]: drop-in Judge0 CE 1.13.1 and Piston v2 APIs over the same
//!   intake and store, and the Judge0 callback dispatcher.
//! - [`bench`]: the benchmark driver behind `rce-bench`.
//! - [`backoff`]: the back-off of every restarting actor.
//! - [`fault`]: fault injection for tests (`fault-injection` feature only).
//! - [`app`]: wires the actors and the HTTP server together for a role.
//! - [`telemetry`]: logs (text/JSON), spans and their OpenTelemetry export,
//!   and the trace context a job carries from the API to a worker.
#![forbid(unsafe_code)]

pub mod actors;
pub mod api_state;
pub mod app;
pub mod auth;
pub mod backoff;
pub mod bench;
pub mod compat;
pub mod compile_flags;
pub mod config;
pub mod control;
pub mod events;
pub mod fair;
pub mod fault;
pub mod http;
pub mod job;
pub mod languages;
pub mod metrics;
pub mod output;
pub mod queue;
pub mod quota;
pub mod sandbox;
pub mod stdin;
pub mod store;
pub mod strict_json;
pub mod telemetry;
pub mod verdict;
pub mod ws;
